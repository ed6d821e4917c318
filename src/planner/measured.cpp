// Parsing measured throughput (see measured.h).
#include "planner/measured.h"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "planner/plan.h"

namespace arbitra::planner {

std::vector<MeasuredRow> parseMeasuredRows(const std::string& text, const std::string& file,
                                           const Catalog& catalog) {
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(text, ec);
  if (ec) throw PlannerError(file + ": not valid JSON: " + ec.message());
  auto fail = [&](const std::string& path, const std::string& what) -> void {
    throw PlannerError(file + ": " + path + ": " + what);
  };
  if (!doc.is_object() || !doc.as_object().contains("results") || !doc.at("results").is_array()) {
    fail("results", "expected an object with a \"results\" array");
  }
  std::vector<MeasuredRow> out;
  const auto& results = doc.at("results").as_array();
  for (size_t i = 0; i < results.size(); ++i) {
    std::string at = "results[" + std::to_string(i) + "]";
    if (!results[i].is_object()) fail(at, "expected an object");
    const auto& r = results[i].as_object();
    auto str = [&](const char* key) {
      if (!r.contains(key) || !r.at(key).is_string()) fail(at + "." + key, "missing (a string)");
      return std::string(r.at(key).as_string());
    };
    auto num = [&](const char* key, bool required) {
      if (!r.contains(key)) {
        if (required) fail(at + "." + key, "missing (a number)");
        return 0.0;
      }
      if (!r.at(key).is_number()) fail(at + "." + key, "expected a number");
      double v = r.at(key).to_number<double>();
      if (!std::isfinite(v) || v < 0) fail(at + "." + key, "must be a non-negative number");
      return v;
    };
    std::string hw = str("hardware"), model = str("model"), quant = str("quant");
    if (!catalog.findHardware(hw)) fail(at + ".hardware", "unknown hardware '" + hw + "'");
    if (!catalog.findModel(model)) fail(at + ".model", "unknown model '" + model + "'");
    if (!catalog.findQuantization(quant)) fail(at + ".quant", "unknown quantization '" + quant + "'");
    Measurement m;
    double batch = r.contains("batch") ? num("batch", true) : 1;
    if (batch < 1 || std::floor(batch) != batch) fail(at + ".batch", "expected a whole number >= 1");
    m.batch = static_cast<int>(batch);
    m.decodeTokensPerS = num("decode_tokens_per_s", true);
    if (m.decodeTokensPerS <= 0) fail(at + ".decode_tokens_per_s", "must be above zero");
    m.prefillTokensPerS = num("prefill_tokens_per_s", false);
    m.source = r.contains("source") && r.at("source").is_string() ? std::string(r.at("source").as_string()) : file;
    out.push_back({hw, model, quant, m});
  }
  return out;
}

std::map<std::string, Measurement> parseMeasurements(const std::string& text, const std::string& file,
                                                     const Catalog& catalog) {
  std::map<std::string, Measurement> out;
  for (auto& row : parseMeasuredRows(text, file, catalog)) {
    auto key = measurementKey(row.hardware, row.model, row.quant);
    auto it = out.find(key);
    if (it == out.end() || row.measurement.batch >= it->second.batch) out[key] = row.measurement;
  }
  return out;
}

std::map<std::string, Measurement> loadMeasurements(const std::string& path, const Catalog& catalog) {
  return parseMeasurements(readFile(path), path, catalog);
}

std::vector<BenchPoint> parseBenchPoints(const std::string& text, const std::string& file, const Catalog& catalog) {
  auto rows = parseMeasuredRows(text, file, catalog);  // validates the JSON and the ids
  auto doc = boost::json::parse(text);
  const auto& o = doc.as_object();
  double promptTokens = 256, outputTokens = 64;
  if (o.contains("prefill") && o.at("prefill").is_object() && o.at("prefill").as_object().contains("tokens"))
    promptTokens = o.at("prefill").at("tokens").to_number<double>();
  if (o.contains("generate_tokens")) outputTokens = o.at("generate_tokens").to_number<double>();
  std::vector<BenchPoint> out;
  bool prefillDone = false;
  for (const auto& r : rows) {
    const Measurement& m = r.measurement;
    BenchPoint decode;
    decode.hardware = r.hardware;
    decode.model = r.model;
    decode.quant = r.quant;
    decode.batch = m.batch;
    decode.tokens = kBenchDecodePromptTokens + outputTokens / 2;
    decode.tokensPerS = m.decodeTokensPerS;
    out.push_back(decode);
    if (!prefillDone && m.prefillTokensPerS > 0) {
      BenchPoint prefill = decode;
      prefill.batch = 0;
      prefill.tokens = promptTokens;
      prefill.tokensPerS = m.prefillTokensPerS;
      out.push_back(prefill);
      prefillDone = true;
    }
  }
  return out;
}

std::map<std::string, KernelRate> parseProbe(const std::string& text, const std::string& file) {
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(text, ec);
  if (ec) throw PlannerError(file + ": not valid JSON: " + ec.message());
  if (!doc.is_object() || !doc.as_object().contains("types") || !doc.at("types").is_object())
    throw PlannerError(file + ": types: expected an object of tensor types");
  std::map<std::string, KernelRate> out;
  for (const auto& [type, v] : doc.at("types").as_object()) {
    std::string name(type);
    auto field = [&](const char* key) {
      if (!v.is_object() || !v.as_object().contains(key) || !v.at(key).is_number())
        throw PlannerError(file + ": types." + name + "." + key + ": missing (a number)");
      double x = v.at(key).to_number<double>();
      if (!(x > 0) || !std::isfinite(x)) throw PlannerError(file + ": types." + name + "." + key + ": must be > 0");
      return x;
    };
    if (ggmlTypeBytesPerWeight(name) == 0) throw PlannerError(file + ": types." + name + ": unknown tensor type");
    out[name] = {field("gemv_gbs"), field("gemm_gflops")};
  }
  return out;
}

std::vector<BenchPoint> loadBenchFiles(const std::vector<std::string>& files, const Catalog& catalog) {
  std::vector<BenchPoint> all;
  for (const auto& file : files) {
    auto points = parseBenchPoints(readFile(file), file, catalog);
    std::filesystem::path path(file);
    std::string base = path.filename().string();
    int run = 0;
    std::map<std::string, KernelRate> probe;
    if (base.starts_with("run")) {
      run = std::atoi(base.c_str() + 3);
      std::filesystem::path probeFile = path.parent_path() / ("probe" + base.substr(3));
      if (std::filesystem::exists(probeFile)) probe = parseProbe(readFile(probeFile.string()), probeFile.string());
    }
    for (auto& p : points) {
      p.run = run;
      p.probe = probe;
      all.push_back(std::move(p));
    }
  }
  return all;
}

std::map<std::string, KernelRate> medianKernels(const std::vector<BenchPoint>& points) {
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  };
  std::map<std::string, std::vector<double>> gemv, gemm;
  std::set<std::string> seen;
  for (const auto& p : points) {
    if (p.probe.empty() || !seen.insert(std::to_string(p.run) + "/" + p.model + "/" + p.quant).second) continue;
    for (const auto& [type, k] : p.probe) {
      gemv[type].push_back(k.gemvGBs);
      gemm[type].push_back(k.gemmGflops);
    }
  }
  std::map<std::string, KernelRate> out;
  for (const auto& [type, v] : gemv) out[type] = {median(v), median(gemm[type])};
  return out;
}

double predictBenchPoint(const Catalog& catalog, const Hardware& row, const BenchPoint& p, const Efficiency& eff) {
  const ModelShape* m = catalog.findModel(p.model);
  const Quantization* q = catalog.findQuantization(p.quant);
  if (!m || !q) return 0;
  Hardware hw = row;
  for (const auto& [type, rate] : p.probe) hw.kernels[type] = rate;
  auto d = deviceBudget(hw, 1, *q, eff);
  if (!d) return 0;
  if (p.batch == 0) return p.tokens / prefillSeconds(*d, *m, *q, p.tokens);
  return decodeTokensPerS(*d, *m, *q, p.batch, p.tokens);
}

namespace {

constexpr int kFitDims = 6;
using FitVector = std::array<double, kFitDims>;

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double logit(double p) { return std::log(p / (1.0 - p)); }

// Unconstrained coordinates -> the row's parameters (overlap in (0, 1), the
// others positive; bandwidth in (0, 1) of a peak figure, or positive where
// the row has kernel rates: of a measured kernel's rate, which a model's
// smaller tensors may beat).
void setFitted(const FitVector& x, Hardware& row) {
  row.bandwidthEfficiency = row.kernels.empty() ? sigmoid(x[0]) : std::exp(x[0]);
  row.decodeComputeEfficiency = std::exp(x[1]);
  row.prefillComputeEfficiency = std::exp(x[2]);
  row.matmulHalfWidth = std::exp(x[3]);
  row.layerOverheadUs = std::exp(x[4]);
  row.overlap = sigmoid(x[5]);
}

}  // namespace

RowFit fitHardwareRow(const Catalog& catalog, const Hardware& hw, const std::vector<BenchPoint>& points,
                      const Efficiency& eff) {
  if (points.empty()) throw PlannerError("fit of " + hw.id + ": no measured points");
  RowFit fit;
  fit.row = hw;
  bool allBlockQuantized = true;
  for (const auto& p : points) {
    if (p.hardware != hw.id) throw PlannerError("fit of " + hw.id + ": a point is on " + p.hardware);
    if (p.tokensPerS <= 0) throw PlannerError("fit of " + hw.id + ": a point has no rate");
    const Quantization* q = catalog.findQuantization(p.quant);
    if (!q) throw PlannerError("fit of " + hw.id + ": unknown format " + p.quant);
    if (q->fp8Compute || q->bitsPerWeight >= 16) allBlockQuantized = false;
  }
  if (hw.kind == HardwareKind::Cpu && allBlockQuantized) fit.row.blockQuantEfficiency = 1.0;
  bool kernels = !hw.kernels.empty();
  for (const auto& p : points) kernels = kernels || !p.probe.empty();
  // With kernel rates (the row's or each point's probe) the factors are of them.
  if (kernels && fit.row.kernels.empty()) fit.row.kernels = points.front().probe;
  Hardware trial = fit.row;
  auto cost = [&](const FitVector& x) {
    ++fit.evaluations;
    setFitted(x, trial);
    double sum = 0;
    for (const auto& p : points) {
      double predicted = predictBenchPoint(catalog, trial, p, eff);
      if (!(predicted > 0) || !std::isfinite(predicted)) return 1e30;
      double e = std::log(predicted / p.tokensPerS);
      sum += e * e;
    }
    return sum;
  };
  // Nelder-Mead (standard coefficients), restarted from its best point with a
  // fresh simplex until a restart no longer improves the cost.
  FitVector best = {kernels ? std::log(0.9) : logit(0.6), std::log(0.5), std::log(0.8), std::log(500.0),
                    std::log(50.0), logit(0.5)};
  double bestCost = cost(best);
  for (int restart = 0; restart < 20; ++restart) {
    std::array<FitVector, kFitDims + 1> simplex;
    std::array<double, kFitDims + 1> f;
    for (int i = 0; i <= kFitDims; ++i) {
      simplex[i] = best;
      if (i > 0) simplex[i][i - 1] += 0.5;
      f[i] = cost(simplex[i]);
    }
    for (int iter = 0; iter < 4000; ++iter) {
      std::array<int, kFitDims + 1> order;
      for (int i = 0; i <= kFitDims; ++i) order[i] = i;
      std::sort(order.begin(), order.end(), [&](int a, int b) { return f[a] < f[b]; });
      int lo = order.front(), hi = order.back(), second = order[kFitDims - 1];
      if (f[hi] - f[lo] < 1e-14) break;
      FitVector centroid{};
      for (int i = 0; i <= kFitDims; ++i)
        if (i != hi)
          for (int k = 0; k < kFitDims; ++k) centroid[k] += simplex[i][k] / kFitDims;
      auto along = [&](double t) {
        FitVector x;
        for (int k = 0; k < kFitDims; ++k) x[k] = centroid[k] + t * (simplex[hi][k] - centroid[k]);
        return x;
      };
      FitVector reflected = along(-1.0);
      double fr = cost(reflected);
      if (fr < f[lo]) {
        FitVector expanded = along(-2.0);
        double fe = cost(expanded);
        if (fe < fr) {
          simplex[hi] = expanded;
          f[hi] = fe;
        } else {
          simplex[hi] = reflected;
          f[hi] = fr;
        }
      } else if (fr < f[second]) {
        simplex[hi] = reflected;
        f[hi] = fr;
      } else {
        FitVector contracted = fr < f[hi] ? along(-0.5) : along(0.5);
        double fc = cost(contracted);
        if (fc < std::min(fr, f[hi])) {
          simplex[hi] = contracted;
          f[hi] = fc;
        } else {
          for (int i = 0; i <= kFitDims; ++i) {
            if (i == lo) continue;
            for (int k = 0; k < kFitDims; ++k) simplex[i][k] = simplex[lo][k] + 0.5 * (simplex[i][k] - simplex[lo][k]);
            f[i] = cost(simplex[i]);
          }
        }
      }
    }
    int lo = static_cast<int>(std::min_element(f.begin(), f.end()) - f.begin());
    bool improved = f[lo] < bestCost - 1e-12;
    if (f[lo] < bestCost) {
      bestCost = f[lo];
      best = simplex[lo];
    }
    if (!improved && restart > 0) break;
  }
  setFitted(best, fit.row);
  fit.rmsLogError = std::sqrt(bestCost / points.size());
  for (const auto& p : points) {
    double e = std::abs(predictBenchPoint(catalog, fit.row, p, eff) / p.tokensPerS - 1);
    fit.maxAbsError = std::max(fit.maxAbsError, e);
  }
  return fit;
}

}  // namespace arbitra::planner
