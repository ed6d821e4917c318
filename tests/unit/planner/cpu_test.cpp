// The CPU row against the generated test models: the shapes the planner
// knows (untied embeddings, per-model bits per weight), a hand-worked decode
// and prefill on the 2-vCPU row, and `arbitra bench --json` output read by
// the planner as it is written (cases/bench-135m-q8_0.json is that output,
// verbatim, from bench/planner_measured.sh on this machine).
#include <gtest/gtest.h>

#include "planner/catalog.h"
#include "planner/measured.h"
#include "planner/plan.h"
#include "planner/throughput.h"
#include "planner_test_util.h"

namespace arbitra::planner {
namespace {

using testing::errorOf;
using testing::shippedCatalog;
using testing::sourceDir;

// Round factors for hand-working (the calibrated ones: calibration_test.cpp).
Efficiency roundCpuFactors() {
  Efficiency e;
  e.cpuBandwidth = 0.5;
  e.cpuBlockQuant = 0.8;
  e.cpuDecodeCompute = 0.25;
  e.cpuPrefillCompute = 0.5;
  e.calibrated = false;
  return e;
}

TEST(CpuRow, IsMeasuredHereAndUsesTheCpuFactors) {
  const Hardware& cpu = *shippedCatalog().findHardware("cpu-2vcpu-avx2");
  EXPECT_DOUBLE_EQ(cpu.bandwidthGBs, 15.8);  // STREAM triad, arbitra-cpu-peak
  EXPECT_DOUBLE_EQ(cpu.fp16Tflops, 0.177);   // AVX2 FP32 FMA peak, arbitra-cpu-peak
  EXPECT_FALSE(cpu.bandwidthEfficiency);     // fitted factors apply, not a per-row 1.0
  EXPECT_NE(cpu.from.source.find("measured on this machine"), std::string::npos);
  Efficiency eff = roundCpuFactors();
  auto f16 = deviceBudget(cpu, 1, *shippedCatalog().findQuantization("F16"), eff);
  auto q8 = deviceBudget(cpu, 1, *shippedCatalog().findQuantization("Q8_0"), eff);
  EXPECT_DOUBLE_EQ(f16->bandwidthBytesPerS, 15.8e9 * 0.5);
  EXPECT_DOUBLE_EQ(q8->bandwidthBytesPerS, 15.8e9 * 0.5 * 0.8);
  EXPECT_DOUBLE_EQ(q8->decodeFlops, 0.177e12 * 0.25);
  EXPECT_DOUBLE_EQ(q8->prefillFlops, 0.177e12 * 0.5);
  // A GPU row ignores the CPU factors.
  auto gpu = deviceBudget(*shippedCatalog().findHardware("l4"), 1, *shippedCatalog().findQuantization("Q8_0"), eff);
  EXPECT_DOUBLE_EQ(gpu->decodeFlops, 121.0e12 * eff.decodeCompute);
}

TEST(CpuRow, TestModelShapesLeaveTheUntiedInputEmbeddingOut) {
  const auto& c = shippedCatalog();
  const ModelShape& m = *c.findModel("arbitra-random-135m");
  // 128,256 x 576 = 73,875,456 per embedding matrix; 253,954,368 parameters in all.
  EXPECT_FALSE(m.tiedEmbeddings);
  EXPECT_DOUBLE_EQ(decodeParams(m), 253954368.0 - 73875456.0);
  EXPECT_DOUBLE_EQ(prefillParams(m), 253954368.0 - 2 * 73875456.0);
  // Q4_K_M falls back to Q5_0/Q8_0 on 576-wide rows: the file's 6.391 bits, not the format's 4.89.
  EXPECT_DOUBLE_EQ(bitsPerWeight(m, *c.findQuantization("Q4_K_M")), 6.391);
  EXPECT_DOUBLE_EQ(bitsPerWeight(m, *c.findQuantization("Q4_0")), 4.5);  // no own figure: the format's
  EXPECT_DOUBLE_EQ(decodeReadBytes(m, *c.findQuantization("Q8_0")), (253954368.0 - 73875456.0) * 8.503 / 8);
  // A row without a vocabulary is unchanged: every parameter read and multiplied.
  const ModelShape& llama = *c.findModel("llama-3.1-8b");
  EXPECT_DOUBLE_EQ(decodeParams(llama), 8.03e9);
  EXPECT_DOUBLE_EQ(prefillParams(llama), 8.03e9);
  EXPECT_DOUBLE_EQ(decodeReadBytes(llama, *c.findQuantization("F16")), weightBytes(llama, *c.findQuantization("F16")));
}

TEST(CpuRow, HandWorkedDecodeAndPrefillOfThe1bTestModel) {
  const auto& c = shippedCatalog();
  const ModelShape& m = *c.findModel("arbitra-random-1b");
  const Quantization& q8 = *c.findQuantization("Q8_0");
  Efficiency eff = roundCpuFactors();
  auto d = deviceBudget(*c.findHardware("cpu-2vcpu-avx2"), 1, q8, eff);
  ASSERT_TRUE(d);
  // Read per step: (1,498,482,688 - 262,668,288 input embedding) x 8.501 / 8 = 1,313,207,276.8 bytes
  // at 15.8e9 x 0.5 x 0.8 = 6.32e9 B/s: 207.786 ms; compute 2 x 1,235,814,400 / 44.25e9 = 55.856 ms.
  EXPECT_NEAR(decodeReadBytes(m, q8), 1313207276.8, 0.5);
  EXPECT_NEAR(decodeTokensPerS(*d, m, q8, 1, 0), 6.32e9 / 1313207276.8, 1e-9);  // 4.8126: bandwidth-bound
  EXPECT_NEAR(decodeTokensPerS(*d, m, q8, 1, 0), 4.8126, 1e-4);
  // 4 streams: compute 4 x 55.856 = 223.43 ms > 207.79 ms: compute-bound, 17.903 tokens/s.
  EXPECT_NEAR(decodeTokensPerS(*d, m, q8, 4, 0), 44.25e9 / (2 * 1235814400.0), 1e-9);
  EXPECT_NEAR(decodeTokensPerS(*d, m, q8, 4, 0), 17.9032, 1e-4);
  // Prefill: 2 x (1,498,482,688 - 2 x 262,668,288) = 1.946e9 FLOPs per token at 88.5e9: 45.471 tokens/s.
  EXPECT_NEAR(256 / prefillSeconds(*d, m, 256), 45.4711, 1e-4);
}

TEST(CpuRow, BenchJsonIsReadAsWritten) {
  // `arbitra bench --json` output, verbatim: its hardware and model default to
  // catalog ids, its format is the catalog's (Q8_0), rows at 1, 2 and 4 streams.
  const auto& c = shippedCatalog();
  std::string file = sourceDir() + "/tests/unit/planner/cases/bench-135m-q8_0.json";
  auto rows = parseMeasuredRows(readFile(file), file, c);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].hardware, "cpu-2vcpu-avx2");
  EXPECT_EQ(rows[0].model, "arbitra-random-135m");
  EXPECT_EQ(rows[0].quant, "Q8_0");
  EXPECT_EQ(rows[0].measurement.batch, 1);
  EXPECT_EQ(rows[2].measurement.batch, 4);
  EXPECT_GT(rows[0].measurement.prefillTokensPerS, 0);
  // The plan keeps the largest batch of a hardware/model/format.
  auto byKey = loadMeasurements(file, c);
  ASSERT_EQ(byKey.size(), 1u);
  const Measurement& kept = byKey.at(measurementKey("cpu-2vcpu-avx2", "arbitra-random-135m", "Q8_0"));
  EXPECT_EQ(kept.batch, 4);
  EXPECT_DOUBLE_EQ(kept.decodeTokensPerS, rows[2].measurement.decodeTokensPerS);
}

TEST(CpuRow, ModelRowEmbeddingFieldsAreChecked) {
  Catalog c;
  parseModels("models: []\nquantizations:\n  - {id: Q8_0, bits_per_weight: 8.5, compute: fp16, source: s, as_of: 2026-11-29}\n",
              "q.yaml", c);
  std::string bad =
      "models:\n"
      "  - id: m\n    name: M\n    params: 3.0e8\n    layers: 2\n    hidden: 1024\n    kv_heads: 1\n"
      "    head_dim: 64\n    context: 4096\n    vocab: 200000\n    tied_embeddings: false\n"
      "    source: s\n    as_of: 2026-11-29\n";
  EXPECT_NE(errorOf([&] { parseModels(bad, "m.yaml", c); }).find("m.yaml:10: models[0].vocab: the embedding matrices"),
            std::string::npos)
      << errorOf([&] { parseModels(bad, "m.yaml", c); });
  std::string flag = bad;
  flag.replace(flag.find("vocab: 200000"), 13, "vocab: 1000");
  flag.replace(flag.find("tied_embeddings: false"), 22, "tied_embeddings: maybe");
  EXPECT_NE(errorOf([&] { parseModels(flag, "m.yaml", c); }).find("models[0].tied_embeddings: expected true or false"),
            std::string::npos);
}

}  // namespace
}  // namespace arbitra::planner
