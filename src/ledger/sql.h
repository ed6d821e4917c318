// The SQL both stores share (SQLite and Postgres accept the same text here:
// BIGINT columns, integer division, UNION ALL, CAST AS TEXT). Bounds are
// integers formatted into the text; nothing user-supplied is ever spliced in.
#pragma once

#include <string>
#include <vector>

#include "ledger/store.h"

namespace arbitra::ledger::sql {

// Schema statements, one per string, idempotent (IF NOT EXISTS).
const std::vector<std::string>& schema();

extern const char* const kRecordColumns;  // the 31 columns of `records`, in Record field order

// Columns added to a table after its first release: a ledger file or
// database made by an older Arbitra gets them (with their defaults) when a
// store opens it; schema() already has them for a new one.
struct AddedColumn {
  const char* table;
  const char* column;
  const char* type;  // with its DEFAULT
};
const std::vector<AddedColumn>& addedColumns();

extern const char* const kSeedMeta;  // committed_seq and keys_version rows, if missing

std::string report(const ReportQuery& query);
std::string scan(int64_t fromMs, int64_t toMs);  // columns in the order readScanned expects
std::string compactInsert(int64_t beforeMs);
std::string compactDelete(int64_t beforeMs);
std::string spendSince(int64_t sinceMs);

// Compaction in one transaction, for a store `db` with exec(sql),
// scalar(sql) and rollback(): the rows rolled up and deleted, or none.
template <class Db>
int64_t compactIn(Db& db, const std::string& begin, int64_t beforeMs) {
  db.exec(begin);
  try {
    int64_t count = db.scalar("SELECT COUNT(*) FROM records WHERE time_ms < " + std::to_string(beforeMs));
    if (count > 0) {
      db.exec(compactInsert(beforeMs));
      db.exec(compactDelete(beforeMs));
    }
    db.exec("COMMIT");
    return count;
  } catch (...) {
    db.rollback();
    throw;
  }
}

// Result rows to records, the same for both stores. `Row` gives text(col)
// and integer(col) for the current row of a query built by the functions
// above (column order as they write it).
template <class Row>
void addReportRow(std::vector<ReportRow>& rows, const Row& r) {
  std::string group = r.text(0);
  if (rows.empty() || rows.back().group != group) {
    rows.emplace_back();
    rows.back().group = std::move(group);
  }
  auto& row = rows.back();
  int64_t n = r.integer(2);
  row.latencyBuckets.emplace_back(static_cast<int>(r.integer(1)), n);
  row.requests += n;
  row.errors += r.integer(3);
  row.inputTokens += r.integer(4);
  row.outputTokens += r.integer(5);
  row.cachedReadTokens += r.integer(6);
  row.cacheWriteTokens += r.integer(7);
  row.reasoningTokens += r.integer(8);
  row.costPico += r.integer(9);
  row.cacheSavedPico += r.integer(10);
  row.routeSavedPico += r.integer(11);
  row.cacheHits += r.integer(12);
  row.estimated += r.integer(13);
  row.priceMissing += r.integer(14);
}

template <class Row>
void readScanned(Record& rec, const Row& r) {
  rec.timeMs = r.integer(0);
  rec.keyId = r.text(1);
  rec.model = r.text(2);
  rec.deployment = r.text(3);
  rec.provider = r.text(4);
  rec.status = static_cast<int>(r.integer(5));
  rec.inputTokens = r.integer(6);
  rec.outputTokens = r.integer(7);
  rec.cachedReadTokens = r.integer(8);
  rec.cacheWriteTokens = r.integer(9);
  rec.reasoningTokens = r.integer(10);
  rec.costPico = r.integer(11);
  rec.latencyUs = r.integer(12);
  rec.ttftUs = r.integer(13);
  rec.draftedTokens = r.integer(14);
  rec.acceptedTokens = r.integer(15);
  rec.decodeSteps = r.integer(16);
}

// The columns of kSelectKeys, in order.
extern const char* const kSelectKeys;
template <class Row>
KeyRecord readKey(const Row& r) {
  KeyRecord key;
  key.id = r.text(0);
  key.hash = r.text(1);
  key.name = r.text(2);
  key.models = splitList(r.text(3));
  key.budgetDayPico = r.integer(4);
  key.budgetMonthPico = r.integer(5);
  key.rpm = r.integer(6);
  key.tpm = r.integer(7);
  key.tags = splitList(r.text(8));
  key.createdMs = r.integer(9);
  key.revokedMs = r.integer(10);
  return key;
}

}  // namespace arbitra::ledger::sql
