// Hand-worked costs, to the cent: API (cache and batch), rented fleets fixed
// and autoscaled, owned hardware, and a break-even point.
#include <gtest/gtest.h>

#include "planner/money.h"
#include "planner/plan.h"
#include "planner_test_util.h"

namespace arbitra::planner {
namespace {

using testing::shippedCatalog;

Route flatRoute(double requests, double in, double out) {
  Route r;
  r.name = "r";
  r.requestsPerMonth = requests;
  r.hourlyShare.fill(1.0 / 24);
  r.input = {in, in};
  r.output = {out, out};
  r.latency = {1000, 10};
  return r;
}

TEST(Money, ParsesExactDecimalsAndFormats) {
  EXPECT_EQ(parseDollars("0.15"), 150000);
  EXPECT_EQ(parseDollars("2.69"), 2690000);
  EXPECT_EQ(parseDollars("0.000001"), 1);
  EXPECT_FALSE(parseDollars("0.0000001"));
  EXPECT_FALSE(parseDollars("-1"));
  EXPECT_FALSE(parseDollars("1e-3"));
  EXPECT_FALSE(parseDollars(".5"));
  EXPECT_EQ(formatDollars(1'180'250'000), "$1,180");
  EXPECT_EQ(formatCents(1'180'255'000), "$1,180.26");
  EXPECT_EQ(formatDollars(12'345'000), "$12.35");
  EXPECT_EQ(decimalDollars(191'250'000), "191.25");
  EXPECT_EQ(divRound(5, 2), 3);
  EXPECT_EQ(divRound(-5, 2), -3);
}

TEST(Cost, ApiWithCacheAndBatchToTheCent) {
  // gpt-4o-mini: input 0.15, cached 0.075, output 0.60, batch 0.075 / 0.30 ($/M).
  const ApiPrice& p = *shippedCatalog().findPrice("gpt-4o-mini");
  Route r = flatRoute(1'000'000, 1000, 200);
  r.cacheHitRate = 0.3;
  r.deferrableFraction = 0.5;
  // 1e9 input, 2e8 output tokens; half deferred: 5e8 in + 1e8 out at batch prices.
  // Live input 5e8: 30% cached = 1.5e8 × 0.075 = $11.25; 3.5e8 × 0.15 = $52.50.
  // Live output 1e8 × 0.60 = $60.00. Batch: 5e8 × 0.075 + 1e8 × 0.30 = $67.50.
  Costing c = apiCost(p, r, r.requestsPerMonth);
  EXPECT_EQ(c.monthly, 191'250'000);  // $191.25
  ASSERT_EQ(c.split.size(), 4u);
  EXPECT_EQ(c.split[0].amount, 52'500'000);
  EXPECT_EQ(c.split[1].amount, 11'250'000);
  EXPECT_EQ(c.split[2].amount, 60'000'000);
  EXPECT_EQ(c.split[3].amount, 67'500'000);
  // Price sensitivity is exact: ×1.5 = $286.875 -> $286.88 at the cent.
  EXPECT_EQ(apiCost(p, r, r.requestsPerMonth, {3, 2}).monthly, 286'875'000);
  // A model without batch prices bills deferrable work at the live price.
  const ApiPrice& haiku = *shippedCatalog().findPrice("claude-haiku-4-5");
  Route plain = flatRoute(1'000'000, 1000, 200);
  // 1e9 × $1 + 2e8 × $5 = $2,000.
  plain.deferrableFraction = 0.5;
  EXPECT_EQ(apiCost(haiku, plain, plain.requestsPerMonth).monthly, 2'000'000'000);
}

// A rented option with a fixed replica speed, for exact capacity arithmetic.
Option rented(double requestsPerS, const char* perHour, bool autoscaled) {
  Option o;
  o.kind = OptionKind::Rented;
  o.hardware = shippedCatalog().findHardware("h100-sxm");
  o.model = shippedCatalog().findModel("llama-3.1-8b");
  o.quant = shippedCatalog().findQuantization("F16");
  o.offer.id = "test";
  o.offer.perHour = *parseDollars(perHour);
  o.autoscaled = autoscaled;
  o.perf.fits = o.perf.meetsBar = true;
  o.perf.devices = 1;
  o.perf.requestsPerS = requestsPerS;
  return o;
}

TEST(Cost, RentedFixedAndAutoscaledFleets) {
  // 12 quiet hours (weight 1) then 12 busy ones (weight 3). At 26,280,000
  // requests a month (730/24 days): quiet hours 5 requests/s, busy 15.
  Route r = flatRoute(26'280'000, 1000, 200);
  for (int h = 0; h < 24; ++h) r.hourlyShare[h] = (h < 12 ? 1.0 : 3.0) / 48.0;
  Workload w;
  w.autoscaling = {1, 0};
  // A replica serves 10 requests/s: 1 replica when quiet, 2 when busy.
  Option fixed = rented(10, "2.00", false);
  Costing c = costAt(fixed, r, w, 1.0);
  ASSERT_TRUE(c.feasible);
  EXPECT_EQ(c.peakReplicas, 2);
  EXPECT_EQ(c.monthly, 2'920'000'000);     // 2 × 730 h × $2 = $2,920.00
  EXPECT_NEAR(c.utilization, 0.5, 1e-12);  // 26.28M / (2 × 730 × 3600 × 10)
  // Autoscaled: 12 h × 1 + 12 h × 2 = 36 replica-hours a day = 2,160 minutes;
  // 2,160 × $2 × 730 / 1,440 = $2,190.00.
  Option scaled = rented(10, "2.00", true);
  Costing a = costAt(scaled, r, w, 1.0);
  EXPECT_EQ(a.monthly, 2'190'000'000);
  EXPECT_NEAR(a.utilization, 2.0 / 3.0, 1e-12);
  // A 6-minute scale-up delay starts the second replica 6 minutes early once a
  // day: 2,166 minutes -> $2,196.083333 -> 2,196,083,333 micro-dollars.
  w.autoscaling.scaleUpDelayMin = 6;
  EXPECT_EQ(costAt(scaled, r, w, 1.0).monthly, 2'196'083'333);
  // GPU price −50% (exact): $1,460.00 for the fixed fleet.
  EXPECT_EQ(costAt(fixed, r, w, 1.0, {1, 2}).monthly, 1'460'000'000);
}

TEST(Cost, OwnedHardware) {
  OwnedHardware own;
  own.name = "rack";
  own.hardware = "rtx-4090";
  own.count = 2;
  own.capex = *parseDollars("3600");
  own.lifetimeMonths = 36;
  own.watts = 450;
  own.perKwh = *parseDollars("0.15");
  own.hostingPerMonth = *parseDollars("40");
  Option o;
  o.kind = OptionKind::Owned;
  o.owned = &own;
  o.perf.fits = o.perf.meetsBar = true;
  o.perf.devices = 1;
  o.perf.requestsPerS = 10;
  Route r = flatRoute(1'000'000, 1000, 200);
  // $3,600 / 36 = $100; 450 W × 2 × 730 h × $0.15 / 1000 = $98.55; hosting $40.
  Costing c = costAt(o, r, Workload{}, 1.0);
  ASSERT_TRUE(c.feasible);
  EXPECT_EQ(c.monthly, 238'550'000);  // $238.55
  // More traffic than two devices can serve is infeasible, not cheaper.
  Costing big = costAt(o, r, Workload{}, 100.0);
  EXPECT_FALSE(big.feasible);
  EXPECT_NE(big.whyNot.find("owns 2"), std::string::npos) << big.whyNot;
}

TEST(Cost, BreakEvenPointToTheCent) {
  // API: gpt-4o-mini, 1000 in / 200 out, no cache: $0.00027 a request;
  // 1,000,000 requests = $270.00 a month.
  const ApiPrice& p = *shippedCatalog().findPrice("gpt-4o-mini");
  Route r = flatRoute(1'000'000, 1000, 200);
  Micros api = apiCost(p, r, r.requestsPerMonth).monthly;
  EXPECT_EQ(api, 270'000'000);
  // One H100 at $2.69/h all month: 730 × 2.69 = $1,963.70.
  Option o = rented(20, "2.69", false);
  BreakEven b = breakEven(o, r, Workload{}, api);
  ASSERT_TRUE(b.exists) << b.note;
  EXPECT_EQ(b.fleetMonthly, 1'963'700'000);
  // V* = 1,963.70 / 0.00027 = 7,272,962.96 requests a month.
  EXPECT_NEAR(b.requestsPerMonth, 7'272'962.963, 1e-3);
  // At V* the API bill equals the fleet's, to the cent.
  Micros atBreakEven = apiCost(p, r, b.requestsPerMonth).monthly;
  EXPECT_LE(std::abs(atBreakEven - b.fleetMonthly), 10'000);
  EXPECT_EQ(formatCents(atBreakEven), "$1,963.70");
  // Tokens/day: V* × 1,200 / (730/24) = 286,931,470; utilization V* / (20 × 3600 × 730).
  EXPECT_NEAR(b.tokensPerDay, 7'272'962.963 * 1200 / (730.0 / 24), 1);
  EXPECT_NEAR(b.utilization, 7'272'962.963 / (20.0 * 3600 * 730), 1e-9);
  // A replica too slow to ever match the API: never breaks even.
  Option slow = rented(0.5, "2.69", false);
  BreakEven never = breakEven(slow, r, Workload{}, api);
  EXPECT_FALSE(never.exists);
  EXPECT_NE(never.note.find("never breaks even"), std::string::npos) << never.note;
}

}  // namespace
}  // namespace arbitra::planner
