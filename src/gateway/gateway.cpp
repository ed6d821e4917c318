// The gateway's routes and the chat request's walk (see gateway.h).
#include "gateway/gateway.h"

#include <atomic>
#include <chrono>
#include <optional>
#include <random>

#include <boost/json.hpp>

#include "api/codec.h"
#include "core/log.h"
#include "gateway/deployments.h"
#include "gateway/exchange.h"
#include "gateway/in_process.h"
#include "http/sse.h"

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
// (same format) or re-encoding it (the other format). Records usage and the
// time to first token on the way.
class StreamRelay {
 public:
  StreamRelay(const core::ChatRequest& request, const Deployment& deployment, Exchange& exchange)
      : request_(request),
        exchange_(exchange),
        passthrough_(deployment.provider->format() == request.format),
        decoder_(deployment.provider->codec().makeStreamDecoder()),
        encoder_(api::codecFor(request.format).makeStreamEncoder(request)) {}

  // Appends the caller's bytes for `chunk` to `out`; an error for garbage.
  std::optional<core::Error> process(std::string_view chunk, std::string& out) {
    events_.clear();
    if (!parser_.feed(chunk, events_)) {
      return core::makeError(core::ErrorKind::UpstreamError, "upstream sent an oversized stream event");
    }
    for (const auto& event : events_) {
      if (decoder_->finished()) break;
      auto decoded = decoder_->decode(event.event, event.data);
      if (!decoded) return decoded.error();
      sawEvent_ = true;
      for (const auto& e : *decoded) observe(exchange_, e);
      if (passthrough_) {
        // We always ask OpenAI upstreams for usage; drop that chunk when the caller did not.
        bool forcedUsage = request_.format == WireFormat::OpenAI && !request_.includeUsage && onlyUsage(*decoded);
        if (!forcedUsage) http::appendSseEvent(out, event.event, event.data);
      } else {
        for (const auto& e : *decoded) encoder_->encode(e, out);
      }
    }
    if (decoder_->finished() && !passthrough_ && !closed_) {
      encoder_->finish(out);
      closed_ = true;
    }
    return std::nullopt;
  }

  void error(const core::Error& error, std::string& out) { encoder_->error(error, out); }
  bool sawEvent() const { return sawEvent_; }
  bool finished() const { return decoder_->finished(); }

 private:
  const core::ChatRequest& request_;
  Exchange& exchange_;
  bool passthrough_;
  std::unique_ptr<api::StreamDecoder> decoder_;
  std::unique_ptr<api::StreamEncoder> encoder_;
  http::SseParser parser_;
  std::vector<http::SseEvent> events_;
  bool sawEvent_ = false;
  bool closed_ = false;
};

// Model names end up in response headers and log lines: no control characters.
bool hasControlCharacters(std::string_view text) {
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

}  // namespace

struct Gateway::Impl {
  Impl(const config::Config& config, const providers::Registry& registry) : table(config, registry) {
    std::random_device device;
    idBase = (static_cast<uint64_t>(device()) << 32) ^ device();
  }

  DeploymentTable table;
  http::HttpClient client;
  uint64_t idBase = 0;
  std::atomic<uint64_t> counter{0};

  // ---- routes ---------------------------------------------------------------

  Task<void> handle(http::Request& request, http::ResponseWriter& out) {
    auto path = request.path();
    if (path == "/v1/chat/completions" || path == "/chat/completions") {
      if (co_await requireMethod(request, out, "POST", WireFormat::OpenAI)) co_await chat(request, out, WireFormat::OpenAI);
    } else if (path == "/v1/messages") {
      if (co_await requireMethod(request, out, "POST", WireFormat::Anthropic)) co_await chat(request, out, WireFormat::Anthropic);
    } else if (path == "/v1/embeddings" || path == "/embeddings") {
      if (co_await requireMethod(request, out, "POST", WireFormat::OpenAI)) co_await embeddings(request, out);
    } else if (path == "/v1/models" || path == "/models") {
      if (co_await requireMethod(request, out, "GET", WireFormat::OpenAI)) co_await models(request, out);
    } else if (path == "/healthz") {
      co_await out.send(200, labelled(http::jsonHeaders()), R"({"status":"ok"})");
    } else if (path == "/readyz") {
      json::object body{{"status", "ready"},
                        {"providers", table.providers().size()},
                        {"simulated", table.simulated()}};
      co_await out.send(200, labelled(http::jsonHeaders()), json::serialize(body));
    } else {
      Exchange exchange = begin(WireFormat::OpenAI);
      co_await fail(out, exchange, core::makeError(core::ErrorKind::NotFound, "no route for " + request.method + " " + std::string(path)));
    }
  }

  Task<bool> requireMethod(const http::Request& request, http::ResponseWriter& out, const char* method, WireFormat format) {
    if (request.method == method) co_return true;
    Exchange exchange = begin(format);
    auto error = core::makeError(core::ErrorKind::InvalidRequest, std::string(request.path()) + " accepts " + method + " only");
    error.status = 405;
    co_await fail(out, exchange, error);
    co_return false;
  }

  // ---- the chat walk --------------------------------------------------------

  Task<void> chat(http::Request& caller, http::ResponseWriter& out, WireFormat format) {
    Exchange exchange = begin(format);
    const auto& codec = api::codecFor(format);
    auto request = codec.parseRequest(caller.body);
    if (!request) {
      co_await fail(out, exchange, request.error());
      co_return;
    }
    if (hasControlCharacters(request->model)) {
      co_await fail(out, exchange, core::makeError(core::ErrorKind::InvalidRequest,
                                                   "model: must not contain control characters", "model"));
      co_return;
    }
    exchange.model = request->model;
    exchange.stream = request->stream;
    auto candidates = table.resolve(request->model);
    if (!candidates) {
      co_await fail(out, exchange, candidates.error());
      co_return;
    }
    auto lastError = core::makeError(core::ErrorKind::UpstreamError, "no deployment could serve the request");
    for (const auto& deployment : *candidates) {
      exchange.deployment = deployment.label;
      exchange.provider = deployment.provider->config().name;
      exchange.simulated = deployment.provider->config().simulated;
      exchange.attempts++;
      std::optional<core::Error> failure;
      if (auto* local = deployment.provider->inProcess()) {
        failure = co_await serveInProcess(*request, *local, deployment.upstreamModel,
                                          responseHeaders(exchange, deployment), out, exchange);
        if (!failure) {
          finish(exchange);
          co_return;
        }
        lastError = withLabel(*failure, deployment);
        if (out.clientGone() || !retryable(lastError)) break;
        continue;
      }
      auto upstream = co_await send(*request, deployment, caller);
      if (!upstream) {
        failure = upstream.error();
      } else if (request->stream) {
        failure = co_await relayStream(*request, deployment, **upstream, out, exchange);
      } else {
        failure = co_await relayAnswer(*request, deployment, **upstream, out, exchange);
      }
      if (!failure) {
        finish(exchange);
        co_return;
      }
      lastError = *failure;
      if (out.clientGone()) break;
      core::log(core::LogLevel::Warn, "attempt failed id=" + exchange.id + " deployment=" + deployment.label +
                                          " error=" + lastError.message);
      if (!retryable(lastError)) break;
    }
    co_await fail(out, exchange, lastError);
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
                                               Exchange& exchange) {
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
      payload = std::move(*body);
    } else {
      auto answer = provider.codec().parseResponse(*body);
      if (!answer) {
        co_return core::makeError(core::ErrorKind::UpstreamError,
                                  "upstream " + deployment.label + " sent an invalid answer: " + answer.error().message);
      }
      exchange.usage = answer->usage;
      answer->model = request.model;
      payload = api::codecFor(request.format).encodeResponse(*answer);
    }
    exchange.firstToken = Clock::now();
    auto headers = responseHeaders(exchange, deployment);
    headers.push_back({"content-type", "application/json"});
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
                                               Exchange& exchange) {
    StreamRelay relay(request, deployment, exchange);
    std::string bytes;
    // Before the first byte: read until one event decodes (or the upstream fails).
    while (!relay.sawEvent()) {
      auto chunk = co_await upstream.read();
      if (!chunk) co_return withLabel(chunk.error(), deployment);
      if (chunk->empty()) {
        co_return core::makeError(core::ErrorKind::UpstreamError,
                                  "upstream " + deployment.label + " ended the stream before sending an event");
      }
      if (auto failed = relay.process(*chunk, bytes)) {
        failed->message = "upstream " + deployment.label + " sent an invalid stream: " + failed->message;
        co_return failed;
      }
    }
    auto headers = responseHeaders(exchange, deployment);
    headers.push_back({"content-type", "text/event-stream"});
    headers.push_back({"cache-control", "no-cache"});
    exchange.status = 200;
    if (!co_await out.startStream(200, std::move(headers))) {
      exchange.status = 499;
      co_return std::nullopt;
    }
    std::optional<core::Error> streamError;
    while (!relay.finished()) {
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
    if (!bytes.empty() && !co_await out.write(bytes)) exchange.status = 499;
    co_await out.endStream();
    // The upstream's chunked terminator follows its last event: read it, so
    // the connection goes back to the pool instead of being closed.
    if (!streamError && relay.finished()) co_await upstream.drain(kDrainWaitMs);
    co_return std::nullopt;
  }

  // ---- embeddings and models ------------------------------------------------

  Task<void> embeddings(http::Request& caller, http::ResponseWriter& out) {
    Exchange exchange = begin(WireFormat::OpenAI);
    json::error_code ec;
    auto body = json::parse(caller.body, ec);
    if (ec || !body.is_object()) {
      co_await fail(out, exchange, core::makeError(core::ErrorKind::InvalidRequest, "invalid JSON body"));
      co_return;
    }
    core::EmbeddingRequest request;
    request.raw = body.as_object();
    auto* model = request.raw.if_contains("model");
    auto* input = request.raw.if_contains("input");
    if (!model || !model->is_string()) {
      co_await fail(out, exchange, core::makeError(core::ErrorKind::InvalidRequest, "model: expected a string", "model"));
      co_return;
    }
    if (!input || !(input->is_string() || input->is_array())) {
      co_await fail(out, exchange, core::makeError(core::ErrorKind::InvalidRequest, "input: expected a string or an array", "input"));
      co_return;
    }
    request.model = std::string(model->as_string());
    if (hasControlCharacters(request.model)) {
      co_await fail(out, exchange, core::makeError(core::ErrorKind::InvalidRequest,
                                                   "model: must not contain control characters", "model"));
      co_return;
    }
    exchange.model = request.model;
    auto candidates = table.resolve(request.model);
    if (!candidates) {
      co_await fail(out, exchange, candidates.error());
      co_return;
    }
    auto lastError = core::makeError(core::ErrorKind::InvalidRequest,
                                     "model '" + request.model + "' has no deployment that serves embeddings", "model");
    for (const auto& deployment : *candidates) {
      const auto& provider = *deployment.provider;
      if (!provider.supportsEmbeddings()) continue;
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
        finish(exchange);
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
      auto headers = responseHeaders(exchange, deployment);
      headers.push_back({"content-type", "application/json"});
      exchange.status = 200;
      co_await out.send(200, std::move(headers), std::move(*answer));
      finish(exchange);
      co_return;
    }
    co_await fail(out, exchange, lastError);
  }

  Task<void> models(http::Request& caller, http::ResponseWriter& out) {
    auto names = table.publicModels();
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
    if (table.simulated()) headers.push_back({"x-arbitra-simulated", "true"});
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
    http::Headers headers{{"x-arbitra-request-id", exchange.id},
                          {"x-arbitra-deployment", deployment.label},
                          {"x-arbitra-provider", deployment.provider->config().name}};
    if (deployment.provider->config().simulated) headers.push_back({"x-arbitra-simulated", "true"});
    return headers;
  }

  static core::Error withLabel(core::Error error, const Deployment& deployment) {
    error.message = deployment.label + ": " + redact(error.message, deployment.provider->config().apiKey);
    return error;
  }

  Task<void> fail(http::ResponseWriter& out, Exchange& exchange, const core::Error& error) {
    exchange.status = error.httpStatus();
    exchange.note = error.message;
    if (out.started() || out.clientGone()) {
      if (out.clientGone()) exchange.status = 499;
      finish(exchange);
      co_return;
    }
    http::Headers headers = labelled(http::jsonHeaders());
    headers.push_back({"x-arbitra-request-id", exchange.id});
    if (error.retryAfterSeconds) headers.push_back({"retry-after", std::to_string(*error.retryAfterSeconds)});
    co_await out.send(exchange.status, std::move(headers), api::codecFor(exchange.format).encodeError(error));
    finish(exchange);
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
    if (exchange.engine.used) {
      line += " local_cached=" + std::to_string(exchange.engine.cachedTokens) +
              " drafted=" + std::to_string(exchange.engine.draftedTokens) +
              " accepted=" + std::to_string(exchange.engine.acceptedTokens) +
              " cost_pico=" + std::to_string(exchange.engine.costPico);
    }
    if (!exchange.note.empty()) line += " error=\"" + exchange.note + "\"";
    if (exchange.simulated || table.simulated()) line += " simulated";
    core::log(exchange.status >= 500 ? core::LogLevel::Warn : core::LogLevel::Info, line);
  }
};

Gateway::Gateway(const config::Config& config, const providers::Registry& registry)
    : impl_(std::make_unique<Impl>(config, registry)) {}
Gateway::~Gateway() = default;

http::Task<void> Gateway::handle(http::Request& request, http::ResponseWriter& out) {
  return impl_->handle(request, out);
}

bool Gateway::simulated() const { return impl_->table.simulated(); }

std::string Gateway::protocolErrorBody(int status, const std::string& message, std::string_view target) {
  auto format = target.rfind("/v1/messages", 0) == 0 ? WireFormat::Anthropic : WireFormat::OpenAI;
  auto error = core::makeError(core::kindForStatus(status), message);
  error.status = status;
  return api::codecFor(format).encodeError(error);
}

}  // namespace arbitra::gateway
