// In-process answers, encoded for the caller (see in_process.h).
#include "gateway/in_process.h"

#include <cstring>

#include <boost/json.hpp>

#include "api/codec.h"
#include "cache/cache.h"

namespace arbitra::gateway {
namespace {

namespace json = boost::json;
using Kind = core::StreamEvent::Kind;

void observe(Exchange& exchange, const std::vector<core::StreamEvent>& events, cache::AnswerBuilder* answer) {
  for (const auto& e : events) {
    if (answer) answer->add(e);
    if (!exchange.firstToken && e.kind == Kind::TextDelta) exchange.firstToken = Clock::now();
    if (e.kind == Kind::Usage) exchange.usage = e.usage;
  }
}

void record(Exchange& exchange, const providers::ChatEvents& events) {
  auto stats = events.stats();
  exchange.engine.used = true;
  exchange.engine.cachedTokens = stats.cachedTokens;
  exchange.engine.draftedTokens = stats.draftedTokens;
  exchange.engine.acceptedTokens = stats.acceptedTokens;
  exchange.engine.decodeSteps = stats.decodeSteps;
  exchange.engine.costPico = stats.costPico;
}

std::string base64(const std::vector<float>& v) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bytes(v.size() * sizeof(float), '\0');
  std::memcpy(bytes.data(), v.data(), bytes.size());
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    out += {table[n >> 18], table[(n >> 12) & 63], table[(n >> 6) & 63], table[n & 63]};
  }
  if (i + 1 == bytes.size()) {
    uint32_t n = uint8_t(bytes[i]) << 16;
    out += {table[n >> 18], table[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == bytes.size()) {
    uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out += {table[n >> 18], table[(n >> 12) & 63], table[(n >> 6) & 63], '='};
  }
  return out;
}

}  // namespace

http::Task<std::optional<core::Error>> serveInProcess(const core::ChatRequest& request,
                                                      providers::InProcess& local,
                                                      const std::string& upstreamModel, http::Headers headers,
                                                      http::ResponseWriter& out, Exchange& exchange,
                                                      cache::AnswerBuilder* answer) {
  auto started = co_await local.startChat(request, upstreamModel);
  if (!started) co_return started.error();
  auto& events = **started;
  const auto& codec = api::codecFor(request.format);

  if (!request.stream) {
    core::ChatResponse whole;
    whole.model = request.model;
    whole.created = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    for (;;) {
      auto batch = co_await events.next();
      if (!batch) co_return batch.error();
      if (batch->empty()) break;
      observe(exchange, *batch, answer);
      for (const auto& e : *batch) {
        if (e.kind == Kind::Start) whole.id = e.id;
        if (e.kind == Kind::TextDelta) whole.text += e.text;
        if (e.kind == Kind::Finish) whole.finish = e.finish;
        if (e.kind == Kind::Usage) whole.usage = e.usage;
      }
    }
    record(exchange, events);
    headers.push_back({"content-type", "application/json"});
    exchange.status = 200;
    if (!co_await out.send(200, std::move(headers), codec.encodeResponse(whole))) exchange.status = 499;
    co_return std::nullopt;
  }

  auto encoder = codec.makeStreamEncoder(request);
  std::string bytes;
  // Until the first events, a failure may still go to the next candidate.
  auto first = co_await events.next();
  if (!first) co_return first.error();
  observe(exchange, *first, answer);
  for (const auto& e : *first) encoder->encode(e, bytes);
  headers.push_back({"content-type", "text/event-stream"});
  headers.push_back({"cache-control", "no-cache"});
  exchange.status = 200;
  if (!co_await out.startStream(200, std::move(headers), bytes)) {  // the head and the first events, one write
    exchange.status = 499;
    co_return std::nullopt;
  }
  bytes.clear();
  bool ended = first->empty();
  while (!ended) {
    if (!bytes.empty() && !co_await out.write(bytes)) {
      exchange.status = 499;  // the caller left: dropping `events` cancels the generation
      co_return std::nullopt;
    }
    bytes.clear();
    auto batch = co_await events.next();
    if (!batch) {
      exchange.note = "local model failed mid-stream: " + batch.error().message;
      encoder->error(batch.error(), bytes);
      co_await out.endStream(bytes);
      co_return std::nullopt;
    }
    if (batch->empty()) break;
    observe(exchange, *batch, answer);
    for (const auto& e : *batch) encoder->encode(e, bytes);
  }
  record(exchange, events);
  encoder->finish(bytes);
  if (!co_await out.endStream(bytes)) exchange.status = 499;  // the last events and the end, one write
  co_return std::nullopt;
}

std::string encodeEmbeddings(const providers::EmbeddingAnswer& answer, const std::string& model, bool b64) {
  json::array data;
  for (size_t i = 0; i < answer.vectors.size(); ++i) {
    json::object item{{"object", "embedding"}, {"index", i}};
    if (b64) {
      item["embedding"] = base64(answer.vectors[i]);
    } else {
      json::array values;
      values.reserve(answer.vectors[i].size());
      for (float x : answer.vectors[i]) values.push_back(static_cast<double>(x));
      item["embedding"] = std::move(values);
    }
    data.push_back(std::move(item));
  }
  json::object body{{"object", "list"}, {"data", std::move(data)}, {"model", model},
                    {"usage", json::object{{"prompt_tokens", answer.promptTokens}, {"total_tokens", answer.promptTokens}}}};
  return json::serialize(body);
}

}  // namespace arbitra::gateway
