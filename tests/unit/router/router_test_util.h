// Helpers for the router tests: a model group built in code, and a way to feed
// a deployment samples as if requests had been served.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "router/router.h"

namespace arbitra::router::testing {

struct D {
  std::string name;
  int64_t inputMicros;  // $ per million tokens, in micro-dollars
  int64_t outputMicros;
  int64_t contextWindow = 0;
  int64_t weight = 1;
  int64_t rpm = 0;
};

inline config::ModelConfig group(const std::string& name, const std::vector<D>& deployments,
                                 const std::string& policy = "cost") {
  config::ModelConfig model;
  model.name = name;
  model.routing.policy = policy;
  for (const auto& d : deployments) {
    config::DeploymentConfig c;
    c.provider = d.name;
    c.upstreamModel = name;
    c.price.inputPerMillion = d.inputMicros;
    c.price.outputPerMillion = d.outputMicros;
    c.price.known = true;
    c.contextWindow = d.contextWindow;
    c.weight = d.weight;
    c.rpm = d.rpm;
    model.deployments.push_back(c);
  }
  return model;
}

// `n` served requests on deployment `id` with this TTFT and tokens/s, ending at `untilUs`.
inline void serve(Router& router, int group, int id, double ttftMs, double tps, int n, int64_t untilUs) {
  for (int i = 0; i < n; ++i) {
    int64_t t = untilUs - (n - 1 - i) * 10'000;
    router.begin(id, 100, t);
    router.firstToken(id, ttftMs, t);
    router.finish(group, id, 101, 100 * 1000.0 / tps, t);
  }
}

inline RequestFacts facts(int64_t input, int64_t maxTokens = 0, Bars bars = {}) {
  RequestFacts f;
  f.inputTokens = input;
  f.maxTokens = maxTokens;
  f.bars = bars;
  return f;
}

}  // namespace arbitra::router::testing
