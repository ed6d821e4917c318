// The provider simulator: an upstream that speaks the OpenAI and Anthropic wire
// formats, streamed and not, with per-model time to first token, tokens/s,
// output length, usage (cached and reasoning tokens included), error and 429
// rates, and scripted failures. Deterministic under a seed: the same request
// body and seed give the same answer and the same failure draws.
//
// Tests, benchmarks and the offline demo use it; `arbitra serve` starts one in
// process when no provider is configured (everything it serves is labelled
// `simulated`). It keeps what it billed (GET /sim/stats) so the ledger can be
// checked against it to the token.
//
// Batch APIs, deterministic like the rest: OpenAI (POST /v1/files multipart
// purpose=batch, POST /v1/batches, GET /v1/batches/{id}, GET
// /v1/files/{id}/content) and Anthropic (POST /v1/messages/batches, GET
// /v1/messages/batches/{id}, GET .../{id}/results). A batch ends
// `batch_delay_ms` after it was created; its requests are answered and billed
// (at the batch prices) when it is first seen ended. Kept in memory.
//
//   sim::Simulator simulator(sim::SimOptions{.port = 0});
//   simulator.start();               // simulator.port() is now bound
//   simulator.runInBackground();
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace arbitra::sim {

struct ModelBehavior {
  std::string name = "*";         // model id it applies to; "*" for any other
  int64_t ttftMs = 0;             // time to first token
  double tokensPerSecond = 0;     // 0: as fast as possible
  int64_t outputTokens = 16;      // tokens generated (capped by max_tokens)
  double cachedFraction = 0;      // share of input tokens reported as cache reads
  int64_t cacheWriteTokens = 0;   // input tokens reported as written to cache
  int64_t reasoningTokens = 0;    // extra output tokens reported as reasoning
  double errorRate = 0;           // share of requests answered 500
  double rateLimitRate = 0;       // share of requests answered 429 + Retry-After
  int retryAfterSeconds = 1;
  bool reportUsage = true;        // false: streams carry no usage at all
  // What the simulated provider bills, in micro-dollars per million tokens
  // (= pico-dollars per token), parsed from decimal dollars (`price_input:
  // "0.15"`). Cached reads and cache writes default to the input price.
  int64_t priceInput = 0;
  int64_t priceOutput = 0;
  int64_t priceCachedInput = -1;
  int64_t priceCacheWrite = -1;
  // Batch-API prices (`price_batch_input`, `price_batch_output`); -1: the
  // standard ones. Cached reads and cache writes in a batch get the same
  // discount as input: rate x batch_input / input, rounded half up per request
  // (the rule the ledger uses too, src/ledger/cost.h).
  int64_t priceBatchInput = -1;
  int64_t priceBatchOutput = -1;
  // Scripted batch failure: "" (none) or "failed" (an OpenAI batch with such
  // a request fails as a whole; an Anthropic one ends with it errored).
  std::string batchFailure;
  // Scripted failure: "" (none), "garbage" (a 200 that is not JSON / not SSE),
  // "disconnect" (drops the connection mid-answer), "hang" (never answers),
  // "status:NNN" (always answers NNN with an error body).
  std::string failure;
};

struct SimOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  int threads = 1;
  uint64_t seed = 42;
  std::vector<ModelBehavior> models;  // first match by name, then "*", then defaults
  int64_t batchDelayMs = 0;           // how long a batch stays in progress before it ends
};

// Reads a simulator YAML file (seed, models: [{name, ttft_ms, ...}]); throws
// std::runtime_error "file:line: ..." on bad input.
SimOptions loadSimOptions(const std::string& path);

struct SimStats {
  int64_t requests = 0;
  int64_t errors = 0;
  int64_t inputTokens = 0;
  int64_t outputTokens = 0;
  int64_t cachedReadTokens = 0;
  int64_t cacheWriteTokens = 0;
  int64_t reasoningTokens = 0;
  int64_t costPico = 0;  // what it billed, by its own prices (the ledger is checked against it)
  int64_t batches = 0;         // batches created (OpenAI /v1/batches and Anthropic message batches)
  int64_t batchRequests = 0;   // requests answered inside batches (also counted in `requests`)
};

class Simulator {
 public:
  explicit Simulator(SimOptions options);
  ~Simulator();
  void start();  // binds (throws on failure)
  uint16_t port() const;
  void run();
  void runInBackground();
  void stop();
  SimStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace arbitra::sim
