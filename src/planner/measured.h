// Measured throughput that overrides the model: `arbitra plan --measured FILE.json`.
//
// The format is what `arbitra bench --json` emits (its other top-level keys
// are ignored; its defaults name this project's CPU row and the generated
// test models' catalog rows, so its output is read as is); a file can also be
// written by hand from any measurement:
//
//   {"results": [
//     {"hardware": "h100-sxm", "model": "llama-3.1-8b", "quant": "Q4_K_M",
//      "batch": 16, "decode_tokens_per_s": 1850.0, "prefill_tokens_per_s": 9000.0,
//      "source": "vLLM benchmark_serving, 2026-11-20"}
//   ]}
//
// decode_tokens_per_s is the aggregate over `batch` streams; prefill is
// optional. Ids must exist in the catalog; errors read "FILE: results[i].field: what".
// Several rows for the same hardware/model/format (a bench at 1, 2, 4
// streams): the plan uses the one with the largest batch.
//
// Also here: the points of a bench file for the model to predict, and the fit
// of a hardware row's parameters to them (bench/planner_measured.sh --fit).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "planner/catalog.h"
#include "planner/throughput.h"

namespace arbitra::planner {

// One row of the file, as written.
struct MeasuredRow {
  std::string hardware, model, quant;
  Measurement measurement;
};

// Every row, in file order. Throws PlannerError.
std::vector<MeasuredRow> parseMeasuredRows(const std::string& text, const std::string& file, const Catalog& catalog);

// Keyed by measurementKey(hardware, model, quant), the largest batch of each. Throws PlannerError.
std::map<std::string, Measurement> loadMeasurements(const std::string& path, const Catalog& catalog);
std::map<std::string, Measurement> parseMeasurements(const std::string& text, const std::string& file,
                                                     const Catalog& catalog);

// One `arbitra bench --json` figure as a point the model predicts: decode
// tokens/s (aggregate) at `batch` streams, or prefill tokens/s of one prompt.
struct BenchPoint {
  std::string hardware, model, quant;
  int batch = 1;          // decode streams; 0 for prefill
  double tokens = 0;      // prefill: prompt tokens; decode: KV context per stream (prompt + half the output)
  double tokensPerS = 0;  // measured
  int run = 0;            // which run of the bench script it came from (runN-*.json); 0: unknown
  // The machine's kernel rates measured next to this bench run
  // (arbitra-cpu-probe, probeN-*.json beside runN-*.json); empty: the
  // hardware row's own `kernels`. Where given, the prediction uses them: a
  // spec of the machine at that moment, like its bandwidth.
  std::map<std::string, KernelRate> probe;
};

// The kernel rates of an `arbitra-cpu-probe` output ({"types": {"Q8_0":
// {"gemv_gbs": .., "gemm_gflops": ..}, ..}}). Throws PlannerError.
std::map<std::string, KernelRate> parseProbe(const std::string& text, const std::string& file);

// The prompt of each decode request in `arbitra bench` (engine/bench.cpp:
// "Stream N: " + 24 words in the Llama-3 chat template): ~40 tokens.
constexpr double kBenchDecodePromptTokens = 40;

// The points of one `arbitra bench --json` output (decode at each level, and
// its prefill). Throws PlannerError.
std::vector<BenchPoint> parseBenchPoints(const std::string& text, const std::string& file, const Catalog& catalog);

// The points of bench files runN-<model>-<format>.json (N: BenchPoint::run),
// each with the probe beside it (probeN-<model>-<format>.json) where there is
// one. Throws PlannerError.
std::vector<BenchPoint> loadBenchFiles(const std::vector<std::string>& files, const Catalog& catalog);

// Per tensor type, the median over the distinct probes of `points` (one per
// run and model/format) of the gemv and gemm rates: a row's `kernels` as the
// machine's typical state over those runs.
std::map<std::string, KernelRate> medianKernels(const std::vector<BenchPoint>& points);

// What the model predicts for `p` on `hw` (the row as given: the fit passes
// trial rows; p.probe's kernel rates replace the row's where given); 0 when
// the catalog lacks the model or format.
double predictBenchPoint(const Catalog& catalog, const Hardware& hw, const BenchPoint& p, const Efficiency& eff);

// Fits a hardware row's own parameters (Hardware::bandwidthEfficiency,
// decode/prefill compute, matmulHalfWidth, layerOverheadUs, overlap) to
// measured points on that hardware: least squares of log(predicted /
// measured), Nelder-Mead over unconstrained transforms of the six, restarted
// until it stops improving; deterministic (fixed start, no randomness).
// blockQuantEfficiency is set to 1 when every point is block-quantized (it
// cannot be told apart from the bandwidth factor then). The row's peak
// figures (bandwidth_gbs, fp16_tflops) are kept: the factors are relative to them.
struct RowFit {
  Hardware row;           // `hw` with the fitted parameters
  double rmsLogError = 0;  // over the points
  double maxAbsError = 0;  // largest |predicted / measured - 1|
  int evaluations = 0;
};
RowFit fitHardwareRow(const Catalog& catalog, const Hardware& hw, const std::vector<BenchPoint>& points,
                      const Efficiency& eff);

}  // namespace arbitra::planner
