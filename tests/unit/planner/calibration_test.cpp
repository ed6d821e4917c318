// The calibrated throughput model against published figures: every figure's
// prediction within ±25% (but one that a measurement here contradicts, which
// is checked against that measurement) (a behaviour test of the model: the figures are
// fixed facts, so a change to the model or the catalog that moves a
// prediction out of range fails here), the shipped factors equal to what the
// fit gives, and the parts of the model the calibration relies on.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "planner/calibration.h"
#include "planner/throughput.h"
#include "planner_test_util.h"

namespace arbitra::planner {
namespace {

using testing::shippedCatalog;

const PublishedFigure& figure(const std::string& id) {
  for (const auto& f : publishedFigures())
    if (f.id == id) return f;
  ADD_FAILURE() << "no figure " << id;
  return publishedFigures().front();
}

TEST(Calibration, EveryPublishedFigureWithin25Percent) {
  Efficiency shipped;
  ASSERT_GE(publishedFigures().size(), 7u);
  for (const auto& f : publishedFigures()) {
    double p = predictTokensPerS(shippedCatalog(), f, shipped);
    ASSERT_GT(p, 0) << f.id;
    if (f.measuredHere > 0) {
      // A figure the same setup measured here contradicts: the prediction
      // follows the measurement, and the figure is out (else drop the flag).
      EXPECT_FALSE(f.measuredHow.empty()) << f.id;
      EXPECT_NEAR(p / f.measuredHere, 1.0, 0.25) << f.id << ": predicted " << p << ", measured " << f.measuredHere;
      EXPECT_GT(std::abs(p / f.tokensPerS - 1.0), 0.25) << f.id << " is within ±25% again: clear measuredHere";
      continue;
    }
    EXPECT_NEAR(p / f.tokensPerS, 1.0, 0.25) << f.id << ": predicted " << p << ", published " << f.tokensPerS;
  }
}

TEST(Calibration, HeldOutFiguresAreChecksNotFits) {
  // Each GPU factor is fixed by exactly one figure; everything else is a check,
  // the CPU figures included (the CPU row is fitted to `arbitra bench` runs).
  std::set<std::string> checks, fits;
  std::multiset<std::string> factors;
  for (const auto& f : publishedFigures()) {
    (f.fits.empty() ? checks : fits).insert(f.id);
    if (!f.fits.empty()) factors.insert(f.fits);
  }
  EXPECT_EQ(factors, (std::multiset<std::string>{"compute", "bandwidth"}));
  for (const char* id : {"trtllm-h100-1000-1000", "trtllm-h200-128-128", "cpu-1b-f16", "cpu-1b-q4_0", "cpu-1b-q4_k_m",
                         "cpu-1b-prefill", "here-135m-q8_0-x4"})
    EXPECT_TRUE(checks.contains(id)) << id;
  EXPECT_EQ(fits.size(), 2u);
  for (const auto& f : publishedFigures()) {
    EXPECT_FALSE(f.source.empty()) << f.id;
    EXPECT_EQ(f.asOf.size(), 10u) << f.id;
  }
}

TEST(Calibration, ShippedFactorsAreTheFit) {
  Calibration fit = fitEfficiency(shippedCatalog());
  Efficiency shipped;
  EXPECT_TRUE(shipped.calibrated);
  // Shipped constants are the fit rounded to 3 decimals.
  EXPECT_NEAR(fit.efficiency.bandwidth, shipped.bandwidth, 0.0006);
  EXPECT_NEAR(fit.efficiency.decodeCompute, shipped.decodeCompute, 0.0006);
  EXPECT_NEAR(fit.efficiency.prefillCompute, shipped.prefillCompute, 0.0006);
  EXPECT_LT(fit.rounds, 50);
  // With the unrounded fit, the fitted figures are reproduced exactly.
  for (const auto& f : publishedFigures()) {
    if (f.fits.empty()) continue;
    const char* id = f.id.c_str();
    double p = predictTokensPerS(shippedCatalog(), figure(id), fit.efficiency);
    EXPECT_NEAR(p / figure(id).tokensPerS, 1.0, 1e-6) << id;
  }
}

TEST(Calibration, GpuRowsHaveNoOverheadHalfWidthOrPartialOverlap) {
  // The published GPU figures are predicted with the plain roofline: no GPU
  // row sets the per-row terms the CPU row needs.
  for (const auto& hw : shippedCatalog().hardware) {
    if (hw.kind != HardwareKind::Gpu) continue;
    EXPECT_FALSE(hw.layerOverheadUs || hw.matmulHalfWidth || hw.overlap) << hw.id;
    auto d = deviceBudget(hw, 1, *shippedCatalog().findQuantization("F16"), Efficiency{});
    EXPECT_DOUBLE_EQ(d->layerOverheadS, 0.0) << hw.id;
    EXPECT_DOUBLE_EQ(d->overlap, 1.0) << hw.id;
    EXPECT_DOUBLE_EQ(matmulWidthFactor(*d, *shippedCatalog().findModel("llama-3.1-8b")), 1.0) << hw.id;
  }
}

TEST(Calibration, Fp8KeepsAnFp8KvCache) {
  const auto& c = shippedCatalog();
  const ModelShape& m = *c.findModel("llama-3.1-8b");
  // 2 × 32 layers × 8 KV heads × 128 × 1 byte = 65,536 (F16: 131,072).
  EXPECT_DOUBLE_EQ(kvBytesPerToken(m, *c.findQuantization("FP8")), 65536.0);
  EXPECT_DOUBLE_EQ(kvBytesPerToken(m, *c.findQuantization("F16")), 131072.0);
  EXPECT_DOUBLE_EQ(c.findQuantization("Q4_0")->bitsPerWeight, 4.5);
}

TEST(Calibration, CpuBlockQuantFactorAppliesOnlyToQuantizedWeightsOnCpu) {
  const auto& c = shippedCatalog();
  Efficiency eff;
  Hardware cpu = *c.findHardware("cpu-2vcpu-avx2");
  cpu.kernels.clear();  // the one-rate model (with kernels each tensor type has its own rate)
  cpu.blockQuantEfficiency = 0.8;
  auto cpuF16 = deviceBudget(cpu, 1, *c.findQuantization("F16"), eff);
  auto cpuQ4 = deviceBudget(cpu, 1, *c.findQuantization("Q4_K_M"), eff);
  EXPECT_DOUBLE_EQ(cpuF16->bandwidthBytesPerS, cpu.bandwidthGBs * 1e9 * *cpu.bandwidthEfficiency);
  EXPECT_DOUBLE_EQ(cpuQ4->bandwidthBytesPerS, cpu.bandwidthGBs * 1e9 * *cpu.bandwidthEfficiency * 0.8);
  auto gpuF16 = deviceBudget(*c.findHardware("l4"), 1, *c.findQuantization("F16"), eff);
  auto gpuQ4 = deviceBudget(*c.findHardware("l4"), 1, *c.findQuantization("Q4_K_M"), eff);
  EXPECT_DOUBLE_EQ(gpuF16->bandwidthBytesPerS, gpuQ4->bandwidthBytesPerS);
}

TEST(Calibration, MaxLoadIsTheKvLimitedBatchWithPrefillInterleaved) {
  // Hand-worked with round factors: H100 FP8, 128/2048, bandwidth 0.5, compute 0.5.
  const auto& c = shippedCatalog();
  Efficiency eff;
  eff.bandwidth = 0.5;
  eff.decodeCompute = eff.prefillCompute = 0.5;
  const ModelShape& m = *c.findModel("llama-3.1-8b");
  const Quantization& q = *c.findQuantization("FP8");
  auto d = deviceBudget(*c.findHardware("h100-sxm"), 1, q, eff);
  // Memory: 80 GiB × 0.9 = 77,309,411,328 − 8.03e9 weights = 69,279,411,328;
  // per stream 2,176 × 65,536 = 142,606,336 -> batch 485 (not capped at 256).
  EXPECT_EQ(maxBatchByMemory(*d, m, q, 2176, eff), 485);
  // Step: (8.03e9 + 485 × 1,152 × 65,536) / 1.675e12 = 26.654 ms (compute 7.87 ms);
  // prefill 2 × 8.03e9 × 128 / 989.45e12 = 2.0775 ms per request;
  // per request 2.0776 ms + 2,048 × step / 485; output tokens/s = 2,048 / that.
  double step = (8.03e9 + 485 * 1152 * 65536.0) / 1.675e12;
  double perRequest = 2 * 8.03e9 * 128 / (1978.9e12 * 0.5) + 2048 * step / 485;
  EXPECT_NEAR(maxLoadOutputTokensPerS(*d, m, q, 128, 2048, eff), 2048 / perRequest, 1e-6);
  EXPECT_NEAR(2048 / perRequest, 17866.0, 0.5);
}

}  // namespace
}  // namespace arbitra::planner
