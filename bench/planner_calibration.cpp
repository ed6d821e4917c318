// Planner calibration report (bench/planner_calibration.sh): reruns the fit of
// the throughput model's efficiency factors against published figures and
// prints a markdown table of predicted vs published tokens/s with the shipped
// factors, each row saying whether it fitted a factor or was held out.
// Not a test: the unit tests (tests/unit/planner/calibration_test.cpp) pin the
// same predictions to ±25%.
//
//   arbitra-planner-calibration [CATALOG_DIR]   (default: data/planner)
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "planner/calibration.h"
#include "planner/catalog.h"

using namespace arbitra::planner;

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "data/planner";
  try {
    Catalog catalog = loadCatalog(dir);
    Calibration fit = fitEfficiency(catalog);
    Efficiency shipped;
    std::printf("## Planner calibration: predicted vs published and measured tokens/s\n\n");
    std::printf("Fit (%d rounds), unrounded -> shipped in src/planner/throughput.h:\n\n", fit.rounds);
    std::printf("| factor | fitted | shipped | fixed by |\n|---|---|---|---|\n");
    std::printf("| bandwidth | %.4f | %.3f | trtllm-h100-128-2048 |\n", fit.efficiency.bandwidth, shipped.bandwidth);
    std::printf("| compute (decode = prefill) | %.4f | %.3f / %.3f | trtllm-h100-128-128 |\n",
                fit.efficiency.decodeCompute, shipped.decodeCompute, shipped.prefillCompute);
    std::printf("| CPU rows | - | - | the row's own `efficiency:` (data/planner/hardware.yaml), fitted to `arbitra "
                "bench` runs (bench/planner_measured.sh --fit) |\n");
    std::printf("| memoryUsable | - | %.2f | stated (TensorRT-LLM default KV fraction) |\n", shipped.memoryUsable);
    std::printf("\n| id | setup | in/out | published / measured | predicted | ratio | within ±25%% | role | source |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|\n");
    int within = 0, checks = 0, checksWithin = 0;
    std::vector<std::string> sources;  // footnotes, in order of first use
    auto note = [&](const PublishedFigure& f) {
      for (size_t i = 0; i < sources.size(); ++i)
        if (sources[i] == f.source + ", " + f.asOf) return i + 1;
      sources.push_back(f.source + ", " + f.asOf);
      return sources.size();
    };
    for (const auto& f : publishedFigures()) {
      double p = predictTokensPerS(catalog, f, shipped);
      double ratio = p / f.tokensPerS;
      bool ok = std::abs(ratio - 1) <= 0.25;
      within += ok;
      if (f.fits.empty()) {
        ++checks;
        checksWithin += ok;
      }
      char inout[48];
      if (f.prefill)
        std::snprintf(inout, sizeof inout, "%.0f/- (prefill)", f.input);
      else
        std::snprintf(inout, sizeof inout, "%.0f/%.0f%s", f.input, f.output,
                      f.batch > 1 ? (" x" + std::to_string(f.batch)).c_str() : "");
      std::string verdict = ok ? "yes" : "NO";
      if (f.measuredHere > 0) {
        char buf[200];
        std::snprintf(buf, sizeof buf, "NO; measured here %.1f, ratio %.3f", f.measuredHere, p / f.measuredHere);
        verdict = buf;
      }
      std::printf("| %s | %s | %s | %.1f | %.1f | %.3f | %s | %s | [%zu] |\n", f.id.c_str(), f.setup.c_str(), inout,
                  f.tokensPerS, p, ratio, verdict.c_str(),
                  f.fits.empty() ? "check (held out)" : ("fit: " + f.fits).c_str(), note(f));
    }
    std::printf("\n");
    for (size_t i = 0; i < sources.size(); ++i) std::printf("[%zu] %s\n", i + 1, sources[i].c_str());
    for (const auto& f : publishedFigures())
      if (f.measuredHere > 0) std::printf("\n%s, measured here: %s\n", f.id.c_str(), f.measuredHow.c_str());
    std::printf("\n%d of %zu within ±25%%; held-out checks: %d of %d.\n", within, publishedFigures().size(),
                checksWithin, checks);
    return within == static_cast<int>(publishedFigures().size()) ? 0 : 1;
  } catch (const PlannerError& e) {
    std::fprintf(stderr, "arbitra-planner-calibration: %s\n", e.what());
    return 2;
  }
}
