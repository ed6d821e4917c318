// The `local` provider: neutral requests in, engine outputs out, bridged from
// the engine thread to the caller's Asio executor (see local_provider.h).
//
// The bridge: the engine's callback (engine thread) appends to a mutex-guarded
// queue and posts a wake-up to the executor that awaits it; the awaiting
// coroutine drains the queue before it ever waits, so no output is lost, and a
// cancellation of the awaiting coroutine (client gone) is told apart from a
// wake-up through the coroutine's cancellation state.
#include "providers/local/local_provider.h"

#include <atomic>
#include <deque>
#include <mutex>
#include <stdexcept>

#include <boost/asio.hpp>

#include "engine/engine.h"

namespace arbitra::providers {
namespace {

namespace asio = boost::asio;
using core::ErrorKind;
using core::makeError;

core::FinishReason finishReason(engine::Finish finish) {
  switch (finish) {
    case engine::Finish::Stop: return core::FinishReason::Stop;
    case engine::Finish::Length: return core::FinishReason::Length;
    default: return core::FinishReason::Unknown;
  }
}

// What the engine thread hands to the awaiting coroutine.
struct Mailbox {
  explicit Mailbox(asio::any_io_executor executor) : timer(executor, asio::steady_timer::time_point::max()) {}
  std::mutex mu;
  std::deque<engine::Output> outputs;
  asio::steady_timer timer;  // touched only on its executor
  std::atomic<bool> wakePosted{false};

  void push(engine::Output out, const std::shared_ptr<Mailbox>& self) {
    {
      std::lock_guard lock(mu);
      outputs.push_back(std::move(out));
    }
    if (!wakePosted.exchange(true)) {
      asio::post(timer.get_executor(), [self] {
        self->wakePosted = false;
        self->timer.cancel();
      });
    }
  }
  std::deque<engine::Output> take() {
    std::lock_guard lock(mu);
    std::deque<engine::Output> out;
    out.swap(outputs);
    return out;
  }
};

class LocalEvents final : public ChatEvents {
 public:
  LocalEvents(engine::Engine& engine, std::shared_ptr<Mailbox> mailbox, std::string id, std::string model,
              engine::MachineCost cost)
      : engine_(engine), mailbox_(std::move(mailbox)), id_(std::move(id)), model_(std::move(model)), cost_(cost) {}
  ~LocalEvents() override {
    if (!done_ && requestId_) engine_.cancel(requestId_);
  }
  void setRequestId(uint64_t id) { requestId_ = id; }

  http::Task<core::Result<std::vector<core::StreamEvent>>> next() override {
    std::vector<core::StreamEvent> events;
    if (done_) co_return events;
    if (!started_) {
      started_ = true;
      core::StreamEvent start;
      start.kind = core::StreamEvent::Kind::Start;
      start.id = id_;
      start.model = model_;
      events.push_back(std::move(start));
    }
    for (;;) {
      auto outputs = mailbox_->take();
      for (auto& out : outputs) {
        if (!out.text.empty()) {
          core::StreamEvent delta;
          delta.kind = core::StreamEvent::Kind::TextDelta;
          delta.text = std::move(out.text);
          events.push_back(std::move(delta));
        }
        if (out.done) {
          done_ = true;
          if (out.finish == engine::Finish::Error) co_return out.error ? *out.error : makeError(ErrorKind::Internal, "local model failed");
          if (out.finish == engine::Finish::Cancelled) co_return makeError(ErrorKind::Overloaded, "the local model stopped the request");
          finish(out, events);
          co_return events;
        }
      }
      if (!events.empty()) co_return events;
      auto [ec] = co_await mailbox_->timer.async_wait(asio::as_tuple(asio::use_awaitable));
      auto state = co_await asio::this_coro::cancellation_state;
      if (state.cancelled() != asio::cancellation_type::none) {
        co_return makeError(ErrorKind::Internal, "cancelled: the caller left");
      }
    }
  }

  InProcessStats stats() const override { return stats_; }

 private:
  void finish(const engine::Output& out, std::vector<core::StreamEvent>& events) {
    core::StreamEvent end;
    end.kind = core::StreamEvent::Kind::Finish;
    end.finish = finishReason(out.finish);
    events.push_back(std::move(end));
    core::StreamEvent usage;
    usage.kind = core::StreamEvent::Kind::Usage;
    usage.usage.inputTokens = out.stats.promptTokens;
    usage.usage.outputTokens = out.stats.outputTokens;
    usage.usage.cachedReadTokens = out.stats.cachedTokens;
    events.push_back(std::move(usage));
    stats_.cachedTokens = out.stats.cachedTokens;
    stats_.draftedTokens = out.stats.draftedTokens;
    stats_.acceptedTokens = out.stats.acceptedTokens;
    stats_.decodeSteps = out.stats.decodeSteps;
    auto c = engine_.counters();
    int64_t work = out.stats.promptTokens - out.stats.cachedTokens + out.stats.outputTokens;
    stats_.costPico = engine::requestCostPico(cost_, work, c.decodedTokens, c.busyMicros);
  }

  engine::Engine& engine_;
  std::shared_ptr<Mailbox> mailbox_;
  std::string id_;
  std::string model_;
  engine::MachineCost cost_;
  uint64_t requestId_ = 0;
  bool started_ = false;
  bool done_ = false;
  InProcessStats stats_;
};

std::string contentText(const core::Message& m) {
  std::string text;
  for (const auto& part : m.content) {
    if (part.kind == core::ContentPart::Kind::Text) text += part.text;
  }
  return text;
}

// The models in memory, for loadedLocalModels().
struct Loaded {
  std::mutex mu;
  std::map<std::string, int> byProvider;

  static Loaded& instance() {
    static Loaded loaded;
    return loaded;
  }
};

// Counts a model from its load to its engine's destruction (declared before
// the engine, so destroyed after it).
class LoadedMark {
 public:
  explicit LoadedMark(std::string name) : name_(std::move(name)) {
    auto& loaded = Loaded::instance();
    std::lock_guard lock(loaded.mu);
    loaded.byProvider[name_]++;
  }
  ~LoadedMark() {
    auto& loaded = Loaded::instance();
    std::lock_guard lock(loaded.mu);
    if (--loaded.byProvider[name_] == 0) loaded.byProvider.erase(name_);
  }
  LoadedMark(const LoadedMark&) = delete;
  LoadedMark& operator=(const LoadedMark&) = delete;

 private:
  std::string name_;
};

class LocalProvider final : public Provider, public InProcess {
 public:
  LocalProvider(config::ProviderConfig config, std::unique_ptr<engine::Engine> engine)
      : Provider(std::move(config)), mark_(config_.name), engine_(std::move(engine)) {}

  core::WireFormat format() const override { return core::WireFormat::OpenAI; }
  http::ClientRequest chatRequest(const core::ChatRequest&, const std::string&) const override { return {}; }
  bool supportsEmbeddings() const override { return config_.local.embeddings; }
  http::ClientRequest embeddingsRequest(const core::EmbeddingRequest&, const std::string&) const override { return {}; }
  InProcess* inProcess() const override { return const_cast<LocalProvider*>(this); }

  http::Task<core::Result<std::unique_ptr<ChatEvents>>> startChat(const core::ChatRequest& request,
                                                                  const std::string& upstreamModel) override {
    auto params = toParams(request);
    if (!params) co_return params.error();
    auto executor = co_await asio::this_coro::executor;
    co_return submit(std::move(*params), request.model, executor);
  }

  http::Task<core::Result<EmbeddingAnswer>> embed(const core::EmbeddingRequest& request) override {
    std::vector<std::string> inputs;
    if (const auto* input = request.raw.if_contains("input")) {
      if (input->is_string()) inputs.emplace_back(input->as_string());
      if (input->is_array()) {
        for (const auto& item : input->as_array()) {
          if (!item.is_string()) co_return makeError(ErrorKind::InvalidRequest, "input: local models embed strings only", "input");
          inputs.emplace_back(item.as_string());
        }
      }
    }
    if (inputs.empty()) co_return makeError(ErrorKind::InvalidRequest, "input: nothing to embed", "input");
    auto executor = co_await asio::this_coro::executor;
    struct Shared {
      explicit Shared(asio::any_io_executor ex) : timer(ex, asio::steady_timer::time_point::max()) {}
      asio::steady_timer timer;
      std::optional<core::Result<engine::EmbedResult>> result;
    };
    auto shared = std::make_shared<Shared>(executor);
    engine_->embed(std::move(inputs), [shared](core::Result<engine::EmbedResult> r) {
      asio::post(shared->timer.get_executor(), [shared, r = std::move(r)]() mutable {
        shared->result.emplace(std::move(r));
        shared->timer.cancel();
      });
    });
    while (!shared->result) {
      auto [ec] = co_await shared->timer.async_wait(asio::as_tuple(asio::use_awaitable));
      auto state = co_await asio::this_coro::cancellation_state;
      if (!shared->result && state.cancelled() != asio::cancellation_type::none) {
        co_return makeError(ErrorKind::Internal, "cancelled: the caller left");
      }
    }
    auto& result = *shared->result;
    if (!result) co_return result.error();
    EmbeddingAnswer answer;
    answer.vectors = std::move(result->vectors);
    answer.promptTokens = result->promptTokens;
    co_return answer;
  }

 private:
  core::Result<engine::GenerateParams> toParams(const core::ChatRequest& request) const {
    if (!request.tools.empty()) {
      return makeError(ErrorKind::InvalidRequest, "tools are not supported by local models", "tools");
    }
    engine::GenerateParams p;
    if (!request.system.empty()) p.messages.push_back({"system", request.system});
    for (const auto& m : request.messages) {
      for (const auto& part : m.content) {
        if (part.kind == core::ContentPart::Kind::Image) {
          return makeError(ErrorKind::InvalidRequest, "images are not supported by local models", "messages");
        }
      }
      const char* role = m.role == core::Role::Assistant ? "assistant" : m.role == core::Role::Tool ? "tool" : "user";
      p.messages.push_back({role, contentText(m)});
    }
    p.temperature = request.temperature ? static_cast<float>(*request.temperature) : 1.0f;
    if (request.topP) p.topP = static_cast<float>(*request.topP);
    if (request.topK) p.topK = static_cast<int>(*request.topK);
    p.stop = request.stop;
    p.maxTokens = request.maxTokens ? static_cast<int>(std::min<int64_t>(*request.maxTokens, 1 << 20)) : 512;
    if (const auto* seed = request.raw.if_contains("seed")) {
      if (seed->is_int64()) p.seed = static_cast<uint64_t>(seed->as_int64());
      if (seed->is_uint64()) p.seed = seed->as_uint64();
    }
    return p;
  }

  // `executor`: the caller's, where the answer will be awaited.
  core::Result<std::unique_ptr<ChatEvents>> submit(engine::GenerateParams params, const std::string& model,
                                                   const asio::any_io_executor& executor) {
    auto mailbox = std::make_shared<Mailbox>(executor);
    std::string id = "chatcmpl-local-" + std::to_string(counter_.fetch_add(1));
    auto events = std::make_unique<LocalEvents>(*engine_, mailbox, id, model, machineCost(config_.local));
    std::weak_ptr<Mailbox> weak = mailbox;
    auto submitted = engine_->submit(std::move(params), [weak](engine::Output out) {
      if (auto box = weak.lock()) box->push(std::move(out), box);
    });
    if (!submitted) return submitted.error();
    events->setRequestId(*submitted);
    return std::unique_ptr<ChatEvents>(std::move(events));
  }

  LoadedMark mark_;
  std::unique_ptr<engine::Engine> engine_;
  std::atomic<uint64_t> counter_{1};
};

}  // namespace

std::map<std::string, int> loadedLocalModels() {
  auto& loaded = Loaded::instance();
  std::lock_guard lock(loaded.mu);
  return loaded.byProvider;
}

engine::MachineCost machineCost(const config::LocalModelConfig& local) {
  engine::MachineCost cost;
  cost.perHourMicros = local.costPerHourMicros;
  cost.capexMicros = local.capexMicros;
  cost.lifetimeHours = local.lifetimeHours;
  cost.watts = local.watts;
  cost.perKwhMicros = local.perKwhMicros;
  cost.hostingPerMonthMicros = local.hostingPerMonthMicros;
  return cost;
}

std::unique_ptr<Provider> makeLocalProvider(const config::ProviderConfig& config) {
  const auto& local = config.local;
  engine::EngineOptions options;
  options.modelPath = local.model;
  options.draftPath = local.draft;
  options.contextSize = local.contextSize;
  options.parallel = local.parallel;
  options.threads = local.threads;
  options.draftTokens = local.draftTokens;
  options.embeddings = local.embeddings;
  options.hugePages = local.hugePages;
  options.speculation = local.speculation == "draft"   ? engine::Speculation::Draft
                        : local.speculation == "ngram" ? engine::Speculation::NGram
                                                       : engine::Speculation::None;
  auto engine = engine::Engine::load(options);
  if (!engine) throw std::runtime_error("provider " + config.name + ": " + engine.error().message);
  return std::make_unique<LocalProvider>(config, std::move(*engine));
}

}  // namespace arbitra::providers
