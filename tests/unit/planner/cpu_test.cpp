// The CPU row against the generated test models: the shapes the planner
// knows (untied embeddings, per-model bits per weight and tensor bytes),
// hand-worked decodes and prefills on 2-vCPU rows without kernel rates (the
// one-rate model, with and without the per-row terms; kernels_test.cpp has
// the per-tensor-type one), the shipped row as the fit of the kept odd runs
// and within ±25% of the kept held-out even runs, and `arbitra bench --json`
// output read by the planner as it is written (cases/bench-135m-q8_0.json is
// that output, verbatim, from bench/planner_measured.sh on this machine).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

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

// A CPU row with round peak figures and no parameters of its own (the
// Efficiency defaults apply), for hand-working.
Hardware roundCpuRow() {
  Hardware h = *shippedCatalog().findHardware("cpu-2vcpu-avx2");
  h.bandwidthGBs = 15.8;
  h.fp16Tflops = 0.177;
  h.bandwidthEfficiency = h.blockQuantEfficiency = h.decodeComputeEfficiency = h.prefillComputeEfficiency =
      h.matmulHalfWidth = h.layerOverheadUs = h.overlap = std::nullopt;
  h.kernels.clear();  // the one-rate model (kernels_test.cpp has the per-type one)
  return h;
}

TEST(CpuRow, IsMeasuredHereWithItsOwnParameters) {
  const Hardware& cpu = *shippedCatalog().findHardware("cpu-2vcpu-avx2");
  EXPECT_NE(cpu.from.source.find("measured on this machine"), std::string::npos);
  // Fitted on this machine (hardware.yaml; reproduced by ShippedRowIsTheFitOfItsOddRuns):
  // every term of the model is the row's own, and ggml's kernel rates per
  // tensor type are measured specs (arbitra-cpu-probe), like its bandwidth.
  EXPECT_TRUE(cpu.bandwidthEfficiency && cpu.blockQuantEfficiency && cpu.decodeComputeEfficiency &&
              cpu.prefillComputeEfficiency && cpu.matmulHalfWidth && cpu.layerOverheadUs && cpu.overlap);
  for (const char* type : {"F16", "Q8_0", "Q4_0", "Q4_K", "Q5_0", "Q6_K"}) EXPECT_TRUE(cpu.kernels.contains(type)) << type;
  Efficiency eff = roundCpuFactors();  // not used where the row has its own
  const auto& c = shippedCatalog();
  auto q8 = deviceBudget(cpu, 1, *c.findQuantization("Q8_0"), eff);
  EXPECT_DOUBLE_EQ(q8->kernelBandwidthEff, *cpu.bandwidthEfficiency);
  EXPECT_DOUBLE_EQ(q8->kernelDecodeEff, *cpu.decodeComputeEfficiency);
  EXPECT_DOUBLE_EQ(q8->kernelPrefillEff, *cpu.prefillComputeEfficiency);
  EXPECT_DOUBLE_EQ(q8->bandwidthBytesPerS, cpu.bandwidthGBs * 1e9 * *cpu.bandwidthEfficiency);  // KV and F32 tensors
  EXPECT_DOUBLE_EQ(q8->layerOverheadS, *cpu.layerOverheadUs * 1e-6);
  EXPECT_DOUBLE_EQ(q8->overlap, *cpu.overlap);
  // Every test model and format is priced per tensor type.
  for (const char* model : {"arbitra-random-135m", "arbitra-random-500m", "arbitra-random-1b"})
    for (const char* quant : {"F16", "Q8_0", "Q4_K_M"})
      EXPECT_TRUE(perTensorType(*deviceBudget(cpu, 1, *c.findQuantization(quant), eff), *c.findModel(model),
                                *c.findQuantization(quant)))
          << model << " " << quant;
}

TEST(CpuRow, ARowWithoutItsOwnParametersUsesTheCpuDefaults) {
  Hardware cpu = roundCpuRow();
  Efficiency eff = roundCpuFactors();
  auto f16 = deviceBudget(cpu, 1, *shippedCatalog().findQuantization("F16"), eff);
  auto q8 = deviceBudget(cpu, 1, *shippedCatalog().findQuantization("Q8_0"), eff);
  EXPECT_DOUBLE_EQ(f16->bandwidthBytesPerS, 15.8e9 * 0.5);
  EXPECT_DOUBLE_EQ(q8->bandwidthBytesPerS, 15.8e9 * 0.5 * 0.8);
  EXPECT_DOUBLE_EQ(q8->decodeFlops, 0.177e12 * 0.25);
  EXPECT_DOUBLE_EQ(q8->prefillFlops, 0.177e12 * 0.5);
  // The defaults: no layer overhead, no half width, the roofline max.
  EXPECT_DOUBLE_EQ(q8->layerOverheadS, 0.0);
  EXPECT_DOUBLE_EQ(q8->matmulHalfWidth, 0.0);
  EXPECT_DOUBLE_EQ(q8->overlap, 1.0);
  // A GPU row ignores the CPU factors.
  auto gpu = deviceBudget(*shippedCatalog().findHardware("l4"), 1, *shippedCatalog().findQuantization("Q8_0"), eff);
  EXPECT_DOUBLE_EQ(gpu->decodeFlops, 121.0e12 * eff.decodeCompute);
  EXPECT_DOUBLE_EQ(gpu->layerOverheadS, 0.0);
  EXPECT_DOUBLE_EQ(gpu->overlap, 1.0);
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
  auto d = deviceBudget(roundCpuRow(), 1, q8, eff);
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

TEST(CpuRow, HandWorkedLayerOverheadOverlapAndMatmulWidth) {
  // A CPU row of round figures with every term of its own: 20 GB/s, 200 GFLOPS;
  // bandwidth 0.5, block-quant 1, decode compute 0.5, prefill compute 1.0,
  // matmul half width 2,048, 100 µs per layer, overlap 0.5.
  const auto& c = shippedCatalog();
  const ModelShape& m = *c.findModel("arbitra-random-1b");  // 16 layers, hidden 2,048
  const Quantization& q8 = *c.findQuantization("Q8_0");
  Hardware hw = roundCpuRow();
  hw.bandwidthGBs = 20;
  hw.fp16Tflops = 0.2;
  hw.bandwidthEfficiency = 0.5;
  hw.blockQuantEfficiency = 1.0;
  hw.decodeComputeEfficiency = 0.5;
  hw.prefillComputeEfficiency = 1.0;
  hw.matmulHalfWidth = 2048;
  hw.layerOverheadUs = 100;
  hw.overlap = 0.5;
  auto d = deviceBudget(hw, 1, q8, Efficiency{});
  ASSERT_TRUE(d);
  // Width factor w = 2,048 / (2,048 + 2,048) = 0.5; layer overhead 16 x 100 µs = 1.6 ms per pass.
  EXPECT_DOUBLE_EQ(matmulWidthFactor(*d, m), 0.5);
  // 1 stream: bandwidth 1,313,207,276.8 / 10e9 = 131.3207 ms; compute 2 x 1,235,814,400 /
  // (100e9 x 0.5) = 49.4326 ms; step = 131.3207 + 0.5 x 49.4326 + 1.6 = 157.6370 ms: 6.34369 tokens/s.
  EXPECT_NEAR(decodeStepSeconds(*d, m, q8, 1, 0) * 1000, 157.63702, 1e-4);
  EXPECT_NEAR(decodeTokensPerS(*d, m, q8, 1, 0), 6.34369, 1e-5);
  // 4 streams: compute 197.7303 ms now exceeds bandwidth: step = 197.7303 + 0.5 x 131.3207 + 1.6
  // = 264.9907 ms: 4 / step = 15.09487 tokens/s (the roofline max alone would give 20.23).
  EXPECT_NEAR(decodeStepSeconds(*d, m, q8, 4, 0) * 1000, 264.99067, 1e-4);
  EXPECT_NEAR(decodeTokensPerS(*d, m, q8, 4, 0), 15.09487, 1e-5);
  // Prefill of 256 tokens: 2 x 973,146,112 x 256 / (200e9 x 0.5) = 4.982508 s + 1.6 ms = 4.984108 s:
  // 51.3633 tokens/s.
  EXPECT_NEAR(prefillSeconds(*d, m, 256), 4.984108, 1e-6);
  EXPECT_NEAR(256 / prefillSeconds(*d, m, 256), 51.3633, 1e-4);
  // Overlap 1 and no overhead or half width give the plain roofline back.
  hw.overlap = 1.0;
  hw.layerOverheadUs = 0;
  hw.matmulHalfWidth = 0;
  auto roofline = deviceBudget(hw, 1, q8, Efficiency{});
  EXPECT_NEAR(decodeStepSeconds(*roofline, m, q8, 1, 0), 1313207276.8 / 10e9, 1e-12);
}

// The points `arbitra bench` measures (3 shapes x 2 formats: decode at 1, 2, 4
// streams after ~40-token prompts with 64 generated, prefill of 267 tokens),
// predicted by `hw`.
std::vector<BenchPoint> syntheticPoints(const Hardware& hw) {
  std::vector<BenchPoint> out;
  for (const char* model : {"arbitra-random-135m", "arbitra-random-500m", "arbitra-random-1b"})
    for (const char* quant : {"Q8_0", "Q4_K_M"}) {
      for (int batch : {0, 1, 2, 4}) {
        BenchPoint p;
        p.hardware = hw.id;
        p.model = model;
        p.quant = quant;
        p.batch = batch;
        p.tokens = batch == 0 ? 267 : 72;
        out.push_back(p);
      }
    }
  for (auto& p : out) p.tokensPerS = predictBenchPoint(shippedCatalog(), hw, p, Efficiency{});
  return out;
}

TEST(CpuRow, FitRecoversTheParametersThatMadeThePoints) {
  Hardware truth = roundCpuRow();
  truth.bandwidthEfficiency = 0.6;
  truth.blockQuantEfficiency = 1.0;
  truth.decodeComputeEfficiency = 0.9;
  truth.prefillComputeEfficiency = 1.2;
  truth.matmulHalfWidth = 600;
  truth.layerOverheadUs = 40;
  truth.overlap = 0.3;
  auto points = syntheticPoints(truth);
  RowFit fit = fitHardwareRow(shippedCatalog(), roundCpuRow(), points, Efficiency{});
  EXPECT_LT(fit.maxAbsError, 1e-3);
  EXPECT_DOUBLE_EQ(*fit.row.blockQuantEfficiency, 1.0);  // every point block-quantized: not separable
  EXPECT_NEAR(*fit.row.bandwidthEfficiency, 0.6, 0.6 * 0.02);
  EXPECT_NEAR(*fit.row.decodeComputeEfficiency, 0.9, 0.9 * 0.05);
  EXPECT_NEAR(*fit.row.prefillComputeEfficiency, 1.2, 1.2 * 0.05);
  EXPECT_NEAR(*fit.row.matmulHalfWidth, 600, 600 * 0.05);
  EXPECT_NEAR(*fit.row.layerOverheadUs, 40, 40 * 0.05);
  EXPECT_NEAR(*fit.row.overlap, 0.3, 0.03);
  // A point on another row is refused.
  points.front().hardware = "l4";
  EXPECT_NE(errorOf([&] { fitHardwareRow(shippedCatalog(), roundCpuRow(), points, Efficiency{}); })
                .find("a point is on l4"),
            std::string::npos);
}

// The interleaved runs kept in data/planner/measured/ (bench/planner_measured.sh):
// runs 1..6, each visiting every model/format with a probe before each bench.
std::vector<BenchPoint> keptRuns(const std::string& runs) {
  std::vector<std::string> files;
  const std::string dir = sourceDir() + "/data/planner/measured/cpu-2vcpu-avx2-interleaved/";
  for (char run : runs)
    for (const char* shape : {"135m", "500m", "1b"})
      for (const char* quant : {"q8_0", "q4_k_m", "f16"})
        files.push_back(dir + "run" + run + "-" + shape + "-" + quant + ".json");
  return loadBenchFiles(files, shippedCatalog());
}

TEST(CpuRow, ShippedRowIsTheFitOfItsOddRuns) {
  // The row's parameters in hardware.yaml are the fit of runs 1, 3 and 5 (the
  // held-out check is on 2, 4 and 6, next test), rounded to 4 significant
  // digits, and its kernel rates are the median of those runs' probes:
  // refitting gives the same predictions within 1%.
  const auto& c = shippedCatalog();
  const Hardware& shipped = *c.findHardware("cpu-2vcpu-avx2");
  auto points = keptRuns("135");
  ASSERT_EQ(points.size(), 3u * 9 * 4);
  auto kernels = medianKernels(points);
  ASSERT_EQ(kernels.size(), shipped.kernels.size());
  for (const auto& [type, k] : kernels) {
    EXPECT_NEAR(shipped.kernels.at(type).gemvGBs / k.gemvGBs, 1.0, 0.005) << type;
    EXPECT_NEAR(shipped.kernels.at(type).gemmGflops / k.gemmGflops, 1.0, 0.005) << type;
  }
  for (auto& p : points) p.probe.clear();  // predicted with the row's kernels (the shipped spec)
  Hardware start = shipped;
  start.kernels = kernels;
  RowFit fit = fitHardwareRow(c, start, points, Efficiency{});
  for (const auto& p : points) {
    double refit = predictBenchPoint(c, fit.row, p, Efficiency{});
    double ours = predictBenchPoint(c, shipped, p, Efficiency{});
    EXPECT_NEAR(ours / refit, 1.0, 0.01) << p.model << " " << p.quant << " batch " << p.batch;
  }
}

TEST(CpuRow, HeldOutRunsWithin25PercentOfTheirMedian) {
  // Runs 2, 4 and 6 were never fitted: per model/format/batch, the shipped
  // row's prediction against the median of the three.
  const auto& c = shippedCatalog();
  const Hardware& shipped = *c.findHardware("cpu-2vcpu-avx2");
  auto points = keptRuns("246");
  ASSERT_EQ(points.size(), 3u * 9 * 4);
  std::map<std::string, std::vector<double>> measured;
  std::map<std::string, double> predicted;
  for (auto& p : points) {
    p.probe.clear();
    std::string key = p.model + " " + p.quant + " batch " + std::to_string(p.batch);
    measured[key].push_back(p.tokensPerS);
    predicted[key] = predictBenchPoint(c, shipped, p, Efficiency{});
  }
  ASSERT_EQ(measured.size(), 36u);
  for (auto& [key, v] : measured) {
    std::sort(v.begin(), v.end());
    EXPECT_NEAR(predicted[key] / v[1], 1.0, 0.25) << key << ": predicted " << predicted[key] << ", median " << v[1];
  }
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
