// The gateway's routes and the chat request's walk (see gateway.h).
#include "gateway/gateway.h"

#include <atomic>
#include <chrono>
#include <optional>
#include <random>
#include <utility>

#include <boost/json.hpp>

#include "api/codec.h"
#include "core/log.h"
#include "gateway/accounting.h"
#include "gateway/admin.h"
#include "gateway/cache_step.h"
#include "gateway/batcher.h"
#include "gateway/deployments.h"
#include "gateway/deferred.h"
#include "gateway/exchange.h"
#include "gateway/hedge.h"
#include "gateway/route.h"
#include "gateway/in_process.h"
#include "gateway/reload.h"
#include "http/sse.h"
#include "ledger/cost.h"

namespace arbitra::gateway {
namespace {

namespace json = boost::json;
using core::WireFormat;
using http::Task;

constexpr size_t kMaxAnswerBytes = 64 * 1024 * 1024;
constexpr size_t kMaxUpstreamErrorBytes = 1024 * 1024;
// After a stream's last event, how long to wait for the upstream to finish its
// body (so its connection is reused) before closing it instead.
constexpr int64_t kDrainWaitMs = 100;

bool retryable(const core::Error& error) {
  switch (error.kind) {
    case core::ErrorKind::UpstreamError:
    case core::ErrorKind::UpstreamTimeout:
    case core::ErrorKind::Overloaded:
    case core::ErrorKind::RateLimited:
      return true;
    default:
      return false;
  }
}

// Upstream messages can echo what they were sent; never let a key through.
std::string redact(std::string message, const std::string& secret) {
  if (secret.size() < 4) return message;
  for (size_t at = message.find(secret); at != std::string::npos; at = message.find(secret, at)) {
    message.replace(at, secret.size(), "[redacted]");
  }
  return message;
}

void observe(Exchange& exchange, const core::StreamEvent& event) {
  using Kind = core::StreamEvent::Kind;
  if (!exchange.firstToken && (event.kind == Kind::TextDelta || event.kind == Kind::ToolStart)) {
    exchange.firstToken = Clock::now();
  }
  if (event.kind == Kind::Usage) exchange.usage = event.usage;
  if (event.kind == Kind::TextDelta || event.kind == Kind::ToolArgs) exchange.outputBytes += event.text.size();
}

bool onlyUsage(const std::vector<core::StreamEvent>& events) {
  if (events.empty()) return false;
  for (const auto& e : events) {
    if (e.kind != core::StreamEvent::Kind::Usage) return false;
  }
  return true;
}

double millisSince(Clock::time_point start, Clock::time_point end = Clock::now()) {
  return std::chrono::duration<double, std::milli>(end - start).count();
}

// Turns upstream stream bytes into the caller's stream bytes: SSE parsing,
// decoding with the upstream's codec, then either forwarding each event as is
// (same format; a plain text delta is only skimmed, not decoded, unless the
// cache is collecting the answer) or re-encoding it (the other format).
// Records usage and the time to first token on the way.
class StreamRelay {
 public:
  StreamRelay(const core::ChatRequest& request, const Deployment& deployment, Exchange& exchange)
      : request_(request),
        exchange_(&exchange),
        passthrough_(deployment.provider->format() == request.format),
        decoder_(deployment.provider->codec().makeStreamDecoder()) {}

  // Appends the caller's bytes for `chunk` to `out`; an error for garbage.
  std::optional<core::Error> process(std::string_view chunk, std::string& out) {
    http::SseParser::View event;
    for (;;) {
      auto step = parser_.next(chunk, event);
      if (step == http::SseParser::Step::NeedMore) break;
      if (step == http::SseParser::Step::TooLarge) {
        return core::makeError(core::ErrorKind::UpstreamError, "upstream sent an oversized stream event");
      }
      if (decoder_->finished()) break;
      if (passthrough_ && !answer) {  // forwarded untouched: a plain text delta needs no decode
        if (auto skim = decoder_->skim(event.event, event.data)) {
          if (skim->token && !exchange_->firstToken) exchange_->firstToken = Clock::now();
          exchange_->outputBytes += skim->textBytes;
          sawEvent_ = true;
          if (skim->usageOnly) {
            exchange_->usage = *skim->usageOnly;
            if (forcedUsage()) continue;
          }
          http::appendSseEvent(out, event.event, event.data);
          continue;
        }
      }
      auto decoded = decoder_->decode(event.event, event.data);
      if (!decoded) return decoded.error();
      sawEvent_ = true;
      for (const auto& e : *decoded) {
        observe(*exchange_, e);
        if (answer) answer->add(e);
      }
      if (passthrough_) {
        if (!(onlyUsage(*decoded) && forcedUsage())) http::appendSseEvent(out, event.event, event.data);
      } else {
        for (const auto& e : *decoded) encoder().encode(e, out);
      }
    }
    if (decoder_->finished() && !passthrough_ && !closed_) {
      encoder().finish(out);
      closed_ = true;
    }
    return std::nullopt;
  }

  void error(const core::Error& error, std::string& out) { encoder().error(error, out); }
  bool sawEvent() const { return sawEvent_; }
  bool sawToken() const { return exchange_->firstToken.has_value(); }
  // A hedged stream was read up to its first token into a scratch record;
  // the winner carries on recording into the request's own.
  void rebind(Exchange& exchange) {
    exchange.firstToken = exchange_->firstToken;
    exchange.usage = exchange_->usage;
    exchange_ = &exchange;
  }
  // Accumulates the answer for the cache (set when the cache may store it).
  std::unique_ptr<cache::AnswerBuilder> answer;
  // An upstream error that followed content in the read that also brought
  // the first event: relayed in-stream after it, as if it came later (with
  // no content before it, the request fails over instead).
  std::optional<core::Error> pending;
  bool finished() const { return decoder_->finished(); }

 private:
  // We always ask OpenAI upstreams for usage: a usage-only chunk is dropped
  // when the caller did not ask for it.
  bool forcedUsage() const { return request_.format == WireFormat::OpenAI && !request_.includeUsage; }

  // The caller's format's encoder: every event when the formats differ; in
  // a passthrough only an error mid-stream, so it is made when first needed.
  api::StreamEncoder& encoder() {
    if (!encoder_) encoder_ = api::codecFor(request_.format).makeStreamEncoder(request_);
    return *encoder_;
  }

  const core::ChatRequest& request_;
  Exchange* exchange_;
  bool passthrough_;
  std::unique_ptr<api::StreamDecoder> decoder_;
  std::unique_ptr<api::StreamEncoder> encoder_;
  http::SseParser parser_;
  bool sawEvent_ = false;
  bool closed_ = false;
};

// An embeddings answer's usage.prompt_tokens; nullopt when absent (then estimated).
std::optional<core::Usage> embeddingUsage(const std::string& answer) {
  json::error_code ec;
  auto parsed = json::parse(answer, ec);
  if (ec || !parsed.is_object()) return std::nullopt;
  const auto* usage = parsed.as_object().if_contains("usage");
  if (!usage || !usage->is_object()) return std::nullopt;
  const auto* prompt = usage->as_object().if_contains("prompt_tokens");
  if (!prompt || !prompt->is_int64()) return std::nullopt;
  core::Usage out;
  out.inputTokens = prompt->as_int64();
  return out;
}

// An answer that arrived whole by another way (a batch's results), read like
// a live upstream's.
class BufferedResponse final : public http::ClientResponse {
 public:
  BufferedResponse(int code, std::string bytes) : body(std::move(bytes)) { status = code; }
  Task<core::Result<std::string>> read() override { co_return std::exchange(body, std::string()); }
  Task<void> drain(int64_t) override { co_return; }
  std::string body;
};

// An upstream answer read far enough to race it (hedging): a non-streamed
// answer's headers (they come with the whole answer); a stream up to its
// first token, buffered.
struct Prepared {
  std::unique_ptr<http::ClientResponse> upstream;
  std::unique_ptr<Exchange> scratch;  // streams: what the relay recorded so far
  std::unique_ptr<StreamRelay> relay;
  std::string bytes;                  // streams: the caller's bytes so far
};

Task<void> sleepFor(std::chrono::microseconds duration) {
  if (duration.count() <= 0) co_return;
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, duration);
  co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
}

// Model names end up in response headers and log lines: no control characters.
bool hasControlCharacters(std::string_view text) {
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

}  // namespace

struct Gateway::Impl {
  Impl(const config::Config& config, const providers::Registry& registry)
      : accounting(config),
        worlds(config, registry, accounting.catalog()),
        cacheStep(config, currentTable(), client),
        batcher(client, config.deferred) {
    std::random_device device;
    idBase = (static_cast<uint64_t>(device()) << 32) ^ device();
  }

  // The long-lived parts, then the reloadable ones (reload.h): each request
  // is served by the World current when it started (Walk::world).
  Accounting accounting;  // keys, budgets, cost, the ledger, metrics
  Reloader worlds;        // the priced config, deployment table and routing of the current generation
  DeferredStore deferred;
  http::HttpClient client;
  CacheStep cacheStep;
  Batcher batcher;
  uint64_t idBase = 0;
  std::atomic<uint64_t> counter{0};

  CacheStep::TableSource currentTable() {
    return [this] {
      auto world = worlds.current();
      return std::shared_ptr<const DeploymentTable>(world, &world->table);
    };
  }

  // ---- routes ---------------------------------------------------------------

  Task<void> handle(http::Request& request, http::ResponseWriter& out) {
    auto path = request.path();
    if (path == "/v1/chat/completions" || path == "/chat/completions") {
      if (request.method != "POST") {
        co_await wrongMethod(request, out, "POST", WireFormat::OpenAI);
      } else {
        co_await chat(request, out, WireFormat::OpenAI);
      }
    } else if (path == "/v1/messages") {
      if (request.method != "POST") {
        co_await wrongMethod(request, out, "POST", WireFormat::Anthropic);
      } else {
        co_await chat(request, out, WireFormat::Anthropic);
      }
    } else if (path == "/v1/embeddings" || path == "/embeddings") {
      if (request.method != "POST") {
        co_await wrongMethod(request, out, "POST", WireFormat::OpenAI);
      } else {
        co_await embeddings(request, out);
      }
    } else if (path.starts_with("/v1/arbitra/deferred/")) {
      if (request.method != "GET") {
        co_await wrongMethod(request, out, "GET", WireFormat::OpenAI);
      } else {
        co_await deferredStatus(request, path, out);
      }
    } else if (path == "/v1/models" || path == "/models") {
      if (request.method != "GET") {
        co_await wrongMethod(request, out, "GET", WireFormat::OpenAI);
      } else {
        co_await models(request, out);
      }
    } else if (path == "/metrics") {
      http::Headers headers{{"content-type", "text/plain; version=0.0.4"}};
      std::string text = accounting.metrics() + cacheStep.metricsText() + worlds.metricsText();
      co_await out.send(200, std::move(headers), std::move(text));
    } else if (path == "/admin/reload") {
      co_await worlds.serve(accounting, request, out);
    } else if (path.starts_with("/admin/")) {
      co_await serveAdmin(accounting, request, out);
    } else if (path == "/healthz") {
      co_await out.send(200, labelled(http::jsonHeaders()), R"({"status":"ok"})");
    } else if (path == "/readyz") {
      auto world = worlds.current();
      json::object body{{"status", "ready"},
                        {"providers", world->table.providers().size()},
                        {"simulated", world->table.simulated()},
                        {"config_generation", world->generation}};
      co_await out.send(200, labelled(http::jsonHeaders()), json::serialize(body));
    } else {
      Exchange exchange = begin(WireFormat::OpenAI);
      co_await fail(out, exchange, core::makeError(core::ErrorKind::NotFound, "no route for " + request.method + " " + std::string(path)));
    }
  }

  // The 405 for a route called with another method. The routes above check
  // the method themselves: a coroutine that only said "yes" would cost every
  // request a frame.
  Task<void> wrongMethod(const http::Request& request, http::ResponseWriter& out, const char* method,
                         WireFormat format) {
    Exchange exchange = begin(format);
    auto error = core::makeError(core::ErrorKind::InvalidRequest, std::string(request.path()) + " accepts " + method + " only");
    error.status = 405;
    co_await fail(out, exchange, error);
  }

  // ---- the chat walk --------------------------------------------------------

  // What the walk leaves for the record step.
  struct Walk {
    std::shared_ptr<World> world;       // the config generation serving this request, to its end
    Caller who;
    std::optional<Deployment> served;   // the last deployment tried
    std::optional<Deployment> primary;  // the group's first deployment (routing savings)
  };

  void record(Exchange& exchange, const Walk& walk) {
    accounting.record(exchange, walk.served ? &*walk.served : nullptr, walk.primary ? &*walk.primary : nullptr,
                      walk.who);
  }

  // Every chat request is recorded (refused and failed ones too), then logged.
  // (Not a coroutine: it hands back the one it chose, a frame fewer.)
  Task<void> chat(http::Request& caller, http::ResponseWriter& out, WireFormat format) {
    if (caller.header("x-arbitra-defer") == "true") return defer(caller, out, format);
    return recorded(caller, out, format, &Impl::chatWalk);
  }

  using WalkStep = Task<void> (Impl::*)(http::Request&, http::ResponseWriter&, Exchange&, Walk&);

  // Runs a walk that owes the ledger one record, then records and logs it.
  Task<void> recorded(http::Request& caller, http::ResponseWriter& out, WireFormat format, WalkStep walkStep) {
    Exchange exchange = begin(format);
    exchange.promptBytes = caller.body.size();
    accounting.begin();
    Walk walk;
    walk.world = worlds.current();
    co_await (this->*walkStep)(caller, out, exchange, walk);
    record(exchange, walk);
    finish(exchange);
  }

  // The walk's first step: who is calling. An error (401) when nobody valid
  // is, for the walk to answer in the caller's format.
  std::optional<core::Error> identify(const http::Request& caller, Exchange& exchange, Walk& walk) {
    auto who = accounting.authenticate(caller);
    if (!who) return who.error();
    walk.who = *who;
    if (walk.who.key) exchange.keyId = walk.who.key->id;  // the cache scopes entries by it
    return std::nullopt;
  }

  Task<void> chatWalk(http::Request& caller, http::ResponseWriter& out, Exchange& exchange, Walk& walk) {
    Routing& routing = walk.world->routing;
    const DeploymentTable& table = walk.world->table;
    if (auto refused = identify(caller, exchange, walk)) {
      co_await reply(out, exchange, *refused);
      co_return;
    }
    const auto& codec = api::codecFor(exchange.format);
    auto request = codec.parseRequest(caller.body);
    if (!request) {
      co_await reply(out, exchange, request.error());
      co_return;
    }
    if (hasControlCharacters(request->model)) {
      co_await reply(out, exchange, core::makeError(core::ErrorKind::InvalidRequest,
                                                    "model: must not contain control characters", "model"));
      co_return;
    }
    exchange.model = request->model;
    exchange.stream = request->stream;
    core::Result<cache::Lookup> cached = cache::Lookup();
    if (cacheStep.needed(*request, caller)) cached = co_await cacheStep.lookup(*request, caller, exchange);
    if (!cached) {
      co_await reply(out, exchange, cached.error());
      co_return;
    }
    if (cached->hit()) {  // served from the cache: no upstream, no cost, no budget used
      co_await cacheStep.replay(*cached, *request, cachedHeaders(exchange), out, exchange);
      co_return;
    }
    auto route = routing.route(*request, caller.headers, exchange);
    if (!route) {
      co_await reply(out, exchange, route.error());
      co_return;
    }
    if (route->ids.size() > 1) {  // a routed group: savings are measured against its first deployment
      if (auto configured = table.resolve(request->model); configured && !configured->empty()) {
        walk.primary = configured->front();
      }
    }
    if (auto refused = accounting.admit(walk.who, *request, route->candidates, caller.body.size())) {
      co_await reply(out, exchange, *refused);
      co_return;
    }
    if (auto* job = batchJob(out, *route)) {
      co_await viaBatch(*job, *request, *route, out, exchange, walk);
      co_return;
    }
    auto lastError = core::makeError(core::ErrorKind::UpstreamError, "no deployment could serve the request");
    for (int retry = 1;; ++retry) {
      bool stop = false;
      size_t hedgedWith = route->candidates.size();  // a candidate already sent as a hedge
      int tried = 0;
      for (size_t k = 0; k < route->candidates.size() && !stop; ++k) {
        const auto& deployment = route->candidates[k];
        bool lastResort = tried == 0 && k + 1 == route->candidates.size();
        if (k == hedgedWith || !routing.begin(*route, k, lastResort)) continue;
        tried++;
        served(routing, exchange, *route, k);
        walk.served = deployment;
        exchange.attempts++;
        auto started = Clock::now();
        size_t by = k;
        auto failure = co_await attempt(routing, *request, *route, k, caller, out, exchange, by, started, hedgedWith,
                                        *cached);
        if (by != k) walk.served = route->candidates[by];  // the hedge answered
        if (!failure) {
          routing.succeeded(*route, by, started, exchange);
          co_return;
        }
        lastError = *failure;
        if (out.clientGone()) {
          routing.abandoned(*route, k);
          stop = true;
          break;
        }
        routing.failed(*route, k, lastError);
        core::log(core::LogLevel::Warn, "attempt failed id=" + exchange.id + " deployment=" + deployment.label +
                                            " error=" + lastError.message);
        if (!retryable(lastError)) stop = true;
      }
      if (stop || !routing.replan(*route, exchange)) break;
      std::chrono::microseconds backoff(routing.backoffUs(*route, retry));
      co_await sleepFor(backoff);
    }
    co_await reply(out, exchange, lastError);
  }

  void served(Routing& routing, Exchange& exchange, const RoutePlan& route, size_t k) {
    const auto& deployment = route.candidates[k];
    exchange.deployment = deployment.label;
    exchange.provider = deployment.provider->config().name;
    exchange.simulated = deployment.provider->config().simulated;
    exchange.route.reason = routing.header(route, k);
  }

  // One attempt on candidate k: send (hedged when the plan says so; see
  // hedge.h), then relay. An error only when nothing has reached the caller
  // yet (the next candidate may serve). `by` says who answered; `started`
  // becomes the hedge's start when the hedge won.
  Task<std::optional<core::Error>> attempt(Routing& routing, const core::ChatRequest& request, RoutePlan& route,
                                           size_t k, const http::Request& caller, http::ResponseWriter& out,
                                           Exchange& exchange, size_t& by, Clock::time_point& started,
                                           size_t& hedgedWith, cache::Lookup& cached) {
    // An in-process deployment (kind local: the engine) answers without HTTP.
    if (auto* local = route.candidates[k].provider->inProcess()) {
      cache::AnswerBuilder answer;
      auto failure = co_await serveInProcess(request, *local, route.candidates[k].upstreamModel,
                                             responseHeaders(exchange, route.candidates[k]), out, exchange, &answer);
      if (failure) co_return withLabel(*failure, route.candidates[k]);
      cacheStep.storeStream(cached, route.candidates[k], answer, exchange);
      co_return std::nullopt;
    }
    size_t h = k + 1;
    if (!(k == 0 && route.plan.hedgeAfterMs > 0 && h < route.candidates.size())) {
      auto upstream = co_await send(request, route.candidates[k], caller);
      if (!upstream) co_return upstream.error();
      if (request.stream) co_return co_await relayStream(request, route.candidates[k], **upstream, out, exchange, cached);
      co_return co_await relayAnswer(request, route.candidates[k], **upstream, out, exchange, cached);
    }
    using Ready = std::unique_ptr<Prepared>;
    std::function<Task<core::Result<Ready>>(bool)> sendTo = [&](bool hedge) {
      return prepare(request, route.candidates[hedge ? h : k], caller, cached.kind != cache::Lookup::Kind::Bypass);
    };
    std::function<bool()> admit = [&] { return routing.begin(route, h); };
    std::chrono::microseconds after(static_cast<int64_t>(route.plan.hedgeAfterMs * 1000));
    auto race = co_await sendWithHedge<Ready>(sendTo, after, admit);
    if (race.hedgeSent) {
      hedgedWith = h;
      exchange.attempts++;
      if (race.hedgeError) routing.failed(route, h, *race.hedgeError);
      if (race.hedgeWon) {
        if (race.primaryError) routing.failed(route, k, *race.primaryError);
        else routing.abandoned(route, k);
        by = h;
        started = race.hedgeStartedAt;
        served(routing, exchange, route, h);
        std::string why = "hedge: the first choice had not answered after its p95 (" +
                          std::to_string(static_cast<int64_t>(route.plan.hedgeAfterMs)) + "ms)";
        exchange.route.reason = routing.header(route, h, why);
      } else if (race.response && !race.hedgeError) {
        routing.abandoned(route, h);
      }
    }
    if (!race.response) co_return race.response.error();
    Prepared& ready = **race.response;
    const Deployment& deployment = route.candidates[by];
    if (!request.stream) co_return co_await relayAnswer(request, deployment, *ready.upstream, out, exchange, cached);
    ready.relay->rebind(exchange);
    co_return co_await relayStream(request, deployment, *ready.upstream, out, exchange, cached, &ready);
  }

  // Sends and reads up to the first token (see Prepared), for a hedge race.
  Task<core::Result<std::unique_ptr<Prepared>>> prepare(const core::ChatRequest& request, const Deployment& deployment,
                                                        const http::Request& caller, bool collectForCache) {
    auto upstream = co_await send(request, deployment, caller);
    if (!upstream) co_return upstream.error();
    auto ready = std::make_unique<Prepared>();
    ready->upstream = std::move(*upstream);
    if (!request.stream) co_return ready;
    ready->scratch = std::make_unique<Exchange>();
    ready->relay = std::make_unique<StreamRelay>(request, deployment, *ready->scratch);
    if (collectForCache) ready->relay->answer = std::make_unique<cache::AnswerBuilder>();
    if (auto failed = co_await readToFirst(*ready->relay, *ready->upstream, ready->bytes, deployment, true)) co_return *failed;
    co_return ready;
  }

  // Before the first byte reaches the caller: reads until one event decodes
  // (or, for a hedge race, the first token), or the upstream fails.
  static Task<std::optional<core::Error>> readToFirst(StreamRelay& relay, http::ClientResponse& upstream,
                                                      std::string& bytes, const Deployment& deployment, bool token) {
    while (token ? !relay.sawToken() && !relay.finished() : !relay.sawEvent()) {
      auto chunk = co_await upstream.read();
      if (!chunk) co_return withLabel(chunk.error(), deployment);
      if (chunk->empty()) {
        co_return core::makeError(core::ErrorKind::UpstreamError,
                                  "upstream " + deployment.label + " ended the stream before sending an event");
      }
      if (auto failed = relay.process(*chunk, bytes)) {
        if (relay.sawToken()) {  // content came first in the same read: it goes out, then this error
          relay.pending = std::move(failed);
          co_return std::nullopt;
        }
        failed->message = "upstream " + deployment.label + " sent an invalid stream: " +
                          redact(failed->message, deployment.provider->config().apiKey);
        co_return failed;
      }
    }
    co_return std::nullopt;
  }

  // Sends the request to one deployment and waits for a 2xx answer's headers;
  // anything else becomes an Error in our taxonomy (4xx passed through).
  Task<core::Result<std::unique_ptr<http::ClientResponse>>> send(const core::ChatRequest& request,
                                                                 const Deployment& deployment,
                                                                 const http::Request& caller) {
    const auto& provider = *deployment.provider;
    auto upstreamRequest = provider.chatRequest(request, deployment.upstreamModel);
    if (request.format == WireFormat::Anthropic && provider.format() == WireFormat::Anthropic) {
      if (auto beta = caller.header("anthropic-beta"); !beta.empty()) {
        upstreamRequest.headers.push_back({"anthropic-beta", std::string(beta)});
      }
    }
    auto response = co_await client.send(std::move(upstreamRequest), provider.clientOptions());
    if (!response) co_return withLabel(response.error(), deployment);
    if ((*response)->status / 100 == 2) co_return response;
    auto body = co_await (*response)->readAll(kMaxUpstreamErrorBytes);
    co_return upstreamFailure(**response, body, deployment);
  }

  // A non-2xx upstream answer as an Error in our taxonomy: 4xx passed through
  // with the upstream's status and message (429 keeps Retry-After), 5xx -> 502.
  static core::Error upstreamFailure(const http::ClientResponse& response, const core::Result<std::string>& body,
                                     const Deployment& deployment) {
    const auto& provider = *deployment.provider;
    int status = response.status;
    std::string detail = body ? provider.codec().parseErrorMessage(*body) : body.error().message;
    detail = redact(detail, provider.config().apiKey);
    core::Error error;
    error.kind = core::kindForStatus(status);
    if (status >= 500) {
      error.kind = core::ErrorKind::UpstreamError;
      error.message = "upstream " + deployment.label + " answered " + std::to_string(status) + ": " + detail;
    } else {
      error.status = status;
      error.message = detail;
    }
    if (status == 429) {
      auto retryAfter = response.header("retry-after");
      if (!retryAfter.empty()) error.retryAfterSeconds = std::atoi(std::string(retryAfter).c_str());
    }
    return error;
  }

  // A whole answer: same-format bodies pass through byte for byte; the other
  // format is translated. Returns an error only when nothing was sent yet.
  Task<std::optional<core::Error>> relayAnswer(const core::ChatRequest& request, const Deployment& deployment,
                                               http::ClientResponse& upstream, http::ResponseWriter& out,
                                               Exchange& exchange, cache::Lookup& cached) {
    auto body = co_await upstream.readAll(kMaxAnswerBytes);
    if (!body) co_return withLabel(body.error(), deployment);
    const auto& provider = *deployment.provider;
    std::string payload;
    if (provider.format() == request.format) {
      // Passed through byte for byte: only its usage is read.
      auto usage = provider.codec().parseResponseUsage(*body);
      if (!usage) {
        co_return core::makeError(core::ErrorKind::UpstreamError,
                                  "upstream " + deployment.label + " sent an invalid answer: " + usage.error().message);
      }
      exchange.usage = *usage;
      if (!*usage) {  // no usage in the answer: measure its text for the estimate
        if (auto answer = provider.codec().parseResponse(*body)) {
          exchange.outputBytes = answer->text.size();
          for (const auto& call : answer->toolCalls) exchange.outputBytes += call.arguments.size();
        }
      }
      cacheStep.storeBody(cached, deployment, *body, exchange);
      payload = std::move(*body);
    } else {
      auto answer = provider.codec().parseResponse(*body);
      if (!answer) {
        co_return core::makeError(core::ErrorKind::UpstreamError,
                                  "upstream " + deployment.label + " sent an invalid answer: " + answer.error().message);
      }
      exchange.usage = answer->usage;
      exchange.outputBytes = answer->text.size();
      for (const auto& call : answer->toolCalls) exchange.outputBytes += call.arguments.size();
      cacheStep.storeBody(cached, deployment, *body, exchange);
      answer->model = request.model;
      payload = api::codecFor(request.format).encodeResponse(*answer);
    }
    exchange.firstToken = Clock::now();
    exchange.status = 200;
    accounting.price(exchange, &deployment);
    auto headers = responseHeaders(exchange, deployment);
    headers.push_back({"content-type", "application/json"});
    headers.push_back({"x-arbitra-cost", deployment.price.known ? ledger::exactDollars(exchange.costPico) : "unknown"});
    exchange.status = 200;
    if (!co_await out.send(200, std::move(headers), std::move(payload))) exchange.status = 499;
    co_return std::nullopt;
  }

  // A streamed answer, relayed event by event as it arrives. Until the first
  // upstream event has been decoded nothing is sent to the caller, so an
  // upstream that fails early (garbage, reset, empty stream) returns an error
  // and the next candidate may serve. After that, failures become an
  // in-stream error event, never a retry that would duplicate output.
  Task<std::optional<core::Error>> relayStream(const core::ChatRequest& request, const Deployment& deployment,
                                               http::ClientResponse& upstream, http::ResponseWriter& out,
                                               Exchange& exchange, cache::Lookup& cached, Prepared* primed = nullptr) {
    std::unique_ptr<StreamRelay> own;
    std::string bytes;
    if (primed) {  // a hedge race already read it up to its first token
      bytes = std::move(primed->bytes);
    } else {
      own = std::make_unique<StreamRelay>(request, deployment, exchange);
      if (cached.kind != cache::Lookup::Kind::Bypass) own->answer = std::make_unique<cache::AnswerBuilder>();
      if (auto failed = co_await readToFirst(*own, upstream, bytes, deployment, false)) co_return failed;
    }
    StreamRelay& relay = primed ? *primed->relay : *own;
    auto headers = responseHeaders(exchange, deployment);
    headers.push_back({"content-type", "text/event-stream"});
    headers.push_back({"cache-control", "no-cache"});
    exchange.status = 200;
    std::optional<core::Error> streamError = std::move(relay.pending);
    // What the first read brought goes out with the head, unless it is the
    // whole answer (then with the stream's end, below: still one write).
    bool whole = streamError || relay.finished();
    if (!co_await out.startStream(200, std::move(headers), whole ? std::string_view() : bytes)) {
      exchange.status = 499;
      co_return std::nullopt;
    }
    if (!whole) bytes.clear();
    while (!streamError && !relay.finished()) {
      if (!bytes.empty() && !co_await out.write(bytes)) {
        exchange.status = 499;  // the caller left; dropping `upstream` closes its connection
        co_return std::nullopt;
      }
      bytes.clear();
      auto chunk = co_await upstream.read();
      if (!chunk) {
        streamError = chunk.error();
        break;
      }
      if (chunk->empty()) {
        streamError = core::makeError(core::ErrorKind::UpstreamError, "upstream closed the stream before it finished");
        break;
      }
      streamError = relay.process(*chunk, bytes);
      if (streamError) break;
    }
    if (streamError) {
      streamError->message = "upstream " + deployment.label + " failed mid-stream: " +
                             redact(streamError->message, deployment.provider->config().apiKey);
      exchange.note = streamError->message;
      relay.error(*streamError, bytes);
    }
    // The last events and the stream's end in one write.
    if (!co_await out.endStream(bytes) && !bytes.empty()) exchange.status = 499;
    // The upstream's chunked terminator follows its last event: read it, so
    // the connection goes back to the pool instead of being closed.
    if (!streamError && relay.finished()) {
      if (relay.answer) cacheStep.storeStream(cached, deployment, *relay.answer, exchange);
      co_await upstream.drain(kDrainWaitMs);
    }
    co_return std::nullopt;
  }

  // ---- embeddings and models ------------------------------------------------

  // Embeddings are recorded like chat requests (input tokens at the input price).
  Task<void> embeddings(http::Request& caller, http::ResponseWriter& out) {
    co_await recorded(caller, out, WireFormat::OpenAI, &Impl::embeddingsWalk);
  }

  Task<void> embeddingsWalk(http::Request& caller, http::ResponseWriter& out, Exchange& exchange, Walk& walk) {
    const DeploymentTable& table = walk.world->table;
    if (auto refused = identify(caller, exchange, walk)) {
      co_await reply(out, exchange, *refused);
      co_return;
    }
    json::error_code ec;
    auto body = json::parse(caller.body, ec);
    if (ec || !body.is_object()) {
      co_await reply(out, exchange, core::makeError(core::ErrorKind::InvalidRequest, "invalid JSON body"));
      co_return;
    }
    core::EmbeddingRequest request;
    request.raw = body.as_object();
    auto* model = request.raw.if_contains("model");
    auto* input = request.raw.if_contains("input");
    if (!model || !model->is_string()) {
      co_await reply(out, exchange, core::makeError(core::ErrorKind::InvalidRequest, "model: expected a string", "model"));
      co_return;
    }
    if (!input || !(input->is_string() || input->is_array())) {
      co_await reply(out, exchange, core::makeError(core::ErrorKind::InvalidRequest, "input: expected a string or an array", "input"));
      co_return;
    }
    request.model = std::string(model->as_string());
    if (hasControlCharacters(request.model)) {
      co_await reply(out, exchange, core::makeError(core::ErrorKind::InvalidRequest,
                                                   "model: must not contain control characters", "model"));
      co_return;
    }
    exchange.model = request.model;
    auto candidates = table.resolve(request.model);
    if (!candidates) {
      co_await reply(out, exchange, candidates.error());
      co_return;
    }
    core::ChatRequest shape;  // what admission needs: the model and no output
    shape.model = request.model;
    shape.maxTokens = 0;
    if (auto refused = accounting.admit(walk.who, shape, *candidates, caller.body.size())) {
      co_await reply(out, exchange, *refused);
      co_return;
    }
    auto lastError = core::makeError(core::ErrorKind::InvalidRequest,
                                     "model '" + request.model + "' has no deployment that serves embeddings", "model");
    for (const auto& deployment : *candidates) {
      const auto& provider = *deployment.provider;
      if (!provider.supportsEmbeddings()) continue;
      walk.served = deployment;
      exchange.deployment = deployment.label;
      exchange.provider = provider.config().name;
      exchange.simulated = provider.config().simulated;
      if (auto* local = provider.inProcess()) {
        auto answer = co_await local->embed(request);
        if (!answer) {
          lastError = withLabel(answer.error(), deployment);
          if (retryable(lastError)) continue;
          break;
        }
        auto* format = request.raw.if_contains("encoding_format");
        bool base64 = format && format->is_string() && format->as_string() == "base64";
        exchange.usage = core::Usage{answer->promptTokens, 0, 0, 0, 0};
        auto headers = responseHeaders(exchange, deployment);
        headers.push_back({"content-type", "application/json"});
        exchange.status = 200;
        co_await out.send(200, std::move(headers), encodeEmbeddings(*answer, request.model, base64));
        co_return;
      }
      auto response = co_await client.send(provider.embeddingsRequest(request, deployment.upstreamModel), provider.clientOptions());
      if (!response) {
        lastError = withLabel(response.error(), deployment);
        if (retryable(lastError)) continue;
        break;
      }
      auto answer = co_await (*response)->readAll(kMaxAnswerBytes);
      if (!answer) {
        lastError = withLabel(answer.error(), deployment);
        continue;
      }
      if ((*response)->status / 100 != 2) {
        lastError = upstreamFailure(**response, answer, deployment);
        if (retryable(lastError)) continue;
        break;
      }
      exchange.status = 200;
      exchange.usage = embeddingUsage(*answer);
      accounting.price(exchange, &deployment);
      auto headers = responseHeaders(exchange, deployment);
      headers.push_back({"content-type", "application/json"});
      headers.push_back({"x-arbitra-cost", deployment.price.known ? ledger::exactDollars(exchange.costPico) : "unknown"});
      co_await out.send(200, std::move(headers), std::move(*answer));
      co_return;
    }
    co_await reply(out, exchange, lastError);
  }

  // ---- deferred requests (deferred.h) ----------------------------------------

  // Answers 202 with a job id and walks the request in the background.
  Task<void> defer(http::Request& caller, http::ResponseWriter& out, WireFormat format) {
    Exchange exchange = begin(format);
    // The job runs through chat() later (authenticated, admitted and recorded
    // there); a caller without a valid key is refused now, not after a 202.
    if (auto who = accounting.authenticate(caller); !who) {
      co_await fail(out, exchange, who.error());
      co_return;
    }
    auto request = api::codecFor(format).parseRequest(caller.body);
    if (!request) {
      co_await fail(out, exchange, request.error());
      co_return;
    }
    if (request->stream) {
      co_await fail(out, exchange, core::makeError(core::ErrorKind::InvalidRequest,
                                                   "x-arbitra-defer: a deferred request cannot stream", "stream"));
      co_return;
    }
    auto id = deferred.add(request->model, format, exchange.wallStartMs);
    if (!id) {
      co_await fail(out, exchange, core::makeError(core::ErrorKind::Overloaded, "too many deferred requests in flight"));
      co_return;
    }
    auto job = std::make_shared<http::Request>(jobRequest(caller));
    auto executor = co_await boost::asio::this_coro::executor;
    boost::asio::co_spawn(executor, runDeferred(job, *id, format), boost::asio::detached);
    http::Headers headers = labelled(http::jsonHeaders());
    headers.push_back({"x-arbitra-request-id", exchange.id});
    co_await out.send(202, std::move(headers), acceptedBody(*id, request->model));
  }

  Task<void> runDeferred(std::shared_ptr<http::Request> job, std::string id, WireFormat format) {
    deferred.running(id);
    CapturingWriter capture;
    capture.job = id;
    co_await chat(*job, capture, format);
    std::string deployment = capture.header("x-arbitra-deployment");
    deferred.finish(id, capture.status(), std::move(capture.body()), std::move(deployment),
                    std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch()).count());
  }

  // A deferred job whose first choice's provider has a batch API goes through
  // it (batcher.h), billed at batch prices; nullptr: the normal walk serves it.
  static CapturingWriter* batchJob(http::ResponseWriter& out, const RoutePlan& route) {
    if (route.candidates.empty() || !route.candidates.front().provider->batch()) return nullptr;
    auto* job = dynamic_cast<CapturingWriter*>(&out);
    return job && !job->job.empty() ? job : nullptr;
  }

  // Serves a batchJob() through its batch API. The batch's wait would skew
  // live estimates, so the router hears nothing.
  Task<void> viaBatch(const CapturingWriter& job, const core::ChatRequest& request, RoutePlan& route,
                      http::ResponseWriter& out, Exchange& exchange, Walk& walk) {
    const Deployment& deployment = route.candidates.front();
    served(walk.world->routing, exchange, route, 0);
    walk.served = deployment;
    exchange.attempts++;
    exchange.batch = true;
    std::string id = job.job;
    deferred.progress(id, DeferredJob::State::Queued, "");
    Batcher::OnState onState = [this, id](const std::string& state, const std::string& batchId) {
      deferred.progress(id, state == "running" ? DeferredJob::State::Running : DeferredJob::State::Submitted, batchId);
    };
    std::shared_ptr<const void> keepAlive = walk.world;  // the batch may outlive this request
    auto answer = co_await batcher.submit(deployment, request, std::move(onState), std::move(keepAlive));
    if (!answer) {
      co_await reply(out, exchange, answer.error());
      co_return;
    }
    BufferedResponse upstream(answer->status, std::move(answer->body));
    if (answer->status / 100 != 2) {
      core::Result<std::string> body = upstream.body;
      auto error = upstreamFailure(upstream, body, deployment);
      if (!answer->error.empty()) {
        error.message = "batch " + answer->batchId + " at " + exchange.provider + ": " + answer->error;
      }
      co_await reply(out, exchange, error);
      co_return;
    }
    cache::Lookup notCached;  // batch answers are not stored in the response cache
    if (auto failed = co_await relayAnswer(request, deployment, upstream, out, exchange, notCached)) {
      co_await reply(out, exchange, *failed);
    }
  }

  Task<void> deferredStatus(const http::Request& caller, std::string_view path, http::ResponseWriter& out) {
    if (auto who = accounting.authenticate(caller); !who) {
      Exchange exchange = begin(WireFormat::OpenAI);
      co_await fail(out, exchange, who.error());
      co_return;
    }
    std::string id(path.substr(std::string_view("/v1/arbitra/deferred/").size()));
    auto job = deferred.get(id);
    if (!job) {
      Exchange exchange = begin(WireFormat::OpenAI);
      co_await fail(out, exchange, core::makeError(core::ErrorKind::NotFound, "no deferred request with that id"));
      co_return;
    }
    co_await out.send(200, labelled(http::jsonHeaders()), statusBody(*job));
  }

  Task<void> models(http::Request& caller, http::ResponseWriter& out) {
    auto names = worlds.current()->table.publicModels();
    json::object body;
    if (!caller.header("anthropic-version").empty()) {
      json::array data;
      for (const auto& name : names) {
        data.push_back(json::object{{"type", "model"}, {"id", name}, {"display_name", name},
                                    {"created_at", "1970-01-01T00:00:00Z"}});
      }
      body["data"] = std::move(data);
      body["has_more"] = false;
      body["first_id"] = names.empty() ? json::value(nullptr) : json::value(names.front());
      body["last_id"] = names.empty() ? json::value(nullptr) : json::value(names.back());
    } else {
      json::array data;
      for (const auto& name : names) {
        data.push_back(json::object{{"id", name}, {"object", "model"}, {"created", 0}, {"owned_by", "arbitra"}});
      }
      body["object"] = "list";
      body["data"] = std::move(data);
    }
    co_await out.send(200, labelled(http::jsonHeaders()), json::serialize(body));
  }

  // ---- shared steps ---------------------------------------------------------

  // Adds the `simulated` label when the gateway serves from the simulator.
  http::Headers labelled(http::Headers headers) const {
    if (worlds.simulated()) headers.push_back({"x-arbitra-simulated", "true"});
    return headers;
  }

  Exchange begin(WireFormat format) {
    Exchange exchange;
    exchange.format = format;
    char id[32];
    std::snprintf(id, sizeof id, "arb-%016llx",
                  static_cast<unsigned long long>(idBase + counter.fetch_add(1, std::memory_order_relaxed)));
    exchange.id = id;
    exchange.wallStartMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch()).count();
    return exchange;
  }

  http::Headers responseHeaders(const Exchange& exchange, const Deployment& deployment) const {
    // Built in place, with room for the content headers the caller adds: an
    // initializer list would copy every string twice and the vector grow once.
    http::Headers headers;
    headers.reserve(9);
    headers.push_back({"x-arbitra-request-id", exchange.id});
    headers.push_back({"x-arbitra-deployment", deployment.label});
    headers.push_back({"x-arbitra-provider", deployment.provider->config().name});
    if (deployment.provider->config().simulated) headers.push_back({"x-arbitra-simulated", "true"});
    if (!exchange.route.reason.empty()) headers.push_back({"x-arbitra-route", exchange.route.reason});
    if (auto cache = cacheHeader(exchange.cache); !cache.empty()) headers.push_back({"x-arbitra-cache", std::move(cache)});
    return headers;
  }

  // A cache hit's headers: the deployment that produced the answer, provider "cache".
  http::Headers cachedHeaders(const Exchange& exchange) const {
    http::Headers headers{{"x-arbitra-request-id", exchange.id}, {"x-arbitra-provider", "cache"}};
    return labelled(std::move(headers));
  }

  static core::Error withLabel(core::Error error, const Deployment& deployment) {
    error.message = deployment.label + ": " + redact(error.message, deployment.provider->config().apiKey);
    return error;
  }

  Task<void> fail(http::ResponseWriter& out, Exchange& exchange, const core::Error& error) {
    co_await reply(out, exchange, error);
    finish(exchange);
  }

  // Sends the error in the caller's format (unless the answer already started
  // or the caller left); the caller of reply() logs.
  Task<void> reply(http::ResponseWriter& out, Exchange& exchange, const core::Error& error) {
    exchange.status = error.httpStatus();
    exchange.note = error.message;
    if (out.started() || out.clientGone()) {
      if (out.clientGone()) exchange.status = 499;
      co_return;
    }
    http::Headers headers = labelled(http::jsonHeaders());
    headers.push_back({"x-arbitra-request-id", exchange.id});
    if (error.retryAfterSeconds) headers.push_back({"retry-after", std::to_string(*error.retryAfterSeconds)});
    co_await out.send(exchange.status, std::move(headers), api::codecFor(exchange.format).encodeError(error));
  }

  void finish(const Exchange& exchange) {
    if (!core::logEnabled(core::LogLevel::Info)) return;
    std::string line = "request id=" + exchange.id + " format=" + core::toString(exchange.format) +
                       " model=" + (exchange.model.empty() ? "-" : exchange.model) +
                       " deployment=" + (exchange.deployment.empty() ? "-" : exchange.deployment) +
                       " status=" + std::to_string(exchange.status) + " stream=" + (exchange.stream ? "1" : "0");
    char numbers[96];
    std::snprintf(numbers, sizeof numbers, " ms=%.2f ttft_ms=%.2f attempts=%d", millisSince(exchange.start),
                  exchange.firstToken ? millisSince(exchange.start, *exchange.firstToken) : 0.0, exchange.attempts);
    line += numbers;
    if (exchange.usage) {
      line += " in=" + std::to_string(exchange.usage->inputTokens) + " out=" + std::to_string(exchange.usage->outputTokens) +
              " cached=" + std::to_string(exchange.usage->cachedReadTokens) +
              " reasoning=" + std::to_string(exchange.usage->reasoningTokens);
    }
    if (exchange.costPico > 0) line += " cost=" + ledger::exactDollars(exchange.costPico);
    if (exchange.usageEstimated) line += " estimated";
    if (auto cache = cacheHeader(exchange.cache); !cache.empty()) line += " cache=\"" + cache + "\"";
    if (exchange.engine.used) {
      line += " local_cached=" + std::to_string(exchange.engine.cachedTokens) +
              " drafted=" + std::to_string(exchange.engine.draftedTokens) +
              " accepted=" + std::to_string(exchange.engine.acceptedTokens) +
              " steps=" + std::to_string(exchange.engine.decodeSteps) +
              " cost_pico=" + std::to_string(exchange.engine.costPico);
    }
    if (!exchange.note.empty()) line += " error=\"" + exchange.note + "\"";
    if (exchange.simulated || worlds.simulated()) line += " simulated";
    core::log(exchange.status >= 500 ? core::LogLevel::Warn : core::LogLevel::Info, line);
  }
};

Gateway::Gateway(const config::Config& config, const providers::Registry& registry)
    : impl_(std::make_unique<Impl>(config, registry)) {}
Gateway::~Gateway() = default;

http::Task<void> Gateway::handle(http::Request& request, http::ResponseWriter& out) {
  return impl_->handle(request, out);
}

bool Gateway::simulated() const { return impl_->worlds.simulated(); }
void Gateway::setConfigLoader(std::function<config::Config()> loader) { impl_->worlds.setLoader(std::move(loader)); }
void Gateway::reloadOnSignal(int signal) { impl_->worlds.reloadOnSignal(signal); }
ReloadOutcome Gateway::reload() { return impl_->worlds.reload(); }
bool Gateway::requiresKeys() const { return impl_->accounting.keysInUse(); }

std::string Gateway::cacheMetricsText() const { return impl_->cacheStep.metricsText(); }

std::string Gateway::protocolErrorBody(int status, const std::string& message, std::string_view target) {
  auto format = target.rfind("/v1/messages", 0) == 0 ? WireFormat::Anthropic : WireFormat::OpenAI;
  auto error = core::makeError(core::kindForStatus(status), message);
  error.status = status;
  return api::codecFor(format).encodeError(error);
}

}  // namespace arbitra::gateway
