// Deferred requests through provider batch APIs (see batcher.h).
//
// Hand-off between threads: a waiting submit() owns a steady_timer on its own
// executor (one io_context per thread). The batch coroutine, possibly on
// another thread, stores the outcome under the waiter's mutex and posts the
// timer's cancel to the waiter's executor, so the timer is only ever touched
// on its own thread.
#include "gateway/batcher.h"

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include <boost/asio.hpp>

#include "core/log.h"

namespace arbitra::gateway {
namespace {

namespace asio = boost::asio;
using http::Task;

constexpr size_t kMaxResultBytes = 512 * 1024 * 1024;
constexpr size_t kMaxAnswerBytes = 16 * 1024 * 1024;
constexpr auto kMaxWait = std::chrono::hours(25);  // the 24h completion window, and some
constexpr int kMaxPollFailures = 10;

std::string redact(std::string message, const std::string& secret) {
  if (secret.size() < 4) return message;
  for (size_t at = message.find(secret); at != std::string::npos; at = message.find(secret, at)) {
    message.replace(at, secret.size(), "[redacted]");
  }
  return message;
}

Task<void> sleepFor(std::chrono::milliseconds duration) {
  if (duration.count() <= 0) co_return;
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

struct Waiter {
  std::mutex mutex;
  std::optional<core::Result<Batcher::Answer>> outcome;
  asio::steady_timer* timer = nullptr;  // touched only on `executor`
  asio::any_io_executor executor;
};

struct Pending {
  Deployment deployment;
  core::ChatRequest request;
  Batcher::OnState onState;
  std::shared_ptr<Waiter> waiter;
  std::shared_ptr<const void> keepAlive;  // deployment.provider's owner
};

void deliver(Pending& item, core::Result<Batcher::Answer> outcome) {
  auto waiter = item.waiter;
  {
    std::lock_guard lock(waiter->mutex);
    if (waiter->outcome) return;
    waiter->outcome = std::move(outcome);
  }
  asio::post(waiter->executor, [waiter] {
    if (waiter->timer) waiter->timer->cancel();
  });
}

}  // namespace

struct Batcher::Impl : std::enable_shared_from_this<Batcher::Impl> {
  Impl(http::HttpClient& client, const config::DeferredConfig& options) : client(client), options(options) {}

  http::HttpClient& client;
  config::DeferredConfig options;
  std::atomic<int64_t> batches{0};
  std::mutex mutex;
  struct Queue {
    std::vector<Pending> items;
    bool flushScheduled = false;
  };
  std::map<const providers::Provider*, Queue> queues;

  // One upstream call: the 2xx body, else an error naming the step.
  Task<core::Result<std::string>> call(const providers::Provider& provider, http::ClientRequest request,
                                       const char* step) {
    const std::string& key = provider.config().apiKey;
    std::string where = std::string("batch ") + step + " at " + provider.config().name;
    auto response = co_await client.send(std::move(request), provider.clientOptions());
    if (!response)
      co_return core::makeError(response.error().kind, where + ": " + redact(response.error().message, key));
    auto body = co_await (*response)->readAll(kMaxResultBytes);
    if (!body) co_return core::makeError(body.error().kind, where + ": " + redact(body.error().message, key));
    if ((*response)->status / 100 != 2) {
      std::string detail = provider.codec().parseErrorMessage(*body);
      co_return core::makeError(core::ErrorKind::UpstreamError, where + " answered " +
                                                                    std::to_string((*response)->status) +
                                                                    (detail.empty() ? "" : ": " + redact(detail, key)));
    }
    co_return std::move(*body);
  }

  void failAll(std::vector<Pending>& items, const std::string& message) {
    core::log(core::LogLevel::Warn, "deferred batch failed: " + message);
    for (auto& item : items) deliver(item, core::makeError(core::ErrorKind::UpstreamError, message));
  }

  void announce(std::vector<Pending>& items, const std::string& state, const std::string& batchId) {
    for (auto& item : items) {
      if (item.onState) item.onState(state, batchId);
    }
  }

  // Waits for the window, then submits what was collected.
  Task<void> flushAfterWindow(const providers::Provider* provider) {
    auto self = shared_from_this();
    std::chrono::milliseconds window(options.windowMs);
    co_await sleepFor(window);
    std::vector<Pending> items;
    {
      std::lock_guard lock(mutex);
      auto& queue = queues[provider];
      items = std::move(queue.items);
      queue.items.clear();
      queue.flushScheduled = false;
    }
    if (!items.empty()) co_await run(provider, std::move(items));
  }

  // One batch, from upload to results.
  Task<void> run(const providers::Provider* provider, std::vector<Pending> items) {
    auto self = shared_from_this();
    const auto& api = *provider->batch();
    const std::string& name = provider->config().name;
    std::vector<providers::BatchItem> wire;
    wire.reserve(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
      wire.push_back({"arbitra-" + std::to_string(i), &items[i].request, items[i].deployment.upstreamModel});
    }
    std::string fileId;
    if (auto upload = api.uploadRequest(wire)) {
      auto body = co_await call(*provider, std::move(*upload), "upload");
      if (!body) co_return failAll(items, body.error().message);
      auto id = api.parseUpload(*body);
      if (!id) co_return failAll(items, "batch upload at " + name + ": " + id.error().message);
      fileId = std::move(*id);
    }
    http::ClientRequest create = api.createRequest(wire, fileId);
    auto created = co_await call(*provider, std::move(create), "create");
    if (!created) co_return failAll(items, created.error().message);
    auto status = api.parseStatus(*created);
    if (!status) co_return failAll(items, "batch create at " + name + ": " + status.error().message);
    batches++;
    core::log(core::LogLevel::Info, "deferred batch " + status->id + " submitted to " + name + " with " +
                                        std::to_string(items.size()) + " requests");
    announce(items, "submitted", status->id);
    bool announcedRunning = false;
    auto deadline = std::chrono::steady_clock::now() + kMaxWait;
    int pollFailures = 0;
    while (status->state == providers::BatchStatus::State::Pending) {
      if (status->running && !announcedRunning) {
        announce(items, "running", status->id);
        announcedRunning = true;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        co_return failAll(items, "batch " + status->id + " at " + name + " did not end within 25 hours");
      }
      std::chrono::milliseconds pause(options.pollMs);
      co_await sleepFor(pause);
      http::ClientRequest poll = api.pollRequest(status->id);
      auto polled = co_await call(*provider, std::move(poll), "poll");
      if (!polled) {
        if (++pollFailures >= kMaxPollFailures) co_return failAll(items, polled.error().message);
        continue;
      }
      auto next = api.parseStatus(*polled);
      if (!next) {
        if (++pollFailures >= kMaxPollFailures)
          co_return failAll(items, "batch poll at " + name + ": " + next.error().message);
        continue;
      }
      pollFailures = 0;
      status = std::move(next);
    }
    if (status->state == providers::BatchStatus::State::Failed) {
      co_return failAll(items, "batch at " + name + " failed: " + redact(status->error, provider->config().apiKey));
    }
    std::map<std::string, providers::BatchResult> results;
    for (auto& request : api.resultRequests(*status)) {
      auto body = co_await call(*provider, std::move(request), "results");
      if (!body) co_return failAll(items, body.error().message);
      auto parsed = api.parseResults(*body);
      if (!parsed) co_return failAll(items, "batch " + status->id + " at " + name + ": " + parsed.error().message);
      for (auto& result : *parsed) results[result.customId] = std::move(result);
    }
    const std::string& key = provider->config().apiKey;
    for (size_t i = 0; i < items.size(); ++i) {
      auto found = results.find(wire[i].customId);
      if (found == results.end()) {
        deliver(items[i],
                core::makeError(core::ErrorKind::UpstreamError,
                                "batch " + status->id + " at " + name + " ended without a result for this request"));
        continue;
      }
      Answer answer;
      answer.status = found->second.status;
      answer.body = std::move(found->second.body);
      if (answer.body.size() > kMaxAnswerBytes) answer.body.clear();
      answer.error = redact(found->second.error, key);
      answer.batchId = status->id;
      deliver(items[i], std::move(answer));
    }
  }
};

Batcher::Batcher(http::HttpClient& client, const config::DeferredConfig& options)
    : impl_(std::make_shared<Impl>(client, options)) {}
Batcher::~Batcher() = default;

int64_t Batcher::batchesSubmitted() const {
  return impl_->batches.load();
}

Task<core::Result<Batcher::Answer>> Batcher::submit(const Deployment& deployment, const core::ChatRequest& request,
                                                    OnState onState, std::shared_ptr<const void> keepAlive) {
  auto executor = co_await asio::this_coro::executor;
  auto waiter = std::make_shared<Waiter>();
  asio::steady_timer timer(executor, kMaxWait);
  waiter->timer = &timer;
  waiter->executor = executor;
  const providers::Provider* provider = deployment.provider;
  std::vector<Pending> full;
  bool scheduleFlush = false;
  {
    std::lock_guard lock(impl_->mutex);
    auto& queue = impl_->queues[provider];
    queue.items.push_back(Pending{deployment, request, std::move(onState), waiter, std::move(keepAlive)});
    if (static_cast<int64_t>(queue.items.size()) >= impl_->options.maxBatch) {
      full = std::move(queue.items);
      queue.items.clear();
    } else if (!queue.flushScheduled) {
      queue.flushScheduled = true;
      scheduleFlush = true;
    }
  }
  if (!full.empty()) asio::co_spawn(executor, impl_->run(provider, std::move(full)), asio::detached);
  if (scheduleFlush) asio::co_spawn(executor, impl_->flushAfterWindow(provider), asio::detached);
  for (;;) {
    {
      std::lock_guard lock(waiter->mutex);
      if (waiter->outcome) break;
    }
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (!ec) {  // the deadline passed with no outcome
      std::lock_guard lock(waiter->mutex);
      if (!waiter->outcome) {
        waiter->outcome = core::makeError(core::ErrorKind::UpstreamTimeout, "the batch did not end within 25 hours");
      }
      break;
    }
  }
  waiter->timer = nullptr;
  std::lock_guard lock(waiter->mutex);
  co_return std::move(*waiter->outcome);
}

}  // namespace arbitra::gateway
