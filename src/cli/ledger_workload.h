// `arbitra plan --from-ledger`: a workload measured from the ledger's records
// instead of described by hand. One route per public model group: its
// requests per month (scaled from the span the records cover), its hourly
// profile (UTC), input and output token mean and p95, its cache hit rate, and
// its latency bar (the measured p95 time to first token unless given). Its
// API options are the deployments it was actually served by, when the
// planner's price catalog knows them; open-weight options come from
// --open-weight.
//
// The result is workload YAML, so it goes through the planner's own
// validation and can be saved (--emit-workload) and edited.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ledger/store.h"
#include "planner/catalog.h"

namespace arbitra::cli {

struct LedgerWorkloadOptions {
  int64_t fromMs = 0;
  int64_t toMs = INT64_MAX;
  std::vector<std::string> openWeight;  // model shape ids for every route
  std::optional<double> maxTtftMs;      // the bar; default: measured p95 TTFT
  std::optional<double> minTokensPerS;
};

struct LedgerWorkload {
  std::string yaml;     // for planner::parseWorkload
  std::string summary;  // what was measured, for stderr
};

// Throws std::runtime_error when there is nothing to plan from.
LedgerWorkload workloadFromLedger(ledger::Store& store, const planner::Catalog& catalog,
                                  const LedgerWorkloadOptions& options, const std::string& name);

}  // namespace arbitra::cli
