// The scale-out store: the same tables in Postgres, through libpq.
//
// Batches go in with COPY ... FROM STDIN inside one transaction together with
// the committed sequence, so a batch is all there or not at all. The
// connection string is a secret (it may hold a password): it never appears in
// errors or logs; describe() names the host and database only.
#include <libpq-fe.h>

#include <cstdlib>

#include "ledger/sql.h"
#include "ledger/store.h"

namespace arbitra::ledger {

namespace {

class Result {
 public:
  explicit Result(PGresult* result) : result_(result) {}
  ~Result() { PQclear(result_); }
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;
  PGresult* get() const { return result_; }
  int rows() const { return PQntuples(result_); }
  std::string text(int row, int column) const {
    return PQgetisnull(result_, row, column) ? std::string() : std::string(PQgetvalue(result_, row, column));
  }
  int64_t integer(int row, int column) const {
    return PQgetisnull(result_, row, column) ? 0 : std::strtoll(PQgetvalue(result_, row, column), nullptr, 10);
  }

 private:
  PGresult* result_;
};

// One row of a Result, as the shared readers in sql.h take it.
struct RowOf {
  const Result& result;
  int row;
  std::string text(int column) const { return result.text(row, column); }
  int64_t integer(int column) const { return result.integer(row, column); }
};

// COPY text format: backslash, tab, newline and carriage return escaped.
void appendField(std::string& out, const std::string& value) {
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      default: out += c;
    }
  }
}

class PostgresStore final : public Store {
 public:
  explicit PostgresStore(const std::string& connection) {
    conn_ = PQconnectdb(connection.c_str());
    if (PQstatus(conn_) != CONNECTION_OK) {
      std::string why = PQerrorMessage(conn_);
      PQfinish(conn_);
      while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
      throw StoreError("ledger: cannot connect to Postgres: " + why);
    }
    described_ = std::string("postgres://") + PQhost(conn_) + ":" + PQport(conn_) + "/" + PQdb(conn_);
    exec("SET client_min_messages = warning");
    for (const auto& statement : sql::schema()) exec(statement);
    // Columns added since a database's first use: looked up first, so an
    // up-to-date table (every later start, every other gateway) is not
    // locked for an ALTER.
    for (const auto& c : sql::addedColumns()) {
      if (scalar(std::string("SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = current_schema()"
                             " AND table_name = '") + c.table + "' AND column_name = '" + c.column + "'") > 0) {
        continue;
      }
      exec(std::string("ALTER TABLE ") + c.table + " ADD COLUMN IF NOT EXISTS " + c.column + " " + c.type);
    }
    exec(sql::kSeedMeta);
  }
  ~PostgresStore() override { PQfinish(conn_); }

  void append(const std::vector<Record>& records) override {
    if (records.empty()) return;
    exec("BEGIN");
    try {
      Result copy(PQexec(conn_, (std::string("COPY records (") + sql::kRecordColumns + ") FROM STDIN").c_str()));
      if (PQresultStatus(copy.get()) != PGRES_COPY_IN) fail("COPY");
      std::string data;
      data.reserve(records.size() * 256);
      for (const auto& r : records) {
        auto number = [&](int64_t v) { data += std::to_string(v); data += '\t'; };
        auto text = [&](const std::string& v) { appendField(data, v); data += '\t'; };
        number(r.seq); number(r.timeMs); text(r.requestId); text(r.keyId); text(r.tags); text(r.model);
        text(r.deployment); text(r.provider); text(r.format); number(r.status); number(r.stream);
        number(r.inputTokens); number(r.outputTokens); number(r.cachedReadTokens); number(r.cacheWriteTokens);
        number(r.reasoningTokens); number(r.costPico); number(r.cacheSavedPico); number(r.routeSavedPico);
        number(r.estimated); number(r.priceMissing); number(r.latencyUs); number(r.ttftUs);
        number(latencyBucket(r.latencyUs)); number(r.attempts); text(r.cache); text(r.route);
        text(r.error); number(r.draftedTokens); number(r.acceptedTokens);
        data += std::to_string(r.decodeSteps);
        data += '\n';
      }
      if (PQputCopyData(conn_, data.data(), static_cast<int>(data.size())) != 1 || PQputCopyEnd(conn_, nullptr) != 1) {
        fail("COPY data");
      }
      Result done(PQgetResult(conn_));
      if (PQresultStatus(done.get()) != PGRES_COMMAND_OK) fail("COPY");
      while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);
      exec("UPDATE meta SET value = " + std::to_string(records.back().seq) + " WHERE name = 'committed_seq'");
      exec("COMMIT");
    } catch (...) {
      rollback();
      throw;
    }
  }

  int64_t committedSeq() override { return scalar("SELECT value FROM meta WHERE name = 'committed_seq'"); }
  int64_t recordCount() override { return scalar("SELECT COUNT(*) FROM records"); }

  void noteLoss(int64_t atMs, int64_t lost, const std::string& why) override {
    const char* values[] = {nullptr, nullptr, why.c_str()};
    std::string at = std::to_string(atMs), count = std::to_string(lost);
    values[0] = at.c_str();
    values[1] = count.c_str();
    Result r(PQexecParams(conn_, "INSERT INTO gaps(at_ms, lost, why) VALUES ($1, $2, $3)", 3, nullptr, values,
                          nullptr, nullptr, 0));
    check(r, PGRES_COMMAND_OK, "insert gap");
  }
  int64_t reportedLoss() override { return scalar("SELECT COALESCE(SUM(lost), 0) FROM gaps"); }

  std::vector<ReportRow> report(const ReportQuery& query) override {
    Result r(PQexec(conn_, sql::report(query).c_str()));
    check(r, PGRES_TUPLES_OK, "report");
    std::vector<ReportRow> rows;
    for (int i = 0; i < r.rows(); ++i) sql::addReportRow(rows, RowOf{r, i});
    return rows;
  }

  void scan(int64_t fromMs, int64_t toMs, const std::function<void(const Record&)>& visit) override {
    Result r(PQexec(conn_, sql::scan(fromMs, toMs).c_str()));
    check(r, PGRES_TUPLES_OK, "scan");
    Record rec;
    for (int i = 0; i < r.rows(); ++i) {
      sql::readScanned(rec, RowOf{r, i});
      visit(rec);
    }
  }

  int64_t compact(int64_t beforeMs) override { return sql::compactIn(*this, "BEGIN", beforeMs); }

  std::vector<KeySpend> spendSince(int64_t sinceMs) override {
    Result r(PQexec(conn_, sql::spendSince(sinceMs).c_str()));
    check(r, PGRES_TUPLES_OK, "spend");
    std::vector<KeySpend> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back({r.text(i, 0), r.integer(i, 1)});
    return out;
  }

  void saveKey(const KeyRecord& key) override {
    std::string fields[] = {key.id, key.hash, key.name, joinList(key.models), std::to_string(key.budgetDayPico),
                            std::to_string(key.budgetMonthPico), std::to_string(key.rpm), std::to_string(key.tpm),
                            joinList(key.tags), std::to_string(key.createdMs), std::to_string(key.revokedMs)};
    const char* values[11];
    for (int i = 0; i < 11; ++i) values[i] = fields[i].c_str();
    exec("BEGIN");
    Result r(PQexecParams(conn_,
                          "INSERT INTO keys (id, hash, name, models, budget_day_pico, budget_month_pico, rpm, tpm,"
                          " tags, created_ms, revoked_ms) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
                          11, nullptr, values, nullptr, nullptr, 0));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
      rollback();
      fail("insert key");
    }
    exec("UPDATE meta SET value = value + 1 WHERE name = 'keys_version'");
    exec("COMMIT");
  }

  std::vector<KeyRecord> loadKeys() override {
    Result r(PQexec(conn_, sql::kSelectKeys));
    check(r, PGRES_TUPLES_OK, "load keys");
    std::vector<KeyRecord> keys;
    for (int i = 0; i < r.rows(); ++i) keys.push_back(sql::readKey(RowOf{r, i}));
    return keys;
  }

  bool revokeKey(const std::string& id, int64_t atMs) override {
    std::string at = std::to_string(atMs);
    const char* values[] = {at.c_str(), id.c_str()};
    Result r(PQexecParams(conn_, "UPDATE keys SET revoked_ms = $1 WHERE id = $2 AND revoked_ms = 0", 2, nullptr,
                          values, nullptr, nullptr, 0));
    check(r, PGRES_COMMAND_OK, "revoke key");
    bool changed = std::atoi(PQcmdTuples(r.get())) > 0;
    if (changed) exec("UPDATE meta SET value = value + 1 WHERE name = 'keys_version'");
    return changed;
  }

  int64_t keysVersion() override { return scalar("SELECT value FROM meta WHERE name = 'keys_version'"); }
  std::string describe() const override { return described_; }

 private:
  template <class Db>
  friend int64_t sql::compactIn(Db& db, const std::string& begin, int64_t beforeMs);
  void rollback() { Result r(PQexec(conn_, "ROLLBACK")); }
  [[noreturn]] void fail(const std::string& what) {
    std::string why = PQerrorMessage(conn_);
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    throw StoreError("ledger: Postgres " + what + " failed: " + why);
  }
  void check(const Result& r, ExecStatusType expected, const std::string& what) {
    if (PQresultStatus(r.get()) != expected) fail(what);
  }
  void exec(const std::string& statement) {
    Result r(PQexec(conn_, statement.c_str()));
    auto status = PQresultStatus(r.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail("statement");
  }
  int64_t scalar(const std::string& query) {
    Result r(PQexec(conn_, query.c_str()));
    check(r, PGRES_TUPLES_OK, "query");
    return r.rows() > 0 ? r.integer(0, 0) : 0;
  }

  PGconn* conn_ = nullptr;
  std::string described_;
};

}  // namespace

std::unique_ptr<Store> openPostgresStore(const std::string& connection) {
  return std::make_unique<PostgresStore>(connection);
}

}  // namespace arbitra::ledger
