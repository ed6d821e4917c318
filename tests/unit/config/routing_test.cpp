// The routing block of a model group and the per-deployment limits: parsed
// values, defaults, and file:line errors.
#include <gtest/gtest.h>

#include "config/config.h"
#include "config_test_util.h"

namespace arbitra::config {
namespace {

using testing::parseError;
using testing::yamlLines;

const char* kProviders = "providers: { p: { kind: openai, base_url: http://127.0.0.1:1/v1 } }";

TEST(ConfigRouting, GroupWithRoutingAndLimits) {
  auto config =
      parseConfig(yamlLines({kProviders, "models:", "  big:", "    deployments:",
                             "      - { provider: p, model: a, rpm: 600, tpm: 100000, weight: 3 }",
                             "      - { provider: p, model: b }", "    routing:", "      policy: balanced",
                             "      fallbacks: [small]", "      retries: 3", "      backoff_ms: 50",
                             "      hedge: true", "      max_ttft_ms: 1500", "      min_tokens_per_second: 20",
                             "      max_price: 1.25", "      dollars_per_second: 0.0001",
                             "      breaker: { failures: 4, open_ms: 2000 }", "  small: [{ provider: p, model: c }]"}),
                  "c.yaml");
  const auto* big = config.findModel("big");
  ASSERT_NE(big, nullptr);
  ASSERT_EQ(big->deployments.size(), 2u);
  EXPECT_EQ(big->deployments[0].rpm, 600);
  EXPECT_EQ(big->deployments[0].tpm, 100000);
  EXPECT_EQ(big->deployments[0].weight, 3);
  EXPECT_EQ(big->deployments[1].weight, 1);
  const auto& r = big->routing;
  EXPECT_EQ(r.policy, "balanced");
  EXPECT_EQ(r.policyLine, 8);
  EXPECT_EQ(r.fallbacks, std::vector<std::string>{"small"});
  EXPECT_EQ(r.retries, 3);
  EXPECT_EQ(r.backoffMs, 50);
  EXPECT_TRUE(r.hedge);
  EXPECT_EQ(r.maxTtftMs, 1500);
  EXPECT_EQ(r.minTokensPerSecond, 20);
  EXPECT_EQ(r.maxPricePerMillion, 1'250'000);
  EXPECT_EQ(r.microDollarsPerSecond, 100);
  EXPECT_EQ(r.breakerFailures, 4);
  EXPECT_EQ(r.breakerOpenMs, 2000);
  // The list form keeps its defaults: config order, first preferred.
  EXPECT_EQ(config.findModel("small")->routing.policy, "priority");
  EXPECT_FALSE(config.findModel("small")->routing.hedge);
}

TEST(ConfigRouting, Errors) {
  auto with = [](std::initializer_list<const char*> routing) {
    std::vector<const char*> lines = {kProviders, "models:", "  m:", "    deployments: [{ provider: p, model: a }]",
                                      "    routing:"};
    lines.insert(lines.end(), routing.begin(), routing.end());
    std::string yaml;
    for (const char* l : lines) yaml += std::string(l) + "\n";
    return parseError(yaml);
  };
  EXPECT_EQ(with({"      retries: 11"}), "c.yaml:6: routing.retries must be an integer from 0 to 10 (got '11')");
  EXPECT_EQ(with({"      hedge: sometimes"}), "c.yaml:6: routing.hedge must be true or false (got 'sometimes')");
  EXPECT_EQ(with({"      fallbacks: [ghost]"}),
            "c.yaml:5: routing.fallbacks of model 'm' names model 'ghost', which is not declared under models");
  EXPECT_EQ(with({"      fallbacks: [m]"}), "c.yaml:5: routing.fallbacks of model 'm' names itself");
  EXPECT_EQ(with({"      polcy: cost"})
                .rfind("c.yaml:6: unknown key 'polcy' in model 'm' routing (expected one of: policy,", 0),
            0u);
  EXPECT_EQ(with({"      breaker: { failures: 0 }"}),
            "c.yaml:6: breaker.failures must be an integer from 1 to 1000 (got '0')");
  EXPECT_EQ(parseError(yamlLines({kProviders, "models:", "  m:", "    deployments: []"})),
            "c.yaml:4: model 'm' deployments must be a non-empty list");
  EXPECT_EQ(parseError(yamlLines({kProviders, "models:", "  m: [{ provider: p, model: a, rpm: -1 }]"})),
            "c.yaml:3: rpm must be a positive integer (got '-1')");
}

}  // namespace
}  // namespace arbitra::config
