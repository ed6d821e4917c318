// Calibration of the throughput model against published figures: the figures
// themselves (each with its source and date), the prediction the model makes
// for each, and the fit that fixes the efficiency factors in throughput.h.
//
// Design: some figures fit a factor, the others only check it, and each
// figure says which it is (`fits`: the factor it fixes, empty for a held-out
// check). The fit is a fixed sequence of one-dimensional solves (bisection on a
// monotonic prediction), so it is reproducible and needs no optimiser:
//   1. compute  (decode = prefill) so the H100 128/128 prediction equals 27,569;
//   2. bandwidth so the H100 128/2048 prediction equals 22,004 (given 1);
//   3. repeat 1-2 until stable (they couple only through the prefill share).
// The CPU row has its own parameters (data/planner/hardware.yaml,
// cpu-2vcpu-avx2), fitted to quiet `arbitra bench` runs on this machine by
// fitHardwareRow (planner/measured.h; bench/planner_measured.sh --fit) and
// checked there against an independent run. The CPU figures below (llama.cpp
// on this machine kind, and a 4-stream decode measured here) are held-out
// checks of that row; so are the H100 1000/1000 and H200 figures of the GPU fit.
// Pure: no I/O (the bench prints, the unit tests assert).
#pragma once

#include <string>
#include <vector>

#include "planner/catalog.h"
#include "planner/throughput.h"

namespace arbitra::planner {

struct PublishedFigure {
  std::string id;        // "trtllm-h100-128-2048"
  std::string setup;     // in words, for the table
  std::string hardware;  // Hardware::id
  std::string model;     // ModelShape::id
  std::string quant;     // Quantization::id
  double input = 0;      // tokens per request
  double output = 0;
  bool maxLoad = false;  // true: aggregate output tokens/s at the KV-limited batch; false: decode at `batch`
  double tokensPerS = 0;
  std::string fits;  // the factor this figure fixes; "" = held out, a check only
  std::string source;
  std::string asOf;
  int batch = 1;         // decode: concurrent streams (aggregate tokens/s)
  bool prefill = false;  // true: prompt tokens/s of one `input`-token prompt
  // > 0: the same setup measured on this machine with nothing else running
  // contradicts the figure; the figure stays in the table, out of ±25%, and
  // the prediction is checked against this measurement instead (`measuredHow`).
  double measuredHere = 0;
  std::string measuredHow;
};

// The usable rows of shared/data/published-figures.md, then the medians
// measured on this machine by bench/planner_measured.sh.
const std::vector<PublishedFigure>& publishedFigures();

// What the model predicts for `figure` with `eff`; 0 when a catalog row is
// missing or the model does not fit the device.
double predictTokensPerS(const Catalog& catalog, const PublishedFigure& figure, const Efficiency& eff);

struct Calibration {
  Efficiency efficiency;  // the fitted factors (unrounded); the rest as in Efficiency{}
  int rounds = 0;         // rounds of steps 1-2 until stable
};

// Runs the fit described above on `catalog` (the shipped one for the shipped
// constants). Throws PlannerError when a figure's catalog row is missing.
Calibration fitEfficiency(const Catalog& catalog);

}  // namespace arbitra::planner
