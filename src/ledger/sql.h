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

extern const char* const kRecordColumns;  // the 28 columns of `records`, in Record field order

extern const char* const kSeedMeta;  // committed_seq and keys_version rows, if missing

std::string report(const ReportQuery& query);
std::string scan(int64_t fromMs, int64_t toMs);  // columns in the order readScanned expects
std::string compactInsert(int64_t beforeMs);
std::string compactDelete(int64_t beforeMs);
std::string spendSince(int64_t sinceMs);

}  // namespace arbitra::ledger::sql
