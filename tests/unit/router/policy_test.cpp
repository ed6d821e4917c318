// Each built-in policy's ranking, on candidates set up by hand.
#include <gtest/gtest.h>

#include <map>

#include "router/policy.h"

namespace arbitra::router {
namespace {

CandidateView candidate(int index, int64_t cost, double expectedMs, int64_t weight = 1) {
  CandidateView c;
  c.index = index;
  c.costPico = cost;
  c.expectedMs = expectedMs;
  c.ttftP90Ms = expectedMs;
  c.weight = weight;
  c.measured = true;
  return c;
}

class Policies : public ::testing::Test {
 protected:
  void SetUp() override { registerBuiltins(registry); }
  const Policy& get(const char* name) {
    const Policy* p = registry.find(name);
    EXPECT_NE(p, nullptr) << name;
    return *p;
  }
  PolicyRegistry registry;
};

TEST_F(Policies, RegisteredByName) {
  for (const char* name : {"cost", "latency", "balanced", "weighted", "priority", "cheapest-list", "round-robin"}) {
    ASSERT_NE(registry.find(name), nullptr) << name;
    EXPECT_EQ(registry.find(name)->name(), name);
  }
  EXPECT_EQ(registry.find("cheapest"), nullptr);
}

TEST_F(Policies, CostPrefersTheCheaperAndBreaksTiesOnSpeed) {
  const Policy& p = get("cost");
  PolicyContext ctx;
  EXPECT_LT(p.score(candidate(1, 1000, 900), ctx), p.score(candidate(0, 1001, 100), ctx));
  EXPECT_LT(p.score(candidate(1, 1000, 100), ctx), p.score(candidate(0, 1000, 900), ctx));
}

TEST_F(Policies, LatencyIgnoresCost) {
  const Policy& p = get("latency");
  PolicyContext ctx;
  EXPECT_LT(p.score(candidate(0, 1'000'000, 100), ctx), p.score(candidate(1, 1, 101), ctx));
}

TEST_F(Policies, BalancedTradesDollarsForSecondsAtTheConfiguredRate) {
  const Policy& p = get("balanced");
  // A: $0.001 and 3 s; B: $0.002 and 1 s. B saves 2 s for $0.001.
  auto a = candidate(0, 1'000'000'000, 3000);
  auto b = candidate(1, 2'000'000'000, 1000);
  PolicyContext cheapTime;
  cheapTime.microDollarsPerSecond = 100;  // a second is worth $0.0001: not worth $0.001 for 2 s
  EXPECT_LT(p.score(a, cheapTime), p.score(b, cheapTime));
  PolicyContext dearTime;
  dearTime.microDollarsPerSecond = 1000;  // $0.001 a second: 2 s are worth $0.002 > $0.001
  EXPECT_LT(p.score(b, dearTime), p.score(a, dearTime));
}

TEST_F(Policies, WeightedDrawsInProportionToWeights) {
  const Policy& p = get("weighted");
  std::map<int, int> wins;
  const int kDraws = 20000;
  for (int i = 0; i < kDraws; ++i) {
    PolicyContext ctx;
    ctx.random = 0x1234567ULL * static_cast<uint64_t>(i + 1);
    double best = 1e300;
    int winner = -1;
    for (int index = 0; index < 3; ++index) {
      double s = p.score(candidate(index, 0, 0, index + 1), ctx);  // weights 1, 2, 3
      if (s < best) best = s, winner = index;
    }
    wins[winner]++;
  }
  EXPECT_NEAR(wins[0] / double(kDraws), 1 / 6.0, 0.02);
  EXPECT_NEAR(wins[1] / double(kDraws), 2 / 6.0, 0.02);
  EXPECT_NEAR(wins[2] / double(kDraws), 3 / 6.0, 0.02);
  PolicyContext ctx;
  EXPECT_GT(p.score(candidate(0, 0, 0, 0), ctx), 1e100) << "weight 0 never wins";
}

TEST_F(Policies, PriorityIsConfigOrder) {
  const Policy& p = get("priority");
  PolicyContext ctx;
  EXPECT_LT(p.score(candidate(0, 9'999, 9'999), ctx), p.score(candidate(1, 1, 1), ctx));
}

TEST_F(Policies, RoundRobinTakesTurns) {
  const Policy& p = get("round-robin");
  for (uint64_t seq = 0; seq < 6; ++seq) {
    PolicyContext ctx;
    ctx.sequence = seq;
    ctx.groupSize = 3;
    int winner = -1;
    double best = 1e300;
    for (int index = 0; index < 3; ++index) {
      double s = p.score(candidate(index, 0, 0), ctx);
      if (s < best) best = s, winner = index;
    }
    EXPECT_EQ(winner, static_cast<int>(seq % 3));
  }
  EXPECT_FALSE(p.usesMeasurements());
}

TEST_F(Policies, CheapestListIsABaselineBlindToMeasurements) {
  const Policy& p = get("cheapest-list");
  PolicyContext ctx;
  EXPECT_FALSE(p.usesMeasurements());
  EXPECT_LT(p.score(candidate(0, 10, 99'999), ctx), p.score(candidate(1, 11, 1), ctx));
}

}  // namespace
}  // namespace arbitra::router
