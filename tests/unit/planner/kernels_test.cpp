// The per-tensor-type CPU model: a CPU row with measured ggml kernel rates
// (`kernels`, from arbitra-cpu-probe) and a model row with the bytes of each
// tensor type its file holds (`tensor_bytes`, `output_type`) price every type
// at its own kernel's rate; hand-worked decode and prefill, the fallback for a
// model row without tensor_bytes, a bench point's own probe replacing the
// row's rates, the probe output read as the tool writes it, and the checks on
// the new catalog fields.
#include <gtest/gtest.h>

#include "planner/catalog.h"
#include "planner/measured.h"
#include "planner/throughput.h"
#include "planner_test_util.h"

namespace arbitra::planner {
namespace {

using testing::errorOf;
using testing::shippedCatalog;
using testing::sourceDir;

const char* kQuant =
    "models: []\nquantizations:\n"
    "  - {id: Q4_K_M, bits_per_weight: 4.89, compute: fp16, source: s, as_of: 2026-11-29}\n"
    "  - {id: Q8_0, bits_per_weight: 8.5, compute: fp16, source: s, as_of: 2026-11-29}\n";

// 1e9 Q4_K weights (5.625e8 bytes), the 1,000 x 1,000 output matrix in Q6_K
// (8.203125e5 bytes), 1e6 bytes of F32 norms; 2 layers, hidden 1,000.
const char* kModel =
    "models:\n"
    "  - id: m\n    name: M\n    params: 1.01e9\n    layers: 2\n    hidden: 1000\n    kv_heads: 1\n"
    "    head_dim: 64\n    context: 4096\n    vocab: 1000\n    tied_embeddings: false\n"
    "    tensor_bytes: { Q4_K_M: { Q4_K: 5.625e8, Q6_K: 8.203125e5, F32: 1.0e6 } }\n"
    "    output_type: { Q4_K_M: Q6_K }\n"
    "    source: s\n    as_of: 2026-11-29\n";

// 20 GB/s triad; kernels Q4_K 10 GB/s gemv, 100 GFLOPS gemm; Q6_K 5 and 50;
// bandwidth 0.5, decode compute 0.5, prefill compute 1.0, no half width, no
// overhead, overlap 0 (a step is the sum).
const char* kRow =
    "hardware:\n"
    "  - id: cpu\n    name: CPU\n    kind: cpu\n    memory_gib: 16\n    bandwidth_gbs: 20\n    fp16_tflops: 0.2\n"
    "    tdp_watts: 65\n"
    "    efficiency: { bandwidth: 0.5, block_quant: 1.0, decode_compute: 0.5, prefill_compute: 1.0,\n"
    "                  matmul_half_width: 0, layer_overhead_us: 0, overlap: 0 }\n"
    "    kernels:\n"
    "      Q4_K: { gemv_gbs: 10, gemm_gflops: 100 }\n"
    "      Q6_K: { gemv_gbs: 5, gemm_gflops: 50 }\n"
    "    source: s\n    as_of: 2026-11-29\n";

Catalog handCatalog() {
  Catalog c;
  parseModels(kQuant, "q.yaml", c);
  parseModels(kModel, "m.yaml", c);
  parseHardware(kRow, "h.yaml", c);
  return c;
}

TEST(CpuKernels, CatalogFieldsAreRead) {
  Catalog c = handCatalog();
  const Hardware& hw = *c.findHardware("cpu");
  ASSERT_EQ(hw.kernels.size(), 2u);
  EXPECT_DOUBLE_EQ(hw.kernels.at("Q4_K").gemvGBs, 10);
  EXPECT_DOUBLE_EQ(hw.kernels.at("Q6_K").gemmGflops, 50);
  const ModelShape& m = *c.findModel("m");
  EXPECT_DOUBLE_EQ(m.tensorBytes.at("Q4_K_M").at("Q6_K"), 8.203125e5);
  EXPECT_EQ(m.outputType.at("Q4_K_M"), "Q6_K");
  EXPECT_DOUBLE_EQ(ggmlTypeBytesPerWeight("Q4_K"), 144.0 / 256);
  EXPECT_DOUBLE_EQ(ggmlTypeBytesPerWeight("Q5_0"), 22.0 / 32);
  EXPECT_DOUBLE_EQ(ggmlTypeBytesPerWeight("Q8_0"), 34.0 / 32);
  EXPECT_DOUBLE_EQ(ggmlTypeBytesPerWeight("nope"), 0.0);
}

TEST(CpuKernels, HandWorkedDecodeAndPrefillPerTensorType) {
  Catalog c = handCatalog();
  const ModelShape& m = *c.findModel("m");
  const Quantization& q = *c.findQuantization("Q4_K_M");
  auto d = deviceBudget(*c.findHardware("cpu"), 1, q, Efficiency{});
  ASSERT_TRUE(d);
  ASSERT_TRUE(perTensorType(*d, m, q));
  // Streamed: Q4_K 5.625e8 / (10e9 x 0.5) = 112.5 ms; Q6_K 8.203125e5 / (5e9 x 0.5) = 0.328125 ms;
  // F32 1e6 / (20e9 x 0.5) = 0.1 ms: 112.928125 ms. Compute per token: Q4_K 2 x 1e9 / (100e9 x 0.5)
  // = 40 ms; Q6_K 2 x 1e6 / (50e9 x 0.5) = 0.08 ms. Overlap 0: a step is their sum.
  EXPECT_NEAR(decodeStepSeconds(*d, m, q, 1, 0) * 1000, 112.928125 + 40.08, 1e-9);
  EXPECT_NEAR(decodeStepSeconds(*d, m, q, 2, 0) * 1000, 112.928125 + 80.16, 1e-9);
  EXPECT_NEAR(decodeTokensPerS(*d, m, q, 2, 0), 2 / 0.193088125, 1e-9);
  // Prefill of 100 tokens: the output matrix (all the Q6_K) runs once per prompt, not per token:
  // 2 x 1e9 x 100 / (100e9 x 1.0) = 2 s.
  EXPECT_NEAR(prefillSeconds(*d, m, q, 100), 2.0, 1e-12);
  // The same model priced as one bits-per-weight figure would differ: the per-type path is in use.
  EXPECT_NE(decodeStepSeconds(*d, m, q, 1, 0), (decodeReadBytes(m, q)) / d->bandwidthBytesPerS);
}

TEST(CpuKernels, WithoutTensorBytesTheFormatsMainKernelPricesTheWholeFile) {
  Catalog c = handCatalog();
  ModelShape m = *c.findModel("m");
  m.tensorBytes.clear();
  m.outputType.clear();
  m.bitsPerWeight.clear();
  const Quantization& q = *c.findQuantization("Q4_K_M");
  auto d = deviceBudget(*c.findHardware("cpu"), 1, q, Efficiency{});
  ASSERT_TRUE(perTensorType(*d, m, q));  // Q4_K_M's main type Q4_K has a kernel
  // Read (1.01e9 - 1e6 input embedding) x 4.89 / 8 bytes at 10e9 x 0.5; compute 2 x 1.009e9 at 100e9 x 0.5.
  double read = (1.01e9 - 1e6) * 4.89 / 8;
  EXPECT_NEAR(decodeStepSeconds(*d, m, q, 1, 0), read / 5e9 + 2 * 1.009e9 / 50e9, 1e-12);
  // Prefill leaves both embeddings out: 2 x 1.008e9 per token at 100e9.
  EXPECT_NEAR(prefillSeconds(*d, m, q, 10), 2 * 1.008e9 * 10 / 100e9, 1e-12);
  // A format whose main type has no kernel: the one-rate model (triad x 0.5, FMA peak x 0.5).
  const Quantization& q8 = *c.findQuantization("Q8_0");
  EXPECT_FALSE(perTensorType(*d, m, q8));
  auto d8 = deviceBudget(*c.findHardware("cpu"), 1, q8, Efficiency{});
  EXPECT_DOUBLE_EQ(d8->decodeFlops, 0.2e12 * 0.5);
}

TEST(CpuKernels, ABenchPointsOwnProbeReplacesTheRowsRates) {
  Catalog c = handCatalog();
  const Hardware& hw = *c.findHardware("cpu");
  BenchPoint p;
  p.hardware = "cpu";
  p.model = "m";
  p.quant = "Q4_K_M";
  p.batch = 1;
  p.tokens = 0;
  double rowRate = predictBenchPoint(c, hw, p, Efficiency{});
  EXPECT_NEAR(rowRate, 1 / (0.112928125 + 0.04008), 1e-9);
  // The machine measured at half speed next to this point: every kernel halves.
  p.probe = {{"Q4_K", {5, 50}}, {"Q6_K", {2.5, 25}}};
  double probed = predictBenchPoint(c, hw, p, Efficiency{});
  // F32 norms still stream at the triad rate (0.1 ms of the step, not halved).
  EXPECT_NEAR(probed, 1 / (2 * 0.152908125 + 0.0001), 1e-9);
}

TEST(CpuKernels, ProbeOutputIsReadAsWritten) {
  // arbitra-cpu-probe's output, verbatim, from a run on this machine.
  std::string file = sourceDir() + "/tests/unit/planner/cases/cpu-probe.json";
  auto rates = parseProbe(readFile(file), file);
  for (const char* type : {"F16", "Q8_0", "Q4_0", "Q4_K", "Q5_0", "Q6_K"}) {
    ASSERT_TRUE(rates.contains(type)) << type;
    EXPECT_GT(rates.at(type).gemvGBs, 0) << type;
    EXPECT_GT(rates.at(type).gemmGflops, 0) << type;
  }
  EXPECT_NE(errorOf([] { parseProbe("{\"types\": {\"Q9_9\": {\"gemv_gbs\": 1, \"gemm_gflops\": 1}}}", "p.json"); })
                .find("p.json: types.Q9_9: unknown tensor type"),
            std::string::npos);
  EXPECT_NE(errorOf([] { parseProbe("{\"types\": {\"Q8_0\": {\"gemv_gbs\": 1}}}", "p.json"); })
                .find("p.json: types.Q8_0.gemm_gflops: missing"),
            std::string::npos);
}

TEST(CpuKernels, BadFieldsAreNamed) {
  Catalog c;
  parseModels(kQuant, "q.yaml", c);
  auto model = [&](const std::string& from, const std::string& to) {
    std::string text = kModel;
    text.replace(text.find(from), from.size(), to);
    Catalog copy = c;
    return errorOf([&] { parseModels(text, "m.yaml", copy); });
  };
  EXPECT_NE(model("Q6_K: 8.203125e5", "Q7_K: 8.203125e5").find("m.yaml:12: models[0].tensor_bytes.Q4_K_M.Q7_K: unknown tensor type"),
            std::string::npos)
      << model("Q6_K: 8.203125e5", "Q7_K: 8.203125e5");
  EXPECT_NE(model("Q6_K: 8.203125e5", "Q6_K: 1.0e3").find("output_type.Q4_K_M: tensor_bytes of this format hold less Q6_K"),
            std::string::npos);
  EXPECT_NE(model("    vocab: 1000\n", "").find("output_type: needs vocab"), std::string::npos)
      << model("    vocab: 1000\n", "");
  auto row = [&](const std::string& from, const std::string& to) {
    std::string text = kRow;
    text.replace(text.find(from), from.size(), to);
    Catalog copy;
    return errorOf([&] { parseHardware(text, "h.yaml", copy); });
  };
  std::string gpu = kRow;
  gpu.replace(gpu.find("kind: cpu"), 9, "kind: gpu");
  gpu.replace(gpu.find("block_quant: 1.0, "), 18, "");
  Catalog gpuCatalog;
  EXPECT_NE(errorOf([&] { parseHardware(gpu, "h.yaml", gpuCatalog); }).find("kernels: applies to CPU rows only"),
            std::string::npos);
  EXPECT_NE(row("Q4_K: { gemv", "Q4_Q: { gemv").find("kernels.Q4_Q: unknown tensor type"), std::string::npos);
  EXPECT_NE(row("gemv_gbs: 10,", "gemv: 10,").find("kernels.Q4_K.gemv: unknown key"), std::string::npos)
      << row("gemv_gbs: 10,", "gemv: 10,");
  // Above 1 of a peak figure only where the factor is of kernel rates.
  std::string noKernels = kRow;
  noKernels.erase(noKernels.find("    kernels:"), noKernels.find("    source:") - noKernels.find("    kernels:"));
  noKernels.replace(noKernels.find("bandwidth: 0.5"), 14, "bandwidth: 1.5");
  Catalog copy;
  EXPECT_NE(errorOf([&] { parseHardware(noKernels, "h.yaml", copy); }).find("must be at most 1"), std::string::npos);
}

}  // namespace
}  // namespace arbitra::planner
