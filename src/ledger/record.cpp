// Shared helpers for records and reports: latency buckets, percentiles,
// group names.
#include "ledger/record.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include <boost/json.hpp>

#include "ledger/store.h"

namespace arbitra::ledger {

// Bucket b covers [2^(b/16), 2^((b+1)/16)) microseconds; bucket 0 also holds 0 and 1.
int latencyBucket(int64_t micros) {
  if (micros <= 1) return 0;
  int bucket = static_cast<int>(std::floor(std::log2(static_cast<double>(micros)) * 16.0));
  return std::clamp(bucket, 0, 16 * 40);
}

int64_t bucketMidpointMicros(int bucket) {
  double low = std::exp2(bucket / 16.0), high = std::exp2((bucket + 1) / 16.0);
  return static_cast<int64_t>(std::llround((low + high) / 2));
}

// Written out directly: building the Boost.JSON object first cost the writer
// thread ~6.7k instructions a record (callgrind, 2026-12-08), a fifth of its
// work per record. Strings and numbers still go through Boost.JSON's own
// serializer, so escaping and number formatting are what they were, except
// that a time that is not finite is null: Boost.JSON writes "Infinity" and
// "NaN", which no JSON reader takes.
std::string routeJson(const RouteFacts& facts) {
  namespace json = boost::json;
  std::string out;
  out.reserve(64 + facts.policy.size() + facts.reason.size() + facts.candidates.size() * 96);
  out += "{\"policy\":";
  out += json::serialize(json::string_view(facts.policy));
  out += ",\"reason\":";
  out += json::serialize(json::string_view(facts.reason));
  out += ",\"candidates\":[";
  for (size_t i = 0; i < facts.candidates.size(); ++i) {
    const auto& c = facts.candidates[i];
    if (i > 0) out += ',';
    out += "{\"deployment\":";
    out += json::serialize(json::string_view(c.deployment));
    out += ",\"predicted_cost_pico\":";
    out += std::to_string(c.predictedCostPico);
    out += ",\"predicted_ttft_ms\":";
    out += std::isfinite(c.predictedTtftMs) ? json::serialize(json::value(c.predictedTtftMs)) : "null";
    out += ",\"eligible\":";
    out += c.eligible ? "true" : "false";
    out += '}';
  }
  out += "]}";
  return out;
}

std::string joinList(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ",";
    out += item;
  }
  return out;
}

std::vector<std::string> splitList(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    if (comma > start) out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

namespace {

int64_t percentile(const std::vector<std::pair<int, int64_t>>& buckets, double q) {
  int64_t total = 0;
  for (const auto& [bucket, count] : buckets) total += count;
  if (total == 0) return 0;
  // The smallest bucket whose cumulative count reaches ceil(q * total).
  auto rank = static_cast<int64_t>(std::ceil(q * static_cast<double>(total)));
  rank = std::max<int64_t>(rank, 1);
  int64_t seen = 0;
  for (const auto& [bucket, count] : buckets) {
    seen += count;
    if (seen >= rank) return bucketMidpointMicros(bucket);
  }
  return bucketMidpointMicros(buckets.back().first);
}

}  // namespace

int64_t ReportRow::p50LatencyUs() const { return percentile(latencyBuckets, 0.50); }
int64_t ReportRow::p95LatencyUs() const { return percentile(latencyBuckets, 0.95); }

std::optional<GroupBy> parseGroupBy(const std::string& text) {
  if (text == "day") return GroupBy::Day;
  if (text == "model") return GroupBy::Model;
  if (text == "deployment") return GroupBy::Deployment;
  if (text == "provider") return GroupBy::Provider;
  if (text == "key") return GroupBy::Key;
  if (text == "tag" || text == "tags") return GroupBy::Tag;
  if (text == "none" || text == "total") return GroupBy::None;
  return std::nullopt;
}

std::string toString(GroupBy group) {
  switch (group) {
    case GroupBy::Day: return "day";
    case GroupBy::Model: return "model";
    case GroupBy::Deployment: return "deployment";
    case GroupBy::Provider: return "provider";
    case GroupBy::Key: return "key";
    case GroupBy::Tag: return "tag";
    case GroupBy::None: return "total";
  }
  return "total";
}

}  // namespace arbitra::ledger
