// A workload to plan for: routes with their traffic, token shapes, latency bars
// and the models acceptable for each, plus the team's own hardware and offers.
//
//   workload: support-bot
//   routes:
//     - name: chat
//       requests_per_month: 3000000        # or requests_per_day
//       hourly_profile: [1, 1, ..., 1]     # 24 relative weights (optional: flat)
//       input_tokens:  { mean: 800, p95: 2000 }
//       output_tokens: { mean: 200, p95: 500 }
//       cache_hit_rate: 0.3                # share of input tokens read from cache
//       deferrable_fraction: 0.0           # share of requests that may wait for a batch API
//       latency: { max_ttft_ms: 1000, min_tokens_per_s: 20 }
//       models:
//         api: [gpt-4o-mini]               # API model ids (data/planner/api_prices.yaml)
//         open_weight: [llama-3.1-8b]      # open-weight ids (models.yaml); their hosts come along
//       quantizations: [F16, Q8_0, Q4_K_M] # optional: default all in the catalog
//   autoscaling: { min_replicas: 1, scale_up_delay_min: 5 }
//   offers:                                # optional: rental offers of your own
//     - { id: my-h100, hardware: h100-sxm, provider: me, usd_per_hour: "2.85", source: quote, as_of: 2026-11-01 }
//   owned:                                 # optional: hardware you buy
//     - { name: rack, hardware: rtx-4090, count: 2, capex: "3600", lifetime_months: 36,
//         usd_per_kwh: "0.15", hosting_per_month: "40", watts: 450 }
//
// Validation names the field: `file:line: routes[0].latency.max_ttft_ms: ...`.
// An unknown model, a negative volume, a missing price: PlannerError.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "planner/catalog.h"

namespace arbitra::planner {

struct TokenStats {
  double mean = 0;
  double p95 = 0;
};

struct LatencyBar {
  double maxTtftMs = 0;      // time to first token, at the p95 input
  double minTokensPerS = 0;  // per stream, while decoding
};

struct Route {
  std::string name;
  double requestsPerMonth = 0;
  std::array<double, 24> hourlyShare{};  // sums to 1; flat when not given
  bool hasProfile = false;
  TokenStats input;
  TokenStats output;
  double cacheHitRate = 0;
  double deferrableFraction = 0;
  LatencyBar latency;
  std::vector<std::string> apiModels;   // ApiPrice ids (given and hosted)
  std::vector<std::string> openWeight;  // ModelShape ids
  std::vector<std::string> quantizations;
  std::string file;
  int line = 0;
  int latencyLine = 0;
};

struct Autoscaling {
  int minReplicas = 1;
  double scaleUpDelayMin = 0;
};

struct OwnedHardware {
  std::string name;
  std::string hardware;  // Hardware::id
  int count = 1;
  Micros capex = 0;  // for all `count` devices together
  int lifetimeMonths = 36;
  int watts = 0;  // per device; default the hardware's TDP
  Micros perKwh = 0;
  Micros hostingPerMonth = 0;  // all devices together
  int line = 0;
};

struct Workload {
  std::string name;
  std::string file;
  std::vector<Route> routes;
  Autoscaling autoscaling;
  std::vector<Offer> offers;  // the workload's own rental offers
  std::vector<OwnedHardware> owned;
};

// Reads and validates a workload against the catalog. Throws PlannerError.
Workload loadWorkload(const std::string& path, const Catalog& catalog);
Workload parseWorkload(const std::string& text, const std::string& file, const Catalog& catalog);

}  // namespace arbitra::planner
