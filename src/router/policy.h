// Routing policies: one small interface, implementations registered by name.
//
// A policy only ranks. The router has already computed, for one request and
// each candidate deployment, the expected cost (pico-dollars, from the
// request's own token counts and the deployment's prices), the predicted p90
// time to first token, the predicted tokens/s and whether the candidate meets
// the request's bars; the policy turns that into a score, lower is better.
// Filtering by bars and health, fallbacks and probes stay in the router, so a
// policy is a few lines and is trivially unit-tested.
//
//   PolicyRegistry registry;
//   registerBuiltins(registry);
//   const Policy* cost = registry.find("cost");
//
// Built in: cost, latency, balanced, weighted, priority, and two baselines for
// `arbitra replay`: cheapest-list (list price only, no measurements) and
// round-robin.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace arbitra::router {

// One candidate as a policy sees it, for one request.
struct CandidateView {
  int index = 0;               // position in the group's config order
  int64_t costPico = 0;        // expected cost of this request there
  double ttftP90Ms = 0;        // predicted p90 time to first token (0: not measured yet)
  double tokensPerSecond = 0;  // predicted (pessimistic) output tokens/s (0: unknown)
  double expectedMs = 0;       // predicted time to the whole answer
  int64_t weight = 1;          // config weight (`weighted`)
  int inFlight = 0;
  bool measured = false;
};

// What a policy may know about the request beyond the candidate.
struct PolicyContext {
  uint64_t random = 0;    // a per-request draw
  uint64_t sequence = 0;  // the group's request counter (round-robin)
  int groupSize = 1;
  int64_t microDollarsPerSecond = 0;  // `balanced`: the price of one second of waiting
};

class Policy {
 public:
  virtual ~Policy() = default;
  virtual std::string_view name() const = 0;
  // Lower is better; called for each candidate of a request.
  virtual double score(const CandidateView& candidate, const PolicyContext& context) const = 0;
  // False for baselines that ignore bars and measurements.
  virtual bool usesMeasurements() const { return true; }
  // What the header says when this policy's first choice is taken.
  virtual std::string_view reason() const = 0;
};

// `balanced` without a configured trade-off: $0.0001 per second of waiting
// (= $0.36 an hour). A guess at what a user's idle second is worth; set
// routing.dollars_per_second to your own.
constexpr int64_t kDefaultMicroDollarsPerSecond = 100;

class PolicyRegistry {
 public:
  void add(std::unique_ptr<Policy> policy);
  const Policy* find(std::string_view name) const;  // nullptr when unknown
  std::vector<std::string> names() const;

 private:
  std::vector<std::unique_ptr<Policy>> policies_;
};

void registerBuiltins(PolicyRegistry& registry);

}  // namespace arbitra::router
