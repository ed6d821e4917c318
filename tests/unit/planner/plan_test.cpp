// Plans end to end on the shipped catalog: ranking, verdicts, break-even,
// sensitivity, renderings.
#include <gtest/gtest.h>

#include "planner/plan.h"
#include "planner/report.h"
#include "planner/workload.h"
#include "planner_test_util.h"

namespace arbitra::planner {
namespace {

using testing::shippedCatalog;

Workload workload(const std::string& requestsPerMonth, const std::string& extra = "") {
  return parseWorkload(
      "workload: t\n"
      "routes:\n"
      "  - name: chat\n"
      "    requests_per_month: " +
          requestsPerMonth +
          "\n"
          "    input_tokens: { mean: 1000, p95: 2000 }\n"
          "    output_tokens: { mean: 200, p95: 500 }\n"
          "    latency: { max_ttft_ms: 1000, min_tokens_per_s: 20 }\n"
          "    models: { api: [gpt-4o-mini], open_weight: [llama-3.1-8b], include_hosted: false }\n"
          "    quantizations: [F16, Q4_K_M]\n" +
          extra,
      "t.yaml", shippedCatalog());
}

TEST(Plan, RankedByMonthlyCostWithFailuresLast) {
  Workload w = workload("1000000");
  Plan p = makePlan(shippedCatalog(), w, PlanSettings{});
  ASSERT_EQ(p.routes.size(), 1u);
  const auto& options = p.routes[0].options;
  ASSERT_GT(options.size(), 10u);
  bool seenInfeasible = false;
  for (size_t i = 1; i < options.size(); ++i) {
    if (!options[i].cost.feasible)
      seenInfeasible = true;
    else
      EXPECT_FALSE(seenInfeasible) << "feasible option after an infeasible one: " << options[i].id;
    if (options[i].cost.feasible && options[i - 1].cost.feasible) {
      EXPECT_LE(options[i - 1].cost.monthly, options[i].cost.monthly);
    }
  }
  // At 1M requests ($270 on gpt-4o-mini) the API wins; a GPU month costs more.
  EXPECT_EQ(options[0].id, "api:gpt-4o-mini");
  EXPECT_EQ(options[0].verdict, "best");
  EXPECT_EQ(options[0].cost.monthly, 270'000'000);
  for (const auto& o : options) EXPECT_FALSE(o.reason.empty()) << o.id;
}

TEST(Plan, SelfHostingWinsAtHighVolumeWithAReason) {
  Workload w = workload("100000000");  // 100M requests × $0.00027 = $27,000 on gpt-4o-mini
  Plan p = makePlan(shippedCatalog(), w, PlanSettings{});
  const auto& rp = p.routes[0];
  const Option& best = rp.options[0];
  ASSERT_NE(best.kind, OptionKind::Api) << best.reason;
  EXPECT_EQ(best.verdict, "best");
  ASSERT_GE(rp.cheapestApi, 0);
  EXPECT_EQ(rp.options[rp.cheapestApi].cost.monthly, 27'000'000'000);
  EXPECT_LT(best.cost.monthly, rp.options[rp.cheapestApi].cost.monthly);
  EXPECT_TRUE(best.breakEven.exists);
  EXPECT_LT(best.breakEven.requestsPerMonth, 100'000'000);
  EXPECT_NE(best.reason.find("utilization"), std::string::npos) << best.reason;
  EXPECT_NE(best.reason.find("vs $27,000/mo on gpt-4o-mini"), std::string::npos) << best.reason;
  EXPECT_NE(best.reason.find("break-even at"), std::string::npos) << best.reason;
  // Sensitivity: at a tenth of the volume the API should win again or the gap narrows.
  ASSERT_FALSE(rp.sensitivity.empty());
  EXPECT_EQ(rp.sensitivity[0].name, "volume ×0.1");
  // Volume costs are recorded for every option and scale.
  EXPECT_EQ(best.costAtVolume.size(), p.volumeScales.size());
}

TEST(Plan, OwnedHardwareAndWorkloadOffersAreOptions) {
  Workload w = workload("5000000",
                        "offers:\n  - {id: quote, hardware: h100-sxm, provider: Quote, usd_per_hour: \"2.85\"}\n"
                        "owned:\n  - {name: box, hardware: rtx-4090, count: 2, capex: \"3600\", lifetime_months: 36,"
                        " usd_per_kwh: \"0.15\", hosting_per_month: \"40\"}\n");
  Plan p = makePlan(shippedCatalog(), w, PlanSettings{});
  bool quote = false, owned = false;
  for (const auto& o : p.routes[0].options) {
    quote = quote || o.id.starts_with("rent:quote:");
    if (o.kind == OptionKind::Owned && o.cost.feasible) {
      owned = true;
      EXPECT_EQ(o.cost.monthly, 238'550'000);  // as in cost_test: $100 + $98.55 + $40
    }
  }
  EXPECT_TRUE(quote);
  EXPECT_TRUE(owned);
}

TEST(Plan, RendersTextJsonAndSvg) {
  Workload w = workload("30000000");
  Plan p = makePlan(shippedCatalog(), w, PlanSettings{});
  std::string text = renderText(p);
  EXPECT_NE(text.find("Route \"chat\""), std::string::npos);
  EXPECT_NE(text.find("Sensitivity"), std::string::npos);
  EXPECT_NE(text.find("calibrated against published"), std::string::npos);
  EXPECT_NE(text.find("bandwidth 0.620"), std::string::npos);
  std::string json = renderJson(p);
  EXPECT_NE(json.find("\"monthly_micros\""), std::string::npos);
  EXPECT_NE(json.find("\"calibrated\":true"), std::string::npos);
  EXPECT_NE(json.find("\"cpu_block_quant\":"), std::string::npos);
  // Factors set by hand say so.
  PlanSettings byHand;
  byHand.efficiency.bandwidth = 0.5;
  byHand.efficiency.calibrated = false;
  Plan h = makePlan(shippedCatalog(), w, byHand);
  EXPECT_NE(renderText(h).find("set by hand, not calibrated"), std::string::npos);
  EXPECT_NE(renderJson(h).find("\"calibrated\":false"), std::string::npos);
  auto svgs = renderSvg(p, w);
  ASSERT_EQ(svgs.size(), 2u);
  EXPECT_EQ(svgs[0].name, "chat-cost-vs-volume.svg");
  EXPECT_TRUE(svgs[0].svg.starts_with("<svg"));
  EXPECT_NE(svgs[0].svg.find("<circle"), std::string::npos);  // a break-even point is marked
  EXPECT_NE(svgs[1].svg.find("<rect"), std::string::npos);
}

}  // namespace
}  // namespace arbitra::planner
