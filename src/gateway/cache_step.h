// The cache's place in the chat walk (src/cache/ holds the cache itself).
//
//   parse -> CacheStep::lookup -> hit: CacheStep::replay, done
//                              -> miss: resolve, send, relay, then
//                                 CacheStep::storeBody / storeStream
//
// lookup reads the x-arbitra-cache request header and the "arbitra_cache"
// body field (removed from the body before it goes upstream), computes the
// keys, tries the exact key, then, for semantic groups, embeds the final user
// turn: built-in and local embedders run on the cache's bounded pool and the
// result is posted back to the caller's executor; the `deployment` embedder
// calls an OpenAI-compatible /v1/embeddings deployment through the HTTP
// client (non-blocking I/O on the caller's thread). A full pool or a failed
// embedding is a plain miss. Storing (parsing a passed-through body,
// comparing answers, indexing) runs on the pool, after the caller has its
// answer.
//
// replay sends a stored answer in the caller's format: a whole body, or, when
// the request streams, SSE produced by the caller codec's StreamEncoder (the
// same encoder a translated live stream uses), so chunk shapes match.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "cache/cache.h"
#include "config/config.h"
#include "gateway/deployments.h"
#include "gateway/exchange.h"
#include "http/client.h"
#include "http/server.h"

namespace arbitra::gateway {

class CacheStep {
 public:
  // The deployment table new requests are served by (it changes on a config
  // reload); the returned pointer keeps it alive while the caller holds it.
  using TableSource = std::function<std::shared_ptr<const DeploymentTable>()>;

  // Throws std::invalid_argument when the configured embedder cannot be made
  // (unknown kind, missing word-vector file, deployment model unknown).
  CacheStep(const config::Config& config, TableSource tables, http::HttpClient& client);
  ~CacheStep();

  // False when lookup() would do nothing (cache off, no control given): the
  // walk then skips the coroutine entirely.
  bool needed(const core::ChatRequest& request, const http::Request& caller) const;
  // Bypass when the cache is off for this request; an InvalidRequest error
  // for a malformed x-arbitra-cache control. Fills exchange.cache.
  http::Task<core::Result<cache::Lookup>> lookup(core::ChatRequest& request, const http::Request& caller,
                                                 Exchange& exchange);
  http::Task<void> replay(const cache::Lookup& lookup, const core::ChatRequest& request, http::Headers headers,
                          http::ResponseWriter& out, Exchange& exchange);
  // After a successful non-streamed answer: `body` as the upstream sent it.
  void storeBody(cache::Lookup& lookup, const Deployment& deployment, const std::string& body, const Exchange& exchange);
  // After a successful stream (or an in-process answer, streamed or not):
  // the neutral events accumulated on the way.
  void storeStream(cache::Lookup& lookup, const Deployment& deployment, cache::AnswerBuilder& answer,
                   const Exchange& exchange);

  // Prometheus lines (arbitra_cache_*) for /metrics; "" when the cache is off.
  std::string metricsText() const;
  cache::Cache* cache() { return cache_.get(); }

  struct Impl;

 private:
  std::unique_ptr<cache::Cache> cache_;
  std::unique_ptr<Impl> impl_;  // holds the pool: destroyed (joined) before cache_
};

// The x-arbitra-cache response header for an outcome; "" when not consulted.
std::string cacheHeader(const CacheOutcome& outcome);

}  // namespace arbitra::gateway
