// Routing decision cost: Router::plan for one request to a group of N
// deployments (all measured, prices differing, bars set), per policy, against
// two baselines in the same run: the pre-router resolve (a copy of the
// group's deployment list, config order) and the priority policy (the
// router's cheapest decision). Target: <= 2 us with 20 deployments.
// Prints a markdown table; not a test (no timed asserts).
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "router/router.h"

using namespace arbitra;

namespace {

config::ModelConfig group(int n) {
  config::ModelConfig model;
  model.name = "g";
  model.routing.policy = "cost";
  for (int i = 0; i < n; ++i) {
    config::DeploymentConfig d;
    d.provider = "provider" + std::to_string(i);
    d.upstreamModel = "meta-llama/Llama-3.1-70B-Instruct";
    d.price.inputPerMillion = 100'000 + 37'000 * ((i * 7) % n);
    d.price.outputPerMillion = 200'000 + 41'000 * ((i * 5) % n);
    d.price.known = true;
    d.contextWindow = 131072;
    d.rpm = i % 3 == 0 ? 10'000 : 0;
    d.weight = 1 + i % 4;
    model.deployments.push_back(d);
  }
  return model;
}

// The gateway's decision before the router: copy the group's deployments.
struct OldDeployment {
  std::string provider, model, label;
  int64_t in, out, context;
};

volatile int64_t sink;

template <typename F>
double nsPerCall(F&& f, int iterations) {
  for (int i = 0; i < iterations / 10; ++i) f(i);  // warm up
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i) f(i);
  auto end = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::nano>(end - start).count() / iterations;
}

}  // namespace

int main() {
  const int kIterations = 200'000;
  const std::vector<int> sizes = {1, 5, 20};
  const std::vector<std::string> policies = {"cost", "balanced", "latency", "weighted", "priority"};
  router::PolicyRegistry registry;
  router::registerBuiltins(registry);

  std::printf("Routing decision cost, ns per request (%d decisions each, one thread)\n\n", kIterations);
  std::printf("| deployments | old resolve (copy list) |");
  for (const auto& p : policies) std::printf(" %s |", p.c_str());
  std::printf("\n|---:|---:|");
  for (size_t i = 0; i < policies.size(); ++i) std::printf("---:|");
  std::printf("\n");

  for (int n : sizes) {
    auto model = group(n);
    std::vector<OldDeployment> old;
    for (const auto& d : model.deployments) {
      old.push_back({d.provider, d.upstreamModel, d.provider + "/" + d.upstreamModel, d.price.inputPerMillion,
                     d.price.outputPerMillion, d.contextWindow});
    }
    double oldNs = nsPerCall(
        [&](int) {
          std::vector<OldDeployment> copy = old;
          sink = static_cast<int64_t>(copy.size());
        },
        kIterations);
    std::printf("| %d | %.0f |", n, oldNs);
    for (const auto& policy : policies) {
      model.routing.policy = policy;
      std::vector<config::ModelConfig> models = {model};
      router::Router router(models, registry, "bench");
      // Every deployment measured, with different speeds.
      for (int d = 0; d < n; ++d) {
        for (int s = 0; s < 50; ++s) {
          int64_t t = s * 10'000;
          router.begin(d, 1000, t);
          router.firstToken(d, 200.0 + 40.0 * d + (s % 5) * 10.0, t);
          router.finish(0, d, 200, 2000.0 + 50.0 * d, t);
        }
      }
      router::Plan plan;
      router::RequestFacts facts;
      facts.inputTokens = 800;
      facts.maxTokens = 512;
      facts.bars.maxTtftMs = 800;
      facts.bars.minTokensPerSecond = 20;
      double ns = nsPerCall(
          [&](int i) {
            facts.random = static_cast<uint64_t>(i) * 0x9e3779b97f4a7c15ULL;
            router.plan(0, facts, 1'000'000 + i, plan);
            sink = plan.order.front().deployment;
          },
          kIterations);
      std::printf(" %.0f |", ns);
    }
    std::printf("\n");
  }
  return 0;
}
