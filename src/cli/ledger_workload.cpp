// Measuring a workload from ledger records (see ledger_workload.h).
#include "cli/ledger_workload.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <stdexcept>

namespace arbitra::cli {

namespace {

struct RouteStats {
  std::vector<int64_t> input, output, ttftUs;
  std::array<int64_t, 24> perHour{};
  int64_t cachedRead = 0, inputSum = 0;
  std::set<std::string> upstreamModels;
};

double mean(const std::vector<int64_t>& xs) {
  if (xs.empty()) return 0;
  double sum = 0;
  for (auto x : xs) sum += static_cast<double>(x);
  return sum / static_cast<double>(xs.size());
}

// The nearest-rank p95.
double p95(std::vector<int64_t> xs) {
  if (xs.empty()) return 0;
  std::sort(xs.begin(), xs.end());
  size_t rank = static_cast<size_t>(std::ceil(0.95 * static_cast<double>(xs.size())));
  return static_cast<double>(xs[std::max<size_t>(rank, 1) - 1]);
}

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

LedgerWorkload workloadFromLedger(ledger::Store& store, const planner::Catalog& catalog,
                                  const LedgerWorkloadOptions& options, const std::string& name) {
  std::map<std::string, RouteStats> routes;
  int64_t first = INT64_MAX, last = INT64_MIN, records = 0;
  store.scan(options.fromMs, options.toMs, [&](const ledger::Record& r) {
    if (r.status / 100 != 2 || r.model.empty()) return;
    auto& route = routes[r.model];
    route.input.push_back(r.inputTokens);
    route.output.push_back(r.outputTokens);
    if (r.ttftUs > 0) route.ttftUs.push_back(r.ttftUs);
    route.perHour[static_cast<size_t>((r.timeMs / 3'600'000) % 24)] += 1;
    route.cachedRead += r.cachedReadTokens;
    route.inputSum += r.inputTokens;
    if (auto slash = r.deployment.find('/'); slash != std::string::npos) {
      route.upstreamModels.insert(r.deployment.substr(slash + 1));
    }
    first = std::min(first, r.timeMs);
    last = std::max(last, r.timeMs);
    ++records;
  });
  if (records == 0) throw std::runtime_error("the ledger has no successful requests in that range to plan from");
  // The span the records cover (at least an hour), scaled to a month.
  double spanMs = std::max<double>(static_cast<double>(last - first), 3'600'000.0);
  double perMonth = 30.4375 * 86'400'000.0 / spanMs;

  std::string yaml = "workload: " + quoted(name) + "\nroutes:\n";
  std::string summary = "measured from " + std::to_string(records) + " ledger records over " +
                        number(spanMs / 86'400'000.0) + " day(s):\n";
  int planned = 0;
  for (const auto& [model, r] : routes) {
    std::vector<std::string> api;
    for (const auto& upstream : r.upstreamModels) {
      if (catalog.findPrice(upstream)) api.push_back(upstream);
    }
    if (api.empty() && catalog.findPrice(model)) api.push_back(model);
    std::vector<std::string> open;
    for (const auto& id : options.openWeight) {
      if (!catalog.findModel(id)) throw std::runtime_error("--open-weight: '" + id + "' is not in data/planner/models.yaml");
      open.push_back(id);
    }
    if (api.empty() && open.empty()) {
      summary += "  " + model + ": skipped (its deployments are not in data/planner/api_prices.yaml; add --open-weight)\n";
      continue;
    }
    double outMean = std::max(mean(r.output), 1.0);
    double ttftMs = options.maxTtftMs.value_or(r.ttftUs.empty() ? 1000.0 : std::ceil(p95(r.ttftUs) / 1000.0));
    yaml += "  - name: " + quoted(model) + "\n";
    yaml += "    requests_per_month: " + number(static_cast<double>(r.input.size()) * perMonth) + "\n";
    yaml += "    hourly_profile: [";
    for (size_t h = 0; h < 24; ++h) yaml += (h ? ", " : "") + std::to_string(r.perHour[h]);
    yaml += "]\n";
    yaml += "    input_tokens: { mean: " + number(std::max(mean(r.input), 1.0)) + ", p95: " +
            number(std::max({p95(r.input), mean(r.input), 1.0})) + " }\n";
    yaml += "    output_tokens: { mean: " + number(outMean) + ", p95: " + number(std::max(p95(r.output), outMean)) + " }\n";
    yaml += "    cache_hit_rate: " +
            number(r.inputSum > 0 ? static_cast<double>(r.cachedRead) / static_cast<double>(r.inputSum) : 0.0) + "\n";
    yaml += "    latency: { max_ttft_ms: " + number(std::max(ttftMs, 1.0));
    if (options.minTokensPerS) yaml += ", min_tokens_per_s: " + number(*options.minTokensPerS);
    yaml += " }\n    models:\n";
    if (!api.empty()) {
      yaml += "      api: [";
      for (size_t i = 0; i < api.size(); ++i) yaml += (i ? ", " : "") + quoted(api[i]);
      yaml += "]\n";
    }
    if (!open.empty()) {
      yaml += "      open_weight: [";
      for (size_t i = 0; i < open.size(); ++i) yaml += (i ? ", " : "") + quoted(open[i]);
      yaml += "]\n";
    }
    summary += "  " + model + ": " + std::to_string(r.input.size()) + " requests -> " +
               number(static_cast<double>(r.input.size()) * perMonth) + "/month, input mean " +
               number(mean(r.input)) + " p95 " + number(p95(r.input)) + ", output mean " + number(mean(r.output)) +
               " p95 " + number(p95(r.output)) + ", TTFT bar " + number(ttftMs) + " ms\n";
    ++planned;
  }
  if (planned == 0) {
    throw std::runtime_error("no model group in the ledger can be planned: " + summary);
  }
  return {yaml, summary};
}

}  // namespace arbitra::cli
