// The admin API (see admin.h).
#include "gateway/admin.h"

#include <boost/json.hpp>

#include "api/codec.h"
#include "ledger/cost.h"
#include "ledger/report.h"

namespace arbitra::gateway {

namespace {

namespace json = boost::json;
using http::Task;

std::string errorBody(core::ErrorKind kind, const std::string& message, const std::string& param = "") {
  return api::codecFor(core::WireFormat::OpenAI).encodeError(core::makeError(kind, message, param));
}

std::string queryParam(std::string_view target, std::string_view name) {
  auto question = target.find('?');
  if (question == std::string_view::npos) return "";
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) return std::string(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  return "";
}

json::object describeKey(const ledger::KeyRecord& key, const ledger::Limiter::KeyUsage& usage) {
  json::array models(key.models.begin(), key.models.end());
  json::array tags(key.tags.begin(), key.tags.end());
  return json::object{{"id", key.id},
                      {"name", key.name},
                      {"models", std::move(models)},
                      {"budget_day", ledger::exactDollars(key.budgetDayPico)},
                      {"budget_month", ledger::exactDollars(key.budgetMonthPico)},
                      {"rpm", key.rpm},
                      {"tpm", key.tpm},
                      {"tags", std::move(tags)},
                      {"created_ms", key.createdMs},
                      {"revoked", key.revokedMs != 0},
                      {"spent_today", ledger::exactDollars(usage.spentDayPico)},
                      {"spent_this_month", ledger::exactDollars(usage.spentMonthPico)}};
}

// Reads a list of strings or a comma-separated string.
std::optional<std::vector<std::string>> stringList(const json::value* value) {
  std::vector<std::string> out;
  if (!value || value->is_null()) return out;
  if (value->is_string()) return ledger::splitList(std::string(value->as_string()));
  if (!value->is_array()) return std::nullopt;
  for (const auto& item : value->as_array()) {
    if (!item.is_string()) return std::nullopt;
    out.emplace_back(item.as_string());
  }
  return out;
}

std::optional<int64_t> dollarsField(const json::value* value) {
  if (!value || value->is_null()) return 0;
  if (value->is_string()) return ledger::parseDollars(std::string(value->as_string()));
  if (value->is_int64() && value->as_int64() >= 0) return ledger::parseDollars(std::to_string(value->as_int64()));
  if (value->is_double() && value->as_double() >= 0) {
    char text[64];
    std::snprintf(text, sizeof text, "%.6f", value->as_double());
    return ledger::parseDollars(text);
  }
  return std::nullopt;
}

std::optional<int64_t> countField(const json::value* value) {
  if (!value || value->is_null()) return 0;
  if (value->is_int64() && value->as_int64() >= 0) return value->as_int64();
  return std::nullopt;
}

}  // namespace

Task<bool> adminAllowed(const Accounting& accounting, const http::Request& request, http::ResponseWriter& out) {
  if (!accounting.hasMasterKey()) {
    std::string body = errorBody(core::ErrorKind::PermissionDenied,
                                 "the admin API is off: set ledger.master_key (or ARBITRA_MASTER_KEY) to enable it");
    co_await out.send(403, http::jsonHeaders(), std::move(body));
    co_return false;
  }
  if (!accounting.isMaster(request)) {
    std::string body = errorBody(core::ErrorKind::Authentication, "the admin API needs the master key");
    co_await out.send(401, http::jsonHeaders(), std::move(body));
    co_return false;
  }
  co_return true;
}

Task<void> serveAdmin(Accounting& accounting, http::Request& request, http::ResponseWriter& out) {
  if (!co_await adminAllowed(accounting, request, out)) co_return;
  http::Headers headers = http::jsonHeaders();
  auto* ledger = accounting.ledger();
  if (!ledger) {
    std::string body = errorBody(core::ErrorKind::Overloaded, "the ledger is disabled (ledger.enabled: false)");
    co_await out.send(503, std::move(headers), std::move(body));
    co_return;
  }
  std::string_view path = request.path();
  int status = 200;
  std::string body;
  try {
    if (path == "/admin/keys" && request.method == "GET") {
      json::array keys;
      int64_t now = ledger::nowUnixMs();
      for (const auto& key : ledger->openReader()->loadKeys()) {
        keys.push_back(describeKey(key, accounting.limiter().usage(key.id, now)));
      }
      body = json::serialize(json::object{{"object", "list"}, {"data", std::move(keys)}});
    } else if (path == "/admin/keys" && request.method == "POST") {
      json::error_code ec;
      auto parsed = json::parse(request.body, ec);
      if (ec || !parsed.is_object()) {
        status = 400;
        body = errorBody(core::ErrorKind::InvalidRequest, "expected a JSON object");
      } else {
        const auto& o = parsed.as_object();
        auto name = o.if_contains("name");
        auto models = stringList(o.if_contains("models"));
        auto tags = stringList(o.if_contains("tags"));
        auto day = dollarsField(o.if_contains("budget_day"));
        auto month = dollarsField(o.if_contains("budget_month"));
        auto rpm = countField(o.if_contains("rpm"));
        auto tpm = countField(o.if_contains("tpm"));
        std::string problem;
        if (!name || !name->is_string() || name->as_string().empty()) problem = "name: expected a non-empty string";
        else if (!models) problem = "models: expected a list of model names";
        else if (!tags) problem = "tags: expected a list of strings";
        else if (!day) problem = "budget_day: expected dollars, e.g. \"5.00\"";
        else if (!month) problem = "budget_month: expected dollars, e.g. \"100\"";
        else if (!rpm) problem = "rpm: expected a non-negative integer";
        else if (!tpm) problem = "tpm: expected a non-negative integer";
        if (!problem.empty()) {
          status = 400;
          body = errorBody(core::ErrorKind::InvalidRequest, problem, problem.substr(0, problem.find(':')));
        } else {
          auto [record, secret] = ledger::generateKey(std::string(name->as_string()));
          record.models = *models;
          record.tags = *tags;
          record.budgetDayPico = *day;
          record.budgetMonthPico = *month;
          record.rpm = *rpm;
          record.tpm = *tpm;
          ledger->openReader()->saveKey(record);
          accounting.reloadKeys();
          auto described = describeKey(record, {});
          described["key"] = secret;  // shown once
          status = 201;
          body = json::serialize(described);
        }
      }
    } else if (path.starts_with("/admin/keys/") && request.method == "DELETE") {
      std::string id(path.substr(std::string_view("/admin/keys/").size()));
      if (ledger->openReader()->revokeKey(id, ledger::nowUnixMs())) {
        accounting.reloadKeys();
        body = json::serialize(json::object{{"id", id}, {"revoked", true}});
      } else {
        status = 404;
        body = errorBody(core::ErrorKind::NotFound, "no active key with id '" + id + "'");
      }
    } else if (path == "/admin/report" && request.method == "GET") {
      ledger::ReportQuery query;
      std::string groupBy = queryParam(request.target, "group_by");
      std::string from = queryParam(request.target, "from"), until = queryParam(request.target, "until");
      std::string format = queryParam(request.target, "format");
      auto group = ledger::parseGroupBy(groupBy.empty() ? "day" : groupBy);
      auto fromMs = from.empty() ? std::optional<int64_t>(0) : ledger::parseDate(from);
      auto untilMs = until.empty() ? std::optional<int64_t>(INT64_MAX) : ledger::parseDate(until);
      if (!group || !fromMs || !untilMs || (!format.empty() && format != "json" && format != "csv" && format != "table")) {
        status = 400;
        body = errorBody(core::ErrorKind::InvalidRequest,
                         "expected group_by=day|model|deployment|provider|key|tag|total, from/until=YYYY-MM-DD, "
                         "format=json|csv|table");
      } else {
        query.groupBy = *group;
        query.fromMs = *fromMs;
        query.toMs = *untilMs == INT64_MAX ? INT64_MAX : *untilMs + 86'400'000;  // until is inclusive
        ledger->flush();  // a report includes every request answered before it
        auto rows = ledger->openReader()->report(query);
        auto kind = format == "csv" ? ledger::ReportFormat::Csv
                    : format == "table" ? ledger::ReportFormat::Table : ledger::ReportFormat::Json;
        body = ledger::renderReport(rows, query, kind);
        if (kind != ledger::ReportFormat::Json) headers = {{"content-type", "text/plain; charset=utf-8"}};
      }
    } else {
      status = 404;
      body = errorBody(core::ErrorKind::NotFound, "no admin route for " + request.method + " " + std::string(path));
    }
  } catch (const ledger::StoreError& e) {
    status = 500;
    body = errorBody(core::ErrorKind::Internal, e.what());
  }
  co_await out.send(status, std::move(headers), std::move(body));
}

}  // namespace arbitra::gateway
