// Deferred requests: `x-arbitra-defer: true` on a chat request answers 202
// at once with a job id; the request then walks the normal chat path in the
// background, routed by cost with no latency bar (a deferred caller has said
// time does not matter), and its answer is kept for
// GET /v1/arbitra/deferred/{id}.
//
// When the first-choice deployment's provider has `batch: true`, the walk
// hands the request to the batcher (batcher.h) instead of sending it: the job
// goes queued -> submitted (in an upstream batch) -> running -> completed or
// failed, and is billed at batch prices. Jobs live in memory: bounded
// (kMaxJobs, oldest finished evicted first) and lost on restart (see README).
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/types.h"
#include "http/server.h"

namespace arbitra::gateway {

struct DeferredJob {
  std::string id;
  std::string model;
  core::WireFormat format = core::WireFormat::OpenAI;
  enum class State { Queued, Submitted, Running, Completed, Failed } state = State::Queued;
  int httpStatus = 0;
  std::string body;        // the answer (or error) as the caller's format has it
  std::string deployment;  // who served it
  std::string batchId;     // the upstream batch, when a batch API serves it
  int64_t createdMs = 0;   // unix milliseconds
  int64_t finishedMs = 0;
};

const char* toString(DeferredJob::State state);

// The 202 answer and the status document (JSON).
std::string acceptedBody(const std::string& id, const std::string& model);
std::string statusBody(const DeferredJob& job);
// The job's own copy of the caller's request: x-arbitra-defer becomes
// x-arbitra-deferred (the walk routes it by cost, with no latency bar).
http::Request jobRequest(const http::Request& caller);

class DeferredStore {
 public:
  static constexpr size_t kMaxJobs = 10'000;
  // A new queued job; nullopt when the store is full of unfinished jobs.
  std::optional<std::string> add(const std::string& model, core::WireFormat format, int64_t nowMs);
  void running(const std::string& id);
  // A batch-served job's progress (state Queued, Submitted or Running).
  void progress(const std::string& id, DeferredJob::State state, const std::string& batchId);
  void finish(const std::string& id, int status, std::string body, std::string deployment, int64_t nowMs);
  std::optional<DeferredJob> get(const std::string& id) const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, DeferredJob> jobs_;
  std::deque<std::string> order_;
  uint64_t counter_ = 0;
  uint64_t salt_ = 0;
};

// A ResponseWriter that keeps what the walk answers, for a job with no caller.
class CapturingWriter final : public http::ResponseWriter {
 public:
  http::Task<bool> send(int status, http::Headers headers, std::string body) override;
  using ResponseWriter::endStream;
  using ResponseWriter::startStream;
  http::Task<bool> startStream(int status, http::Headers headers, std::string_view first) override;
  http::Task<bool> write(std::string_view data) override;
  http::Task<bool> endStream(std::string_view last) override;
  void abort() override {}
  bool clientGone() const override { return false; }
  bool started() const override { return started_; }

  int status() const { return status_; }
  std::string& body() { return body_; }
  std::string header(std::string_view name) const { return std::string(http::findHeader(headers_, name)); }

  std::string job;  // the deferred job this walk serves (the batch path keys on it)

 private:
  int status_ = 0;
  http::Headers headers_;
  std::string body_;
  bool started_ = false;
};

}  // namespace arbitra::gateway
