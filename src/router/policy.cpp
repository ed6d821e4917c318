// The built-in routing policies (see policy.h). Each is a scoring rule.
#include "router/policy.h"

#include <cmath>

namespace arbitra::router {
namespace {

uint64_t mix(uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Cheapest expected cost. Among equal costs, the one predicted faster.
class CostPolicy final : public Policy {
 public:
  std::string_view name() const override { return "cost"; }
  std::string_view reason() const override { return "cheapest meeting the bar"; }
  double score(const CandidateView& c, const PolicyContext&) const override {
    return static_cast<double>(c.costPico) + c.expectedMs * 1e-6;
  }
};

// Soonest whole answer (first token plus generation), cost ignored.
class LatencyPolicy final : public Policy {
 public:
  std::string_view name() const override { return "latency"; }
  std::string_view reason() const override { return "fastest predicted"; }
  double score(const CandidateView& c, const PolicyContext&) const override { return c.expectedMs; }
};

// Cost plus waiting priced at microDollarsPerSecond: pico-dollars either way.
class BalancedPolicy final : public Policy {
 public:
  std::string_view name() const override { return "balanced"; }
  std::string_view reason() const override { return "best cost + latency at the configured $/s"; }
  double score(const CandidateView& c, const PolicyContext& ctx) const override {
    int64_t perSecond = ctx.microDollarsPerSecond > 0 ? ctx.microDollarsPerSecond : kDefaultMicroDollarsPerSecond;
    double waitingPico = c.expectedMs / 1000.0 * static_cast<double>(perSecond) * 1e6;
    return static_cast<double>(c.costPico) + waitingPico;
  }
};

// A weighted random draw: exponential races (-ln u / w) give each candidate
// first place with probability w / sum(w), and a full order besides.
class WeightedPolicy final : public Policy {
 public:
  std::string_view name() const override { return "weighted"; }
  std::string_view reason() const override { return "weighted draw"; }
  double score(const CandidateView& c, const PolicyContext& ctx) const override {
    if (c.weight <= 0) return 1e300;
    uint64_t draw = mix(ctx.random ^ (static_cast<uint64_t>(c.index) * 0x9e3779b97f4a7c15ULL));
    double u = (static_cast<double>(draw >> 11) + 0.5) * 0x1.0p-53;
    return -std::log(u) / static_cast<double>(c.weight);
  }
};

// The order written in config: the first is preferred, the rest fall back.
class PriorityPolicy final : public Policy {
 public:
  std::string_view name() const override { return "priority"; }
  std::string_view reason() const override { return "first in priority order"; }
  double score(const CandidateView& c, const PolicyContext&) const override { return c.index; }
};

// Baseline: always the cheapest list price, blind to latency and bars.
class CheapestListPolicy final : public Policy {
 public:
  std::string_view name() const override { return "cheapest-list"; }
  std::string_view reason() const override { return "cheapest list price"; }
  bool usesMeasurements() const override { return false; }
  double score(const CandidateView& c, const PolicyContext&) const override {
    return static_cast<double>(c.costPico) + c.index * 1e-9;
  }
};

// Baseline: each deployment in turn.
class RoundRobinPolicy final : public Policy {
 public:
  std::string_view name() const override { return "round-robin"; }
  std::string_view reason() const override { return "round robin"; }
  bool usesMeasurements() const override { return false; }
  double score(const CandidateView& c, const PolicyContext& ctx) const override {
    int n = ctx.groupSize > 0 ? ctx.groupSize : 1;
    return static_cast<double>((static_cast<uint64_t>(c.index) + n - ctx.sequence % n) % n);
  }
};

}  // namespace

void PolicyRegistry::add(std::unique_ptr<Policy> policy) {
  policies_.push_back(std::move(policy));
}

const Policy* PolicyRegistry::find(std::string_view name) const {
  for (const auto& policy : policies_) {
    if (policy->name() == name) return policy.get();
  }
  return nullptr;
}

std::vector<std::string> PolicyRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& policy : policies_) out.emplace_back(policy->name());
  return out;
}

void registerBuiltins(PolicyRegistry& registry) {
  registry.add(std::make_unique<CostPolicy>());
  registry.add(std::make_unique<LatencyPolicy>());
  registry.add(std::make_unique<BalancedPolicy>());
  registry.add(std::make_unique<WeightedPolicy>());
  registry.add(std::make_unique<PriorityPolicy>());
  registry.add(std::make_unique<CheapestListPolicy>());
  registry.add(std::make_unique<RoundRobinPolicy>());
}

}  // namespace arbitra::router
