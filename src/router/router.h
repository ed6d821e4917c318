// The router: for one request to a model group, an ordered list of deployments
// to try (best first), from live measurements, prices, health and the
// request's bars; and the feedback path that keeps those measurements live.
//
// A decision, per candidate deployment of the group:
//   - skipped when the request cannot fit its context window;
//   - expected cost = input tokens x input price + expected output tokens x
//     output price, exact pico-dollars (expected output: the group's recent
//     average, capped by max_tokens);
//   - eligible when its predicted p90 TTFT, tokens/s and the request's blended
//     price per million tokens meet the bars (request's, else the group's);
//   - available when its breaker is not open, no 429 cool-down runs, and its
//     RPM/TPM leave room.
// Order: available and eligible by the policy's score; then available but
// ineligible, fastest first (so a request no deployment can satisfy still gets
// the closest); then unavailable ones, soonest ready first (never a lock-out:
// when everything is down the caller still tries, in that order). Then the
// fallback groups' candidates. A cheaper deployment shut out only by stale
// latency estimates gets one real request as a probe every 15 s.
//
// Hedging: when the group enables it and the first choice is measured,
// Plan::hedgeAfterMs is its predicted p95 TTFT: send the second candidate if
// no first token has arrived by then, keep the first to answer.
//
// No I/O, no clock: callers pass `nowUs` (any monotonic microseconds), so the
// gateway and the replay's virtual clock drive the same code. Thread-safe:
// plan() reads atomics; feedback takes a per-deployment spinlock.
//
//   Router router(config.models, registry);
//   int group = router.findGroup("llama-70b");
//   Plan plan;
//   if (auto error = router.plan(group, facts, nowUs, plan)) ...;
//   for (auto& choice : plan.order) { if (!router.begin(choice.deployment, tokens, nowUs)) continue; ... }
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/error.h"
#include "router/estimator.h"
#include "router/policy.h"

namespace arbitra::router {

// Per-request bars; 0 means "none" (then the group's default applies).
struct Bars {
  int64_t maxTtftMs = 0;
  int64_t minTokensPerSecond = 0;
  int64_t maxPricePerMillion = 0;  // micro-dollars per million tokens, blended over this request
};

struct RequestFacts {
  int64_t inputTokens = 0;
  int64_t maxTokens = 0;  // 0: not given
  Bars bars;
  std::string_view policy;  // "" = the group's policy
  uint64_t random = 0;      // a per-request draw (weighted policy)
  bool deferred = false;    // no latency bars (the request's nor the group's)
};

struct Choice {
  int deployment = -1;  // Router::info(deployment)
  int64_t costPico = 0;
  double ttftP90Ms = 0;
  double tokensPerSecond = 0;
  double score = 0;
  int64_t readyAtUs = 0;
  bool eligible = false;  // met the bars
  bool available = true;  // breaker closed / half-open, no cool-down, under RPM/TPM
  bool measured = false;
  bool probe = false;
  bool fallback = false;  // from a fallback group
};

struct Plan {
  int group = -1;
  const Policy* policy = nullptr;
  std::vector<Choice> order;  // best first
  std::string_view reason;    // why order[0]
  double hedgeAfterMs = 0;    // 0: no hedge
  int64_t expectedOutputTokens = 0;
  int retries = 0;         // re-tries after every candidate failed once
  int contextSkipped = 0;  // deployments that cannot fit the request
};

struct DeploymentInfo {
  int group = 0;
  int index = 0;      // within the group, config order
  std::string label;  // "provider/upstream-model"
  std::string provider;
  std::string model;
  int64_t contextWindow = 0;
  int64_t rpm = 0;
  int64_t tpm = 0;
  int64_t weight = 1;
};

class Router {
 public:
  // Says whether a deployment of the new router may take over the previous
  // router's live state (a config reload: its provider is unchanged).
  using CarryOver = std::function<bool(const DeploymentInfo&)>;

  // Throws config::ConfigError ("file:line: ...") for an unknown policy name.
  // With `previous` (a config reload), a deployment with the same group name
  // and label (the n-th of that label in its group) for which `carry` says
  // yes shares the previous router's DeploymentState: estimates, breaker,
  // cool-down, RPM/TPM windows and in-flight counts go on as one (attempts
  // still running on the previous router settle on the same state). Each
  // carried group also keeps its expected output length.
  Router(const std::vector<config::ModelConfig>& models, const PolicyRegistry& registry,
         const std::string& sourceFile = "config", const Router* previous = nullptr, const CarryOver& carry = {});
  ~Router();

  int findGroup(std::string_view name) const;  // -1 when not a configured group
  const std::string& groupName(int group) const;
  const config::RoutingConfig& routing(int group) const;
  const std::vector<int>& deployments(int group) const;  // ids, config order
  const DeploymentInfo& info(int deployment) const;
  DeploymentState& state(int deployment);
  const DeploymentState& state(int deployment) const;
  size_t deploymentCount() const;
  // Deployments whose state came from the previous router (see the constructor).
  size_t carriedCount() const { return carried_; }

  // Fills `out` (its vector's capacity is reused). An error for an unknown
  // policy override, or when no deployment here or in a fallback group can
  // fit the request's context.
  std::optional<core::Error> plan(int group, const RequestFacts& facts, int64_t nowUs, Plan& out);

  // Feedback. begin() is false when the deployment's half-open probe is
  // already out (skip to the next choice), unless `lastResort`.
  bool begin(int deployment, int64_t tokens, int64_t nowUs, bool lastResort = false);
  void firstToken(int deployment, double ttftMs, int64_t nowUs);
  void finish(int group, int deployment, int64_t outputTokens, double generationMs, int64_t nowUs);
  void fail(int deployment, Failure failure, std::optional<int> retryAfterSeconds, int64_t nowUs);
  void cancel(int deployment);

  // Full-jitter exponential backoff before re-try number `retry` (1-based).
  int64_t backoffUs(int group, int retry, uint64_t random) const;

  // Prices in pico-dollars per token (= micro-dollars per million); changes
  // (a provider's new price list, the replay's drift) apply to the next plan.
  void setPrice(int deployment, int64_t inputPico, int64_t outputPico);
  int64_t inputPrice(int deployment) const;
  int64_t outputPrice(int deployment) const;

  // "deepinfra/llama-70b; policy=cost; cheapest meeting the bar; expected=$0.000123; p90_ttft=420ms";
  // `why` replaces the reason (e.g. for a hedge).
  std::string explain(const Plan& plan, size_t chosen, std::string_view why = {}) const;
  std::vector<std::string> policyNames() const { return registry_.names(); }

 private:
  struct Group;
  struct Slot;
  std::shared_ptr<DeploymentState> stateToCarry(int group, const config::ModelConfig& model,
                                                const DeploymentInfo& info) const;
  void planGroup(int group, const Policy& policy, const RequestFacts& facts, const Bars& bars, int64_t nowUs,
                 bool fallback, Plan& out);

  const PolicyRegistry& registry_;
  std::vector<std::unique_ptr<Group>> groups_;
  std::vector<std::unique_ptr<Slot>> slots_;
  size_t carried_ = 0;
};

}  // namespace arbitra::router
