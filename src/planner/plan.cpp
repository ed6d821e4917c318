// Options, capacity, cost, break-even, ranking and sensitivity (see plan.h).
#include "planner/plan.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace arbitra::planner {

namespace {

constexpr int64_t kHoursPerMonth = 730;  // 365 × 24 / 12
constexpr double kDaysPerMonth = 730.0 / 24.0;
constexpr int64_t kMinutesPerDay = 24 * 60;

double tokensPerRequest(const Route& r) {
  return r.input.mean + r.output.mean;
}

double maxShare(const Route& r) {
  return *std::max_element(r.hourlyShare.begin(), r.hourlyShare.end());
}

std::string printf1(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

std::string percent(double fraction) {
  return printf1("%.0f%%", fraction * 100.0);
}

// Replicas needed per hour of the day at `requests` a month.
std::array<int64_t, 24> replicasPerHour(const Route& route, double requests, double replicaRps) {
  std::array<int64_t, 24> need{};
  for (int h = 0; h < 24; ++h) {
    double rps = requests * route.hourlyShare[h] / (kDaysPerMonth * 3600.0);
    need[h] = rps > 0 ? static_cast<int64_t>(std::ceil(rps / replicaRps - 1e-9)) : 0;
  }
  return need;
}

// Replicas, devices and price of the smallest fleet an option can run.
int64_t minimumReplicas(const Option& o, const Workload& w) {
  if (o.kind == OptionKind::Owned) return o.owned->count / o.perf.devices;
  if (o.autoscaled) return std::max(1, w.autoscaling.minReplicas);
  return 1;
}

}  // namespace

const char* kindName(OptionKind kind) {
  switch (kind) {
    case OptionKind::Api: return "api";
    case OptionKind::Rented: return "rented";
    case OptionKind::Owned: return "owned";
  }
  return "?";
}

std::string measurementKey(const std::string& hardware, const std::string& model, const std::string& quant) {
  return hardware + "/" + model + "/" + quant;
}

std::string formatCount(double value) {
  double a = std::fabs(value);
  if (a >= 1e9) return printf1(a >= 1e10 ? "%.0fB" : "%.1fB", value / 1e9);
  if (a >= 1e6) return printf1(a >= 1e7 ? "%.0fM" : "%.1fM", value / 1e6);
  if (a >= 1e3) return printf1(a >= 1e4 ? "%.0fk" : "%.1fk", value / 1e3);
  return printf1("%.0f", value);
}

Costing apiCost(const ApiPrice& price, const Route& route, double requests, PriceScale scale) {
  Costing c;
  c.feasible = true;
  int64_t in = std::llround(requests * route.input.mean);
  int64_t out = std::llround(requests * route.output.mean);
  int64_t inDeferred = 0, outDeferred = 0;
  if (price.batchInput && route.deferrableFraction > 0) {
    inDeferred = std::llround(static_cast<double>(in) * route.deferrableFraction);
    outDeferred = std::llround(static_cast<double>(out) * route.deferrableFraction);
  }
  int64_t inLive = in - inDeferred, outLive = out - outDeferred;
  int64_t cached = price.cachedInput ? std::llround(static_cast<double>(inLive) * route.cacheHitRate) : 0;
  // Pico-dollars (tokens × micro-dollars per million tokens), exact.
  __int128 pInput = static_cast<__int128>(inLive - cached) * price.input;
  __int128 pCached = static_cast<__int128>(cached) * price.cachedInput.value_or(0);
  __int128 pOutput = static_cast<__int128>(outLive) * price.output;
  __int128 pBatch = static_cast<__int128>(inDeferred) * price.batchInput.value_or(0) +
                    static_cast<__int128>(outDeferred) * price.batchOutput.value_or(0);
  __int128 den = static_cast<__int128>(1'000'000) * scale.den;
  c.monthly = divRound((pInput + pCached + pOutput + pBatch) * scale.num, den);
  c.split.push_back({"input", divRound(pInput * scale.num, den)});
  if (cached > 0) c.split.push_back({"cached input", divRound(pCached * scale.num, den)});
  c.split.push_back({"output", divRound(pOutput * scale.num, den)});
  if (inDeferred + outDeferred > 0) c.split.push_back({"batch", divRound(pBatch * scale.num, den)});
  return c;
}

Costing costAt(const Option& o, const Route& route, const Workload& w, double volumeScale, PriceScale price) {
  double requests = route.requestsPerMonth * volumeScale;
  if (o.kind == OptionKind::Api) return apiCost(*o.api, route, requests, price);
  Costing c;
  if (!o.perf.meetsBar) {
    c.whyNot = o.perf.whyNot;
    return c;
  }
  double rps = o.perf.requestsPerS;
  auto need = replicasPerHour(route, requests, rps);
  int64_t peak = *std::max_element(need.begin(), need.end());
  int64_t devices = o.perf.devices;
  if (o.kind == OptionKind::Owned) {
    const OwnedHardware& own = *o.owned;
    int64_t replicas = own.count / devices;
    if (replicas < 1) {
      c.whyNot = "a replica needs " + std::to_string(devices) + " devices; owns " + std::to_string(own.count);
      return c;
    }
    if (peak > replicas) {
      c.whyNot = "the peak hour needs " + std::to_string(peak) + " replicas of " + std::to_string(devices) +
                 " devices; owns " + std::to_string(own.count);
      return c;
    }
    // capex/lifetime + watts × count × 730 h × $/kWh / 1000 + hosting, over one denominator.
    __int128 life = own.lifetimeMonths;
    __int128 capex = static_cast<__int128>(own.capex) * 1000;
    __int128 power = static_cast<__int128>(own.watts) * own.count * kHoursPerMonth * own.perKwh * life;
    __int128 hosting = static_cast<__int128>(own.hostingPerMonth) * 1000 * life;
    __int128 den = 1000 * life * price.den;
    c.feasible = true;
    c.monthly = divRound((capex + power + hosting) * price.num, den);
    c.split = {{"capex", divRound(capex * price.num, den)},
               {"power", divRound(power * price.num, den)},
               {"hosting", divRound(hosting * price.num, den)}};
    c.peakReplicas = static_cast<int>(peak);
    c.replicaHours = static_cast<double>(replicas * kHoursPerMonth);
  } else {
    int64_t minutesPerDay = 0;
    if (!o.autoscaled) {
      int64_t replicas = std::max<int64_t>(1, peak);
      minutesPerDay = replicas * kMinutesPerDay;
      c.peakReplicas = static_cast<int>(replicas);
    } else {
      std::array<int64_t, 24> run{};
      for (int h = 0; h < 24; ++h) run[h] = std::max<int64_t>(w.autoscaling.minReplicas, need[h]);
      auto delay = static_cast<int64_t>(std::ceil(w.autoscaling.scaleUpDelayMin));
      for (int h = 0; h < 24; ++h) {
        minutesPerDay += run[h] * 60 + delay * std::max<int64_t>(0, run[(h + 1) % 24] - run[h]);
      }
      c.peakReplicas = static_cast<int>(*std::max_element(run.begin(), run.end()));
    }
    __int128 num = static_cast<__int128>(minutesPerDay) * devices * o.offer.perHour * kHoursPerMonth * price.num;
    c.feasible = true;
    c.monthly = divRound(num, static_cast<__int128>(kMinutesPerDay) * price.den);
    c.split = {{"rental", c.monthly}};
    c.replicaHours = static_cast<double>(minutesPerDay) * kHoursPerMonth / kMinutesPerDay;
  }
  double capacity = c.replicaHours * 3600.0 * rps;
  c.utilization = capacity > 0 ? requests / capacity : 0;
  return c;
}

BreakEven breakEven(const Option& o, const Route& route, const Workload& w, Micros apiMonthly) {
  BreakEven b;
  if (o.kind == OptionKind::Api || !o.perf.meetsBar) return b;
  if (apiMonthly <= 0 || route.requestsPerMonth <= 0) {
    b.note = "no API spend to break even against";
    return b;
  }
  int64_t replicas = minimumReplicas(o, w);
  if (replicas < 1) {
    b.note = "the owned devices cannot hold one replica";
    return b;
  }
  if (o.kind == OptionKind::Owned) {
    b.fleetMonthly = costAt(o, route, w, 0.0).monthly;
  } else {
    b.fleetMonthly = divRound(static_cast<__int128>(replicas) * o.perf.devices * o.offer.perHour * kHoursPerMonth, 1);
  }
  double rps = o.perf.requestsPerS;
  double vStar = static_cast<double>(b.fleetMonthly) * route.requestsPerMonth / static_cast<double>(apiMonthly);
  double flatCapacity = replicas * rps * 3600.0 * kHoursPerMonth;  // requests at 100% all month
  double shapedCapacity = replicas * rps * kDaysPerMonth * 3600.0 / maxShare(route);
  if (vStar > shapedCapacity * (1 + 1e-12)) {
    // Cost per token when the fleet is full at the peak hour: the best this
    // traffic shape allows (more replicas scale cost and capacity alike).
    double selfPerM = static_cast<double>(b.fleetMonthly) / (shapedCapacity * tokensPerRequest(route)) * 1e6;
    double apiPerM = static_cast<double>(apiMonthly) / (route.requestsPerMonth * tokensPerRequest(route)) * 1e6;
    b.note = "never breaks even: even full at the peak hour";
    if (shapedCapacity < flatCapacity * 0.999) {
      b.note +=
          " (" + printf1("%.0f%%", 100.0 * shapedCapacity / flatCapacity) + " utilization with this traffic shape)";
    }
    b.note += " it costs " + formatPerMillion(microsFromDouble(selfPerM / 1e6)) + "/Mtok vs " +
              formatPerMillion(microsFromDouble(apiPerM / 1e6)) + "/Mtok on the API";
    return b;
  }
  b.exists = true;
  b.requestsPerMonth = vStar;
  b.tokensPerDay = vStar * tokensPerRequest(route) / kDaysPerMonth;
  b.utilization = vStar / flatCapacity;
  return b;
}

namespace {

std::string selfHostedLabel(const Option& o) {
  std::string l = o.hardware->name + " ×" + std::to_string(o.perf.devices);
  if (o.kind == OptionKind::Rented) {
    l += " (" + o.offer.provider + ", " + formatCents(o.offer.perHour) + "/h)";
  } else {
    l += " (owned: " + o.owned->name + ")";
  }
  l += " · " + o.model->name + " " + o.quant->id;
  if (o.kind == OptionKind::Rented) l += o.autoscaled ? " · autoscaled" : " · fixed";
  return l;
}

// Sizes one replica of model × format on `hw`: the fewest devices (1, 2, 4, 8;
// CPUs 1) that meet the bar, else the fewest that fit, else the last tried.
std::optional<ReplicaPerf> sizeOn(const Hardware& hw, const ModelShape& m, const Quantization& q, const ServingShape& s,
                                  const PlanSettings& settings) {
  auto it = settings.measured.find(measurementKey(hw.id, m.id, q.id));
  const Measurement* measured = it == settings.measured.end() ? nullptr : &it->second;
  std::optional<ReplicaPerf> firstFit, last;
  for (int devices : {1, 2, 4, 8}) {
    if (hw.kind == HardwareKind::Cpu && devices > 1) break;
    if (measured && devices > 1) break;  // a measurement is of one device
    auto budget = deviceBudget(hw, devices, q, settings.efficiency);
    if (!budget) return std::nullopt;  // e.g. FP8 on a GPU without FP8
    ReplicaPerf p = sizeReplica(*budget, devices, m, q, s, settings.efficiency, measured);
    if (p.meetsBar) return p;
    if (p.fits && !firstFit) firstFit = p;
    last = p;
  }
  return firstFit ? firstFit : last;
}

void rank(std::vector<Option>& options) {
  std::stable_sort(options.begin(), options.end(), [](const Option& a, const Option& b) {
    if (a.cost.feasible != b.cost.feasible) return a.cost.feasible;
    if (a.cost.feasible && a.cost.monthly != b.cost.monthly) return a.cost.monthly < b.cost.monthly;
    return a.id < b.id;
  });
}

void describe(Option& o, const RoutePlan& rp, int index) {
  const Option* api = rp.cheapestApi >= 0 ? &rp.options[rp.cheapestApi] : nullptr;
  const Costing& c = o.cost;
  if (!c.feasible) {
    o.verdict = "fails bar";
    o.reason = o.label + ": " + c.whyNot;
    return;
  }
  std::string monthly = formatDollars(c.monthly) + "/mo";
  if (o.kind == OptionKind::Api) {
    o.verdict = index == 0 ? "best" : (rp.cheapestApi == index ? "cheapest API" : "API");
    o.reason = o.label + ": " + monthly;
    if (o.perMillionTokens) o.reason += " (" + formatPerMillion(*o.perMillionTokens) + "/Mtok blended)";
    return;
  }
  bool cheaper = api && c.monthly < api->cost.monthly;
  o.verdict = index == 0 ? "best" : (cheaper ? "cheaper than API" : "costlier than API");
  o.reason = o.hardware->name + " ×" + std::to_string(o.perf.devices * c.peakReplicas) + " at " +
             percent(c.utilization) + " utilization";
  if (o.autoscaled) o.reason += " (autoscaled, peak " + std::to_string(c.peakReplicas) + ")";
  o.reason += ", " + o.model->name + " " + o.quant->id + " batch " + std::to_string(o.perf.batch) + " at " +
              printf1("%.0f", o.perf.perStreamTokensPerS) + " tok/s/stream: " + monthly;
  if (api) {
    o.reason += " vs " + formatDollars(api->cost.monthly) + "/mo on " + api->api->id;
    if (o.breakEven.exists) {
      o.reason += "; break-even at " + formatCount(o.breakEven.tokensPerDay) + " tokens/day (" +
                  percent(o.breakEven.utilization) + " utilization)";
    } else if (!o.breakEven.note.empty()) {
      o.reason += "; " + o.breakEven.note;
    }
  }
}

}  // namespace

Plan makePlan(const Catalog& catalog, const Workload& workload, const PlanSettings& settings) {
  Plan plan;
  plan.workload = workload.name;
  plan.file = workload.file;
  plan.efficiency = settings.efficiency;
  plan.volumeScales = settings.volumeScales;

  std::vector<Offer> offers = catalog.offers;
  offers.insert(offers.end(), workload.offers.begin(), workload.offers.end());

  for (size_t ri = 0; ri < workload.routes.size(); ++ri) {
    const Route& route = workload.routes[ri];
    RoutePlan rp;
    rp.route = &route;
    rp.requestsPerMonth = route.requestsPerMonth;
    rp.tokensPerDay = route.requestsPerMonth * tokensPerRequest(route) / kDaysPerMonth;
    rp.peakToMean = maxShare(route) * 24.0;

    for (const auto& id : route.apiModels) {
      Option o;
      o.kind = OptionKind::Api;
      o.api = catalog.findPrice(id);
      o.id = "api:" + id;
      o.label = id + " (" + o.api->provider + " API)";
      rp.options.push_back(std::move(o));
    }
    ServingShape shape{route.input.mean, route.input.p95,         route.output.mean,
                       route.output.p95, route.latency.maxTtftMs, route.latency.minTokensPerS};
    for (const auto& modelId : route.openWeight) {
      const ModelShape& model = *catalog.findModel(modelId);
      for (const auto& quantId : route.quantizations) {
        const Quantization& quant = *catalog.findQuantization(quantId);
        std::map<std::string, std::optional<ReplicaPerf>> sized;  // by hardware id
        auto perfOn = [&](const Hardware& hw) -> const std::optional<ReplicaPerf>& {
          auto it = sized.find(hw.id);
          if (it == sized.end()) it = sized.emplace(hw.id, sizeOn(hw, model, quant, shape, settings)).first;
          return it->second;
        };
        for (const auto& offer : offers) {
          const Hardware& hw = *catalog.findHardware(offer.hardware);
          const auto& perf = perfOn(hw);
          if (!perf) continue;
          for (bool autoscaled : {false, true}) {
            Option o;
            o.kind = OptionKind::Rented;
            o.hardware = &hw;
            o.model = &model;
            o.quant = &quant;
            o.offer = offer;
            o.autoscaled = autoscaled;
            o.perf = *perf;
            o.id = "rent:" + offer.id + ":" + model.id + ":" + quant.id + (autoscaled ? ":auto" : ":fixed");
            o.label = selfHostedLabel(o);
            rp.options.push_back(std::move(o));
          }
        }
        for (const auto& own : workload.owned) {
          const Hardware& hw = *catalog.findHardware(own.hardware);
          const auto& perf = perfOn(hw);
          if (!perf) continue;
          Option o;
          o.kind = OptionKind::Owned;
          o.hardware = &hw;
          o.model = &model;
          o.quant = &quant;
          o.owned = &own;
          o.perf = *perf;
          o.id = "own:" + own.name + ":" + model.id + ":" + quant.id;
          o.label = selfHostedLabel(o);
          rp.options.push_back(std::move(o));
        }
      }
    }

    double millionTokens = route.requestsPerMonth * tokensPerRequest(route) / 1e6;
    for (auto& o : rp.options) {
      o.cost = costAt(o, route, workload, 1.0);
      if (o.perf.measured) ++plan.measuredUsed;
      if (o.cost.feasible && millionTokens > 0) {
        o.perMillionTokens = microsFromDouble(static_cast<double>(o.cost.monthly) / millionTokens / 1e6);
      }
    }
    rank(rp.options);
    if (rp.options.empty() || !rp.options.front().cost.feasible) {
      std::string best;
      for (const auto& o : rp.options) {
        if (o.perf.fits) {  // the cheapest-ranked option that at least fits
          best = "; e.g. " + o.label + ": " + o.perf.whyNot;
          break;
        }
      }
      throw PlannerError(route.file + ":" + std::to_string(route.latencyLine) + ": routes[" + std::to_string(ri) +
                         "].latency: no option meets the bar (max_ttft_ms " + printf1("%g", route.latency.maxTtftMs) +
                         ", min_tokens_per_s " + printf1("%g", route.latency.minTokensPerS) +
                         ") and no API model is listed" + best);
    }
    for (size_t i = 0; i < rp.options.size(); ++i) {
      if (rp.options[i].kind == OptionKind::Api) {
        rp.cheapestApi = static_cast<int>(i);
        break;
      }
    }
    Micros apiMonthly = rp.cheapestApi >= 0 ? rp.options[rp.cheapestApi].cost.monthly : 0;
    for (size_t i = 0; i < rp.options.size(); ++i) {
      Option& o = rp.options[i];
      if (rp.cheapestApi >= 0) o.breakEven = breakEven(o, route, workload, apiMonthly);
      for (double scale : settings.volumeScales) {
        Costing c = costAt(o, route, workload, scale);
        o.costAtVolume.push_back(c.feasible ? std::optional<Micros>(c.monthly) : std::nullopt);
      }
      describe(o, rp, static_cast<int>(i));
    }

    // Sensitivity: who wins when volume or one class of prices moves.
    struct Case {
      std::string name;
      double volume;
      PriceScale api, self;
    };
    std::vector<Case> cases;
    for (double v : settings.volumeScales) {
      if (v != 1.0) cases.push_back({"volume ×" + printf1("%g", v), v, {}, {}});
    }
    cases.push_back({"API prices −50%", 1, {1, 2}, {}});
    cases.push_back({"API prices +50%", 1, {3, 2}, {}});
    cases.push_back({"GPU/hardware prices −50%", 1, {}, {1, 2}});
    cases.push_back({"GPU/hardware prices +50%", 1, {}, {3, 2}});
    for (const auto& k : cases) {
      Scenario s;
      s.name = k.name;
      for (const auto& o : rp.options) {
        Costing c = costAt(o, route, workload, k.volume, o.kind == OptionKind::Api ? k.api : k.self);
        if (!c.feasible) continue;
        if (o.kind == OptionKind::Api && (!s.cheapestApiMonthly || c.monthly < *s.cheapestApiMonthly)) {
          s.cheapestApiMonthly = c.monthly;
        }
        if (s.winnerId.empty() || c.monthly < s.winnerMonthly) {
          s.winnerId = o.id;
          s.winnerLabel = o.label;
          s.winnerMonthly = c.monthly;
        }
      }
      rp.sensitivity.push_back(std::move(s));
    }
    plan.routes.push_back(std::move(rp));
  }
  return plan;
}

}  // namespace arbitra::planner
