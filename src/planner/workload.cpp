// Workload parsing and validation (see workload.h).
#include "planner/workload.h"

#include <cmath>
#include <numeric>
#include <set>

#include "planner/yaml_fields.h"

namespace arbitra::planner {

using detail::Fields;

namespace {

constexpr double kDaysPerMonth = 730.0 / 24.0;

TokenStats tokenStats(const Fields& parent, const std::string& key) {
  Fields f = parent.sub(key);
  f.onlyKeys({"mean", "p95"});
  TokenStats t;
  t.mean = f.num("mean", 0, 10'000'000);
  t.p95 = f.optNum("p95", 0, 10'000'000).value_or(t.mean);
  if (t.p95 < t.mean) f.failAt("p95", "must be at least the mean");
  return t;
}

Route parseRoute(const Fields& f, const Catalog& catalog) {
  f.onlyKeys({"name", "requests_per_month", "requests_per_day", "hourly_profile", "input_tokens", "output_tokens",
              "cache_hit_rate", "deferrable_fraction", "latency", "models", "quantizations"});
  Route r;
  r.file = f.file();
  r.line = f.line();
  r.name = f.str("name");
  bool perMonth = f.has("requests_per_month"), perDay = f.has("requests_per_day");
  if (perMonth == perDay) f.failAt("requests_per_month", "give exactly one of requests_per_month or requests_per_day");
  if (perMonth)
    r.requestsPerMonth = f.num("requests_per_month", 0, 1e15);
  else
    r.requestsPerMonth = f.num("requests_per_day", 0, 1e13) * kDaysPerMonth;
  r.hourlyShare.fill(1.0 / 24);
  if (f.has("hourly_profile")) {
    auto node = f.node()["hourly_profile"];
    if (!node.IsSequence() || node.size() != 24)
      f.failAt("hourly_profile", "expected a list of 24 numbers (hours 0-23)");
    double sum = 0;
    for (size_t h = 0; h < 24; ++h) {
      double w = -1;
      if (!node[h].IsScalar() || !YAML::convert<double>::decode(node[h], w) || !std::isfinite(w) || w < 0) {
        detail::fail(f.file(), detail::lineOf(node[h]), f.pathOf("hourly_profile") + "[" + std::to_string(h) + "]",
                     "expected a non-negative number");
      }
      r.hourlyShare[h] = w;
      sum += w;
    }
    if (sum <= 0) f.failAt("hourly_profile", "all 24 weights are zero");
    for (auto& w : r.hourlyShare) w /= sum;
    r.hasProfile = true;
  }
  r.input = tokenStats(f, "input_tokens");
  r.output = tokenStats(f, "output_tokens");
  if (r.output.mean <= 0) f.failAt("output_tokens", "mean must be above zero");
  r.cacheHitRate = f.optNum("cache_hit_rate", 0, 1).value_or(0);
  r.deferrableFraction = f.optNum("deferrable_fraction", 0, 1).value_or(0);
  Fields lat = f.sub("latency");
  lat.onlyKeys({"max_ttft_ms", "min_tokens_per_s"});
  r.latencyLine = lat.line();
  r.latency.maxTtftMs = lat.num("max_ttft_ms", 0.001, 1e9);
  r.latency.minTokensPerS = lat.optNum("min_tokens_per_s", 0, 1e9).value_or(0);

  Fields models = f.sub("models");
  models.onlyKeys({"api", "open_weight", "include_hosted"});
  std::set<std::string> apiSeen;
  auto addApi = [&](const std::string& id) {
    if (apiSeen.insert(id).second) r.apiModels.push_back(id);
  };
  auto api = models.strList("api");
  for (size_t i = 0; i < api.size(); ++i) {
    if (!catalog.findPrice(api[i])) {
      detail::fail(
          f.file(), detail::lineOf(models.node()["api"][i]), models.pathOf("api") + "[" + std::to_string(i) + "]",
          "unknown API model '" + api[i] + "' (no row in api_prices.yaml; add one with its price, source and date)");
    }
    addApi(api[i]);
  }
  r.openWeight = models.strList("open_weight");
  bool includeHosted = true;
  if (models.has("include_hosted")) includeHosted = models.node()["include_hosted"].as<bool>();
  for (size_t i = 0; i < r.openWeight.size(); ++i) {
    if (!catalog.findModel(r.openWeight[i])) {
      detail::fail(f.file(), detail::lineOf(models.node()["open_weight"][i]),
                   models.pathOf("open_weight") + "[" + std::to_string(i) + "]",
                   "unknown open-weight model '" + r.openWeight[i] + "' (not in models.yaml)");
    }
    if (includeHosted) {
      for (const auto& p : catalog.prices) {
        if (p.serves == r.openWeight[i]) addApi(p.id);
      }
    }
  }
  if (r.apiModels.empty() && r.openWeight.empty()) f.failAt("models", "lists no model: give api or open_weight models");

  r.quantizations = f.strList("quantizations");
  for (size_t i = 0; i < r.quantizations.size(); ++i) {
    if (!catalog.findQuantization(r.quantizations[i])) {
      detail::fail(f.file(), detail::lineOf(f.node()["quantizations"][i]),
                   f.pathOf("quantizations") + "[" + std::to_string(i) + "]",
                   "unknown quantization '" + r.quantizations[i] + "'");
    }
  }
  if (r.quantizations.empty()) {
    for (const auto& q : catalog.quantizations) r.quantizations.push_back(q.id);
  }
  return r;
}

}  // namespace

Workload parseWorkload(const std::string& text, const std::string& file, const Catalog& catalog) {
  auto root = detail::parseYaml(text, file);
  Fields top(root, file, "");
  top.onlyKeys({"workload", "routes", "autoscaling", "offers", "owned"});
  Workload w;
  w.file = file;
  w.name = top.optStr("workload").value_or("workload");
  auto routes = root["routes"];
  if (!routes.IsDefined() || !routes.IsSequence() || routes.size() == 0) {
    top.failAt("routes", "expected a non-empty list of routes");
  }
  std::set<std::string> names;
  for (size_t i = 0; i < routes.size(); ++i) {
    Fields f(routes[i], file, "routes[" + std::to_string(i) + "]");
    Route r = parseRoute(f, catalog);
    if (!names.insert(r.name).second) f.failAt("name", "duplicate route name '" + r.name + "'");
    w.routes.push_back(std::move(r));
  }
  if (top.has("autoscaling")) {
    Fields a = top.sub("autoscaling");
    a.onlyKeys({"min_replicas", "scale_up_delay_min"});
    w.autoscaling.minReplicas = static_cast<int>(a.optInteger("min_replicas", 0, 10'000).value_or(1));
    w.autoscaling.scaleUpDelayMin = a.optNum("scale_up_delay_min", 0, 24 * 60).value_or(0);
  }
  // Offers of the workload's own: same schema as gpu_offers.yaml.
  if (top.has("offers")) {
    auto list = root["offers"];
    if (!list.IsSequence()) top.failAt("offers", "expected a list");
    std::set<std::string> ids;
    for (const auto& o : catalog.offers) ids.insert(o.id);
    for (size_t i = 0; i < list.size(); ++i) {
      Fields f(list[i], file, "offers[" + std::to_string(i) + "]");
      f.onlyKeys({"id", "hardware", "provider", "usd_per_hour", "term", "source", "as_of"});
      Offer o;
      o.id = f.str("id");
      if (!ids.insert(o.id).second) f.failAt("id", "duplicate offer id '" + o.id + "'");
      o.hardware = f.str("hardware");
      if (!catalog.findHardware(o.hardware)) f.failAt("hardware", "unknown hardware '" + o.hardware + "'");
      o.provider = f.str("provider");
      o.perHour = f.dollars("usd_per_hour");
      if (o.perHour == 0) f.failAt("usd_per_hour", "a rental price of $0/hour is not a price");
      o.term = f.optStr("term").value_or("on-demand");
      o.from.source = f.optStr("source").value_or("workload file");
      o.from.asOf = f.has("as_of") ? f.date("as_of") : "";
      o.from.file = file;
      o.from.line = f.line();
      w.offers.push_back(std::move(o));
    }
  }
  if (top.has("owned")) {
    auto list = root["owned"];
    if (!list.IsSequence()) top.failAt("owned", "expected a list");
    for (size_t i = 0; i < list.size(); ++i) {
      Fields f(list[i], file, "owned[" + std::to_string(i) + "]");
      f.onlyKeys(
          {"name", "hardware", "count", "capex", "lifetime_months", "watts", "usd_per_kwh", "hosting_per_month"});
      OwnedHardware o;
      o.line = f.line();
      o.name = f.str("name");
      o.hardware = f.str("hardware");
      const Hardware* hw = catalog.findHardware(o.hardware);
      if (!hw) f.failAt("hardware", "unknown hardware '" + o.hardware + "'");
      o.count = static_cast<int>(f.optInteger("count", 1, 1'000'000).value_or(1));
      o.capex = f.dollars("capex");
      o.lifetimeMonths = static_cast<int>(f.optInteger("lifetime_months", 1, 1200).value_or(36));
      o.watts = static_cast<int>(f.optInteger("watts", 0, 1'000'000).value_or(hw->tdpWatts));
      o.perKwh = f.dollars("usd_per_kwh");
      o.hostingPerMonth = f.optDollars("hosting_per_month").value_or(0);
      w.owned.push_back(std::move(o));
    }
  }
  return w;
}

Workload loadWorkload(const std::string& path, const Catalog& catalog) {
  return parseWorkload(readFile(path), path, catalog);
}

}  // namespace arbitra::planner
