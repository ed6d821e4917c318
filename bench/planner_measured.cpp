// arbitra-planner-measured (bench/planner_measured.sh): the planner's
// throughput model against `arbitra bench --json` measurements. Reads the
// bench files of several runs (runN-<model>-<format>.json; N is the run), and
// beside each the machine probe taken just before it
// (probeN-<model>-<format>.json, arbitra-cpu-probe: ggml's kernel rates per
// tensor type), predicts every point, and prints a markdown table per
// hardware/model/format/batch: each run's figure, the median over the checked
// runs, the prediction, and the error against that median.
//
// Fit and hold-out: --fit-runs SET fits the CPU row's parameters
// (fitHardwareRow, planner/measured.h) to the points of those runs only and
// prints them as YAML for data/planner/hardware.yaml; --check-runs SET says
// which runs the table compares against (SET: all, odd, even, or a list
// "2,4,6"). Fit on odd, check on even: every figure in the table is one the
// fit never saw. Without --fit-runs the row is the catalog's (the shipped
// one). --spec says which machine spec a point is predicted with:
// `concurrent` (default where probe files exist): each bench's own probe,
// taken just before it, as the row's kernel rates; `run`: the median of the
// probes of its run; `row`: the row's `kernels` (the catalog's, or with
// --fit-runs the median of the fitted runs' probes).
// --fit is --fit-runs all (the former single-run use). Exit 1 when a row's
// median is off by more than 25%, 2 on bad input. A benchmark, not a test.
//
//   arbitra-planner-measured [--catalog DIR] [--fit-runs SET] [--check-runs SET] [--spec concurrent|run|row]
//                            [--peak P.json ...] -- runN-*.json ...
#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "planner/catalog.h"
#include "planner/measured.h"
#include "planner/throughput.h"

using namespace arbitra::planner;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  if (n == 0) return 0;
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string list(const std::vector<double>& v) {
  std::string out;
  for (double x : v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s%.1f", out.empty() ? "" : " / ", x);
    out += buf;
  }
  return out;
}

bool inSet(const std::string& set, int run) {
  if (set == "all") return true;
  if (set == "odd") return run % 2 == 1;
  if (set == "even") return run > 0 && run % 2 == 0;
  size_t start = 0;
  while (start < set.size()) {
    size_t comma = set.find(',', start);
    if (comma == std::string::npos) comma = set.size();
    if (std::atoi(set.substr(start, comma - start).c_str()) == run) return true;
    start = comma + 1;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "data/planner", fitRuns, checkRuns = "all", spec;
  std::vector<std::string> peaks, files;
  bool afterDash = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (afterDash) files.push_back(a);
    else if (a == "--") afterDash = true;
    else if (a == "--catalog" && i + 1 < argc) dir = argv[++i];
    else if (a == "--fit") fitRuns = "all";
    else if (a == "--fit-runs" && i + 1 < argc) fitRuns = argv[++i];
    else if (a == "--check-runs" && i + 1 < argc) checkRuns = argv[++i];
    else if (a == "--spec" && i + 1 < argc) spec = argv[++i];
    else if (a == "--peak") {
      while (i + 1 < argc && std::string(argv[i + 1]) != "--") peaks.push_back(argv[++i]);
    } else files.push_back(a);
  }
  if (files.empty() || (!spec.empty() && spec != "concurrent" && spec != "run" && spec != "row")) {
    std::fprintf(stderr,
                 "usage: arbitra-planner-measured [--catalog DIR] [--fit-runs SET] [--check-runs SET] "
                 "[--spec concurrent|run|row] [--peak P.json ...] -- runN-*.json ...\n");
    return 2;
  }
  try {
    Catalog catalog = loadCatalog(dir);
    Efficiency eff;
    std::vector<BenchPoint> all = loadBenchFiles(files, catalog);
    std::set<std::string> probedFiles;
    for (const auto& p : all)
      if (!p.probe.empty()) probedFiles.insert(std::to_string(p.run) + p.model + p.quant);
    int probed = static_cast<int>(probedFiles.size());
    if (spec.empty()) spec = probed > 0 ? "concurrent" : "row";
    if (spec != "row" && probed < static_cast<int>(files.size()))
      throw PlannerError("--spec " + spec + ": " + std::to_string(files.size() - probed) +
                         " bench file(s) have no probeN-*.json beside them");
    if (spec == "run") {
      // Each point with the median of its run's probes (the run's state,
      // less one probe's own noise).
      std::map<int, std::vector<BenchPoint>> byRun;
      for (const auto& p : all) byRun[p.run].push_back(p);
      std::map<int, std::map<std::string, KernelRate>> runKernels;
      for (const auto& [run, points] : byRun) runKernels[run] = arbitra::planner::medianKernels(points);
      for (auto& p : all) p.probe = runKernels[p.run];
    }
    const std::string hwId = all.front().hardware;
    Hardware row = *catalog.findHardware(hwId);
    std::printf("## Planner vs `arbitra bench` on this machine\n\n");
    if (!peaks.empty()) {
      std::vector<double> triad, fma;
      for (const auto& p : peaks) {
        auto doc = boost::json::parse(readFile(p));
        triad.push_back(doc.at("triad_gb_per_s").to_number<double>());
        fma.push_back(doc.at("fma_fp32_gflops").to_number<double>());
      }
      std::printf("Machine (arbitra-cpu-peak, best of 7 per run; runs: %s GB/s triad, %s GFLOPS FMA)"
                  " vs the catalog row `%s`: %.2f GB/s, %.1f GFLOPS.\n\n",
                  list(triad).c_str(), list(fma).c_str(), row.id.c_str(), row.bandwidthGBs, row.fp16Tflops * 1000);
    }
    // The probes per type over the runs: the spread of the machine's state.
    std::map<std::string, std::vector<double>> gemv, gemm;
    std::set<std::pair<int, std::string>> seenProbe;
    for (const auto& p : all) {
      if (p.probe.empty() || !seenProbe.insert({p.run, p.model + p.quant}).second) continue;
      for (const auto& [type, k] : p.probe) {
        gemv[type].push_back(k.gemvGBs);
        gemm[type].push_back(k.gemmGflops);
      }
    }
    if (!gemv.empty()) {
      std::printf("Probes (arbitra-cpu-probe, one before each bench, %d in all): per type, median and range of "
                  "gemv GB/s | gemm GFLOPS:", probed);
      for (const auto& [type, v] : gemv) {
        auto [lo, hi] = std::minmax_element(v.begin(), v.end());
        auto [glo, ghi] = std::minmax_element(gemm[type].begin(), gemm[type].end());
        std::printf(" %s %.2f (%.2f-%.2f) | %.0f (%.0f-%.0f);", type.c_str(), median(v), *lo, *hi,
                    median(gemm[type]), *glo, *ghi);
      }
      std::printf("\n\n");
    }
    if (!fitRuns.empty()) {
      std::vector<BenchPoint> fitPoints;
      std::set<int> runs;
      for (const auto& p : all)
        if (inSet(fitRuns, p.run)) {
          fitPoints.push_back(p);
          runs.insert(p.run);
        }
      if (fitPoints.empty()) throw PlannerError("--fit-runs " + fitRuns + ": no bench file of those runs");
      // The row's kernels: the median of the fitted runs' probes (the spec
      // `--spec row` predicts with); with --spec concurrent each point's own.
      std::map<std::string, KernelRate> medianKernels = arbitra::planner::medianKernels(fitPoints);
      if (!medianKernels.empty()) row.kernels = medianKernels;
      if (spec == "row")
        for (auto& p : fitPoints) p.probe.clear();
      RowFit f = fitHardwareRow(catalog, row, fitPoints, eff);
      row = f.row;
      std::string runList;
      for (int r : runs) runList += (runList.empty() ? "" : ",") + std::to_string(r);
      std::printf("Fitted (spec: %s) to the %zu points of runs %s (%d evaluations; rms log error %.4f, largest "
                  "error %.1f%%); for data/planner/hardware.yaml, row `%s`:\n\n```yaml\n    efficiency:\n",
                  spec.c_str(), fitPoints.size(), runList.c_str(), f.evaluations, f.rmsLogError,
                  f.maxAbsError * 100, row.id.c_str());
      std::printf("      bandwidth: %.4g\n", *row.bandwidthEfficiency);
      if (row.blockQuantEfficiency) std::printf("      block_quant: %.4g\n", *row.blockQuantEfficiency);
      std::printf("      decode_compute: %.4g\n      prefill_compute: %.4g\n      matmul_half_width: %.4g\n"
                  "      layer_overhead_us: %.4g\n      overlap: %.4g\n",
                  *row.decodeComputeEfficiency, *row.prefillComputeEfficiency, *row.matmulHalfWidth,
                  *row.layerOverheadUs, *row.overlap);
      if (!medianKernels.empty()) {
        std::printf("    kernels:  # median of the fitted runs' probes\n");
        for (const auto& [type, k] : medianKernels)
          std::printf("      %s: { gemv_gbs: %.2f, gemm_gflops: %.1f }\n", type.c_str(), k.gemvGBs, k.gemmGflops);
      }
      std::printf("```\n\n");
    }
    auto show = [](const std::optional<double>& v) {
      char buf[32];
      if (v) std::snprintf(buf, sizeof buf, "%.4g", *v);
      else std::snprintf(buf, sizeof buf, "default");
      return std::string(buf);
    };
    std::printf("Row `%s`%s: bandwidth %s, decode compute %s, prefill compute %s (%s), matmul half width %s, "
                "layer overhead %s µs, overlap %s. Predicted with: %s.\n\n",
                row.id.c_str(), fitRuns.empty() ? " (as in the catalog)" : " (as fitted above)",
                show(row.bandwidthEfficiency).c_str(), show(row.decodeComputeEfficiency).c_str(),
                show(row.prefillComputeEfficiency).c_str(),
                row.kernels.empty() && spec == "row" ? "of the triad bandwidth and FMA peak" : "of the kernel rates",
                show(row.matmulHalfWidth).c_str(), show(row.layerOverheadUs).c_str(), show(row.overlap).c_str(),
                spec == "concurrent" ? "each bench's own probe, taken just before it (the prediction shown is the "
                                       "median of the checked runs' predictions)"
                : spec == "run"      ? "each run's median probe (the prediction shown is the median of the checked "
                                       "runs' predictions)"
                                     : "the row's kernel rates");
    // (model, format, batch) -> per checked run: measured and predicted.
    using Key = std::tuple<std::string, std::string, int>;
    std::map<Key, std::vector<std::pair<int, std::pair<double, double>>>> table;
    std::set<int> checked;
    for (auto p : all) {
      if (!inSet(checkRuns, p.run)) continue;
      if (spec == "row") p.probe.clear();
      checked.insert(p.run);
      table[{p.model, p.quant, p.batch}].push_back({p.run, {p.tokensPerS, predictBenchPoint(catalog, row, p, eff)}});
    }
    std::string runList;
    for (int r : checked) runList += (runList.empty() ? "" : ",") + std::to_string(r);
    std::printf("Checked runs: %s%s.\n\n", runList.c_str(),
                fitRuns.empty() ? "" : (" (fitted: " + fitRuns + ")").c_str());
    std::printf("| model | format | what | measured per run (tok/s) | median | spread | predicted | error vs median "
                "| runs within ±25%% |\n|---|---|---|---|---:|---:|---:|---:|---:|\n");
    std::vector<Key> keys;
    for (const auto& [k, v] : table) keys.push_back(k);
    std::stable_sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) {
      auto rank = [](int batch) { return batch == 0 ? 1 : batch == 1 ? 0 : batch; };
      return std::make_tuple(std::get<0>(a), std::get<1>(a), rank(std::get<2>(a))) <
             std::make_tuple(std::get<0>(b), std::get<1>(b), rank(std::get<2>(b)));
    });
    int rows = 0, within = 0, pointsWithin = 0, points = 0;
    for (const auto& k : keys) {
      auto v = table[k];
      std::sort(v.begin(), v.end());
      std::vector<double> measured, predicted;
      int ok = 0;
      for (const auto& [run, mp] : v) {
        measured.push_back(mp.first);
        predicted.push_back(mp.second);
        ok += std::abs(mp.second / mp.first - 1) <= 0.25;
      }
      double m = median(measured), pr = median(predicted);
      auto [lo, hi] = std::minmax_element(measured.begin(), measured.end());
      double err = pr / m - 1;
      bool okMedian = std::abs(err) <= 0.25;
      ++rows;
      within += okMedian;
      points += static_cast<int>(v.size());
      pointsWithin += ok;
      std::string model = std::get<0>(k);
      if (model.starts_with("arbitra-random-")) model = model.substr(15);
      char what[48];
      if (std::get<2>(k) == 0)
        std::snprintf(what, sizeof what, "prefill, %.0f tokens", 267.0);
      else
        std::snprintf(what, sizeof what, "decode, %d stream%s", std::get<2>(k), std::get<2>(k) == 1 ? "" : "s");
      std::printf("| %s | %s | %s | %s | %.1f | %.2fx | %.1f | %+.0f%%%s | %d of %zu |\n", model.c_str(),
                  std::get<1>(k).c_str(), what, list(measured).c_str(), m, *hi / *lo, pr, err * 100,
                  okMedian ? "" : " **out**", ok, v.size());
    }
    std::printf("\nWithin ±25%%: %d of %d rows against the median of runs %s; %d of %d single-run points.\n", within,
                rows, runList.c_str(), pointsWithin, points);
    return within == rows ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "arbitra-planner-measured: %s\n", e.what());
    return 2;
  }
}
