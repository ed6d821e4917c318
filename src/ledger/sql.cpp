// SQL text shared by the SQLite and Postgres stores (see sql.h).
#include "ledger/sql.h"

namespace arbitra::ledger::sql {

namespace {

constexpr const char* kDayMs = "86400000";

std::string groupExpr(GroupBy group, bool rollup) {
  switch (group) {
    case GroupBy::Day:
      return rollup ? "CAST(day AS TEXT)" : std::string("CAST(time_ms / ") + kDayMs + " AS TEXT)";
    case GroupBy::Model: return "model";
    case GroupBy::Deployment: return "deployment";
    case GroupBy::Provider: return "provider";
    case GroupBy::Key: return "key_id";
    case GroupBy::Tag: return "tags";
    case GroupBy::None: return "''";
  }
  return "''";
}

}  // namespace

const std::vector<std::string>& schema() {
  static const std::vector<std::string> statements = {
      "CREATE TABLE IF NOT EXISTS records ("
      " seq BIGINT PRIMARY KEY, time_ms BIGINT NOT NULL, request_id TEXT NOT NULL, key_id TEXT NOT NULL,"
      " tags TEXT NOT NULL, model TEXT NOT NULL, deployment TEXT NOT NULL, provider TEXT NOT NULL,"
      " format TEXT NOT NULL, status BIGINT NOT NULL, stream BIGINT NOT NULL,"
      " input_tokens BIGINT NOT NULL, output_tokens BIGINT NOT NULL, cached_read_tokens BIGINT NOT NULL,"
      " cache_write_tokens BIGINT NOT NULL, reasoning_tokens BIGINT NOT NULL,"
      " cost_pico BIGINT NOT NULL, cache_saved_pico BIGINT NOT NULL, route_saved_pico BIGINT NOT NULL,"
      " estimated BIGINT NOT NULL, price_missing BIGINT NOT NULL,"
      " latency_us BIGINT NOT NULL, ttft_us BIGINT NOT NULL, latency_bucket BIGINT NOT NULL,"
      " attempts BIGINT NOT NULL, cache TEXT NOT NULL, route TEXT NOT NULL, error TEXT NOT NULL,"
      " drafted_tokens BIGINT NOT NULL DEFAULT 0, accepted_tokens BIGINT NOT NULL DEFAULT 0,"
      " decode_steps BIGINT NOT NULL DEFAULT 0)",
      "CREATE INDEX IF NOT EXISTS records_time ON records(time_ms)",
      "CREATE INDEX IF NOT EXISTS records_key_time ON records(key_id, time_ms)",
      "CREATE TABLE IF NOT EXISTS rollups ("
      " day BIGINT NOT NULL, key_id TEXT NOT NULL, tags TEXT NOT NULL, model TEXT NOT NULL,"
      " deployment TEXT NOT NULL, provider TEXT NOT NULL, latency_bucket BIGINT NOT NULL,"
      " requests BIGINT NOT NULL, errors BIGINT NOT NULL, input_tokens BIGINT NOT NULL,"
      " output_tokens BIGINT NOT NULL, cached_read_tokens BIGINT NOT NULL, cache_write_tokens BIGINT NOT NULL,"
      " reasoning_tokens BIGINT NOT NULL, cost_pico BIGINT NOT NULL, cache_saved_pico BIGINT NOT NULL,"
      " route_saved_pico BIGINT NOT NULL, cache_hits BIGINT NOT NULL, estimated BIGINT NOT NULL,"
      " price_missing BIGINT NOT NULL)",
      "CREATE INDEX IF NOT EXISTS rollups_day ON rollups(day)",
      "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
      "CREATE TABLE IF NOT EXISTS gaps (at_ms BIGINT NOT NULL, lost BIGINT NOT NULL, why TEXT NOT NULL)",
      "CREATE TABLE IF NOT EXISTS keys ("
      " id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, name TEXT NOT NULL, models TEXT NOT NULL,"
      " budget_day_pico BIGINT NOT NULL, budget_month_pico BIGINT NOT NULL, rpm BIGINT NOT NULL,"
      " tpm BIGINT NOT NULL, tags TEXT NOT NULL, created_ms BIGINT NOT NULL, revoked_ms BIGINT NOT NULL)",
  };
  return statements;
}

const char* const kRecordColumns =
    "seq, time_ms, request_id, key_id, tags, model, deployment, provider, format, status, stream,"
    " input_tokens, output_tokens, cached_read_tokens, cache_write_tokens, reasoning_tokens,"
    " cost_pico, cache_saved_pico, route_saved_pico, estimated, price_missing, latency_us, ttft_us,"
    " latency_bucket, attempts, cache, route, error, drafted_tokens, accepted_tokens, decode_steps";

const std::vector<AddedColumn>& addedColumns() {
  static const std::vector<AddedColumn> columns = {
      {"records", "drafted_tokens", "BIGINT NOT NULL DEFAULT 0"},
      {"records", "accepted_tokens", "BIGINT NOT NULL DEFAULT 0"},
      {"records", "decode_steps", "BIGINT NOT NULL DEFAULT 0"},
  };
  return columns;
}

const char* const kSelectKeys =
    "SELECT id, hash, name, models, budget_day_pico, budget_month_pico, rpm, tpm, tags, created_ms, revoked_ms"
    " FROM keys ORDER BY created_ms, id";

const char* const kSeedMeta =
    "INSERT INTO meta(name, value) VALUES ('committed_seq', 0), ('keys_version', 0) ON CONFLICT DO NOTHING";

std::string report(const ReportQuery& query) {
  std::string from = std::to_string(query.fromMs), to = std::to_string(query.toMs);
  std::string raw =
      "SELECT " + groupExpr(query.groupBy, false) + " AS g, latency_bucket AS b, 1 AS n,"
      " CASE WHEN status >= 400 THEN 1 ELSE 0 END AS e, input_tokens AS i, output_tokens AS o,"
      " cached_read_tokens AS cr, cache_write_tokens AS cw, reasoning_tokens AS r, cost_pico AS c,"
      " cache_saved_pico AS cs, route_saved_pico AS rs,"
      " CASE WHEN cache = 'hit-exact' OR cache = 'hit-semantic' THEN 1 ELSE 0 END AS h,"
      " estimated AS est, price_missing AS pm FROM records WHERE time_ms >= " + from + " AND time_ms < " + to;
  std::string rolled =
      "SELECT " + groupExpr(query.groupBy, true) + ", latency_bucket, requests, errors, input_tokens,"
      " output_tokens, cached_read_tokens, cache_write_tokens, reasoning_tokens, cost_pico, cache_saved_pico,"
      " route_saved_pico, cache_hits, estimated, price_missing FROM rollups WHERE day * " + std::string(kDayMs) +
      " >= " + from + " AND day * " + kDayMs + " < " + to;
  return "SELECT g, b, SUM(n), SUM(e), SUM(i), SUM(o), SUM(cr), SUM(cw), SUM(r), SUM(c), SUM(cs), SUM(rs),"
         " SUM(h), SUM(est), SUM(pm) FROM (" + raw + " UNION ALL " + rolled + ") t GROUP BY g, b ORDER BY g, b";
}

std::string scan(int64_t fromMs, int64_t toMs) {
  return "SELECT time_ms, key_id, model, deployment, provider, status, input_tokens, output_tokens,"
         " cached_read_tokens, cache_write_tokens, reasoning_tokens, cost_pico, latency_us, ttft_us,"
         " drafted_tokens, accepted_tokens, decode_steps FROM records"
         " WHERE time_ms >= " + std::to_string(fromMs) + " AND time_ms < " + std::to_string(toMs) + " ORDER BY time_ms, seq";
}

std::string compactInsert(int64_t beforeMs) {
  return std::string(
             "INSERT INTO rollups SELECT time_ms / ") + kDayMs + ", key_id, tags, model, deployment, provider,"
         " latency_bucket, COUNT(*), SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), SUM(input_tokens),"
         " SUM(output_tokens), SUM(cached_read_tokens), SUM(cache_write_tokens), SUM(reasoning_tokens),"
         " SUM(cost_pico), SUM(cache_saved_pico), SUM(route_saved_pico),"
         " SUM(CASE WHEN cache = 'hit-exact' OR cache = 'hit-semantic' THEN 1 ELSE 0 END), SUM(estimated),"
         " SUM(price_missing) FROM records WHERE time_ms < " + std::to_string(beforeMs) +
         " GROUP BY time_ms / " + kDayMs + ", key_id, tags, model, deployment, provider, latency_bucket";
}

std::string compactDelete(int64_t beforeMs) {
  return "DELETE FROM records WHERE time_ms < " + std::to_string(beforeMs);
}

std::string spendSince(int64_t sinceMs) {
  std::string since = std::to_string(sinceMs);
  return "SELECT k, SUM(c) FROM (SELECT key_id AS k, cost_pico AS c FROM records WHERE time_ms >= " + since +
         " UNION ALL SELECT key_id, cost_pico FROM rollups WHERE day * " + kDayMs + " >= " + since +
         ") t GROUP BY k";
}

}  // namespace arbitra::ledger::sql
