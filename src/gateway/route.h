// Step 2 of the chat walk, "route": the router (src/router/) applied to one
// gateway request. Owns the Router and its policy registry, maps the router's
// deployment ids to the table's Deployments, reads the per-request overrides,
// and turns each attempt's outcome into router feedback.
//
// Per-request overrides (headers win over the body):
//   x-arbitra-route: POLICY            body "arbitra": {"route": POLICY,
//   x-arbitra-max-ttft-ms: N                            "max_ttft_ms": N,
//   x-arbitra-min-tps: N                                "min_tokens_per_second": N,
//   x-arbitra-max-price: DOLLARS/Mtok                   "max_price": "0.50"}
// The body field is removed before the request goes upstream.
//
// Models addressed as "<provider>/<id>" or served by the built-in simulator
// have one deployment and no routing: the plan is that deployment alone.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/error.h"
#include "core/types.h"
#include "gateway/deployments.h"
#include "gateway/exchange.h"
#include "http/types.h"
#include "router/router.h"

namespace arbitra::gateway {

// One request's route: the candidates to try, in order, and the bookkeeping
// that feeds each attempt's outcome back to the router.
struct RoutePlan {
  router::Plan plan;                   // empty order: not a routed group
  std::vector<Deployment> candidates;  // in the order to try
  std::vector<int> ids;                // router deployment id per candidate (-1: unrouted)
  int64_t tokens = 0;                  // input + max output, for RPM/TPM
  int retries = 0;                     // re-plans left after every candidate failed
  router::RequestFacts facts;
  std::string policyOverride;
};

class Routing {
 public:
  // Throws config::ConfigError for an unknown policy name (file:line).
  // With `previous` (a config reload), deployments whose provider `table`
  // shares with the previous table keep their live router state (estimates,
  // breaker, cool-down, rate windows): router::Router's carry-over.
  Routing(const config::Config& config, const DeploymentTable& table, const Routing* previous = nullptr);
  ~Routing();

  // Plans `request` (the body override is removed from request.raw). Fills
  // exchange.route with the decision and every candidate's predicted cost.
  core::Result<RoutePlan> route(core::ChatRequest& request, const http::Headers& headers, Exchange& exchange);
  // Again, after every candidate failed once (a retry); false when none is left.
  bool replan(RoutePlan& route, Exchange& exchange);

  // Attempt `k` of the plan starts; false: skip it (its half-open probe is
  // out), unless `lastResort` (nothing was attempted and nothing is left).
  bool begin(const RoutePlan& route, size_t k, bool lastResort = false);
  void succeeded(const RoutePlan& route, size_t k, Clock::time_point started, const Exchange& exchange);
  void failed(const RoutePlan& route, size_t k, const core::Error& error);
  void abandoned(const RoutePlan& route, size_t k);  // the caller left
  int64_t backoffUs(const RoutePlan& route, int retry) const;

  // The x-arbitra-route header for the deployment that served.
  std::string header(const RoutePlan& route, size_t k, std::string_view why = {}) const;
  // Deployments whose router state was carried over from the previous Routing.
  size_t carriedDeployments() const { return router_->carriedCount(); }

 private:
  void fill(RoutePlan& route, Exchange& exchange);

  const DeploymentTable& table_;
  router::PolicyRegistry registry_;
  std::unique_ptr<router::Router> router_;
  std::vector<Deployment> byId_;
};

}  // namespace arbitra::gateway
