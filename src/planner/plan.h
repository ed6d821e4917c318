// The planner: every place a workload's route could run, priced per month at
// the utilization its traffic shape gives, ranked, with break-even points and
// sensitivity. Pure: takes loaded catalogs and workloads, does no I/O.
//
//   Plan plan = makePlan(catalog, workload, PlanSettings{});
//   for (const auto& route : plan.routes)
//     for (const auto& o : route.options) std::puts(o.reason.c_str());
//
// Options per route: each acceptable API model (given, or hosting an acceptable
// open-weight model); each open-weight model × weight format × rental offer,
// with a fixed fleet sized for the peak hour and autoscaled per hour; each
// owned-hardware entry. APIs are assumed to meet the latency bars (the catalog
// has no API latency figures); self-hosted options are sized to meet them.
//
// Capacity: the hourly profile spreads requests/month over the 24 hours of an
// average day (730 h per month, 730/24 days). Replicas per hour = ceil(requests/s
// ÷ one replica's requests/s). Fixed fleet: the peak-hour count all month.
// Autoscaled: max(min_replicas, that hour's need), plus scale_up_delay minutes
// of the next hour's extra replicas started early. Utilization = requests
// served ÷ requests the running replicas could serve.
//
// Money (see money.h): API cost = Σ tokens × price over token kinds; rental =
// replica-minutes × devices × $/h; owned = capex/lifetime + watts × 730 h ×
// $/kWh + hosting. Each is one integer fraction rounded once to the micro-dollar.
// Token counts are whole tokens (requests × mean, rounded).
//
// Break-even (self-hosted vs the cheapest API option): the option's minimum
// fleet (one replica, or min_replicas, or the owned fleet) costs C a month; the
// API costs A per request; break-even volume V* = C / A, if the minimum fleet
// can serve V* at the peak hour (else: never, the API is cheaper even at full
// use). Break-even utilization = V* ÷ what the fleet serves at 100% all month.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "planner/catalog.h"
#include "planner/throughput.h"
#include "planner/workload.h"

namespace arbitra::planner {

enum class OptionKind { Api, Rented, Owned };
const char* kindName(OptionKind kind);

// An exact price multiplier (num/den), for sensitivity.
struct PriceScale {
  int64_t num = 1;
  int64_t den = 1;
};

struct CostPart {
  std::string name;  // "input", "cached input", "output", "batch", "rental", "capex", "power", "hosting"
  Micros amount = 0;
};

// An option's cost at one volume and price level.
struct Costing {
  bool feasible = false;  // meets the bar and (owned) has the capacity
  std::string whyNot;
  Micros monthly = 0;
  std::vector<CostPart> split;
  int peakReplicas = 0;
  double replicaHours = 0;  // per month, all replicas
  double utilization = 0;   // 0..1, self-hosted only
};

struct BreakEven {
  bool exists = false;
  double requestsPerMonth = 0;
  double tokensPerDay = 0;
  double utilization = 0;   // of the minimum fleet
  Micros fleetMonthly = 0;  // C: the minimum fleet's monthly cost
  std::string note;         // why none
};

struct Option {
  OptionKind kind = OptionKind::Api;
  std::string id;     // stable, unique in the route: "api:gpt-4o-mini", "rent:<offer>:<model>:<quant>:fixed"
  std::string label;  // for people
  const ApiPrice* api = nullptr;
  const Hardware* hardware = nullptr;
  const ModelShape* model = nullptr;
  const Quantization* quant = nullptr;
  Offer offer;                           // Rented
  const OwnedHardware* owned = nullptr;  // Owned
  bool autoscaled = false;
  ReplicaPerf perf;  // self-hosted

  Costing cost;                            // at the workload's volume
  std::optional<Micros> perMillionTokens;  // monthly ÷ million tokens (input + output)
  BreakEven breakEven;
  std::vector<std::optional<Micros>> costAtVolume;  // PlanSettings::volumeScales; nullopt: infeasible
  std::string verdict;  // "best", "cheaper than API", "costlier than API", "API", "fails bar"
  std::string reason;
};

struct Scenario {
  std::string name;      // "volume ×0.1", "GPU prices −50%", ...
  std::string winnerId;  // "" when nothing is feasible
  std::string winnerLabel;
  Micros winnerMonthly = 0;
  std::optional<Micros> cheapestApiMonthly;
};

struct RoutePlan {
  const Route* route = nullptr;
  double requestsPerMonth = 0;
  double tokensPerDay = 0;      // input + output
  double peakToMean = 1;        // peak hour ÷ average hour
  std::vector<Option> options;  // ranked: feasible by monthly cost, then the rest
  int cheapestApi = -1;         // index into options
  std::vector<Scenario> sensitivity;
};

struct Plan {
  std::string workload;
  std::string file;
  Efficiency efficiency;
  std::vector<double> volumeScales;
  std::vector<RoutePlan> routes;
  int measuredUsed = 0;  // options whose throughput came from --measured
};

// Key for measurements: "hardware/model/quant".
std::string measurementKey(const std::string& hardware, const std::string& model, const std::string& quant);

struct PlanSettings {
  Efficiency efficiency;
  std::map<std::string, Measurement> measured;
  std::vector<double> volumeScales{0.1, 0.3, 1.0, 3.0, 10.0};
};

// Plans every route. Throws PlannerError naming `routes[i].latency` when no
// option at all meets a route's bar.
Plan makePlan(const Catalog& catalog, const Workload& workload, const PlanSettings& settings);

// The cost of one option at `volumeScale` × the route's volume and its own
// prices × `price` (exposed for tests and charts).
Costing costAt(const Option& option, const Route& route, const Workload& workload, double volumeScale,
               PriceScale price = {});

// API cost of `requests` requests of the route's shape (exact; one rounding).
Costing apiCost(const ApiPrice& price, const Route& route, double requests, PriceScale scale = {});

// Break-even of a self-hosted option against an API costing `apiMonthly` for
// the route's volume.
BreakEven breakEven(const Option& option, const Route& route, const Workload& workload, Micros apiMonthly);

// "9.4M", "120k", "1.2B", "850".
std::string formatCount(double value);

}  // namespace arbitra::planner
