// Provider simulator: answers chat requests in the caller's wire format using
// the project's own codecs (which the official SDKs check on the gateway side),
// paced by per-model timing, with seeded failures. See simulator.h.
#include "simulator.h"

#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>

#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <yaml-cpp/yaml.h>

#include "api/codec.h"
#include "http/server.h"
#include "http/sse.h"

namespace arbitra::sim {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using core::WireFormat;
using http::Task;

constexpr const char* kWords[] = {
    "the", "quick", "answer", "is", "that", "routing", "saves", "money", "when", "latency",
    "allows", "and", "cheap", "models", "serve", "most", "requests", "well", "enough", "today",
    "tokens", "flow", "through", "one", "gateway", "with", "care", "for", "every", "cent"};

uint64_t fnv1a(std::string_view text, uint64_t seed) {
  uint64_t hash = 1469598103934665603ULL ^ seed;
  for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ULL;
  return hash;
}

int64_t estimateInputTokens(const core::ChatRequest& request) {
  size_t chars = request.system.size();
  for (const auto& message : request.messages) {
    for (const auto& part : message.content) chars += part.text.size();
    for (const auto& call : message.toolCalls) chars += call.name.size() + call.arguments.size();
  }
  for (const auto& tool : request.tools) chars += tool.name.size() + tool.description.size();
  return std::max<int64_t>(1, static_cast<int64_t>((chars + 3) / 4));
}

std::string encodeBase64(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out.push_back(kAlphabet[(n >> shift) & 63]);
  }
  if (i < bytes.size()) {
    uint32_t n = uint8_t(bytes[i]) << 16;
    if (i + 1 < bytes.size()) n |= uint8_t(bytes[i + 1]) << 8;
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

Task<void> sleepFor(std::chrono::microseconds duration) {
  if (duration.count() <= 0) co_return;
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

// What one request will get: drawn once, up front, from the seeded generator.
struct Plan {
  core::ChatResponse response;
  std::vector<std::string> tokens;  // text pieces, one per output token
  bool toolCall = false;
};

}  // namespace

struct Simulator::Impl {
  SimOptions options;
  std::unique_ptr<http::Server> server;
  mutable std::mutex statsMutex;
  SimStats totals;
  std::atomic<uint64_t> sequence{0};

  // Batch APIs (see simulator.h).
  struct BatchLine {
    std::string customId;
    std::string body;  // the request body
  };
  struct SimBatch {
    std::string id;
    WireFormat format = WireFormat::OpenAI;
    std::vector<BatchLine> lines;
    std::chrono::steady_clock::time_point readyAt;
    int64_t createdAt = 0;  // unix seconds
    std::string inputFileId;
    bool ended = false;
    std::string failure;  // OpenAI: why the whole batch failed
    std::string outputFileId, errorFileId;
    std::string results;  // Anthropic: the results JSONL
    int64_t succeeded = 0, errored = 0;
  };
  std::mutex batchMutex;
  std::map<std::string, std::string> files;  // id -> content
  std::map<std::string, SimBatch> batches;
  uint64_t batchSequence = 0;

  const ModelBehavior& behaviorFor(const std::string& model) const {
    static const ModelBehavior kDefault;
    const ModelBehavior* wildcard = nullptr;
    for (const auto& behavior : options.models) {
      if (behavior.name == model) return behavior;
      if (behavior.name == "*" && !wildcard) wildcard = &behavior;
    }
    return wildcard ? *wildcard : kDefault;
  }

  // Billing as a provider does it: uncached input, cache reads, cache writes and
  // output each at its price (independent of the gateway's ledger code).
  void bill(const core::Usage& usage, bool error, const ModelBehavior* behavior = nullptr) {
    std::lock_guard lock(statsMutex);
    if (!error && behavior) {
      int64_t cachedPrice = behavior->priceCachedInput >= 0 ? behavior->priceCachedInput : behavior->priceInput;
      int64_t writePrice = behavior->priceCacheWrite >= 0 ? behavior->priceCacheWrite : behavior->priceInput;
      int64_t uncached = usage.inputTokens - usage.cachedReadTokens - usage.cacheWriteTokens;
      totals.costPico += uncached * behavior->priceInput + usage.cachedReadTokens * cachedPrice +
                         usage.cacheWriteTokens * writePrice + usage.outputTokens * behavior->priceOutput;
    }
    totals.requests++;
    if (error) {
      totals.errors++;
      return;
    }
    totals.inputTokens += usage.inputTokens;
    totals.outputTokens += usage.outputTokens;
    totals.cachedReadTokens += usage.cachedReadTokens;
    totals.cacheWriteTokens += usage.cacheWriteTokens;
    totals.reasoningTokens += usage.reasoningTokens;
  }

  // A request answered inside a batch, at the batch prices.
  void billBatch(const core::Usage& usage, const ModelBehavior& behavior) {
    std::lock_guard lock(statsMutex);
    int64_t in = behavior.priceInput;
    int64_t batchIn = behavior.priceBatchInput >= 0 ? behavior.priceBatchInput : in;
    int64_t batchOut = behavior.priceBatchOutput >= 0 ? behavior.priceBatchOutput : behavior.priceOutput;
    int64_t cachedPrice = behavior.priceCachedInput >= 0 ? behavior.priceCachedInput : in;
    int64_t writePrice = behavior.priceCacheWrite >= 0 ? behavior.priceCacheWrite : in;
    auto discounted = [&](int64_t tokens, int64_t rate) -> int64_t {
      __int128 product = static_cast<__int128>(tokens) * rate;
      if (in == 0) return static_cast<int64_t>(product);
      return static_cast<int64_t>((product * batchIn + in / 2) / in);
    };
    int64_t uncached = usage.inputTokens - usage.cachedReadTokens - usage.cacheWriteTokens;
    totals.costPico += uncached * batchIn + discounted(usage.cachedReadTokens, cachedPrice) +
                       discounted(usage.cacheWriteTokens, writePrice) + usage.outputTokens * batchOut;
    totals.requests++;
    totals.batchRequests++;
    totals.inputTokens += usage.inputTokens;
    totals.outputTokens += usage.outputTokens;
    totals.cachedReadTokens += usage.cachedReadTokens;
    totals.cacheWriteTokens += usage.cacheWriteTokens;
    totals.reasoningTokens += usage.reasoningTokens;
  }

  Plan plan(const core::ChatRequest& request, const ModelBehavior& behavior, std::mt19937_64& rng) {
    Plan plan;
    auto& response = plan.response;
    response.id = (request.format == WireFormat::OpenAI ? "chatcmpl-sim" : "msg_sim") +
                  std::to_string(sequence.fetch_add(1));
    response.model = request.model;
    response.created = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch()).count();
    bool answeredTool = !request.messages.empty() && request.messages.back().role == core::Role::Tool;
    bool toolsOff = request.toolChoice && request.toolChoice->kind == core::ToolChoice::Kind::None;
    int64_t budget = behavior.outputTokens;
    if (request.maxTokens && *request.maxTokens < budget) budget = std::max<int64_t>(0, *request.maxTokens);
    if (!request.tools.empty() && !answeredTool && !toolsOff) {
      plan.toolCall = true;
      const core::Tool* tool = &request.tools.front();
      if (request.toolChoice && request.toolChoice->kind == core::ToolChoice::Kind::Named) {
        for (const auto& t : request.tools) {
          if (t.name == request.toolChoice->name) tool = &t;
        }
      }
      std::string word = kWords[rng() % std::size(kWords)];
      response.toolCalls.push_back(core::ToolCall{"call_sim" + std::to_string(rng() % 1000000), tool->name,
                                                  R"({"query":")" + word + R"(","limit":3})"});
      response.finish = core::FinishReason::ToolCalls;
    } else {
      for (int64_t i = 0; i < budget; ++i) {
        std::string piece = (i == 0 ? "" : " ") + std::string(kWords[rng() % std::size(kWords)]);
        response.text += piece;
        plan.tokens.push_back(std::move(piece));
      }
      response.finish = budget < behavior.outputTokens ? core::FinishReason::Length : core::FinishReason::Stop;
    }
    core::Usage usage;
    usage.inputTokens = estimateInputTokens(request) + behavior.cacheWriteTokens;
    usage.cachedReadTokens = static_cast<int64_t>(static_cast<double>(usage.inputTokens - behavior.cacheWriteTokens) *
                                                  behavior.cachedFraction);
    usage.cacheWriteTokens = behavior.cacheWriteTokens;
    int64_t visible = plan.toolCall ? 12 : static_cast<int64_t>(plan.tokens.size());
    usage.reasoningTokens = behavior.reasoningTokens;
    usage.outputTokens = visible + behavior.reasoningTokens;
    response.usage = usage;
    return plan;
  }

  Task<void> handle(http::Request& request, http::ResponseWriter& out) {
    auto path = request.path();
    if (request.method == "GET" && path == "/sim/stats") {
      co_await out.send(200, http::jsonHeaders(), statsJson());
      co_return;
    }
    if (request.method == "GET" && path == "/v1/models") {
      json::array data;
      for (const auto& behavior : options.models) {
        if (behavior.name != "*") data.push_back(json::object{{"id", behavior.name}, {"object", "model"}, {"owned_by", "simulator"}});
      }
      json::object body{{"object", "list"}, {"data", std::move(data)}};
      co_await out.send(200, http::jsonHeaders(), json::serialize(body));
      co_return;
    }
    if (request.method == "POST" && path == "/v1/embeddings") {
      co_await embeddings(request, out);
      co_return;
    }
    if (path.starts_with("/v1/files") || path.starts_with("/v1/batches") || path.starts_with("/v1/messages/batches")) {
      auto [status, body] = batchRoute(request, path);
      co_await out.send(status, http::jsonHeaders(), std::move(body));
      co_return;
    }
    WireFormat format;
    if (request.method == "POST" && path == "/v1/chat/completions") {
      format = WireFormat::OpenAI;
    } else if (request.method == "POST" && path == "/v1/messages") {
      format = WireFormat::Anthropic;
    } else {
      co_await out.send(404, http::jsonHeaders(),
                        api::codecFor(WireFormat::OpenAI).encodeError(core::makeError(core::ErrorKind::NotFound, "no such route")));
      co_return;
    }
    co_await chat(request, out, format);
  }

  Task<void> chat(http::Request& request, http::ResponseWriter& out, WireFormat format) {
    const auto& codec = api::codecFor(format);
    auto parsed = codec.parseRequest(request.body);
    if (!parsed) {
      bill({}, true);
      co_await out.send(400, http::jsonHeaders(), codec.encodeError(parsed.error()));
      co_return;
    }
    const auto& behavior = behaviorFor(parsed->model);
    std::mt19937_64 rng(fnv1a(request.body, options.seed));
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    double draw = unit(rng);

    if (behavior.failure == "hang") {
      co_await sleepFor(std::chrono::hours(1));
      co_return;
    }
    if (behavior.failure.rfind("status:", 0) == 0 || draw < behavior.errorRate) {
      int status = behavior.failure.empty() ? 500 : std::atoi(behavior.failure.c_str() + 7);
      auto error = core::makeError(core::kindForStatus(status), "simulated upstream failure");
      error.status = status;
      bill({}, true);
      co_await out.send(status, http::jsonHeaders(), codec.encodeError(error));
      co_return;
    }
    if (draw < behavior.errorRate + behavior.rateLimitRate) {
      auto error = core::makeError(core::ErrorKind::RateLimited, "simulated rate limit");
      bill({}, true);
      http::Headers headers{{"content-type", "application/json"},
                            {"retry-after", std::to_string(behavior.retryAfterSeconds)}};
      co_await out.send(429, std::move(headers), codec.encodeError(error));
      co_return;
    }

    Plan plan = this->plan(*parsed, behavior, rng);
    auto usage = *plan.response.usage;
    auto perToken = std::chrono::microseconds(
        behavior.tokensPerSecond > 0 ? static_cast<int64_t>(1e6 / behavior.tokensPerSecond) : 0);
    http::Headers headers{{"x-sim-request", plan.response.id}};

    if (!parsed->stream) {
      co_await sleepFor(std::chrono::milliseconds(behavior.ttftMs) +
                        perToken * static_cast<int64_t>(plan.tokens.size()));
      if (behavior.failure == "garbage") {
        bill(usage, false, &behavior);
        co_await out.send(200, http::jsonHeaders(), "{\"id\": \"garbage\", \"choices\": [tru");
        co_return;
      }
      if (behavior.failure == "disconnect") {
        out.abort();
        co_return;
      }
      if (!behavior.reportUsage) plan.response.usage.reset();
      bill(usage, false, &behavior);
      headers.push_back({"content-type", "application/json"});
      co_await out.send(200, std::move(headers), codec.encodeResponse(plan.response));
      co_return;
    }

    headers.push_back({"content-type", "text/event-stream"});
    headers.push_back({"cache-control", "no-cache"});
    if (!co_await out.startStream(200, std::move(headers))) co_return;
    bill(usage, false, &behavior);
    auto encoder = codec.makeStreamEncoder(*parsed);
    std::string bytes;
    core::StreamEvent start;
    start.kind = core::StreamEvent::Kind::Start;
    start.id = plan.response.id;
    start.model = parsed->model;
    start.usage.inputTokens = usage.inputTokens;
    start.usage.cachedReadTokens = usage.cachedReadTokens;
    start.usage.cacheWriteTokens = usage.cacheWriteTokens;
    if (!behavior.reportUsage) start.usage = {};
    encoder->encode(start, bytes);
    if (behavior.failure == "garbage") bytes += "data: {\"choices\": [{\"delta\": {\"content\": tru\n\n";
    if (!co_await out.write(bytes)) co_return;
    co_await sleepFor(std::chrono::milliseconds(behavior.ttftMs));

    if (plan.toolCall) {
      const auto& call = plan.response.toolCalls.front();
      bytes.clear();
      core::StreamEvent toolStart;
      toolStart.kind = core::StreamEvent::Kind::ToolStart;
      toolStart.toolId = call.id;
      toolStart.toolName = call.name;
      encoder->encode(toolStart, bytes);
      for (size_t at = 0; at < call.arguments.size(); at += 7) {  // arguments in fragments, in order
        core::StreamEvent args;
        args.kind = core::StreamEvent::Kind::ToolArgs;
        args.text = call.arguments.substr(at, 7);
        encoder->encode(args, bytes);
      }
      if (!co_await out.write(bytes)) co_return;
    }
    for (size_t i = 0; i < plan.tokens.size(); ++i) {
      if (i > 0) co_await sleepFor(perToken);
      if (behavior.failure == "disconnect" && i == plan.tokens.size() / 2) {
        out.abort();
        co_return;
      }
      bytes.clear();
      core::StreamEvent delta;
      delta.kind = core::StreamEvent::Kind::TextDelta;
      delta.text = plan.tokens[i];
      encoder->encode(delta, bytes);
      if (!co_await out.write(bytes)) co_return;
    }
    bytes.clear();
    core::StreamEvent finish;
    finish.kind = core::StreamEvent::Kind::Finish;
    finish.finish = plan.response.finish;
    encoder->encode(finish, bytes);
    if (behavior.reportUsage) {
      core::StreamEvent final;
      final.kind = core::StreamEvent::Kind::Usage;
      final.usage = usage;
      encoder->encode(final, bytes);
    }
    encoder->finish(bytes);
    if (co_await out.write(bytes)) co_await out.endStream();
  }

  // Deterministic 8-dimensional vectors from a hash of each input.
  Task<void> embeddings(http::Request& request, http::ResponseWriter& out) {
    json::error_code ec;
    auto body = json::parse(request.body, ec);
    const auto& codec = api::codecFor(WireFormat::OpenAI);
    std::vector<std::string> inputs;
    if (!ec && body.is_object() && body.as_object().contains("input")) {
      const auto& input = body.as_object().at("input");
      if (input.is_string()) inputs.emplace_back(input.as_string());
      if (input.is_array()) {
        for (const auto& item : input.as_array()) {
          if (item.is_string()) inputs.emplace_back(item.as_string());
        }
      }
    }
    if (inputs.empty()) {
      co_await out.send(400, http::jsonHeaders(),
                        codec.encodeError(core::makeError(core::ErrorKind::InvalidRequest, "input must be a string or an array of strings", "input")));
      co_return;
    }
    // encoding_format "base64": little-endian float32s, base64-encoded, as OpenAI sends them.
    auto* format = body.as_object().if_contains("encoding_format");
    bool base64 = format && format->is_string() && format->as_string() == "base64";
    json::array data;
    int64_t tokens = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
      json::array vector;
      std::string packed;
      uint64_t h = fnv1a(inputs[i], options.seed);
      for (int d = 0; d < 8; ++d) {
        h = h * 6364136223846793005ULL + 1442695040888963407ULL;
        float value = static_cast<float>(static_cast<int64_t>(h >> 40) % 2000 - 1000) / 1000.0f;
        vector.push_back(static_cast<double>(value));
        packed.append(reinterpret_cast<const char*>(&value), sizeof value);
      }
      tokens += std::max<int64_t>(1, static_cast<int64_t>((inputs[i].size() + 3) / 4));
      json::value embedding = base64 ? json::value(encodeBase64(packed)) : json::value(std::move(vector));
      data.push_back(json::object{{"object", "embedding"}, {"index", i}, {"embedding", std::move(embedding)}});
    }
    core::Usage usage;
    usage.inputTokens = tokens;
    bill(usage, false);
    json::object response{{"object", "list"}, {"data", std::move(data)},
                          {"model", body.as_object().contains("model") ? body.at("model") : json::value("sim-embed")},
                          {"usage", json::object{{"prompt_tokens", tokens}, {"total_tokens", tokens}}}};
    co_await out.send(200, http::jsonHeaders(), json::serialize(response));
  }

  // ---- batch APIs -----------------------------------------------------------

  static std::pair<int, std::string> batchError(WireFormat format, int status, const std::string& message) {
    auto error = core::makeError(core::kindForStatus(status), message);
    error.status = status;
    return {status, api::codecFor(format).encodeError(error)};
  }

  static int64_t unixSeconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  }

  std::pair<int, std::string> batchRoute(const http::Request& request, std::string_view path) {
    std::lock_guard lock(batchMutex);
    const bool post = request.method == "POST";
    if (path.starts_with("/v1/messages/batches")) {
      std::string_view rest = path.substr(std::string_view("/v1/messages/batches").size());
      if (post && rest.empty()) return createAnthropicBatch(request.body);
      if (!post && rest.size() > 1) {
        std::string id(rest.substr(1));
        bool results = id.ends_with("/results");
        if (results) id.resize(id.size() - 8);
        auto it = batches.find(id);
        if (it == batches.end() || it->second.format != WireFormat::Anthropic) {
          return batchError(WireFormat::Anthropic, 404, "no message batch with that id");
        }
        advance(it->second);
        if (results) {
          if (!it->second.ended) return batchError(WireFormat::Anthropic, 400, "the batch has not ended yet");
          return {200, it->second.results};
        }
        std::string host(request.header("host"));
        return {200, anthropicBatchJson(it->second, host)};
      }
      return batchError(WireFormat::Anthropic, 404, "no such route");
    }
    if (post && path == "/v1/files") return uploadFile(request);
    if (!post && path.starts_with("/v1/files/") && path.ends_with("/content")) {
      std::string id(path.substr(10, path.size() - 10 - 8));
      auto it = files.find(id);
      if (it == files.end()) return batchError(WireFormat::OpenAI, 404, "no file with that id");
      return {200, it->second};
    }
    if (post && path == "/v1/batches") return createOpenAIBatch(request.body);
    if (!post && path.starts_with("/v1/batches/")) {
      auto it = batches.find(std::string(path.substr(12)));
      if (it == batches.end() || it->second.format != WireFormat::OpenAI) {
        return batchError(WireFormat::OpenAI, 404, "no batch with that id");
      }
      advance(it->second);
      return {200, openAIBatchJson(it->second)};
    }
    return batchError(WireFormat::OpenAI, 404, "no such route");
  }

  // multipart/form-data with a `purpose` field and a `file` part.
  std::pair<int, std::string> uploadFile(const http::Request& request) {
    std::string type(request.header("content-type"));
    size_t at = type.find("boundary=");
    if (at == std::string::npos) return batchError(WireFormat::OpenAI, 400, "expected multipart/form-data with a boundary");
    std::string boundary = "--" + type.substr(at + 9);
    std::string purpose, content;
    bool sawFile = false;
    const std::string& body = request.body;
    size_t pos = body.find(boundary);
    while (pos != std::string::npos) {
      size_t start = pos + boundary.size();
      if (body.compare(start, 2, "--") == 0) break;
      size_t headersEnd = body.find("\r\n\r\n", start);
      size_t next = body.find("\r\n" + boundary, start);
      if (headersEnd == std::string::npos || next == std::string::npos || headersEnd > next) break;
      std::string headers = body.substr(start, headersEnd - start);
      std::string value = body.substr(headersEnd + 4, next - headersEnd - 4);
      if (headers.find("name=\"purpose\"") != std::string::npos) purpose = value;
      if (headers.find("name=\"file\"") != std::string::npos) {
        content = value;
        sawFile = true;
      }
      pos = next + 2;
    }
    if (!sawFile || purpose != "batch") {
      return batchError(WireFormat::OpenAI, 400, "expected a `file` part and purpose=batch");
    }
    std::string id = "file-sim" + std::to_string(++batchSequence);
    size_t bytes = content.size();
    files[id] = std::move(content);
    return {200, json::serialize(json::object{{"id", id}, {"object", "file"}, {"bytes", bytes},
                                              {"created_at", unixSeconds()}, {"filename", "batch.jsonl"},
                                              {"purpose", "batch"}})};
  }

  SimBatch& newBatch(WireFormat format, std::vector<BatchLine> lines) {
    std::string id = (format == WireFormat::OpenAI ? "batch_sim" : "msgbatch_sim") + std::to_string(++batchSequence);
    SimBatch& batch = batches[id];
    batch.id = id;
    batch.format = format;
    batch.lines = std::move(lines);
    batch.createdAt = unixSeconds();
    batch.readyAt = std::chrono::steady_clock::now() + std::chrono::milliseconds(options.batchDelayMs);
    std::lock_guard lock(statsMutex);
    totals.batches++;
    return batch;
  }

  std::pair<int, std::string> createOpenAIBatch(const std::string& text) {
    json::error_code ec;
    auto body = json::parse(text, ec);
    if (ec || !body.is_object()) return batchError(WireFormat::OpenAI, 400, "invalid JSON body");
    const auto& o = body.as_object();
    auto str = [&](const char* key) {
      const auto* v = o.if_contains(key);
      return v && v->is_string() ? std::string(v->as_string()) : std::string();
    };
    if (str("endpoint") != "/v1/chat/completions") return batchError(WireFormat::OpenAI, 400, "endpoint: only /v1/chat/completions here");
    if (str("completion_window") != "24h") return batchError(WireFormat::OpenAI, 400, "completion_window: must be 24h");
    auto file = files.find(str("input_file_id"));
    if (file == files.end()) return batchError(WireFormat::OpenAI, 400, "input_file_id: no such file");
    std::vector<BatchLine> lines;
    size_t start = 0;
    const std::string& content = file->second;
    while (start < content.size()) {
      size_t end = content.find('\n', start);
      if (end == std::string::npos) end = content.size();
      std::string line = content.substr(start, end - start);
      start = end + 1;
      if (line.empty()) continue;
      auto parsed = json::parse(line, ec);
      if (ec || !parsed.is_object() || !parsed.as_object().contains("custom_id") || !parsed.as_object().contains("body")) {
        return batchError(WireFormat::OpenAI, 400, "input file: a line is not {custom_id, method, url, body}");
      }
      lines.push_back({std::string(parsed.at("custom_id").as_string()), json::serialize(parsed.at("body"))});
    }
    SimBatch& batch = newBatch(WireFormat::OpenAI, std::move(lines));
    batch.inputFileId = file->first;
    return {200, openAIBatchJson(batch, true)};
  }

  std::pair<int, std::string> createAnthropicBatch(const std::string& text) {
    json::error_code ec;
    auto body = json::parse(text, ec);
    const json::value* requests = !ec && body.is_object() ? body.as_object().if_contains("requests") : nullptr;
    if (!requests || !requests->is_array() || requests->as_array().empty()) {
      return batchError(WireFormat::Anthropic, 400, "requests: expected a non-empty list");
    }
    std::vector<BatchLine> lines;
    for (const auto& r : requests->as_array()) {
      const auto* id = r.is_object() ? r.as_object().if_contains("custom_id") : nullptr;
      const auto* params = r.is_object() ? r.as_object().if_contains("params") : nullptr;
      if (!id || !id->is_string() || !params || !params->is_object()) {
        return batchError(WireFormat::Anthropic, 400, "requests: each needs custom_id and params");
      }
      lines.push_back({std::string(id->as_string()), json::serialize(*params)});
    }
    return {200, anthropicBatchJson(newBatch(WireFormat::Anthropic, std::move(lines)), "")};
  }

  // Ends the batch once its delay has passed: answers and bills every request.
  void advance(SimBatch& batch) {
    if (batch.ended || std::chrono::steady_clock::now() < batch.readyAt) return;
    batch.ended = true;
    const auto& codec = api::codecFor(batch.format);
    std::string output, errors;
    bool failWhole = false;
    for (const auto& line : batch.lines) {
      auto parsed = codec.parseRequest(line.body);
      if (parsed && behaviorFor(parsed->model).batchFailure == "failed") failWhole = batch.format == WireFormat::OpenAI;
    }
    if (failWhole) {
      batch.failure = "simulated batch failure";
      return;
    }
    for (size_t i = 0; i < batch.lines.size(); ++i) {
      const auto& line = batch.lines[i];
      std::string requestId = "batch_req_sim" + std::to_string(i);
      auto parsed = codec.parseRequest(line.body);
      core::Error error;
      bool failed = false;
      if (!parsed) {
        error = parsed.error();
        failed = true;
      } else if (behaviorFor(parsed->model).batchFailure == "failed") {
        error = core::makeError(core::ErrorKind::Internal, "simulated batch failure");
        failed = true;
      }
      json::value answer;
      if (!failed) {
        const auto& behavior = behaviorFor(parsed->model);
        std::mt19937_64 rng(fnv1a(line.body, options.seed));
        std::uniform_real_distribution<double> unit(0.0, 1.0);
        double draw = unit(rng);
        if (draw < behavior.errorRate) {
          error = core::makeError(core::ErrorKind::Internal, "simulated upstream failure");
          failed = true;
        } else {
          parsed->stream = false;
          Plan plan = this->plan(*parsed, behavior, rng);
          billBatch(*plan.response.usage, behavior);
          answer = json::parse(codec.encodeResponse(plan.response));
        }
      }
      if (failed) {
        batch.errored++;
        json::value errorBody = json::parse(codec.encodeError(error));
        if (batch.format == WireFormat::OpenAI) {
          json::object r{{"id", requestId}, {"custom_id", line.customId},
                         {"response", json::object{{"status_code", error.httpStatus()}, {"request_id", requestId},
                                                   {"body", std::move(errorBody)}}},
                         {"error", nullptr}};
          errors += json::serialize(r) + "\n";
        } else {
          json::object r{{"custom_id", line.customId},
                         {"result", json::object{{"type", "errored"}, {"error", std::move(errorBody)}}}};
          output += json::serialize(r) + "\n";
        }
        continue;
      }
      batch.succeeded++;
      if (batch.format == WireFormat::OpenAI) {
        json::object r{{"id", requestId}, {"custom_id", line.customId},
                       {"response", json::object{{"status_code", 200}, {"request_id", requestId}, {"body", std::move(answer)}}},
                       {"error", nullptr}};
        output += json::serialize(r) + "\n";
      } else {
        json::object r{{"custom_id", line.customId},
                       {"result", json::object{{"type", "succeeded"}, {"message", std::move(answer)}}}};
        output += json::serialize(r) + "\n";
      }
    }
    if (batch.format == WireFormat::Anthropic) {
      batch.results = std::move(output);
      return;
    }
    batch.outputFileId = "file-sim" + std::to_string(++batchSequence);
    files[batch.outputFileId] = std::move(output);
    if (!errors.empty()) {
      batch.errorFileId = "file-sim" + std::to_string(++batchSequence);
      files[batch.errorFileId] = std::move(errors);
    }
  }

  std::string openAIBatchJson(const SimBatch& batch, bool justCreated = false) {
    std::string status = justCreated ? "validating" : !batch.ended ? "in_progress" : batch.failure.empty() ? "completed" : "failed";
    json::object o{{"id", batch.id}, {"object", "batch"}, {"endpoint", "/v1/chat/completions"},
                   {"input_file_id", batch.inputFileId}, {"completion_window", "24h"}, {"status", status},
                   {"output_file_id", batch.outputFileId.empty() ? json::value(nullptr) : json::value(batch.outputFileId)},
                   {"error_file_id", batch.errorFileId.empty() ? json::value(nullptr) : json::value(batch.errorFileId)},
                   {"created_at", batch.createdAt}, {"expires_at", batch.createdAt + 86'400},
                   {"request_counts", json::object{{"total", batch.lines.size()}, {"completed", batch.succeeded},
                                                   {"failed", batch.errored}}}};
    if (!batch.failure.empty()) {
      o["errors"] = json::object{{"object", "list"},
                                 {"data", json::array{json::object{{"code", "simulated_failure"}, {"message", batch.failure},
                                                                   {"param", nullptr}, {"line", nullptr}}}}};
    } else {
      o["errors"] = nullptr;
    }
    return json::serialize(o);
  }

  std::string anthropicBatchJson(const SimBatch& batch, const std::string& host) {
    int64_t processing = batch.ended ? 0 : static_cast<int64_t>(batch.lines.size());
    json::object o{{"id", batch.id}, {"type", "message_batch"},
                   {"processing_status", batch.ended ? "ended" : "in_progress"},
                   {"request_counts", json::object{{"processing", processing}, {"succeeded", batch.succeeded},
                                                   {"errored", batch.errored}, {"canceled", 0}, {"expired", 0}}},
                   {"ended_at", nullptr}, {"created_at", "1970-01-01T00:00:00Z"}, {"expires_at", "1970-01-02T00:00:00Z"},
                   {"archived_at", nullptr}, {"cancel_initiated_at", nullptr}, {"results_url", nullptr}};
    if (batch.ended) {
      o["ended_at"] = "1970-01-01T00:00:01Z";
      o["results_url"] = "http://" + host + "/v1/messages/batches/" + batch.id + "/results";
    }
    return json::serialize(o);
  }

  std::string statsJson() const {
    std::lock_guard lock(statsMutex);
    return json::serialize(json::object{{"requests", totals.requests},
                                        {"errors", totals.errors},
                                        {"input_tokens", totals.inputTokens},
                                        {"output_tokens", totals.outputTokens},
                                        {"cached_read_tokens", totals.cachedReadTokens},
                                        {"cache_write_tokens", totals.cacheWriteTokens},
                                        {"reasoning_tokens", totals.reasoningTokens},
                                        {"cost_pico", totals.costPico},
                                        {"batches", totals.batches},
                                        {"batch_requests", totals.batchRequests}});
  }
};

Simulator::Simulator(SimOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  http::ServerOptions serverOptions;
  serverOptions.host = impl_->options.host;
  serverOptions.port = impl_->options.port;
  serverOptions.threads = impl_->options.threads;
  serverOptions.serverName = "arbitra-sim";
  impl_->server = std::make_unique<http::Server>(
      serverOptions, [impl = impl_.get()](http::Request& r, http::ResponseWriter& w) { return impl->handle(r, w); },
      [](int status, const std::string& message, std::string_view target) {
        auto format = target.rfind("/v1/messages", 0) == 0 ? WireFormat::Anthropic : WireFormat::OpenAI;
        auto error = core::makeError(core::kindForStatus(status), message);
        error.status = status;
        return api::codecFor(format).encodeError(error);
      });
}

Simulator::~Simulator() { impl_->server.reset(); }
void Simulator::start() { impl_->server->start(); }
uint16_t Simulator::port() const { return impl_->server->port(); }
void Simulator::run() {
  impl_->server->stopOnSignals();
  impl_->server->run();
}
void Simulator::runInBackground() { impl_->server->runInBackground(); }
void Simulator::stop() { impl_->server->stop(); }
SimStats Simulator::stats() const {
  std::lock_guard lock(impl_->statsMutex);
  return impl_->totals;
}

SimOptions loadSimOptions(const std::string& path) {
  SimOptions options;
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    throw std::runtime_error(path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  auto fail = [&](const YAML::Node& node, const std::string& what) {
    throw std::runtime_error(path + ":" + std::to_string(node.Mark().line + 1) + ": " + what);
  };
  // "0.15" dollars per million tokens -> 150000 micro-dollars (exact, <= 6 places).
  auto microDollars = [&](const YAML::Node& node) -> int64_t {
    std::string text = node.as<std::string>();
    size_t dot = text.find('.');
    std::string whole = text.substr(0, dot), fraction = dot == std::string::npos ? "" : text.substr(dot + 1);
    auto digits = [](const std::string& t) { return t.find_first_not_of("0123456789") == std::string::npos; };
    if (whole.empty() || !digits(whole) || !digits(fraction) || fraction.size() > 6) {
      fail(node, "a price must be dollars per million tokens, e.g. \"0.15\"");
    }
    fraction.resize(6, '0');
    return std::stoll(whole) * 1'000'000 + std::stoll(fraction);
  };
  try {
    if (!root || root.IsNull()) return options;
    if (!root.IsMap()) fail(root, "expected a map with seed, threads and models");
    for (const auto& entry : root) {
      auto key = entry.first.as<std::string>();
      if (key == "seed") options.seed = entry.second.as<uint64_t>();
      else if (key == "batch_delay_ms") options.batchDelayMs = entry.second.as<int64_t>();
      else if (key == "threads") options.threads = entry.second.as<int>();
      else if (key == "models") {
        if (!entry.second.IsSequence()) fail(entry.second, "models: expected a list");
        for (const auto& m : entry.second) {
          ModelBehavior b;
          for (const auto& field : m) {
            auto name = field.first.as<std::string>();
            const auto& v = field.second;
            if (name == "name") b.name = v.as<std::string>();
            else if (name == "ttft_ms") b.ttftMs = v.as<int64_t>();
            else if (name == "tokens_per_second") b.tokensPerSecond = v.as<double>();
            else if (name == "output_tokens") b.outputTokens = v.as<int64_t>();
            else if (name == "cached_fraction") b.cachedFraction = v.as<double>();
            else if (name == "cache_write_tokens") b.cacheWriteTokens = v.as<int64_t>();
            else if (name == "reasoning_tokens") b.reasoningTokens = v.as<int64_t>();
            else if (name == "error_rate") b.errorRate = v.as<double>();
            else if (name == "rate_limit_rate") b.rateLimitRate = v.as<double>();
            else if (name == "retry_after_seconds") b.retryAfterSeconds = v.as<int>();
            else if (name == "report_usage") b.reportUsage = v.as<bool>();
            else if (name == "failure") b.failure = v.as<std::string>();
            else if (name == "price_input") b.priceInput = microDollars(field.second);
            else if (name == "price_output") b.priceOutput = microDollars(field.second);
            else if (name == "price_cached_input") b.priceCachedInput = microDollars(field.second);
            else if (name == "price_cache_write") b.priceCacheWrite = microDollars(field.second);
            else if (name == "price_batch_input") b.priceBatchInput = microDollars(field.second);
            else if (name == "price_batch_output") b.priceBatchOutput = microDollars(field.second);
            else if (name == "batch_failure") b.batchFailure = v.as<std::string>();
            else fail(field.first, "unknown model setting '" + name + "'");
          }
          options.models.push_back(std::move(b));
        }
      } else {
        fail(entry.first, "unknown key '" + key + "' (expected seed, threads, batch_delay_ms, models)");
      }
    }
  } catch (const YAML::Exception& e) {
    throw std::runtime_error(path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  return options;
}

}  // namespace arbitra::sim
