// Learned thresholds: a wrong answer always raises an entry's threshold above
// it; agreement lowers it, within bounds; the group threshold follows the
// error bound.
#include <gtest/gtest.h>

#include "cache/cache.h"

namespace arbitra::cache {
namespace {

TEST(ThresholdTest, StaticWhenLearningIsOff) {
  ThresholdPolicy p;
  p.learn = false;
  p.staticThreshold = 0.9;
  Evidence e;
  e.observe(0.95f, false);
  EXPECT_DOUBLE_EQ(entryThreshold(p, 0.5, e), 0.9);
  EXPECT_EQ(decide(p, 0.5, e, 0.89, 0.99).kind, Decision::Kind::Miss);  // no probes either
}

TEST(ThresholdTest, AWrongObservationRaisesTheEntryAboveIt) {
  ThresholdPolicy p;
  p.staticThreshold = 0.8;
  Evidence e;
  EXPECT_EQ(decide(p, 0.8, e, 0.85, 0.99).kind, Decision::Kind::Hit);
  e.observe(0.85f, false);
  auto d = decide(p, 0.8, e, 0.85, 0.99);
  EXPECT_NE(d.kind, Decision::Kind::Hit);
  EXPECT_GT(d.threshold, 0.85);
  // Even after many agreements below it.
  for (int i = 0; i < 10; ++i) e.observe(0.75f, true);
  EXPECT_GT(entryThreshold(p, 0.8, e), 0.85);
}

TEST(ThresholdTest, TwoAgreementsLowerTheEntryWithinTheGrayZone) {
  ThresholdPolicy p;
  p.staticThreshold = 0.8;
  p.grayWidth = 0.08;
  Evidence e;
  e.observe(0.76f, true);
  EXPECT_DOUBLE_EQ(entryThreshold(p, 0.8, e), 0.8);  // one is not enough
  e.observe(0.77f, true);
  EXPECT_NEAR(entryThreshold(p, 0.8, e), 0.77, 1e-6);
  Evidence far;
  far.observe(0.5f, true);
  far.observe(0.5f, true);
  EXPECT_NEAR(entryThreshold(p, 0.8, far), 0.72, 1e-9);  // no lower than base - gray
}

TEST(ThresholdTest, VerificationAndProbeDraws) {
  ThresholdPolicy p;
  p.staticThreshold = 0.8;
  p.verifyFraction = 0.1;
  Evidence e;
  EXPECT_EQ(decide(p, 0.8, e, 0.9, 0.05).kind, Decision::Kind::Verify);
  EXPECT_EQ(decide(p, 0.8, e, 0.9, 0.50).kind, Decision::Kind::Hit);
  EXPECT_EQ(decide(p, 0.8, e, 0.75, 0.5).kind, Decision::Kind::Probe);
  EXPECT_EQ(decide(p, 0.8, e, 0.60, 0.5).kind, Decision::Kind::Miss);
}

TEST(CalibratorTest, GoesBelowStaticOnlyWithEnoughEvidenceWithinTheBound) {
  ThresholdPolicy p;
  p.staticThreshold = 0.8;
  p.delta = 0.01;
  Calibrator c;
  EXPECT_DOUBLE_EQ(c.threshold(p), 0.8);  // no evidence
  // 600 agreeing observations spread over [0.70, 0.80): learned lower.
  for (int i = 0; i < 600; ++i) c.record(0.70 + 0.1 * (i % 100) / 100.0, true);
  double lowered = c.threshold(p);
  EXPECT_LT(lowered, 0.75);
  EXPECT_GE(lowered, 0.68);  // never below static - kMaxDrop, nor into unobserved similarity
  // Errors around 0.76 stop the walk above them.
  for (int i = 0; i < 30; ++i) c.record(0.755, false);
  double stopped = c.threshold(p);
  EXPECT_GT(stopped, 0.755);
  EXPECT_LE(stopped, 0.8);
  // Sparse evidence is not enough: 20 agreeing observations do not lower it.
  Calibrator sparse;
  for (int i = 0; i < 20; ++i) sparse.record(0.78, true);
  EXPECT_DOUBLE_EQ(sparse.threshold(p), 0.8);
  // Errors above the static threshold never raise the group (entries handle those).
  Calibrator above;
  for (int i = 0; i < 100; ++i) above.record(0.9, i % 2 == 0);
  EXPECT_DOUBLE_EQ(above.threshold(p), 0.8);
}

}  // namespace
}  // namespace arbitra::cache
