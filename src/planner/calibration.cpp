// The published figures and the fit (see calibration.h).
#include "planner/calibration.h"

#include <cmath>

namespace arbitra::planner {

namespace {

constexpr const char* kTrtLlm =
    "NVIDIA/TensorRT-LLM docs/source/performance/perf-overview.md, trtllm-bench throughput, max load "
    "(via shared/data/published-figures.md)";
constexpr const char* kCpu =
    "shared/data/published-figures.md, CPU decode: measured on this project's machine kind (2 vCPU, AVX2 "
    "llama.cpp build, random weights, Llama-3.2-1B shape), generation at batch 1";
constexpr const char* kCpuPrompt =
    "shared/data/published-figures.md, CPU decode: the same machine kind and model, 34-41 tokens/s prompt "
    "processing (F16, Q4_0, Q4_K_M); 37 is the middle of that range (prefill rates do not depend on the format "
    "in this model)";
constexpr const char* kHere =
    "arbitra bench --threads 2 on this machine (bench/planner_measured.sh), best of the 5 runs in README.md";

}  // namespace

const std::vector<PublishedFigure>& publishedFigures() {
  static const std::vector<PublishedFigure> figures = {
      {"trtllm-h100-128-128", "TensorRT-LLM, Llama-3.1-8B FP8, 1x H100 SXM, 128/128", "h100-sxm", "llama-3.1-8b", "FP8",
       128, 128, true, 27569, "compute", kTrtLlm, "2026-11-01"},
      {"trtllm-h100-128-2048", "TensorRT-LLM, Llama-3.1-8B FP8, 1x H100 SXM, 128/2048", "h100-sxm", "llama-3.1-8b",
       "FP8", 128, 2048, true, 22004, "bandwidth", kTrtLlm, "2026-11-01"},
      {"trtllm-h100-1000-1000", "TensorRT-LLM, Llama-3.1-8B FP8, 1x H100 SXM, 1000/1000", "h100-sxm", "llama-3.1-8b",
       "FP8", 1000, 1000, true, 15270, "", kTrtLlm, "2026-11-01"},
      {"trtllm-h200-128-128", "TensorRT-LLM, Llama-3.1-8B FP8, 1x H200, 128/128", "h200", "llama-3.1-8b", "FP8", 128,
       128, true, 28447, "", kTrtLlm, "2026-11-01"},
      {"cpu-1b-f16", "llama.cpp, Llama-3.2-1B F16, 2 vCPU AVX2, batch 1", "cpu-2vcpu-avx2", "llama-3.2-1b", "F16", 0,
       128, false, 5.9, "", kCpu, "2026-11-01"},
      {"cpu-1b-q4_0", "llama.cpp, Llama-3.2-1B Q4_0, 2 vCPU AVX2, batch 1", "cpu-2vcpu-avx2", "llama-3.2-1b", "Q4_0", 0,
       128, false, 16.1, "", kCpu, "2026-11-01", 1, false, 12.0,
       "arbitra bench --threads 2, the 1b test model (same layers and width) in Q4_0, decode at 1 stream: 11.97 and "
       "12.07 tokens/s in two runs, 2026-11-29 16:30-16:31 UTC under the exclusive CPU lock "
       "(data/planner/measured/cpu-2vcpu-avx2-q4_0/)"},
      {"cpu-1b-q4_k_m", "llama.cpp, Llama-3.2-1B Q4_K_M, 2 vCPU AVX2, batch 1", "cpu-2vcpu-avx2", "llama-3.2-1b",
       "Q4_K_M", 0, 128, false, 13.8, "", kCpu, "2026-11-01"},
      {"cpu-1b-prefill", "llama.cpp, Llama-3.2-1B, 2 vCPU AVX2, prompt processing", "cpu-2vcpu-avx2", "llama-3.2-1b",
       "F16", 512, 0, false, 37, "", kCpuPrompt, "2026-11-01", 1, true, 63.2,
       "arbitra bench --threads 2, the 1b test model (same layers and width) in F16, 267-token prompt, median of the "
       "6 interleaved runs of 2026-11-29 15:38-16:14 UTC under the exclusive CPU lock (58.1-66.7; README.md; 67.9 in "
       "run C at 12:36 UTC)"},
      // Measured here (bench/planner_measured.sh): 4 streams of 64 tokens
      // after ~40-token prompts, the best of 5 runs (116.9 / 14.1 / 5.7 /
      // 6.7 / 82.9: the others were slowed by other sessions' benchmarks).
      // The CPU figures are checks of the CPU row's own parameters, which are
      // fitted to quiet `arbitra bench` runs (data/planner/hardware.yaml).
      {"here-135m-q8_0-x4", "arbitra bench, 135m test model Q8_0, decode, 4 streams", "cpu-2vcpu-avx2",
       "arbitra-random-135m", "Q8_0", 40, 64, false, 116.9, "", kHere, "2026-11-29", 4},
  };
  return figures;
}

double predictTokensPerS(const Catalog& catalog, const PublishedFigure& f, const Efficiency& eff) {
  const Hardware* hw = catalog.findHardware(f.hardware);
  const ModelShape* m = catalog.findModel(f.model);
  const Quantization* q = catalog.findQuantization(f.quant);
  if (!hw || !m || !q) return 0;
  auto d = deviceBudget(*hw, 1, *q, eff);
  if (!d) return 0;
  if (f.prefill) return f.input / prefillSeconds(*d, *m, *q, f.input);
  if (f.maxLoad) return maxLoadOutputTokensPerS(*d, *m, *q, f.input, f.output, eff);
  if (maxBatchByMemory(*d, *m, *q, f.input + f.output, eff) < f.batch) return 0;
  return decodeTokensPerS(*d, *m, *q, f.batch, f.input + f.output / 2);
}

namespace {

const PublishedFigure& figureFitting(const std::string& factor) {
  for (const auto& f : publishedFigures())
    if (f.fits == factor) return f;
  throw PlannerError("calibration: no figure fits '" + factor + "'");
}

// The value of `field` in [lo, hi] at which the prediction for `figure`
// equals the published figure (the prediction rises with the factor).
double solve(const Catalog& catalog, const PublishedFigure& figure, Efficiency& eff, double Efficiency::*field,
             double lo, double hi, bool alsoPrefill = false) {
  auto predictAt = [&](double v) {
    eff.*field = v;
    if (alsoPrefill) eff.prefillCompute = v;
    return predictTokensPerS(catalog, figure, eff);
  };
  if (predictAt(lo) <= 0) throw PlannerError("calibration: " + figure.id + ": the catalog cannot predict it");
  for (int i = 0; i < 100; ++i) {
    double mid = (lo + hi) / 2;
    if (predictAt(mid) < figure.tokensPerS)
      lo = mid;
    else
      hi = mid;
  }
  predictAt((lo + hi) / 2);
  return (lo + hi) / 2;
}

}  // namespace

Calibration fitEfficiency(const Catalog& catalog) {
  Calibration c;
  Efficiency& eff = c.efficiency;
  const auto& computeFig = figureFitting("compute");
  const auto& bandwidthFig = figureFitting("bandwidth");
  for (c.rounds = 1; c.rounds <= 50; ++c.rounds) {
    double before[2] = {eff.decodeCompute, eff.bandwidth};
    solve(catalog, computeFig, eff, &Efficiency::decodeCompute, 0.01, 1.0, true);
    solve(catalog, bandwidthFig, eff, &Efficiency::bandwidth, 0.01, 1.0);
    if (std::abs(eff.decodeCompute - before[0]) < 1e-9 && std::abs(eff.bandwidth - before[1]) < 1e-9) break;
  }
  return c;
}

}  // namespace arbitra::planner
