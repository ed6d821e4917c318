// `arbitra replay`: a trace of requests replayed through the real router
// against simulated providers whose prices, latencies and failures change
// during the run, on a virtual clock (a discrete-event simulation: no sleeping;
// 100,000 requests replay in about a second).
//
// Scenario (YAML): model groups, each with a `routing:` block (the same keys
// as the gateway config) and deployments, each with list prices, a median TTFT
// and its log-normal spread, tokens/s, an error rate, an RPM limit the
// simulated provider enforces with 429 + Retry-After, `changes:` (from `at_s`
// on, new values; `over_s` ramps latency and throughput linearly) and
// `outages:` ({from_s, to_s}: every request fails with a 503).
//
// Trace (JSONL, one request a line): {"t": arrival seconds, "model": group,
// "input_tokens", "max_tokens", "output_tokens" (what the model will
// generate), "max_ttft_ms", "min_tps"} (bars optional).
//
// Ground truth: what deployment d would do with request i at time t is drawn
// from a hash of (seed, i, d), so every policy and the oracle face the same
// world. The oracle, in hindsight, sends each request to the cheapest
// deployment whose draw met the bar and whose RPM limit had room (greedy in
// arrival order); when none met the bar, to the cheapest that answered.
//
// Money is integer pico-dollars throughout.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "config/config.h"

namespace arbitra::replay {

struct Change {
  double atS = 0;
  double overS = 0;  // 0: a step
  // Negative: unchanged.
  double ttftMs = -1;
  double tokensPerSecond = -1;
  double errorRate = -1;
  int64_t inputPico = -1;
  int64_t outputPico = -1;
};

struct Outage {
  double fromS = 0;
  double toS = 0;
};

struct SimDeployment {
  std::string name;
  int64_t inputPico = 0;  // list price, pico-dollars per token
  int64_t outputPico = 0;
  double ttftMs = 500;   // median
  double spread = 0.25;  // log-normal sigma of TTFT
  double tokensPerSecond = 50;
  double errorRate = 0;
  int64_t rpm = 0;         // enforced by the simulated provider (429 + Retry-After)
  int64_t routerRpm = -1;  // what the router is told (-1: the same; 0: nothing)
  int64_t contextWindow = 0;
  std::vector<Change> changes;
  std::vector<Outage> outages;
};

struct SimGroup {
  std::string name;
  config::RoutingConfig routing;
  std::vector<SimDeployment> deployments;
};

struct Scenario {
  uint64_t seed = 1;
  std::vector<SimGroup> groups;
};

struct TraceRequest {
  double t = 0;
  std::string model;
  int64_t inputTokens = 0;
  int64_t maxTokens = 0;
  int64_t outputTokens = 0;
  int64_t maxTtftMs = 0;
  int64_t minTps = 0;
};

// Throw std::runtime_error "file:line: what is wrong".
Scenario loadScenario(const std::string& path);
Scenario parseScenario(const std::string& yaml, const std::string& name);
std::vector<TraceRequest> loadTrace(const std::string& path);

struct GenerateOptions {
  int64_t requests = 100'000;
  double durationS = 3'600;
  uint64_t seed = 1;
};
// Writes a JSONL trace for the scenario's groups: Poisson arrivals with a
// daily-shaped rate, chat-like token counts, a mix of interactive, standard
// and relaxed bars.
void generateTrace(const Scenario& scenario, const GenerateOptions& options, std::ostream& out);

struct Result {
  std::string policy;
  int64_t requests = 0;
  int64_t served = 0;
  int64_t failed = 0;
  int64_t metBar = 0;
  int64_t costPico = 0;
  int64_t attempts = 0;
  int64_t hedges = 0;
  int64_t rateLimited = 0;  // 429 answers received
  double p50TtftMs = 0;
  double p99TtftMs = 0;
};

// `policy`: a registered router policy ("cost", "round-robin", ...); hedging
// is left as the scenario configures it for measured policies, off for the
// baselines.
Result run(const Scenario& scenario, const std::vector<TraceRequest>& trace, const std::string& policy);
Result oracle(const Scenario& scenario, const std::vector<TraceRequest>& trace);
// The table: one row per result, cost also as a multiple of the oracle's.
std::string renderTable(const std::vector<Result>& results, const Result& oracleResult);

}  // namespace arbitra::replay
