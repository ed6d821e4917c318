// Router decisions: expected cost from the request's tokens, bars, fallbacks
// (health, context windows, other groups), probes, hedging, overrides, and
// start-up errors.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "router/router.h"
#include "router_test_util.h"

namespace arbitra::router {
namespace {

using testing::D;
using testing::facts;
using testing::group;
using testing::serve;

constexpr int64_t kSecond = 1'000'000;

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override { registerBuiltins(registry); }
  std::unique_ptr<Router> make(std::vector<config::ModelConfig> models) {
    return std::make_unique<Router>(models, registry, "r.yaml");
  }
  std::string first(Router& router, const Plan& plan) { return router.info(plan.order.front().deployment).provider; }
  PolicyRegistry registry;
};

TEST_F(RouterTest, ExpectedCostUsesTheRequestsTokensExactly) {
  auto router = make({group("m", {{"a", 100'000, 280'000}, {"b", 230'000, 400'000}})});
  Plan plan;
  ASSERT_FALSE(router->plan(0, facts(1000, 50), 0, plan));
  // 1,000 input x 100,000 pico + min(256 default, 50) output x 280,000 pico.
  EXPECT_EQ(plan.expectedOutputTokens, 50);
  EXPECT_EQ(plan.order[0].costPico, 1000 * 100'000 + 50 * 280'000);
  EXPECT_EQ(first(*router, plan), "a");
  EXPECT_EQ(plan.reason, "cheapest meeting the bar");
}

TEST_F(RouterTest, OutputEstimateLearnsFromHistory) {
  auto router = make({group("m", {{"a", 1, 1}})});
  for (int i = 0; i < 500; ++i) {
    router->begin(0, 10, i);
    router->firstToken(0, 100, i);
    router->finish(0, 0, 40, 100, i);
  }
  Plan plan;
  ASSERT_FALSE(router->plan(0, facts(10, 1000), 0, plan));
  EXPECT_NEAR(plan.expectedOutputTokens, 40, 2);
}

TEST_F(RouterTest, CostSkipsTheCheapOneWhoseP90MissesTheBarAndComesBackAfterAProbe) {
  auto router = make({group("m", {{"cheap", 100'000, 100'000}, {"dear", 500'000, 500'000}})});
  int64_t t = 10 * kSecond;
  serve(*router, 0, 0, 3000, 50, 20, t);  // cheap: 3 s to first token
  serve(*router, 0, 1, 300, 50, 20, t);
  Plan plan;
  Bars bars;
  bars.maxTtftMs = 1000;
  ASSERT_FALSE(router->plan(0, facts(500, 100, bars), t, plan));
  EXPECT_EQ(first(*router, plan), "dear");
  EXPECT_FALSE(plan.order[1].eligible);
  // Without a bar the cheap one wins.
  ASSERT_FALSE(router->plan(0, facts(500, 100), t, plan));
  EXPECT_EQ(first(*router, plan), "cheap");
  // 20 s later the cheap one's estimate is stale: one request probes it...
  t += 20 * kSecond;
  serve(*router, 0, 1, 300, 50, 5, t);
  ASSERT_FALSE(router->plan(0, facts(500, 100, bars), t, plan));
  EXPECT_EQ(first(*router, plan), "cheap");
  EXPECT_TRUE(plan.order[0].probe);
  // ...and only one.
  ASSERT_FALSE(router->plan(0, facts(500, 100, bars), t, plan));
  EXPECT_EQ(first(*router, plan), "dear");
  // The probe finds it fast again: it wins on its own.
  serve(*router, 0, 0, 200, 50, 1, t + 1);
  ASSERT_FALSE(router->plan(0, facts(500, 100, bars), t + 2, plan));
  EXPECT_EQ(first(*router, plan), "cheap");
  EXPECT_FALSE(plan.order[0].probe);
}

TEST_F(RouterTest, DeferredRequestsDropTheLatencyBarsButKeepThePriceBar) {
  auto m = group("m", {{"cheap", 100'000, 100'000}, {"dear", 500'000, 500'000}});
  m.routing.maxTtftMs = 1000;
  auto router = make({m});
  serve(*router, 0, 0, 3000, 50, 20, kSecond);
  serve(*router, 0, 1, 300, 50, 20, kSecond);
  Plan plan;
  ASSERT_FALSE(router->plan(0, facts(500, 100), kSecond, plan));
  EXPECT_EQ(first(*router, plan), "dear") << "the group's 1 s bar";
  auto f = facts(500, 100);
  f.deferred = true;
  ASSERT_FALSE(router->plan(0, f, kSecond, plan));
  EXPECT_EQ(first(*router, plan), "cheap");
  f.bars.maxPricePerMillion = 50'000;
  ASSERT_FALSE(router->plan(0, f, kSecond, plan));
  EXPECT_FALSE(plan.order[0].eligible) << "a price bar still holds";
}

TEST_F(RouterTest, TokensPerSecondAndPriceBars) {
  auto router = make({group("m", {{"slowgen", 100'000, 100'000}, {"fastgen", 300'000, 300'000}})});
  serve(*router, 0, 0, 200, 10, 20, kSecond);
  serve(*router, 0, 1, 200, 100, 20, kSecond);
  Plan plan;
  Bars bars;
  bars.minTokensPerSecond = 20;
  ASSERT_FALSE(router->plan(0, facts(100, 100, bars), kSecond, plan));
  EXPECT_EQ(first(*router, plan), "fastgen");
  Bars price;
  price.maxPricePerMillion = 200'000;  // $0.20 per million: only slowgen
  ASSERT_FALSE(router->plan(0, facts(100, 100, price), kSecond, plan));
  EXPECT_EQ(first(*router, plan), "slowgen");
  EXPECT_FALSE(plan.order[1].eligible);
}

TEST_F(RouterTest, WhenNoneMeetsTheBarTheFastestGoesFirst) {
  auto router = make({group("m", {{"a", 1, 1}, {"b", 2, 2}, {"c", 3, 3}})});
  serve(*router, 0, 0, 5000, 50, 20, kSecond);
  serve(*router, 0, 1, 2000, 50, 20, kSecond);
  serve(*router, 0, 2, 4000, 50, 20, kSecond);
  Plan plan;
  Bars bars;
  bars.maxTtftMs = 500;
  ASSERT_FALSE(router->plan(0, facts(100, 100, bars), kSecond, plan));
  EXPECT_EQ(first(*router, plan), "b");
  EXPECT_EQ(plan.reason, "none met the bar: fastest predicted");
  EXPECT_EQ(plan.order.size(), 3u) << "all stay as fallbacks";
}

TEST_F(RouterTest, LatencyPolicyAndPerRequestOverride) {
  auto router = make({group("m", {{"cheap", 1, 1}, {"quick", 9, 9}})});
  serve(*router, 0, 0, 800, 50, 20, kSecond);
  serve(*router, 0, 1, 100, 50, 20, kSecond);
  Plan plan;
  ASSERT_FALSE(router->plan(0, facts(100, 100), kSecond, plan));
  EXPECT_EQ(first(*router, plan), "cheap");
  auto f = facts(100, 100);
  f.policy = "latency";
  ASSERT_FALSE(router->plan(0, f, kSecond, plan));
  EXPECT_EQ(first(*router, plan), "quick");
  EXPECT_EQ(plan.policy->name(), "latency");
  f.policy = "nope";
  auto error = router->plan(0, f, kSecond, plan);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->kind, core::ErrorKind::InvalidRequest);
  EXPECT_NE(error->message.find("cost, latency"), std::string::npos) << error->message;
}

TEST_F(RouterTest, OpenBreakersAndCoolDownsGoLastButNeverLockOut) {
  auto m = group("m", {{"a", 1, 1}, {"b", 2, 2}});
  m.routing.breakerFailures = 2;
  auto router = make({m});
  for (int i = 0; i < 2; ++i) {
    router->begin(0, 10, 0);
    router->fail(0, Failure::Server, std::nullopt, 0);
  }
  Plan plan;
  ASSERT_FALSE(router->plan(0, facts(10), kSecond, plan));
  EXPECT_EQ(first(*router, plan), "b");
  EXPECT_FALSE(plan.order[1].available);
  // b answers 429 with Retry-After 30: both unavailable, the soonest ready first.
  router->begin(1, 10, kSecond);
  router->fail(1, Failure::RateLimited, 30, kSecond);
  ASSERT_FALSE(router->plan(0, facts(10), 2 * kSecond, plan));
  ASSERT_EQ(plan.order.size(), 2u);
  EXPECT_EQ(first(*router, plan), "a") << "a's breaker half-opens at 5 s, b is cooling until 31 s";
  // After a's open period: a is the half-open probe, ranked first again.
  ASSERT_FALSE(router->plan(0, facts(10), 6 * kSecond, plan));
  EXPECT_EQ(first(*router, plan), "a");
  EXPECT_TRUE(plan.order[0].available);
}

TEST_F(RouterTest, ContextOverflowFallsBackToTheLongerContextGroup) {
  auto shortGroup = group("short", {{"s", 1, 1, 8192}});
  shortGroup.routing.fallbacks = {"long"};
  auto router = make({shortGroup, group("long", {{"l", 5, 5, 128000}})});
  Plan plan;
  ASSERT_FALSE(router->plan(0, facts(1000, 500), 0, plan));
  ASSERT_EQ(plan.order.size(), 2u);
  EXPECT_EQ(first(*router, plan), "s");
  EXPECT_TRUE(plan.order[1].fallback);
  ASSERT_FALSE(router->plan(0, facts(9000, 500), 0, plan));
  ASSERT_EQ(plan.order.size(), 1u);
  EXPECT_EQ(first(*router, plan), "l");
  EXPECT_EQ(plan.contextSkipped, 1);
  EXPECT_EQ(plan.reason, "no deployment of the group fits the request: fallback group");
  auto error = router->plan(0, facts(200000, 500), 0, plan);
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("context window"), std::string::npos);
}

TEST_F(RouterTest, HedgeAfterThePredictedP95) {
  auto m = group("m", {{"a", 1, 1}, {"b", 2, 2}});
  m.routing.hedge = true;
  auto router = make({m});
  Plan plan;
  ASSERT_FALSE(router->plan(0, facts(10), 0, plan));
  EXPECT_EQ(plan.hedgeAfterMs, 0) << "not measured yet: no hedge";
  serve(*router, 0, 0, 400, 50, 30, kSecond);
  ASSERT_FALSE(router->plan(0, facts(10), kSecond, plan));
  EXPECT_NEAR(plan.hedgeAfterMs, router->state(0).ttftP95Ms(), 1e-9);
  EXPECT_GT(plan.hedgeAfterMs, 400);
}

TEST_F(RouterTest, BackoffIsJitteredAndCapped) {
  auto m = group("m", {{"a", 1, 1}});
  m.routing.backoffMs = 100;
  m.routing.maxBackoffMs = 1000;
  auto router = make({m});
  int64_t largest = 0;
  for (uint64_t r = 1; r < 2000; ++r) {
    int64_t first = router->backoffUs(0, 1, r * 7919);
    EXPECT_LT(first, 100'000);
    int64_t later = router->backoffUs(0, 8, r * 7919);
    EXPECT_LT(later, 1'000'000);
    largest = std::max(largest, later);
  }
  EXPECT_GT(largest, 500'000) << "the cap, not the base, bounds later retries";
}

TEST_F(RouterTest, WeightedAndRoundRobinSpreadTraffic) {
  auto router = make({group("m", {{"a", 1, 1, 0, 3}, {"b", 1, 1, 0, 1}}, "weighted")});
  int a = 0;
  Plan plan;
  for (uint64_t i = 0; i < 4000; ++i) {
    auto f = facts(10);
    f.random = i * 0x9e3779b97f4a7c15ULL + 1;
    ASSERT_FALSE(router->plan(0, f, 0, plan));
    if (first(*router, plan) == "a") a++;
  }
  EXPECT_NEAR(a / 4000.0, 0.75, 0.03);
  auto rr = make({group("m", {{"a", 1, 1}, {"b", 1, 1}, {"c", 1, 1}}, "round-robin")});
  std::string seen;
  for (int i = 0; i < 6; ++i) {
    ASSERT_FALSE(rr->plan(0, facts(10), 0, plan));
    seen += first(*rr, plan);
  }
  EXPECT_EQ(seen, "abcabc");
}

TEST_F(RouterTest, UnknownPolicyInConfigIsAFileLineError) {
  auto m = group("m", {{"a", 1, 1}}, "fastest");
  m.routing.policyLine = 12;
  try {
    make({m});
    FAIL() << "accepted an unknown policy";
  } catch (const config::ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("r.yaml:12: routing.policy of model 'm' is not a known policy", 0), 0u)
        << e.what();
  }
}

TEST_F(RouterTest, ExplainNamesDeploymentPolicyAndReason) {
  auto router = make({group("m", {{"a", 100'000, 100'000}})});
  Plan plan;
  ASSERT_FALSE(router->plan(0, facts(1000, 100), 0, plan));
  EXPECT_EQ(router->explain(plan, 0), "a/m; policy=cost; cheapest meeting the bar; expected=$0.000110; p90_ttft=0ms");
}

TEST_F(RouterTest, PriceChangesApplyToTheNextPlan) {
  auto router = make({group("m", {{"a", 100, 100}, {"b", 200, 200}})});
  Plan plan;
  ASSERT_FALSE(router->plan(0, facts(1000, 100), 0, plan));
  EXPECT_EQ(first(*router, plan), "a");
  router->setPrice(0, 300, 300);
  ASSERT_FALSE(router->plan(0, facts(1000, 100), 0, plan));
  EXPECT_EQ(first(*router, plan), "b");
}

}  // namespace
}  // namespace arbitra::router

namespace arbitra::router {
namespace {

// Decisions and feedback from several threads at once: counts stay exact
// (every begin is matched by one outcome) and estimates stay sane.
TEST(RouterThreads, ConcurrentPlansAndFeedback) {
  PolicyRegistry registry;
  registerBuiltins(registry);
  std::vector<config::ModelConfig> models = {testing::group("m", {{"a", 1, 1}, {"b", 2, 2}, {"c", 3, 3}, {"d", 4, 4}})};
  Router router(models, registry, "r.yaml");
  std::vector<std::thread> threads;
  std::atomic<int64_t> served{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Plan plan;
      for (int i = 0; i < 20000; ++i) {
        int64_t now = static_cast<int64_t>(i) * 1000;
        auto f = testing::facts(100, 50);
        f.random = static_cast<uint64_t>(t * 1'000'003 + i);
        ASSERT_FALSE(router.plan(0, f, now, plan));
        int id = plan.order.front().deployment;
        if (!router.begin(id, 150, now)) continue;
        if ((i + t) % 17 == 0) {
          router.fail(id, Failure::Server, std::nullopt, now);
        } else {
          router.firstToken(id, 100.0 + id * 10, now);
          router.finish(0, id, 50, 500, now);
          served++;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_GT(served.load(), 60000);
  for (int id = 0; id < 4; ++id) {
    EXPECT_EQ(router.state(id).inFlight(), 0) << id;
    double p90 = router.state(id).ttftP90Ms();
    EXPECT_TRUE(p90 == 0 || (p90 > 50 && p90 < 500)) << id << " " << p90;
  }
}

}  // namespace
}  // namespace arbitra::router
