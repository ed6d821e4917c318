// The cache step of the chat walk (see cache_step.h).
#include "gateway/cache_step.h"

#include <chrono>
#include <cmath>

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include "api/codec.h"
#include "cache/thread_pool.h"
#include "core/log.h"
#include "engine/cache_embedder.h"
#include "ledger/cost.h"

namespace arbitra::gateway {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using http::Task;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Runs `work` on the pool and resumes the caller on its own executor with the
// result; nullopt when the pool's queue is full.
template <typename T>
Task<std::optional<T>> onPool(cache::ThreadPool& pool, std::function<T()> work) {
  auto executor = co_await asio::this_coro::executor;
  auto initiate = [&pool, &work, executor](auto handler) {
    auto shared = std::make_shared<decltype(handler)>(std::move(handler));
    bool queued = pool.submit([work, shared, executor]() {
      std::optional<T> result(work());
      asio::post(executor, [shared, result = std::move(result)]() mutable { (*shared)(std::move(result)); });
    });
    if (!queued) asio::post(executor, [shared]() mutable { (*shared)(std::optional<T>()); });
  };
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(std::optional<T>)>(
      std::move(initiate), asio::use_awaitable);
}

CacheOutcome::Kind outcomeKind(cache::Lookup::Kind kind) {
  switch (kind) {
    case cache::Lookup::Kind::Bypass: return CacheOutcome::Kind::None;
    case cache::Lookup::Kind::Miss: return CacheOutcome::Kind::Miss;
    case cache::Lookup::Kind::HitExact: return CacheOutcome::Kind::HitExact;
    case cache::Lookup::Kind::HitSemantic: return CacheOutcome::Kind::HitSemantic;
  }
  return CacheOutcome::Kind::None;
}

void normalize(cache::Vector& v) {
  double sum = 0;
  for (float x : v) sum += double(x) * x;
  if (sum <= 0) return;
  float inv = static_cast<float>(1.0 / std::sqrt(sum));
  for (auto& x : v) x *= inv;
}

}  // namespace

std::string cacheHeader(const CacheOutcome& outcome) {
  char text[96];
  switch (outcome.kind) {
    case CacheOutcome::Kind::None: return "";
    case CacheOutcome::Kind::Miss: return "miss";
    case CacheOutcome::Kind::HitExact: return "hit-exact";
    case CacheOutcome::Kind::HitSemantic:
      std::snprintf(text, sizeof text, "hit-semantic; sim=%.3f; threshold=%.3f", outcome.similarity, outcome.threshold);
      return text;
  }
  return "";
}

struct CacheStep::Impl {
  TableSource tables;
  http::HttpClient& client;
  std::string embedderKind;
  std::string embedderModel;  // deployment
  std::unique_ptr<cache::Embedder> embedder;
  std::unique_ptr<cache::ThreadPool> pool;  // last: joined first

  Impl(TableSource t, http::HttpClient& c) : tables(std::move(t)), client(c) {}

  // The /v1/embeddings deployment embedder: first deployment of the model that
  // serves embeddings; the vector is normalised to unit length.
  Task<std::optional<cache::Vector>> embedRemote(const std::string& text) {
    auto table = tables();  // held to the end: its providers stay alive
    auto candidates = table->resolve(embedderModel);
    if (!candidates) co_return std::nullopt;
    for (const auto& deployment : *candidates) {
      const auto& provider = *deployment.provider;
      if (!provider.supportsEmbeddings()) continue;
      core::EmbeddingRequest request;
      request.model = embedderModel;
      request.inputs.push_back(text);
      request.raw = json::object{{"model", embedderModel}, {"input", text}};
      auto upstream = co_await client.send(provider.embeddingsRequest(request, deployment.upstreamModel),
                                           provider.clientOptions());
      if (!upstream || (*upstream)->status / 100 != 2) continue;
      auto body = co_await (*upstream)->readAll(16 * 1024 * 1024);
      if (!body) continue;
      json::error_code ec;
      auto parsed = json::parse(*body, ec);
      if (ec || !parsed.is_object()) continue;
      auto* data = parsed.as_object().if_contains("data");
      if (!data || !data->is_array() || data->as_array().empty() || !data->as_array()[0].is_object()) continue;
      auto* values = data->as_array()[0].as_object().if_contains("embedding");
      if (!values || !values->is_array()) continue;  // base64 answers are not asked for
      cache::Vector v;
      for (const auto& x : values->as_array()) {
        if (x.is_double()) v.push_back(static_cast<float>(x.as_double()));
        else if (x.is_int64()) v.push_back(static_cast<float>(x.as_int64()));
      }
      if (v.empty()) continue;
      normalize(v);
      co_return v;
    }
    co_return std::nullopt;
  }
};

CacheStep::CacheStep(const config::Config& config, TableSource tables, http::HttpClient& client)
    : impl_(std::make_unique<Impl>(std::move(tables), client)) {
  const auto& c = config.cache;
  if (!c.enabled) return;
  impl_->embedderKind = c.embedder;
  impl_->embedderModel = c.embedderModel;
  double threshold = 0.80;
  if (c.embedder == "deployment") {
    threshold = 0.90;  // typical for sentence-embedding models; set `threshold:` per group to tune
    if (!impl_->tables()->resolve(c.embedderModel)) {
      throw std::invalid_argument(config.sourceFile + ":" + std::to_string(c.line) + ": cache embedder model '" +
                                  c.embedderModel + "' is not a model this gateway serves");
    }
  } else {
    cache::EmbedderRegistry registry;
    cache::registerBuiltinEmbedders(registry);
    engine::registerCacheEmbedder(registry);  // kind local
    cache::EmbedderOptions options;
    options.kind = c.embedder;
    options.wordVectorsPath = c.wordVectors;
    options.model = c.embedderModel;
    auto made = registry.create(options);
    if (!made) throw std::invalid_argument(config.sourceFile + ":" + std::to_string(c.line) + ": " + made.error().message);
    impl_->embedder = std::move(*made);
    threshold = impl_->embedder->defaultThreshold();
  }
  cache_ = std::make_unique<cache::Cache>(cache::optionsFromConfig(c, threshold));
  impl_->pool = std::make_unique<cache::ThreadPool>(c.embedThreads, static_cast<size_t>(c.embedQueue));
  core::log(core::LogLevel::Info, "cache on: embedder=" + c.embedder + " max_bytes=" + std::to_string(c.maxBytes) +
                                      (c.snapshotPath.empty() ? "" : " snapshot=" + c.snapshotPath));
}

CacheStep::~CacheStep() = default;

bool CacheStep::needed(const core::ChatRequest& request, const http::Request& caller) const {
  return cache_ != nullptr || request.raw.contains("arbitra_cache");
}

Task<core::Result<cache::Lookup>> CacheStep::lookup(core::ChatRequest& request, const http::Request& caller,
                                                    Exchange& exchange) {
  cache::Lookup lookup;
  // The body field never goes upstream, cache on or off.
  std::string control(caller.header("x-arbitra-cache"));
  if (auto* field = request.raw.if_contains("arbitra_cache")) {
    if (!field->is_string()) {
      co_return core::makeError(core::ErrorKind::InvalidRequest, "arbitra_cache: expected a string", "arbitra_cache");
    }
    if (!control.empty()) control += ",";
    control += std::string(field->as_string());
    request.raw.erase("arbitra_cache");
    request.rawText.clear();  // edited: the upstream body is serialized from `raw`
  }
  if (!cache_) co_return lookup;
  auto parsed = cache::parseControl(control);
  if (!parsed) co_return parsed.error();
  lookup = cache_->begin(request, exchange.keyId, *parsed, nowMs());
  if (lookup.needsEmbedding) {
    std::optional<cache::Vector> vector;
    if (impl_->embedder) {
      const cache::Embedder* embedder = impl_->embedder.get();
      std::string query = lookup.ticket.query;
      std::function<cache::Vector()> work = [embedder, query]() {
        auto v = embedder->embed(query);
        return v ? std::move(*v) : cache::Vector{};
      };
      vector = co_await onPool<cache::Vector>(*impl_->pool, std::move(work));
    } else {
      vector = co_await impl_->embedRemote(lookup.ticket.query);
    }
    if (vector && !vector->empty()) {
      if (lookup.kind == cache::Lookup::Kind::Miss) {
        // semantic() runs a µs-scale index search: fine on this thread.
        cache_->semantic(lookup, std::move(*vector), nowMs());
      }
    } else {
      lookup.needsEmbedding = false;
      lookup.ticket.ns.reset();  // no vector: exact-only for this one
    }
  }
  exchange.cache.kind = outcomeKind(lookup.kind);
  exchange.cache.similarity = lookup.similarity;
  exchange.cache.threshold = lookup.threshold;
  if (lookup.entry) exchange.cache.savedPico = lookup.entry->costPico;
  co_return lookup;
}

Task<void> CacheStep::replay(const cache::Lookup& lookup, const core::ChatRequest& request, http::Headers headers,
                             http::ResponseWriter& out, Exchange& exchange) {
  const auto& codec = api::codecFor(request.format);
  const auto& answer = lookup.entry->answer;
  std::string id = (request.format == core::WireFormat::Anthropic ? "msg_" : "chatcmpl-") + exchange.id;
  exchange.deployment = lookup.entry->deployment;
  exchange.provider = "cache";
  exchange.firstToken = Clock::now();
  exchange.status = 200;
  headers.push_back({"x-arbitra-deployment", lookup.entry->deployment});
  headers.push_back({"x-arbitra-cache", cacheHeader(exchange.cache)});
  if (!request.stream) {
    core::ChatResponse response;
    response.id = id;
    response.model = request.model;
    response.text = answer.text;
    response.toolCalls = answer.toolCalls;
    response.finish = answer.finish;
    response.usage = answer.usage;
    response.created = nowMs() / 1000;
    headers.push_back({"content-type", "application/json"});
    if (!co_await out.send(200, std::move(headers), codec.encodeResponse(response))) exchange.status = 499;
  } else {
    auto encoder = codec.makeStreamEncoder(request);
    std::string bytes;
    for (const auto& event : cache::replayEvents(answer, id, request.model)) encoder->encode(event, bytes);
    encoder->finish(bytes);
    headers.push_back({"content-type", "text/event-stream"});
    headers.push_back({"cache-control", "no-cache"});
    if (!co_await out.startStream(200, std::move(headers), bytes)) {
      exchange.status = 499;
    } else {
      co_await out.endStream();
    }
  }
  if (exchange.status == 200) cache_->served(lookup);
}

void CacheStep::storeBody(cache::Lookup& lookup, const Deployment& deployment, const std::string& body,
                          const Exchange& exchange) {
  if (!cache_ || lookup.kind != cache::Lookup::Kind::Miss) return;
  if (!lookup.ticket.store && lookup.ticket.compareWith == 0) return;
  auto* c = cache_.get();
  const api::Codec* codec = &deployment.provider->codec();
  auto price = deployment.price;
  auto label = deployment.label;
  auto ticket = std::move(lookup.ticket);
  impl_->pool->submit([c, codec, price, label, ticket = std::move(ticket), body]() {
    auto response = codec->parseResponse(body);
    if (!response) return;
    int64_t cost = response->usage ? (price.known ? ledger::priceUsage(price, *response->usage).totalPico : 0) : 0;
    c->complete(ticket, cache::answerFrom(*response), label, cost, nowMs());
  });
}

void CacheStep::storeStream(cache::Lookup& lookup, const Deployment& deployment, cache::AnswerBuilder& answer,
                            const Exchange& exchange) {
  if (!cache_ || lookup.kind != cache::Lookup::Kind::Miss || !answer.complete()) return;
  if (!lookup.ticket.store && lookup.ticket.compareWith == 0) return;
  auto* c = cache_.get();
  auto stored = answer.take();
  int64_t cost = stored.usage ? (deployment.price.known ? ledger::priceUsage(deployment.price, *stored.usage).totalPico : 0) : 0;
  if (exchange.engine.used) cost = exchange.engine.costPico;  // a local deployment: its machine time
  auto label = deployment.label;
  auto ticket = std::move(lookup.ticket);
  impl_->pool->submit([c, cost, label, ticket = std::move(ticket), stored = std::move(stored)]() {
    c->complete(ticket, stored, label, cost, nowMs());
  });
}

std::string CacheStep::metricsText() const {
  std::string out;
  if (cache_) cache_->appendPrometheus(out);
  return out;
}

}  // namespace arbitra::gateway
