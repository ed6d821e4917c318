// Shared helpers for the engine tests: one engine per options (loading is the
// slow part), and a blocking run of one request.
#pragma once

#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace arbitra::engine::enginetest {

inline std::string tinyModel() { return ARBITRA_TINY_MODEL; }

inline EngineOptions tinyOptions(int parallel = 4) {
  EngineOptions o;
  o.modelPath = tinyModel();
  o.parallel = parallel;
  o.contextSize = 512;
  o.threads = 2;
  return o;
}

inline std::unique_ptr<Engine> mustLoad(const EngineOptions& o) {
  auto engine = Engine::load(o);
  if (!engine) {
    ADD_FAILURE() << engine.error().message;
    return nullptr;
  }
  return std::move(*engine);
}

// What one request produced, gathered from its callbacks.
struct RunResult {
  std::string text;
  std::vector<std::string> chunks;
  Finish finish = Finish::Error;
  GenerateStats stats;
  std::optional<core::Error> error;
};

// Collects a request's callbacks (they run on the engine thread).
class Collector {
 public:
  OutputSink sink() {
    return [this](Output out) {
      std::lock_guard lock(mu_);
      if (!out.text.empty()) {
        run_.text += out.text;
        run_.chunks.push_back(out.text);
        cv_.notify_all();
      }
      if (out.done) {
        run_.finish = out.finish;
        run_.stats = out.stats;
        run_.error = out.error;
        done_ = true;
        cv_.notify_all();
      }
    };
  }
  RunResult wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return done_; });
    return run_;
  }
  bool waitForText() {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(30), [&] { return done_ || !run_.text.empty(); });
    return !run_.text.empty() && !done_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  RunResult run_;
  bool done_ = false;
};

inline GenerateParams greedy(const std::string& user, int maxTokens = 32) {
  GenerateParams p;
  p.messages = {{"user", user}};
  p.temperature = 0;
  p.maxTokens = maxTokens;
  return p;
}

inline RunResult runOne(Engine& engine, GenerateParams params) {
  Collector c;
  auto id = engine.submit(std::move(params), c.sink());
  if (!id) {
    RunResult r;
    r.error = id.error();
    return r;
  }
  return c.wait();
}

}  // namespace arbitra::engine::enginetest
