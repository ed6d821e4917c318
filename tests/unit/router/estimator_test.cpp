// The live estimators and health of one deployment: quantiles from samples,
// reaction to a slowdown, breaker states with half-open probes, 429
// cool-downs, and the RPM/TPM window.
#include <gtest/gtest.h>

#include <cmath>

#include "router/estimator.h"

namespace arbitra::router {
namespace {

constexpr int64_t kSecond = 1'000'000;

TEST(LogEwma, QuantilesOfASteadyLogNormalStream) {
  LogEwma estimate;
  // Alternating 100 and 400 ms: log-mean at 200 ms, log-sigma ln(2).
  for (int i = 0; i < 2000; ++i) estimate.add(i % 2 ? 400 : 100, i * 10'000);
  EXPECT_NEAR(estimate.quantile(0), 200, 20);
  double sigma = std::log(2.0);
  EXPECT_NEAR(estimate.quantile(kZ90), 200 * std::exp(kZ90 * sigma), 60);
  EXPECT_GT(estimate.quantile(kZ95), estimate.quantile(kZ90));
}

TEST(LogEwma, ASlowdownShowsWithinAFewSamples) {
  LogEwma estimate;
  for (int i = 0; i < 200; ++i) estimate.add(300, i * 50'000);
  EXPECT_LT(estimate.quantile(kZ90), 400);
  int64_t t = 200 * 50'000;
  int samples = 0;
  while (estimate.quantile(kZ90) < 1000) {  // the bar a 300 ms deployment met
    estimate.add(2000, t += 50'000);
    ++samples;
    ASSERT_LT(samples, 50);
  }
  EXPECT_LE(samples, 10) << "p90 crossed a 1 s bar after " << samples << " slow samples at 20/s";
}

TEST(LogEwma, ALoneSampleAfterSilenceNearlyReplacesTheEstimate) {
  LogEwma estimate;
  for (int i = 0; i < 100; ++i) estimate.add(3000, i * 10'000);
  estimate.add(300, 100 * 10'000 + 60 * kSecond);  // a probe a minute later
  EXPECT_LT(estimate.quantile(0), 500);
}

TEST(MinuteWindow, CountsSlideOut) {
  MinuteWindow window;
  for (int i = 0; i < 60; ++i) window.add(1, i * kSecond);
  EXPECT_EQ(window.used(59 * kSecond), 60);
  EXPECT_LT(window.used(90 * kSecond), 40);  // half of the last minute still counts
  EXPECT_EQ(window.used(200 * kSecond), 0);
}

TEST(DeploymentState, BreakerOpensHalfOpensWithOneProbeAndCloses) {
  DeploymentState state;
  state.setBreakerSettings({3, 5 * kSecond, 60 * kSecond});
  int64_t t = 0;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(state.begin(10, t));
    state.fail(Failure::Server, std::nullopt, t);
  }
  EXPECT_EQ(state.breaker(t), Breaker::Open);
  int64_t ready = 0;
  EXPECT_FALSE(state.available(t + kSecond, 10, 0, 0, &ready));
  EXPECT_EQ(ready, 5 * kSecond);
  // After the open period: half-open, exactly one probe admitted.
  t = 5 * kSecond;
  EXPECT_EQ(state.breaker(t), Breaker::HalfOpen);
  EXPECT_TRUE(state.available(t, 10, 0, 0));
  EXPECT_TRUE(state.begin(10, t));
  EXPECT_FALSE(state.begin(10, t)) << "a second request while the probe is out";
  EXPECT_TRUE(state.begin(10, t, true)) << "unless nothing else is left: never a lock-out";
  state.cancel();
  // The probe fails: open again, for twice as long.
  state.fail(Failure::Server, std::nullopt, t);
  EXPECT_EQ(state.breaker(t + 9 * kSecond), Breaker::Open);
  EXPECT_EQ(state.breaker(t + 10 * kSecond), Breaker::HalfOpen);
  // The next probe succeeds: closed, and in-flight back to zero.
  t += 10 * kSecond;
  ASSERT_TRUE(state.begin(10, t));
  state.firstToken(200, t);
  state.finish(20, 400, t);
  EXPECT_EQ(state.breaker(t), Breaker::Closed);
  EXPECT_EQ(state.inFlight(), 0);
  EXPECT_TRUE(state.begin(10, t));
  EXPECT_TRUE(state.begin(10, t));
}

TEST(DeploymentState, RateLimitsAreACoolDownNotAHealthFault) {
  DeploymentState state;
  state.setBreakerSettings({1, 5 * kSecond, 60 * kSecond});
  ASSERT_TRUE(state.begin(10, 0));
  state.fail(Failure::RateLimited, 7, 0);
  EXPECT_EQ(state.breaker(0), Breaker::Closed);
  EXPECT_EQ(state.errorRate(), 0);
  int64_t ready = 0;
  EXPECT_FALSE(state.available(6 * kSecond, 10, 0, 0, &ready));
  EXPECT_EQ(ready, 7 * kSecond) << "Retry-After: 7 honoured";
  EXPECT_TRUE(state.available(7 * kSecond, 10, 0, 0));
  // Client errors change nothing.
  ASSERT_TRUE(state.begin(10, 8 * kSecond));
  state.fail(Failure::Client, std::nullopt, 8 * kSecond);
  EXPECT_EQ(state.breaker(8 * kSecond), Breaker::Closed);
  EXPECT_EQ(state.inFlight(), 0);
}

TEST(DeploymentState, RpmAndTpmLimitsMakeItUnavailable) {
  DeploymentState state;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(state.begin(100, i * 100'000));
    state.cancel();
  }
  EXPECT_FALSE(state.available(kSecond, 100, 10, 0)) << "10 requests this minute, rpm 10";
  EXPECT_TRUE(state.available(kSecond, 100, 11, 0));
  EXPECT_FALSE(state.available(kSecond, 100, 0, 1000)) << "1,000 tokens used, tpm 1,000";
  EXPECT_FALSE(state.available(kSecond, 100, 0, 1100)) << "5% headroom: 1,045 usable";
  EXPECT_TRUE(state.available(kSecond, 100, 0, 1200));
  EXPECT_TRUE(state.available(125 * kSecond, 100, 10, 1000)) << "the window slid past them";
}

TEST(DeploymentState, RpmKeepsFivePercentHeadroom) {
  DeploymentState state;
  for (int i = 0; i < 95; ++i) {
    ASSERT_TRUE(state.begin(1, i * 1000));
    state.cancel();
  }
  EXPECT_FALSE(state.available(kSecond, 1, 100, 0)) << "95 of rpm 100 used";
  EXPECT_TRUE(state.available(kSecond, 1, 101, 0));
}

TEST(DeploymentState, ErrorRateAndThroughputArePublished) {
  DeploymentState state;
  EXPECT_FALSE(state.measured());
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(state.begin(10, i * 100'000));
    state.firstToken(250, i * 100'000);
    state.finish(101, 2000, i * 100'000);  // 100 tokens after the first in 2 s: 50/s
  }
  EXPECT_TRUE(state.measured());
  EXPECT_NEAR(state.tokensPerSecond(), 50, 5);
  EXPECT_NEAR(state.ttftP90Ms(), 250 * std::exp(kZ90 * 0.05), 5);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(state.begin(10, 6 * kSecond));
    state.fail(Failure::Server, std::nullopt, 6 * kSecond);
  }
  EXPECT_GT(state.errorRate(), 0.5);
}

}  // namespace
}  // namespace arbitra::router
