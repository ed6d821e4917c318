// The measurements behind `arbitra bench` (see bench.h).
#include "engine/bench.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace arbitra::engine {
namespace {

using Clock = std::chrono::steady_clock;

struct Waiter {
  std::mutex mu;
  std::condition_variable cv;
  int pending = 0;
  std::vector<GenerateStats> stats;
};

GenerateParams benchRequest(const std::string& text, int maxTokens) {
  GenerateParams p;
  p.messages = {{"user", text}};
  p.temperature = 0;
  p.maxTokens = maxTokens;
  return p;
}

// Runs the requests at once; returns each one's final stats (empty on refusal).
core::Result<std::vector<GenerateStats>> runAll(Engine& engine, const std::vector<GenerateParams>& requests) {
  Waiter w;
  w.pending = static_cast<int>(requests.size());
  for (const auto& r : requests) {
    auto id = engine.submit(r, [&w](Output out) {
      if (!out.done) return;
      std::lock_guard lock(w.mu);
      w.stats.push_back(out.stats);
      if (out.error) w.stats.back().outputTokens = -1;
      if (--w.pending == 0) w.cv.notify_all();
    });
    if (!id) {
      std::unique_lock lock(w.mu);
      w.pending -= 1;
      w.cv.wait(lock, [&] { return w.pending <= 0; });
      return id.error();
    }
  }
  std::unique_lock lock(w.mu);
  w.cv.wait(lock, [&] { return w.pending <= 0; });
  return w.stats;
}

std::string words(int n, int salt) {
  static const char* vocabulary[] = {"river", "stone", "market", "engine", "cloud", "paper", "garden", "signal",
                                     "window", "harbor", "letter", "forest", "bridge", "candle", "mirror", "valley"};
  std::string text;
  for (int i = 0; i < n; ++i) {
    text += vocabulary[(i * 7 + salt * 13 + i / 16) % 16];
    text += ' ';
  }
  return text;
}

}  // namespace

std::string formatId(const std::string& description) {
  size_t first = description.find(' ');
  size_t second = first == std::string::npos ? first : description.find(' ', first + 1);
  std::string f = second == std::string::npos ? description : description.substr(second + 1);
  static const std::pair<std::string, std::string> suffixes[] = {{" - Medium", "_M"}, {" - Small", "_S"}, {" - Large", "_L"}};
  for (const auto& [suffix, id] : suffixes) {
    if (f.size() > suffix.size() && f.compare(f.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return f.substr(0, f.size() - suffix.size()) + id;
    }
  }
  return f;
}

core::Result<BenchReport> runBench(const BenchOptions& options, const std::function<void(const std::string&)>& progress) {
  auto say = [&](const std::string& s) {
    if (progress) progress(s);
  };
  EngineOptions eo;
  eo.modelPath = options.modelPath;
  eo.draftPath = options.draftPath;
  eo.parallel = std::max(1, options.parallel);
  eo.threads = options.threads;
  eo.contextSize = std::max(512, options.promptTokens + options.generateTokens + 128);
  eo.speculation = !options.draftPath.empty() ? Speculation::Draft : options.ngram ? Speculation::NGram : Speculation::None;
  eo.embeddings = false;
  say("loading " + options.modelPath);
  auto started = Clock::now();
  auto loaded = Engine::load(eo);
  if (!loaded) return loaded.error();
  Engine& engine = **loaded;
  BenchReport report;
  report.loadSeconds = std::chrono::duration<double>(Clock::now() - started).count();
  report.model = engine.info();
  report.threads = engine.options().threads;
  report.speculation = eo.speculation == Speculation::Draft ? "draft" : eo.speculation == Speculation::NGram ? "ngram" : "none";

  // Warm-up (first-touch of the weights), then prefill alone.
  // Warm-up: every batch shape the levels use is decoded once before timing.
  {
    std::vector<GenerateParams> warmups;
    for (int i = 0; i < eo.parallel; ++i) warmups.push_back(benchRequest("warm up " + words(24, 1000 + i), 4));
    if (auto warm = runAll(engine, warmups); !warm) return warm.error();
    if (auto warm = runAll(engine, {benchRequest(words(24, 999), 4)}); !warm) return warm.error();
  }
  say("prefill: ~" + std::to_string(options.promptTokens) + " prompt tokens");
  auto prefill = runAll(engine, {benchRequest(words(options.promptTokens, 1), 1)});
  if (!prefill) return prefill.error();
  const auto& ps = prefill->front();
  report.prefillTokens = ps.promptTokens;
  report.prefillFirstTokenMs = ps.firstTokenMs;
  report.prefillTokensPerSecond = ps.firstTokenMs > 0 ? ps.promptTokens * 1000.0 / (ps.firstTokenMs - ps.queueMs) : 0;

  std::vector<int> levels;
  for (int c = 1; c < eo.parallel; c *= 2) levels.push_back(c);
  levels.push_back(eo.parallel);
  for (int streams : levels) {
    say("generation: " + std::to_string(streams) + " stream(s) x " + std::to_string(options.generateTokens) + " tokens");
    std::vector<GenerateParams> requests;
    for (int i = 0; i < streams; ++i) {
      requests.push_back(benchRequest("Stream " + std::to_string(streams * 100 + i) + ": " + words(24, streams * 100 + i),
                                      options.generateTokens));
    }
    auto begin = Clock::now();
    auto stats = runAll(engine, requests);
    if (!stats) return stats.error();
    BenchLevel level;
    level.streams = streams;
    level.seconds = std::chrono::duration<double>(Clock::now() - begin).count();
    double ttft = 0, lastFirstMs = 0;
    for (const auto& s : *stats) {
      level.outputTokens += s.outputTokens;
      level.drafted += s.draftedTokens;
      level.accepted += s.acceptedTokens;
      ttft += s.firstTokenMs;
      lastFirstMs = std::max(lastFirstMs, s.firstTokenMs);
    }
    double decodeSeconds = level.seconds - lastFirstMs / 1000.0;
    if (decodeSeconds > 0 && level.outputTokens > streams) {
      level.decodeTokensPerSecond = static_cast<double>(level.outputTokens - streams) / decodeSeconds;
    }
    level.meanFirstTokenMs = ttft / static_cast<double>(stats->size());
    level.aggregateTokensPerSecond = static_cast<double>(level.outputTokens) / level.seconds;
    level.perStreamTokensPerSecond = level.aggregateTokensPerSecond / streams;
    if (options.costPerHourMicros > 0 && level.aggregateTokensPerSecond > 0) {
      // µ$ per million tokens = µ$/h × 10^6 / (tokens/s × 3600): reported, not billed.
      level.microsPerMillionTokens = static_cast<int64_t>(
          static_cast<double>(options.costPerHourMicros) * 1e6 / (level.aggregateTokensPerSecond * 3600.0) + 0.5);
    }
    report.levels.push_back(level);
  }
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  report.peakRssBytes = static_cast<int64_t>(usage.ru_maxrss) * 1024;
  return report;
}

}  // namespace arbitra::engine
