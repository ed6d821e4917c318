// Hand-worked cases for the throughput model (the numbers are worked in the
// comments, so a change to the model shows up as a changed hand calculation).
#include <gtest/gtest.h>

#include "planner/money.h"
#include "planner/throughput.h"
#include "planner_test_util.h"

namespace arbitra::planner {
namespace {

using testing::shippedCatalog;

// Round factors for hand-working the formulas (the calibrated ones are tested
// against published figures in calibration_test.cpp).
Efficiency roundFactors() {
  Efficiency e;
  e.bandwidth = 0.80;
  e.decodeCompute = 0.50;
  e.prefillCompute = 0.60;
  e.calibrated = false;
  return e;
}

struct Fixture {
  const Hardware& hw(const char* id) { return *shippedCatalog().findHardware(id); }
  const ModelShape& model(const char* id) { return *shippedCatalog().findModel(id); }
  const Quantization& quant(const char* id) { return *shippedCatalog().findQuantization(id); }
};

TEST(Throughput, BandwidthBoundDecode8BF16OnH100) {
  Fixture f;
  Efficiency eff = roundFactors();
  auto d = deviceBudget(f.hw("h100-sxm"), 1, f.quant("F16"), eff);
  ASSERT_TRUE(d);
  // Weights: 8.03e9 params × 2 bytes = 16.06 GB. Bandwidth 3,350 GB/s × 0.80 = 2,680 GB/s.
  EXPECT_DOUBLE_EQ(weightBytes(f.model("llama-3.1-8b"), f.quant("F16")), 16.06e9);
  // Step at batch 1 with no KV: 16.06e9 / 2.68e12 = 5.9925 ms -> 166.87 tokens/s.
  // Compute would allow 2 × 8.03e9 / (989.4e12 × 0.5) = 0.032 ms: bandwidth-bound.
  double step = decodeStepSeconds(*d, f.model("llama-3.1-8b"), f.quant("F16"), 1, 0);
  EXPECT_NEAR(step * 1000, 5.99254, 1e-4);
  double tps = decodeTokensPerS(*d, f.model("llama-3.1-8b"), f.quant("F16"), 1, 0);
  EXPECT_NEAR(tps, 166.874, 1e-3);
  // One stream on a $2.69/h H100: 2.69 / (166.874 × 3600 / 1e6) = $4.4778 per million tokens.
  Micros perMillion = microsFromDouble(2.69 / (tps * 3600 / 1e6));
  EXPECT_EQ(formatCents(perMillion), "$4.48");
  // Q4_K_M: 8.03e9 × 4.89 / 8 = 4.908e9 bytes -> 546.0 tokens/s, 3.27× F16.
  double q4 = decodeTokensPerS(*d, f.model("llama-3.1-8b"), f.quant("Q4_K_M"), 1, 0);
  EXPECT_NEAR(q4, 2.68e12 / (8.03e9 * 4.89 / 8), 1e-6);
  EXPECT_NEAR(q4 / tps, 16.0 / 4.89, 1e-9);
}

TEST(Throughput, KvBytesAddToTheStep) {
  Fixture f;
  auto d = deviceBudget(f.hw("h100-sxm"), 1, f.quant("F16"), roundFactors());
  // Llama-3.1-8B KV per token: 2 × 32 layers × 8 kv heads × 128 × 2 bytes = 131,072.
  EXPECT_DOUBLE_EQ(kvBytesPerToken(f.model("llama-3.1-8b")), 131072.0);
  // Batch 8 at 1,000 tokens of context: 16.06e9 + 8 × 1000 × 131072 = 17.1086e9 bytes
  // / 2.68e12 = 6.38381 ms per step; 8 / step = 1,253.2 tokens/s aggregate.
  double step = decodeStepSeconds(*d, f.model("llama-3.1-8b"), f.quant("F16"), 8, 1000);
  EXPECT_NEAR(step * 1000, (16.06e9 + 8 * 1000 * 131072.0) / 2.68e12 * 1000, 1e-9);
  EXPECT_NEAR(step * 1000, 6.383806, 1e-5);
}

TEST(Throughput, ComputeBoundDecodeAtLargeBatch) {
  Fixture f;
  auto d = deviceBudget(f.hw("h100-sxm"), 1, f.quant("FP8"), roundFactors());
  ASSERT_TRUE(d);
  // FP8: weights 8.03 GB -> bandwidth time 8.03e9 / 2.68e12 = 2.996 ms.
  // Compute at batch 256: 2 × 8.03e9 × 256 / (1978.9e12 × 0.5) = 4.1552 ms: compute-bound.
  double step = decodeStepSeconds(*d, f.model("llama-3.1-8b"), f.quant("FP8"), 256, 0);
  EXPECT_NEAR(step * 1000, 2 * 8.03e9 * 256 / (1978.9e12 * 0.5) * 1000, 1e-9);
  EXPECT_NEAR(step * 1000, 4.15520, 1e-4);
  // A GPU without FP8 has no FP8 budget.
  EXPECT_FALSE(deviceBudget(f.hw("a100-80gb"), 1, f.quant("FP8"), roundFactors()));
}

TEST(Throughput, ComputeBoundPrefill) {
  Fixture f;
  auto d = deviceBudget(f.hw("h100-sxm"), 1, f.quant("F16"), roundFactors());
  // 2,000 prompt tokens: 2 × 8.03e9 × 2000 / (989.4e12 × 0.60) = 54.1069 ms.
  double s = prefillSeconds(*d, f.model("llama-3.1-8b"), 2000);
  EXPECT_NEAR(s * 1000, 54.1069, 1e-3);
  // Mixtral computes with its active parameters (12.9e9), not all 46.7e9.
  double mix = prefillSeconds(*d, f.model("mixtral-8x7b"), 2000);
  EXPECT_NEAR(mix / s, 12.9 / 8.03, 1e-9);
}

TEST(Throughput, KvLimitedBatch) {
  Fixture f;
  Efficiency eff = roundFactors();
  // Llama-2-13B is multi-head (40 KV heads): 2 × 40 × 40 × 128 × 2 = 819,200 bytes per token.
  EXPECT_DOUBLE_EQ(kvBytesPerToken(f.model("llama-2-13b")), 819200.0);
  // H100 80 GiB × 0.9 = 77,309,411,328 bytes; − 26.0e9 weights (F16) = 51,309,411,328 free;
  // one stream at 4,096 tokens = 3,355,443,200 bytes -> 15 streams.
  auto h100 = deviceBudget(f.hw("h100-sxm"), 1, f.quant("F16"), eff);
  EXPECT_EQ(maxBatchByMemory(*h100, f.model("llama-2-13b"), f.quant("F16"), 4096, eff), 15);
  // Llama-3.1-8B F16 on an L4: 24 GiB × 0.9 = 23,192,823,398 − 16.06e9 = 7,132,823,398 free;
  // 4,096 × 131,072 = 536,870,912 per stream -> 13 streams.
  auto l4 = deviceBudget(f.hw("l4"), 1, f.quant("F16"), eff);
  EXPECT_EQ(maxBatchByMemory(*l4, f.model("llama-3.1-8b"), f.quant("F16"), 4096, eff), 13);
  // 70B F16 (141.2 GB) does not fit one H100 at all.
  EXPECT_EQ(maxBatchByMemory(*h100, f.model("llama-3.1-70b"), f.quant("F16"), 4096, eff), 0);
}

TEST(Throughput, SizeReplicaMeetsTheBarAtTheLargestBatch) {
  Fixture f;
  Efficiency eff = roundFactors();
  auto d = deviceBudget(f.hw("h100-sxm"), 1, f.quant("F16"), eff);
  ServingShape s{1000, 2000, 200, 500, 1000, 30};
  ReplicaPerf p = sizeReplica(*d, 1, f.model("llama-3.1-8b"), f.quant("F16"), s, eff);
  ASSERT_TRUE(p.meetsBar) << p.whyNot;
  EXPECT_GE(p.perStreamTokensPerS, 30.0);
  EXPECT_LE(p.ttftMs, 1000.0);
  EXPECT_LE(p.batch, std::min(p.memoryBatch, eff.maxBatch));
  // A stricter bar gives a smaller batch.
  ServingShape strict = s;
  strict.minTokensPerS = 100;
  ReplicaPerf q = sizeReplica(*d, 1, f.model("llama-3.1-8b"), f.quant("F16"), strict, eff);
  ASSERT_TRUE(q.meetsBar) << q.whyNot;
  EXPECT_LT(q.batch, p.batch);
  EXPECT_GE(q.perStreamTokensPerS, 100.0);
  // An impossible per-stream bar: batch 1 gives ~165 tokens/s at most.
  ServingShape fast = s;
  fast.minTokensPerS = 500;
  ReplicaPerf r = sizeReplica(*d, 1, f.model("llama-3.1-8b"), f.quant("F16"), fast, eff);
  EXPECT_FALSE(r.meetsBar);
  EXPECT_NE(r.whyNot.find("tokens/s per stream"), std::string::npos) << r.whyNot;
}

TEST(Throughput, MeasuredThroughputOverridesTheModel) {
  Fixture f;
  Efficiency eff = roundFactors();
  auto d = deviceBudget(f.hw("h100-sxm"), 1, f.quant("F16"), eff);
  ServingShape s{1000, 2000, 200, 500, 5000, 10};
  Measurement m{16, 800.0, 10000.0, "test"};
  ReplicaPerf p = sizeReplica(*d, 1, f.model("llama-3.1-8b"), f.quant("F16"), s, eff, &m);
  EXPECT_TRUE(p.measured);
  EXPECT_EQ(p.batch, 16);
  EXPECT_DOUBLE_EQ(p.aggregateTokensPerS, 800.0);
  // Per request: 1000 / 10000 s prefill + 200 / 800 s decode = 0.35 s -> 2.857 requests/s.
  EXPECT_NEAR(p.requestsPerS, 1 / 0.35, 1e-9);
}

}  // namespace
}  // namespace arbitra::planner
