// Workload validation, as data: cases/workload_errors.yaml holds each bad
// workload and the error it must produce (field named, file:line where known).
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "planner/plan.h"
#include "planner/workload.h"
#include "planner_test_util.h"

namespace arbitra::planner {
namespace {

using testing::errorOf;
using testing::shippedCatalog;
using testing::sourceDir;

TEST(Workload, ErrorCasesFromDataFile) {
  YAML::Node cases = YAML::LoadFile(sourceDir() + "/tests/unit/planner/cases/workload_errors.yaml");
  ASSERT_GE(cases.size(), 10u);
  for (const auto& c : cases) {
    std::string name = c["name"].as<std::string>();
    std::string expected = c["error"].as<std::string>();
    std::string error = errorOf([&] { parseWorkload(c["workload"].as<std::string>(), "w.yaml", shippedCatalog()); });
    EXPECT_NE(error.find(expected), std::string::npos)
        << name << "\n  expected: " << expected << "\n  got:      " << error;
  }
}

TEST(Workload, ParsesTheExampleAndAddsHostsOfOpenWeightModels) {
  Workload w = loadWorkload(sourceDir() + "/data/planner/workloads/chat.yaml", shippedCatalog());
  ASSERT_EQ(w.routes.size(), 1u);
  const Route& r = w.routes[0];
  EXPECT_EQ(r.requestsPerMonth, 3'000'000);
  EXPECT_TRUE(r.hasProfile);
  double sum = 0;
  for (double s : r.hourlyShare) sum += s;
  EXPECT_NEAR(sum, 1.0, 1e-12);
  EXPECT_EQ(r.input.p95, 2000);
  // The listed APIs plus every catalog row hosting llama-3.1-8b or qwen2.5-7b.
  auto has = [&](const std::string& id) {
    return std::find(r.apiModels.begin(), r.apiModels.end(), id) != r.apiModels.end();
  };
  EXPECT_TRUE(has("gpt-4o-mini"));
  EXPECT_TRUE(has("groq/llama-3.1-8b-instant"));
  EXPECT_TRUE(has("deepinfra/Qwen/Qwen2.5-7B-Instruct"));
  EXPECT_EQ(r.quantizations.size(), shippedCatalog().quantizations.size());
  EXPECT_EQ(w.autoscaling.scaleUpDelayMin, 5);
}

TEST(Workload, RequestsPerDayBecomeAMonth) {
  Workload w = parseWorkload(
      "routes:\n  - {name: a, requests_per_day: 24000, input_tokens: {mean: 1}, output_tokens: {mean: 1},"
      " models: {api: [gpt-4o-mini]}, latency: {max_ttft_ms: 10}}\n",
      "w.yaml", shippedCatalog());
  EXPECT_DOUBLE_EQ(w.routes[0].requestsPerMonth, 24000 * 730.0 / 24);
}

TEST(Workload, ImpossibleBarNamesTheLatencyField) {
  // Only open-weight models, and a per-stream speed no listed hardware reaches.
  Workload w = parseWorkload(
      "routes:\n"
      "  - name: fast\n"
      "    requests_per_month: 1000\n"
      "    input_tokens: { mean: 100 }\n"
      "    output_tokens: { mean: 10 }\n"
      "    models: { open_weight: [llama-3.1-70b], include_hosted: false }\n"
      "    latency: { max_ttft_ms: 1000, min_tokens_per_s: 100000 }\n",
      "w.yaml", shippedCatalog());
  std::string error = errorOf([&] { makePlan(shippedCatalog(), w, PlanSettings{}); });
  EXPECT_NE(error.find("w.yaml:7: routes[0].latency: no option meets the bar"), std::string::npos) << error;
  EXPECT_NE(error.find("min_tokens_per_s 100000"), std::string::npos) << error;
}

}  // namespace
}  // namespace arbitra::planner
