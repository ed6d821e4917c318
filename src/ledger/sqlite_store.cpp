// The embedded store: one SQLite file in WAL mode.
//
// WAL with synchronous=NORMAL: a commit survives the process being killed
// (kill -9); only a power loss can take the last commits. The writer thread
// holds one connection; readers open their own (WAL lets them read while it
// writes). busy_timeout covers the short moments a checkpoint holds a lock.
#include <sqlite3.h>

#include <cstring>
#include <map>
#include <mutex>

#include "ledger/sql.h"
#include "ledger/store.h"

namespace arbitra::ledger {

namespace {

class Statement {
 public:
  Statement(sqlite3* db, const std::string& text) : db_(db) {
    if (sqlite3_prepare_v2(db, text.c_str(), -1, &stmt_, nullptr) != SQLITE_OK) {
      throw StoreError(std::string("ledger: cannot prepare statement: ") + sqlite3_errmsg(db));
    }
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  void bind(int index, int64_t value) { sqlite3_bind_int64(stmt_, index, value); }
  void bind(int index, const std::string& value) {
    sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  }
  // true while rows come; throws on error.
  bool step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw StoreError(std::string("ledger: ") + sqlite3_errmsg(db_));
  }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::string text(int column) const {
    auto* bytes = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return bytes ? std::string(bytes, static_cast<size_t>(sqlite3_column_bytes(stmt_, column))) : std::string();
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// SQLite's memory statistics take a global mutex on every allocation it
// makes (tens per inserted record); nothing here reads them. Must run
// before SQLite initializes; if something initialized it first, the call is
// refused and nothing changes.
void disableMemoryStatistics() {
  static std::once_flag once;
  std::call_once(once, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
}

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(const std::string& path) : path_(path) {
    disableMemoryStatistics();
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
      std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw StoreError("ledger: cannot open " + path + ": " + why);
    }
    sqlite3_busy_timeout(db_, 5000);
    try {
      exec("PRAGMA journal_mode=WAL");
      exec("PRAGMA synchronous=NORMAL");
      for (const auto& statement : sql::schema()) exec(statement);
      addMissingColumns();
      exec(sql::kSeedMeta);
    } catch (const StoreError& e) {
      sqlite3_close(db_);
      throw StoreError(std::string(e.what()) + " (" + path + ": not an Arbitra ledger, or corrupt?)");
    }
  }
  ~SqliteStore() override {
    insert_.reset();
    sqlite3_close(db_);
  }

  void append(const std::vector<Record>& records) override {
    if (records.empty()) return;
    if (!insert_) {
      insert_ = std::make_unique<Statement>(
          db_, std::string("INSERT INTO records (") + sql::kRecordColumns +
                   ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    }
    exec("BEGIN IMMEDIATE");
    try {
      for (const auto& r : records) {
        auto& s = *insert_;
        int i = 1;
        s.bind(i++, r.seq);
        s.bind(i++, r.timeMs);
        s.bind(i++, r.requestId);
        s.bind(i++, r.keyId);
        s.bind(i++, r.tags);
        s.bind(i++, r.model);
        s.bind(i++, r.deployment);
        s.bind(i++, r.provider);
        s.bind(i++, r.format);
        s.bind(i++, static_cast<int64_t>(r.status));
        s.bind(i++, static_cast<int64_t>(r.stream));
        s.bind(i++, r.inputTokens);
        s.bind(i++, r.outputTokens);
        s.bind(i++, r.cachedReadTokens);
        s.bind(i++, r.cacheWriteTokens);
        s.bind(i++, r.reasoningTokens);
        s.bind(i++, r.costPico);
        s.bind(i++, r.cacheSavedPico);
        s.bind(i++, r.routeSavedPico);
        s.bind(i++, static_cast<int64_t>(r.estimated));
        s.bind(i++, static_cast<int64_t>(r.priceMissing));
        s.bind(i++, r.latencyUs);
        s.bind(i++, r.ttftUs);
        s.bind(i++, static_cast<int64_t>(latencyBucket(r.latencyUs)));
        s.bind(i++, static_cast<int64_t>(r.attempts));
        s.bind(i++, r.cache);
        s.bind(i++, r.route);
        s.bind(i++, r.error);
        s.bind(i++, r.draftedTokens);
        s.bind(i++, r.acceptedTokens);
        s.bind(i++, r.decodeSteps);
        s.step();
        s.reset();
      }
      Statement seq(db_, "UPDATE meta SET value = ? WHERE name = 'committed_seq'");
      seq.bind(1, records.back().seq);
      seq.step();
      exec("COMMIT");
    } catch (...) {
      insert_->reset();
      rollback();
      throw;
    }
  }

  int64_t committedSeq() override { return scalar("SELECT value FROM meta WHERE name = 'committed_seq'"); }
  int64_t recordCount() override { return scalar("SELECT COUNT(*) FROM records"); }

  void noteLoss(int64_t atMs, int64_t lost, const std::string& why) override {
    Statement s(db_, "INSERT INTO gaps(at_ms, lost, why) VALUES (?, ?, ?)");
    s.bind(1, atMs);
    s.bind(2, lost);
    s.bind(3, why);
    s.step();
  }
  int64_t reportedLoss() override { return scalar("SELECT COALESCE(SUM(lost), 0) FROM gaps"); }

  std::vector<ReportRow> report(const ReportQuery& query) override {
    Statement s(db_, sql::report(query));
    std::vector<ReportRow> rows;
    while (s.step()) sql::addReportRow(rows, s);
    return rows;
  }

  void scan(int64_t fromMs, int64_t toMs, const std::function<void(const Record&)>& visit) override {
    Statement s(db_, sql::scan(fromMs, toMs));
    Record r;
    while (s.step()) {
      sql::readScanned(r, s);
      visit(r);
    }
  }

  int64_t compact(int64_t beforeMs) override { return sql::compactIn(*this, "BEGIN IMMEDIATE", beforeMs); }

  std::vector<KeySpend> spendSince(int64_t sinceMs) override {
    Statement s(db_, sql::spendSince(sinceMs));
    std::vector<KeySpend> out;
    while (s.step()) out.push_back({s.text(0), s.integer(1)});
    return out;
  }

  void saveKey(const KeyRecord& key) override {
    Statement s(db_,
                "INSERT INTO keys (id, hash, name, models, budget_day_pico, budget_month_pico, rpm, tpm, tags,"
                " created_ms, revoked_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?)");
    s.bind(1, key.id);
    s.bind(2, key.hash);
    s.bind(3, key.name);
    s.bind(4, joinList(key.models));
    s.bind(5, key.budgetDayPico);
    s.bind(6, key.budgetMonthPico);
    s.bind(7, key.rpm);
    s.bind(8, key.tpm);
    s.bind(9, joinList(key.tags));
    s.bind(10, key.createdMs);
    s.bind(11, key.revokedMs);
    s.step();
    exec("UPDATE meta SET value = value + 1 WHERE name = 'keys_version'");
  }

  std::vector<KeyRecord> loadKeys() override {
    Statement s(db_, sql::kSelectKeys);
    std::vector<KeyRecord> keys;
    while (s.step()) keys.push_back(sql::readKey(s));
    return keys;
  }

  bool revokeKey(const std::string& id, int64_t atMs) override {
    Statement s(db_, "UPDATE keys SET revoked_ms = ? WHERE id = ? AND revoked_ms = 0");
    s.bind(1, atMs);
    s.bind(2, id);
    s.step();
    bool changed = sqlite3_changes(db_) > 0;
    if (changed) exec("UPDATE meta SET value = value + 1 WHERE name = 'keys_version'");
    return changed;
  }

  int64_t keysVersion() override { return scalar("SELECT value FROM meta WHERE name = 'keys_version'"); }

  std::string describe() const override { return "sqlite:" + path_; }

 private:
  template <class Db>
  friend int64_t sql::compactIn(Db& db, const std::string& begin, int64_t beforeMs);
  void rollback() { sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr); }
  void exec(const std::string& statement) {
    char* error = nullptr;
    if (sqlite3_exec(db_, statement.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      std::string why = error ? error : "unknown error";
      sqlite3_free(error);
      throw StoreError("ledger: " + why);
    }
  }
  int64_t scalar(const std::string& query) {
    Statement s(db_, query);
    return s.step() ? s.integer(0) : 0;
  }
  // A file from an older Arbitra: its tables get the columns added since
  // (SQLite has no ADD COLUMN IF NOT EXISTS; the table's own list says).
  void addMissingColumns() {
    for (const auto& c : sql::addedColumns()) {
      Statement s(db_, std::string("SELECT COUNT(*) FROM pragma_table_info('") + c.table + "') WHERE name = '" +
                           c.column + "'");
      if (s.step() && s.integer(0) > 0) continue;
      exec(std::string("ALTER TABLE ") + c.table + " ADD COLUMN " + c.column + " " + c.type);
    }
  }

  std::string path_;
  sqlite3* db_ = nullptr;
  std::unique_ptr<Statement> insert_;
};

}  // namespace

std::unique_ptr<Store> openSqliteStore(const std::string& path) { return std::make_unique<SqliteStore>(path); }

std::unique_ptr<Store> openStore(const std::string& sqlitePath, const std::string& postgres) {
  if (!postgres.empty()) return openPostgresStore(postgres);
  return openSqliteStore(sqlitePath);
}

}  // namespace arbitra::ledger
