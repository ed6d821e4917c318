// Report rendering (see report.h).
#include "ledger/report.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>

#include <boost/json.hpp>

#include "ledger/cost.h"

namespace arbitra::ledger {

namespace json = boost::json;

std::optional<int64_t> parseDate(const std::string& text) {
  int year = 0, month = 0, day = 0;
  char tail = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d%c", &year, &month, &day, &tail) != 3) return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > 31 || year < 1970) return std::nullopt;
  std::tm utc{};
  utc.tm_year = year - 1900;
  utc.tm_mon = month - 1;
  utc.tm_mday = day;
  return static_cast<int64_t>(timegm(&utc)) * 1000;
}

std::string formatDate(int64_t unixMs) {
  std::time_t seconds = static_cast<std::time_t>(unixMs / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[16];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d", &utc);
  return buffer;
}

ReportRow totalOf(const std::vector<ReportRow>& rows) {
  ReportRow total;
  total.group = "total";
  std::map<int, int64_t> buckets;
  for (const auto& r : rows) {
    total.requests += r.requests;
    total.errors += r.errors;
    total.inputTokens += r.inputTokens;
    total.outputTokens += r.outputTokens;
    total.cachedReadTokens += r.cachedReadTokens;
    total.cacheWriteTokens += r.cacheWriteTokens;
    total.reasoningTokens += r.reasoningTokens;
    total.costPico += r.costPico;
    total.cacheSavedPico += r.cacheSavedPico;
    total.routeSavedPico += r.routeSavedPico;
    total.cacheHits += r.cacheHits;
    total.estimated += r.estimated;
    total.priceMissing += r.priceMissing;
    for (const auto& [bucket, count] : r.latencyBuckets) buckets[bucket] += count;
  }
  total.latencyBuckets.assign(buckets.begin(), buckets.end());
  return total;
}

namespace {

std::string groupName(const ReportRow& row, GroupBy group) {
  if (group == GroupBy::Day && row.group != "total") {
    return formatDate(std::strtoll(row.group.c_str(), nullptr, 10) * 86'400'000);
  }
  if (row.group.empty()) return group == GroupBy::None ? "total" : "-";
  return row.group;
}

std::string percent(int64_t part, int64_t whole) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%.2f%%", whole ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0);
  return buffer;
}

std::string millis(int64_t micros) {
  char buffer[24];
  std::snprintf(buffer, sizeof buffer, "%.1f", static_cast<double>(micros) / 1000.0);
  return buffer;
}

std::string csvField(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string renderReport(const std::vector<ReportRow>& rows, const ReportQuery& query, ReportFormat format) {
  ReportRow total = totalOf(rows);
  std::vector<const ReportRow*> lines;
  for (const auto& r : rows) lines.push_back(&r);
  if (format == ReportFormat::Json) {
    json::array groups;
    auto object = [&](const ReportRow& r) {
      return json::object{{"group", groupName(r, query.groupBy)},
                          {"requests", r.requests},
                          {"errors", r.errors},
                          {"error_rate", r.requests ? static_cast<double>(r.errors) / static_cast<double>(r.requests) : 0.0},
                          {"input_tokens", r.inputTokens},
                          {"output_tokens", r.outputTokens},
                          {"cached_read_tokens", r.cachedReadTokens},
                          {"cache_write_tokens", r.cacheWriteTokens},
                          {"reasoning_tokens", r.reasoningTokens},
                          {"cost_pico", r.costPico},
                          {"cost", exactDollars(r.costPico)},
                          {"cache_hits", r.cacheHits},
                          {"cache_saved_pico", r.cacheSavedPico},
                          {"cache_saved", exactDollars(r.cacheSavedPico)},
                          {"routing_saved_pico", r.routeSavedPico},
                          {"routing_saved", exactDollars(r.routeSavedPico)},
                          {"estimated_records", r.estimated},
                          {"price_missing_records", r.priceMissing},
                          {"p50_latency_ms", static_cast<double>(r.p50LatencyUs()) / 1000.0},
                          {"p95_latency_ms", static_cast<double>(r.p95LatencyUs()) / 1000.0}};
    };
    for (const auto* r : lines) groups.push_back(object(*r));
    json::object body{{"group_by", toString(query.groupBy)},
                      {"from", query.fromMs == 0 ? json::value(nullptr) : json::value(formatDate(query.fromMs))},
                      {"until", query.toMs == INT64_MAX ? json::value(nullptr) : json::value(formatDate(query.toMs))},
                      {"groups", std::move(groups)},
                      {"total", object(total)}};
    return json::serialize(body) + "\n";
  }
  if (format == ReportFormat::Csv) {
    std::string out = toString(query.groupBy) +
                      ",requests,errors,input_tokens,output_tokens,cached_read_tokens,cache_write_tokens,"
                      "reasoning_tokens,cost_usd,cache_hits,cache_saved_usd,routing_saved_usd,p50_ms,p95_ms\n";
    auto line = [&](const ReportRow& r) {
      out += csvField(groupName(r, query.groupBy)) + "," + std::to_string(r.requests) + "," + std::to_string(r.errors) +
             "," + std::to_string(r.inputTokens) + "," + std::to_string(r.outputTokens) + "," +
             std::to_string(r.cachedReadTokens) + "," + std::to_string(r.cacheWriteTokens) + "," +
             std::to_string(r.reasoningTokens) + "," + exactDollars(r.costPico) + "," + std::to_string(r.cacheHits) +
             "," + exactDollars(r.cacheSavedPico) + "," + exactDollars(r.routeSavedPico) + "," +
             millis(r.p50LatencyUs()) + "," + millis(r.p95LatencyUs()) + "\n";
    };
    for (const auto* r : lines) line(*r);
    return out;
  }
  // Table: fixed columns, the total last.
  std::vector<std::vector<std::string>> cells;
  cells.push_back({toString(query.groupBy), "requests", "errors", "input tok", "output tok", "cached tok", "cost $",
                   "cache saved $", "routing saved $", "p50 ms", "p95 ms"});
  auto row = [&](const ReportRow& r, const std::string& name) {
    cells.push_back({name, std::to_string(r.requests), percent(r.errors, r.requests), std::to_string(r.inputTokens),
                     std::to_string(r.outputTokens), std::to_string(r.cachedReadTokens), formatDollars(r.costPico, 6),
                     formatDollars(r.cacheSavedPico, 6), formatDollars(r.routeSavedPico, 6), millis(r.p50LatencyUs()),
                     millis(r.p95LatencyUs())});
  };
  for (const auto* r : lines) row(*r, groupName(*r, query.groupBy));
  if (query.groupBy != GroupBy::None) row(total, "total");
  std::vector<size_t> widths(cells[0].size(), 0);
  for (const auto& line : cells) {
    for (size_t i = 0; i < line.size(); ++i) widths[i] = std::max(widths[i], line[i].size());
  }
  std::string out;
  for (size_t n = 0; n < cells.size(); ++n) {
    for (size_t i = 0; i < cells[n].size(); ++i) {
      const auto& text = cells[n][i];
      std::string pad(widths[i] - text.size(), ' ');
      out += i == 0 ? text + pad : "  " + pad + text;
    }
    out += "\n";
    if (n == 0 || (n + 2 == cells.size() && query.groupBy != GroupBy::None)) {
      size_t width = 0;
      for (size_t w : widths) width += w + 2;
      out += std::string(width - 2, '-') + "\n";
    }
  }
  if (total.priceMissing > 0) {
    out += "warning: " + std::to_string(total.priceMissing) + " record(s) have no known price; their cost is not counted\n";
  }
  if (total.estimated > 0) {
    out += "note: " + std::to_string(total.estimated) + " record(s) have usage counted locally (the provider reported none)\n";
  }
  return out;
}

}  // namespace arbitra::ledger
