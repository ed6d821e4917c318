// Where ledger records live: one small interface, two implementations —
// SQLite (the embedded default, WAL mode) and Postgres (the scale-out store).
// The Ledger (ledger.h) is the only writer and calls a store from its one
// writer thread; readers (reports, the admin API, `arbitra keys`) open their
// own store object.
//
// Guarantees every implementation keeps:
//   - append() writes a batch and the new committed sequence number in one
//     transaction: after a crash either all of a batch is there or none;
//   - aggregates are sums of exact integers (pico-dollars, tokens);
//   - report() groups raw records and daily rollups the same way, so a report
//     over compacted days equals the one before compaction.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "ledger/record.h"

namespace arbitra::ledger {

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class GroupBy { Day, Model, Deployment, Provider, Key, Tag, None };
std::optional<GroupBy> parseGroupBy(const std::string& text);
std::string toString(GroupBy group);

struct ReportQuery {
  int64_t fromMs = 0;                    // inclusive
  int64_t toMs = INT64_MAX;              // exclusive
  GroupBy groupBy = GroupBy::Day;
};

// One group's line: sums, and latency bucket counts for percentiles.
struct ReportRow {
  std::string group;
  int64_t requests = 0;
  int64_t errors = 0;  // status >= 400
  int64_t inputTokens = 0, outputTokens = 0, cachedReadTokens = 0, cacheWriteTokens = 0, reasoningTokens = 0;
  int64_t costPico = 0;
  int64_t cacheSavedPico = 0;
  int64_t routeSavedPico = 0;
  int64_t cacheHits = 0;
  int64_t estimated = 0;      // records with locally counted usage
  int64_t priceMissing = 0;   // records flagged for a missing price
  std::vector<std::pair<int, int64_t>> latencyBuckets;  // (bucket, count)
  int64_t p50LatencyUs() const;
  int64_t p95LatencyUs() const;
};

// Spend per key since a point in time (budgets are rebuilt from it at start).
struct KeySpend {
  std::string keyId;
  int64_t costPico = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // One transaction: the records and committed sequence = the last record's seq.
  virtual void append(const std::vector<Record>& records) = 0;
  virtual int64_t committedSeq() = 0;
  virtual int64_t recordCount() = 0;  // raw records (not rolled up)
  virtual void noteLoss(int64_t atMs, int64_t lost, const std::string& why) = 0;
  virtual int64_t reportedLoss() = 0;  // sum of losses noted so far

  virtual std::vector<ReportRow> report(const ReportQuery& query) = 0;
  // Visits raw records in [fromMs, toMs) in time order, with the fields a
  // workload is measured from (time, key, model, deployment, provider,
  // status, tokens, cost, latency, ttft); the rest are left empty.
  virtual void scan(int64_t fromMs, int64_t toMs, const std::function<void(const Record&)>& visit) = 0;
  // Rolls raw records before `beforeMs` (whole UTC days) into daily rollups
  // and deletes them; returns how many records were rolled up.
  virtual int64_t compact(int64_t beforeMs) = 0;
  virtual std::vector<KeySpend> spendSince(int64_t sinceMs) = 0;

  virtual void saveKey(const KeyRecord& key) = 0;
  virtual std::vector<KeyRecord> loadKeys() = 0;
  virtual bool revokeKey(const std::string& id, int64_t atMs) = 0;
  virtual int64_t keysVersion() = 0;  // changes whenever keys change

  virtual std::string describe() const = 0;  // "sqlite:/path" (no secrets)
};

// "postgres" non-empty: the Postgres store with that libpq connection string;
// else SQLite at `sqlitePath`. Throws StoreError with a clear message.
std::unique_ptr<Store> openStore(const std::string& sqlitePath, const std::string& postgres);
std::unique_ptr<Store> openSqliteStore(const std::string& path);
std::unique_ptr<Store> openPostgresStore(const std::string& connection);

}  // namespace arbitra::ledger
