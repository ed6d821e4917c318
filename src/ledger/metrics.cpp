// Prometheus exposition (see metrics.h).
#include "ledger/metrics.h"

#include <cstdio>

#include "ledger/cost.h"

namespace arbitra::ledger {

namespace {

// Label values: backslash, quote and newline escaped, as the format requires.
std::string label(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string seconds(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", value);
  return buffer;
}

}  // namespace

void Metrics::Histogram::add(int64_t micros) {
  double value = static_cast<double>(micros) / 1e6;
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (value <= kBuckets[i]) {
      counts[i] += 1;
      break;
    }
  }
  count += 1;
  sumMicros += micros;
}

void Metrics::observe(const Record& r) {
  std::lock_guard lock(mutex_);
  std::pair<std::string_view, std::string_view> key{r.model, r.deployment};
  auto found = series_.find(key);
  if (found == series_.end()) found = series_.emplace(std::make_pair(r.model, r.deployment), Series{}).first;
  auto& s = found->second;
  s.requestsByClass[r.status / 100] += 1;
  s.input += r.inputTokens;
  s.output += r.outputTokens;
  s.cachedRead += r.cachedReadTokens;
  s.cacheWrite += r.cacheWriteTokens;
  s.reasoning += r.reasoningTokens;
  s.costPico += r.costPico;
  s.cacheSavedPico += r.cacheSavedPico;
  s.routeSavedPico += r.routeSavedPico;
  if (r.cache == "hit-exact") s.cacheHitsExact += 1;
  if (r.cache == "hit-semantic") s.cacheHitsSemantic += 1;
  if (r.cache == "miss") s.cacheMisses += 1;
  s.estimated += r.estimated;
  s.priceMissing += r.priceMissing;
  s.latency.add(r.latencyUs);
  if (r.ttftUs > 0) s.ttft.add(r.ttftUs);
}

void Metrics::reject(const std::string& reason) {
  std::lock_guard lock(mutex_);
  rejections_[reason] += 1;
}

std::string Metrics::render(const Ledger* ledger) const {
  std::string out;
  auto header = [&](const char* name, const char* type, const char* help) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  auto labels = [](const std::pair<std::string, std::string>& key) {
    return "model=\"" + label(key.first) + "\",deployment=\"" + label(key.second) + "\"";
  };
  std::lock_guard lock(mutex_);

  header("arbitra_requests_total", "counter", "Requests by model group, deployment and status class.");
  for (const auto& [key, s] : series_) {
    for (const auto& [klass, count] : s.requestsByClass) {
      out += "arbitra_requests_total{" + labels(key) + ",status=\"" + std::to_string(klass) + "xx\"} " +
             std::to_string(count) + "\n";
    }
  }
  header("arbitra_errors_total", "counter", "Requests that ended with status >= 400.");
  for (const auto& [key, s] : series_) {
    int64_t errors = 0;
    for (const auto& [klass, count] : s.requestsByClass) {
      if (klass >= 4) errors += count;
    }
    out += "arbitra_errors_total{" + labels(key) + "} " + std::to_string(errors) + "\n";
  }
  header("arbitra_tokens_total", "counter", "Tokens by kind (cached_read, cache_write are part of input; reasoning of output).");
  for (const auto& [key, s] : series_) {
    std::pair<const char*, int64_t> kinds[] = {{"input", s.input}, {"output", s.output}, {"cached_read", s.cachedRead},
                                               {"cache_write", s.cacheWrite}, {"reasoning", s.reasoning}};
    for (const auto& [kind, value] : kinds) {
      out += "arbitra_tokens_total{" + labels(key) + ",kind=\"" + kind + "\"} " + std::to_string(value) + "\n";
    }
  }
  header("arbitra_cost_dollars_total", "counter", "Exact cost in dollars.");
  for (const auto& [key, s] : series_) {
    out += "arbitra_cost_dollars_total{" + labels(key) + "} " + exactDollars(s.costPico) + "\n";
  }
  header("arbitra_cache_saved_dollars_total", "counter", "What cache hits would have cost upstream.");
  for (const auto& [key, s] : series_) {
    out += "arbitra_cache_saved_dollars_total{" + labels(key) + "} " + exactDollars(s.cacheSavedPico) + "\n";
  }
  header("arbitra_routing_saved_dollars_total", "counter", "Cost avoided against the group's first deployment.");
  for (const auto& [key, s] : series_) {
    out += "arbitra_routing_saved_dollars_total{" + labels(key) + "} " + exactDollars(s.routeSavedPico) + "\n";
  }
  header("arbitra_cache_requests_total", "counter", "Cache outcomes: hit_exact, hit_semantic, miss.");
  for (const auto& [key, s] : series_) {
    out += "arbitra_cache_requests_total{" + labels(key) + ",result=\"hit_exact\"} " + std::to_string(s.cacheHitsExact) + "\n";
    out += "arbitra_cache_requests_total{" + labels(key) + ",result=\"hit_semantic\"} " + std::to_string(s.cacheHitsSemantic) + "\n";
    out += "arbitra_cache_requests_total{" + labels(key) + ",result=\"miss\"} " + std::to_string(s.cacheMisses) + "\n";
  }
  header("arbitra_usage_estimated_total", "counter", "Records whose usage was counted locally (the upstream reported none).");
  for (const auto& [key, s] : series_) {
    out += "arbitra_usage_estimated_total{" + labels(key) + "} " + std::to_string(s.estimated) + "\n";
  }
  header("arbitra_price_missing_total", "counter", "Records flagged because no price was known.");
  for (const auto& [key, s] : series_) {
    out += "arbitra_price_missing_total{" + labels(key) + "} " + std::to_string(s.priceMissing) + "\n";
  }
  auto histogram = [&](const char* name, const char* help, const Histogram Series::*member) {
    header(name, "histogram", help);
    for (const auto& [key, s] : series_) {
      const Histogram& h = s.*member;
      int64_t cumulative = 0;
      for (size_t i = 0; i < kBuckets.size(); ++i) {
        cumulative += h.counts[i];
        out += std::string(name) + "_bucket{" + labels(key) + ",le=\"" + seconds(kBuckets[i]) + "\"} " +
               std::to_string(cumulative) + "\n";
      }
      out += std::string(name) + "_bucket{" + labels(key) + ",le=\"+Inf\"} " + std::to_string(h.count) + "\n";
      out += std::string(name) + "_sum{" + labels(key) + "} " + seconds(static_cast<double>(h.sumMicros) / 1e6) + "\n";
      out += std::string(name) + "_count{" + labels(key) + "} " + std::to_string(h.count) + "\n";
    }
  };
  histogram("arbitra_request_duration_seconds", "Whole request, first byte in to last byte out.", &Series::latency);
  histogram("arbitra_time_to_first_token_seconds", "Request start to the first token.", &Series::ttft);

  header("arbitra_rejections_total", "counter", "Requests refused before routing, by reason.");
  for (const char* reason : {"auth", "budget", "rate_limit", "model_not_allowed"}) {
    auto it = rejections_.find(reason);
    out += std::string("arbitra_rejections_total{reason=\"") + reason + "\"} " +
           std::to_string(it == rejections_.end() ? 0 : it->second) + "\n";
  }
  if (ledger) {
    auto stats = ledger->stats();
    header("arbitra_ledger_queue_depth", "gauge", "Records waiting for the ledger writer.");
    out += "arbitra_ledger_queue_depth " + std::to_string(stats.queued) + "\n";
    header("arbitra_ledger_write_lag_seconds", "gauge", "Age of the oldest record not yet committed.");
    out += "arbitra_ledger_write_lag_seconds " + seconds(static_cast<double>(stats.lagMicros) / 1e6) + "\n";
    header("arbitra_ledger_records_committed_total", "counter", "Records committed since start.");
    out += "arbitra_ledger_records_committed_total " + std::to_string(stats.committed) + "\n";
    header("arbitra_ledger_commits_total", "counter", "Group-commit transactions since start.");
    out += "arbitra_ledger_commits_total " + std::to_string(stats.commits) + "\n";
    header("arbitra_ledger_write_errors_total", "counter", "Failed commits (records kept queued and retried).");
    out += "arbitra_ledger_write_errors_total " + std::to_string(stats.writeErrors) + "\n";
    header("arbitra_ledger_backpressure_waits_total", "counter",
           "Requests that waited for the ledger writer to catch up (it was kMaxQueued records behind).");
    out += "arbitra_ledger_backpressure_waits_total " + std::to_string(stats.backPressureWaits) + "\n";
    header("arbitra_ledger_writer_promotions_total", "counter",
           "Times the idle-priority ledger writer was late by a commit window and raised to a normal thread.");
    out += "arbitra_ledger_writer_promotions_total " + std::to_string(stats.writerPromotions) + "\n";
    header("arbitra_ledger_lost_at_start", "gauge", "Records the previous run lost (kill -9 window), counted at start.");
    out += "arbitra_ledger_lost_at_start " + std::to_string(stats.lostAtStart) + "\n";
  }
  return out;
}

}  // namespace arbitra::ledger
