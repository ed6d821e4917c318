// Runs the routing decision cases in cases/decisions.yaml: one group per case,
// measured as the case says, one request; checks the first choice, its
// expected cost and the reason.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "router/router.h"

namespace arbitra::router {
namespace {

int64_t micros(const YAML::Node& node) {
  auto value = config::parseMicroDollars(node.as<std::string>());
  EXPECT_TRUE(value.has_value()) << node.as<std::string>();
  return value.value_or(0);
}

TEST(RouterCases, DecisionsFromData) {
  auto cases = YAML::LoadFile(std::string(ARBITRA_SOURCE_DIR) + "/tests/unit/router/cases/decisions.yaml");
  ASSERT_GT(cases.size(), 10u);
  PolicyRegistry registry;
  registerBuiltins(registry);
  for (const auto& c : cases) {
    std::string name = c["name"].as<std::string>();
    SCOPED_TRACE(name);
    config::ModelConfig model;
    model.name = "g";
    model.routing.policy = c["policy"].as<std::string>();
    if (c["dollars_per_second"]) model.routing.microDollarsPerSecond = micros(c["dollars_per_second"]);
    for (const auto& d : c["deployments"]) {
      config::DeploymentConfig dc;
      dc.provider = d["name"].as<std::string>();
      dc.upstreamModel = "m";
      dc.price.inputPerMillion = micros(d["input"]);
      dc.price.outputPerMillion = micros(d["output"]);
      dc.price.known = true;
      if (d["context_window"]) dc.contextWindow = d["context_window"].as<int64_t>();
      model.deployments.push_back(dc);
    }
    std::vector<config::ModelConfig> models = {model};
    Router router(models, registry, "decisions.yaml");
    int64_t now = static_cast<int64_t>(c["now_s"].as<double>(10) * 1e6);
    int id = 0;
    for (const auto& d : c["deployments"]) {
      if (const auto& o = d["observed"]) {
        double ttft = o["ttft_ms"].as<double>();
        double tps = o["tps"].as<double>();
        int samples = o["samples"].as<int>(20);
        int64_t end = static_cast<int64_t>(o["at_s"].as<double>(c["now_s"].as<double>(10)) * 1e6);
        for (int i = 0; i < samples; ++i) {
          int64_t t = end - (samples - 1 - i) * 10'000;
          router.begin(id, 100, t);
          router.firstToken(id, ttft, t);
          router.finish(-1, id, 101, 100 * 1000.0 / tps, t);  // -1: keep the default output estimate
        }
      }
      id++;
    }
    const auto& r = c["request"];
    RequestFacts facts;
    facts.inputTokens = r["input_tokens"].as<int64_t>();
    facts.maxTokens = r["max_tokens"].as<int64_t>(0);
    facts.bars.maxTtftMs = r["max_ttft_ms"].as<int64_t>(0);
    facts.bars.minTokensPerSecond = r["min_tps"].as<int64_t>(0);
    if (r["max_price"]) facts.bars.maxPricePerMillion = micros(r["max_price"]);
    Plan plan;
    auto error = router.plan(0, facts, now, plan);
    ASSERT_FALSE(error) << error->message;
    const auto& e = c["expect"];
    EXPECT_EQ(router.info(plan.order.front().deployment).provider, e["first"].as<std::string>());
    if (e["cost_pico"]) EXPECT_EQ(plan.order.front().costPico, e["cost_pico"].as<int64_t>());
    if (e["reason"]) EXPECT_EQ(plan.reason, e["reason"].as<std::string>());
    if (e["candidates"]) EXPECT_EQ(plan.order.size(), e["candidates"].as<size_t>());
  }
}

}  // namespace
}  // namespace arbitra::router
