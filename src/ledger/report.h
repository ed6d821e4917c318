// `arbitra report` and GET /admin/report: spend, tokens, requests, error rate,
// p50/p95 latency, cache and routing savings, grouped by day, model,
// deployment, provider, key or tag, over a time range — as a table, JSON or
// CSV. Money is printed from exact integers (JSON carries pico-dollars too).
#pragma once

#include <string>
#include <vector>

#include "ledger/store.h"

namespace arbitra::ledger {

enum class ReportFormat { Table, Json, Csv };

// Day groups are printed as YYYY-MM-DD (UTC).
std::string renderReport(const std::vector<ReportRow>& rows, const ReportQuery& query, ReportFormat format);
// The sum of all rows (the "total" line).
ReportRow totalOf(const std::vector<ReportRow>& rows);
// "2026-11-29" -> unix ms at 00:00 UTC; nullopt if malformed.
std::optional<int64_t> parseDate(const std::string& text);
std::string formatDate(int64_t unixMs);

}  // namespace arbitra::ledger
