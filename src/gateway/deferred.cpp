// Deferred-request jobs and the writer that captures their answers (see deferred.h).
#include "gateway/deferred.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <random>

#include <boost/json.hpp>

namespace arbitra::gateway {

const char* toString(DeferredJob::State state) {
  switch (state) {
    case DeferredJob::State::Queued: return "queued";
    case DeferredJob::State::Submitted: return "submitted";
    case DeferredJob::State::Running: return "running";
    case DeferredJob::State::Completed: return "completed";
    case DeferredJob::State::Failed: return "failed";
  }
  return "unknown";
}

std::string acceptedBody(const std::string& id, const std::string& model) {
  boost::json::object body{{"id", id},
                           {"object", "arbitra.deferred_request"},
                           {"status", "queued"},
                           {"model", model},
                           {"url", "/v1/arbitra/deferred/" + id}};
  return boost::json::serialize(body);
}

std::string statusBody(const DeferredJob& job) {
  boost::json::object body{{"id", job.id},
                           {"object", "arbitra.deferred_request"},
                           {"status", toString(job.state)},
                           {"model", job.model},
                           {"created_at_ms", job.createdMs}};
  if (!job.batchId.empty()) body["batch_id"] = job.batchId;
  if (job.finishedMs > 0) {
    boost::system::error_code ec;
    boost::json::value answer = boost::json::parse(job.body, ec);
    body["completed_at_ms"] = job.finishedMs;
    body["http_status"] = job.httpStatus;
    body["deployment"] = job.deployment;
    body["response"] = ec ? boost::json::value(job.body) : std::move(answer);
  }
  return boost::json::serialize(body);
}

http::Request jobRequest(const http::Request& caller) {
  http::Request job = caller;
  std::erase_if(job.headers, [](const http::Header& h) {
    return h.name.size() == 15 && std::equal(h.name.begin(), h.name.end(), "x-arbitra-defer", [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) == b;
           });
  });
  job.headers.push_back({"x-arbitra-deferred", "true"});
  return job;
}

std::optional<std::string> DeferredStore::add(const std::string& model, core::WireFormat format, int64_t nowMs) {
  std::lock_guard lock(mutex_);
  if (salt_ == 0) salt_ = (static_cast<uint64_t>(std::random_device{}()) << 32) | std::random_device{}() | 1;
  // Make room: evict the oldest finished jobs.
  while (jobs_.size() >= kMaxJobs) {
    bool evicted = false;
    for (auto it = order_.begin(); it != order_.end(); ++it) {
      auto job = jobs_.find(*it);
      if (job == jobs_.end() || job->second.state == DeferredJob::State::Completed ||
          job->second.state == DeferredJob::State::Failed) {
        if (job != jobs_.end()) jobs_.erase(job);
        order_.erase(it);
        evicted = true;
        break;
      }
    }
    if (!evicted) return std::nullopt;
  }
  char id[48];
  std::snprintf(id, sizeof id, "defer-%016llx",
                static_cast<unsigned long long>(salt_ * 0x9e3779b97f4a7c15ULL + ++counter_));
  DeferredJob job;
  job.id = id;
  job.model = model;
  job.format = format;
  job.createdMs = nowMs;
  jobs_[job.id] = job;
  order_.push_back(job.id);
  return job.id;
}

void DeferredStore::running(const std::string& id) {
  std::lock_guard lock(mutex_);
  if (auto it = jobs_.find(id); it != jobs_.end()) it->second.state = DeferredJob::State::Running;
}

void DeferredStore::progress(const std::string& id, DeferredJob::State state, const std::string& batchId) {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end() || it->second.finishedMs > 0) return;
  it->second.state = state;
  if (!batchId.empty()) it->second.batchId = batchId;
}

void DeferredStore::finish(const std::string& id, int status, std::string body, std::string deployment, int64_t nowMs) {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return;
  it->second.state = status / 100 == 2 ? DeferredJob::State::Completed : DeferredJob::State::Failed;
  it->second.httpStatus = status;
  it->second.body = std::move(body);
  it->second.deployment = std::move(deployment);
  it->second.finishedMs = nowMs;
}

std::optional<DeferredJob> DeferredStore::get(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return std::nullopt;
  return it->second;
}

http::Task<bool> CapturingWriter::send(int status, http::Headers headers, std::string body) {
  status_ = status;
  headers_ = std::move(headers);
  body_ = std::move(body);
  started_ = true;
  co_return true;
}

http::Task<bool> CapturingWriter::startStream(int status, http::Headers headers, std::string_view first) {
  status_ = status;
  headers_ = std::move(headers);
  body_.append(first);
  started_ = true;
  co_return true;
}

http::Task<bool> CapturingWriter::write(std::string_view data) {
  body_.append(data);
  co_return true;
}

http::Task<bool> CapturingWriter::endStream(std::string_view last) {
  body_.append(last);
  co_return true;
}

}  // namespace arbitra::gateway
