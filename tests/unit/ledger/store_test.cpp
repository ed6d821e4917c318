// The ledger's stores, writer and crash accounting, against real files (and a
// real Postgres server when ARBITRA_TEST_POSTGRES names one; scripts/test.sh
// starts one on loopback and sets it).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include "ledger/ledger.h"
#include "ledger/report.h"
#include "ledger/store.h"

namespace arbitra::ledger {
namespace {

namespace fs = std::filesystem;

std::string tempPath(const std::string& name) {
  static const fs::path dir = [] {
    auto d = fs::temp_directory_path() / ("arbitra-ledger-test-" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  auto path = dir / name;
  fs::remove(path);
  fs::remove(path.string() + "-wal");
  fs::remove(path.string() + "-shm");
  fs::remove(path.string() + ".seq");
  return path.string();
}

Record record(int64_t timeMs, const std::string& model, int64_t cost, int status = 200, int64_t latencyUs = 1000) {
  Record r;
  r.timeMs = timeMs;
  r.requestId = "req-" + std::to_string(timeMs) + "-" + model;
  r.model = model;
  r.deployment = "p/" + model;
  r.provider = "p";
  r.format = "openai";
  r.status = status;
  r.inputTokens = 10;
  r.outputTokens = 5;
  r.costPico = cost;
  r.latencyUs = latencyUs;
  r.route = R"({"policy":"cost"})";
  r.error = status >= 400 ? "tab\there, newline\nthere, back\\slash" : "";
  return r;
}

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kT0 = 1'790'000'000'000 - 1'790'000'000'000 % kDay;  // a UTC midnight

// The same behaviour from every store kind.
class StoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<Store> open() {
    if (GetParam() == "sqlite") return openSqliteStore(path_);
    return openPostgresStore(postgres_);
  }
  // Postgres: a schema of this process's own (ctest runs tests in parallel),
  // emptied before each test.
  void SetUp() override {
    path_ = tempPath("store.db");
    if (GetParam() == "postgres") {
      std::string base = std::getenv("ARBITRA_TEST_POSTGRES");
      std::string schema = "ledger_test_" + std::to_string(::getpid());
      std::string reset = "psql \"" + base + "\" -q -c 'DROP SCHEMA IF EXISTS " + schema + " CASCADE' -c 'CREATE SCHEMA " +
                          schema + "' >/dev/null 2>&1";
      ASSERT_EQ(std::system(reset.c_str()), 0) << "psql could not reset schema " << schema;
      postgres_ = base + " options='-csearch_path=" + schema + "'";
    }
  }
  std::string path_;
  std::string postgres_;
};

TEST_P(StoreTest, AppendsAndReportsExactSumsByGroup) {
  auto store = open();
  std::vector<Record> batch;
  int64_t seq = 0;
  for (int day = 0; day < 3; ++day) {
    for (int i = 0; i < 100; ++i) {
      auto r = record(kT0 + day * kDay + i * 1000, i % 2 ? "a" : "b", 1'000'000'007LL * (i + 1), i % 10 == 0 ? 502 : 200,
                      1000 + i * 10);
      r.seq = ++seq;
      batch.push_back(r);
    }
  }
  store->append(batch);
  EXPECT_EQ(store->committedSeq(), 300);
  EXPECT_EQ(store->recordCount(), 300);

  ReportQuery byDay;
  auto days = store->report(byDay);
  ASSERT_EQ(days.size(), 3u);
  EXPECT_EQ(formatDate(std::stoll(days[0].group) * kDay), formatDate(kT0));
  int64_t expectedPerDay = 0;
  for (int i = 0; i < 100; ++i) expectedPerDay += 1'000'000'007LL * (i + 1);
  for (const auto& d : days) {
    EXPECT_EQ(d.requests, 100);
    EXPECT_EQ(d.errors, 10);
    EXPECT_EQ(d.costPico, expectedPerDay);
    EXPECT_EQ(d.inputTokens, 1000);
  }
  ReportQuery byModel;
  byModel.groupBy = GroupBy::Model;
  byModel.fromMs = kT0 + kDay;  // the last two days
  auto models = store->report(byModel);
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(models[0].group, "a");
  EXPECT_EQ(models[0].requests + models[1].requests, 200);
  EXPECT_EQ(totalOf(models).costPico, 2 * expectedPerDay);
  // p50 of latencies 1000..1990 us is ~1500 us, within the bucket resolution.
  auto total = totalOf(days);
  EXPECT_NEAR(static_cast<double>(total.p50LatencyUs()), 1495.0, 1495.0 * 0.03);
  EXPECT_NEAR(static_cast<double>(total.p95LatencyUs()), 1945.0, 1945.0 * 0.03);
}

TEST_P(StoreTest, KeepsTheEnginesSpeculationCountsAcrossReopening) {
  auto r = record(kT0 + 5, "local", 0);
  r.seq = 1;
  r.outputTokens = 64;
  r.draftedTokens = 58;
  r.acceptedTokens = 53;
  r.decodeSteps = 11;
  open()->append({r});
  auto store = open();  // a second open finds the columns already there
  auto plain = record(kT0 + 6, "api", 10);
  plain.seq = 2;
  store->append({plain});
  std::vector<Record> seen;
  store->scan(kT0, kT0 + kDay, [&](const Record& x) { seen.push_back(x); });
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].draftedTokens, 58);
  EXPECT_EQ(seen[0].acceptedTokens, 53);
  EXPECT_EQ(seen[0].decodeSteps, 11);
  EXPECT_EQ(seen[0].outputTokens, 64);
  EXPECT_EQ(seen[1].draftedTokens, 0);
  EXPECT_EQ(seen[1].decodeSteps, 0);
}

// `records` as Arbitra created it before drafted_tokens, accepted_tokens and
// decode_steps, with one row.
std::string olderRecordsTable() {
  return "CREATE TABLE records (seq BIGINT PRIMARY KEY, time_ms BIGINT NOT NULL, request_id TEXT NOT NULL,"
         " key_id TEXT NOT NULL, tags TEXT NOT NULL, model TEXT NOT NULL, deployment TEXT NOT NULL,"
         " provider TEXT NOT NULL, format TEXT NOT NULL, status BIGINT NOT NULL, stream BIGINT NOT NULL,"
         " input_tokens BIGINT NOT NULL, output_tokens BIGINT NOT NULL, cached_read_tokens BIGINT NOT NULL,"
         " cache_write_tokens BIGINT NOT NULL, reasoning_tokens BIGINT NOT NULL, cost_pico BIGINT NOT NULL,"
         " cache_saved_pico BIGINT NOT NULL, route_saved_pico BIGINT NOT NULL, estimated BIGINT NOT NULL,"
         " price_missing BIGINT NOT NULL, latency_us BIGINT NOT NULL, ttft_us BIGINT NOT NULL,"
         " latency_bucket BIGINT NOT NULL, attempts BIGINT NOT NULL, cache TEXT NOT NULL, route TEXT NOT NULL,"
         " error TEXT NOT NULL);"
         " INSERT INTO records VALUES (1, " + std::to_string(kT0 + 1) + ", 'old', '', '', 'm', 'p/m', 'p', 'openai',"
         " 200, 0, 10, 5, 0, 0, 0, 123, 0, 0, 0, 0, 1000, 0, 10, 1, '', '{}', '');";
}

TEST_P(StoreTest, AnOlderLedgerGetsTheSpeculationColumnsAndKeepsItsRows) {
  if (GetParam() == "sqlite") {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, olderRecordsTable().c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
  } else {
    std::string psql = "psql \"" + postgres_ + "\" -q -v ON_ERROR_STOP=1 -c \"" + olderRecordsTable() + "\" >/dev/null";
    ASSERT_EQ(std::system(psql.c_str()), 0) << psql;
  }
  auto store = open();
  auto r = record(kT0 + 2, "local", 0);
  r.seq = 2;
  r.draftedTokens = 8;
  r.acceptedTokens = 7;
  r.decodeSteps = 3;
  store->append({r});
  std::vector<Record> seen;
  store->scan(kT0, kT0 + kDay, [&](const Record& x) { seen.push_back(x); });
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].costPico, 123);  // the older row, untouched, with the defaults
  EXPECT_EQ(seen[0].draftedTokens, 0);
  EXPECT_EQ(seen[0].decodeSteps, 0);
  EXPECT_EQ(seen[1].draftedTokens, 8);
  EXPECT_EQ(seen[1].acceptedTokens, 7);
  EXPECT_EQ(seen[1].decodeSteps, 3);
}

TEST_P(StoreTest, CompactionKeepsReportsIdentical) {
  auto store = open();
  std::vector<Record> batch;
  for (int i = 0; i < 500; ++i) {
    auto r = record(kT0 + (i % 5) * kDay + i, i % 3 ? "x" : "y", 7'777 * i, i % 7 ? 200 : 429, 500 + i);
    r.seq = i + 1;
    batch.push_back(r);
  }
  store->append(batch);
  ReportQuery query;
  query.groupBy = GroupBy::Model;
  auto before = store->report(query);
  int64_t rolled = store->compact(kT0 + 3 * kDay);
  EXPECT_EQ(rolled, 300);
  EXPECT_EQ(store->recordCount(), 200);
  auto after = store->report(query);
  ASSERT_EQ(before.size(), after.size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(before[i].group, after[i].group);
    EXPECT_EQ(before[i].requests, after[i].requests);
    EXPECT_EQ(before[i].errors, after[i].errors);
    EXPECT_EQ(before[i].costPico, after[i].costPico);
    EXPECT_EQ(before[i].p50LatencyUs(), after[i].p50LatencyUs());
    EXPECT_EQ(before[i].p95LatencyUs(), after[i].p95LatencyUs());
  }
}

TEST_P(StoreTest, KeysAreStoredRevokedAndVersioned) {
  auto store = open();
  int64_t v0 = store->keysVersion();
  KeyRecord key;
  key.id = "key_test";
  key.hash = "abc";
  key.name = "team a";
  key.models = {"m1", "m2"};
  key.tags = {"team-a", "prod"};
  key.budgetDayPico = 5'000'000'000'000;
  key.rpm = 60;
  key.createdMs = 1;
  store->saveKey(key);
  EXPECT_GT(store->keysVersion(), v0);
  auto keys = store->loadKeys();
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].models, key.models);
  EXPECT_EQ(keys[0].tags, key.tags);
  EXPECT_EQ(keys[0].budgetDayPico, key.budgetDayPico);
  int64_t v1 = store->keysVersion();
  EXPECT_TRUE(store->revokeKey("key_test", 99));
  EXPECT_FALSE(store->revokeKey("key_test", 100));  // already revoked
  EXPECT_GT(store->keysVersion(), v1);
  EXPECT_EQ(store->loadKeys()[0].revokedMs, 99);
}

TEST_P(StoreTest, SpendSinceSumsRawAndRolledUpPerKey) {
  auto store = open();
  std::vector<Record> batch;
  for (int i = 0; i < 40; ++i) {
    auto r = record(kT0 + (i % 4) * kDay, "m", 1000 + i);
    r.seq = i + 1;
    r.keyId = i % 2 ? "k1" : "k2";
    batch.push_back(r);
  }
  store->append(batch);
  store->compact(kT0 + 2 * kDay);
  // k1 holds the odd i: days 1 and 3 (i % 4 == 1 or 3); day 1 is rolled up, day 3 raw.
  int64_t expected = 0;
  for (int i = 1; i < 40; i += 2) expected += 1000 + i;
  auto spend = store->spendSince(kT0 + kDay);
  ASSERT_EQ(spend.size(), 2u);
  for (const auto& s : spend) {
    if (s.keyId == "k1") { EXPECT_EQ(s.costPico, expected); }
  }
  int64_t k2Expected = 0;  // even i: days 0 and 2; since day 1 leaves only day 2 (i % 4 == 2)
  for (int i = 2; i < 40; i += 4) k2Expected += 1000 + i;
  for (const auto& s : spend) {
    if (s.keyId == "k2") { EXPECT_EQ(s.costPico, k2Expected); }
  }
}

std::vector<std::string> storeKinds() {
  std::vector<std::string> kinds{"sqlite"};
  if (std::getenv("ARBITRA_TEST_POSTGRES")) kinds.push_back("postgres");
  return kinds;
}
INSTANTIATE_TEST_SUITE_P(Stores, StoreTest, ::testing::ValuesIn(storeKinds()),
                         [](const auto& info) { return info.param; });

TEST(Sqlite, RejectsAFileThatIsNotALedger) {
  auto path = tempPath("garbage.db");
  {
    FILE* f = std::fopen(path.c_str(), "wb");
    std::fputs("this is not a database, just text that is long enough to look like a header.....", f);
    std::fclose(f);
  }
  try {
    openSqliteStore(path);
    FAIL() << "a garbage file was accepted";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

config::LedgerConfig ledgerConfig(const std::string& path, int64_t intervalMs) {
  config::LedgerConfig config;
  config.path = path;
  config.commitIntervalMs = intervalMs;
  return config;
}

TEST(Ledger, CloseCommitsEverythingQueued) {
  auto path = tempPath("close.db");
  {
    auto ledger = Ledger::open(ledgerConfig(path, 10'000));  // a long window: only close() commits
    for (int i = 0; i < 5000; ++i) ledger->append(record(kT0 + i, "m", i));
    EXPECT_EQ(ledger->stats().committed, 0);
    ledger->close();
    EXPECT_EQ(ledger->stats().committed, 5000);
  }
  auto store = openSqliteStore(path);
  EXPECT_EQ(store->recordCount(), 5000);
  EXPECT_EQ(store->committedSeq(), 5000);
  auto again = Ledger::open(ledgerConfig(path, 10));
  EXPECT_EQ(again->stats().lostAtStart, 0);
}

TEST(Ledger, GroupCommitsWithoutBeingAsked) {
  auto path = tempPath("group.db");
  auto ledger = Ledger::open(ledgerConfig(path, 5));
  for (int i = 0; i < 100; ++i) ledger->append(record(kT0 + i, "m", i));
  ledger->flush();
  EXPECT_EQ(ledger->stats().committed, 100);
  EXPECT_EQ(ledger->openReader()->recordCount(), 100);
}

// A writer far behind (here: a 10 s window) holds the appends back once
// kMaxQueued records wait: the queue stays bounded and every record lands.
TEST(Ledger, AWriterFarBehindHoldsAppendsBackAndLosesNothing) {
  auto path = tempPath("backpressure.db");
  auto ledger = Ledger::open(ledgerConfig(path, 10'000));
  const int total = static_cast<int>(Ledger::kMaxQueued) * 3;
  int64_t most = 0;
  for (int i = 0; i < total; ++i) {
    ledger->append(record(kT0 + i, "m", i));
    most = std::max(most, ledger->stats().queued);
  }
  EXPECT_LE(most, static_cast<int64_t>(Ledger::kMaxQueued));
  EXPECT_GE(ledger->stats().backPressureWaits, 2);
  ledger->flush();
  EXPECT_EQ(ledger->stats().committed, total);
  EXPECT_EQ(ledger->openReader()->recordCount(), total);
}

// The writer runs at idle priority so it never holds a core a request needs
// (writer_priority.h). With its core saturated by a normal thread, the idle
// writer would barely run; the guard sees its oldest record late by a window,
// raises it, and the commit lands within a few windows. Once caught up, the
// writer goes back to idle.
TEST(Ledger, ALateIdleWriterIsRaisedWhenItsCoreIsSaturated) {
  cpu_set_t original;
  ASSERT_EQ(sched_getaffinity(0, sizeof original, &original), 0);
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(sched_getcpu(), &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);  // threads made below inherit it

  auto path = tempPath("idle-writer.db");
  auto ledger = Ledger::open(ledgerConfig(path, 20));
  ledger->append(record(kT0, "m", 1));
  for (int i = 0; i < 200 && ledger->stats().committed < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  bool raisable = WriterPriority::mayLeaveIdle();
  // Idle once caught up (a slow first commit on a busy machine may have
  // been raised by the guard; it drops back after it).
  for (int i = 0; i < 400 && ledger->stats().writerIdle != raisable; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(ledger->stats().writerIdle, raisable);

  std::atomic<bool> stop{false};
  std::thread spinner([&] {
    while (!stop.load(std::memory_order_relaxed)) {
    }
  });
  const int total = 2000;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < total; ++i) ledger->append(record(kT0 + i, "m", i));
  // Poll (flush() would raise the writer itself).
  while (ledger->stats().committed < total + 1 && std::chrono::steady_clock::now() - start < std::chrono::seconds(20)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto took = std::chrono::steady_clock::now() - start;
  auto promotions = ledger->stats().writerPromotions;
  stop = true;
  spinner.join();
  sched_setaffinity(0, sizeof original, &original);

  EXPECT_EQ(ledger->stats().committed, total + 1);
  EXPECT_LT(took, std::chrono::seconds(3));  // generous: a few 20 ms windows once raised (~5 s idle)
  if (raisable) {
    EXPECT_GE(promotions, 1);
    ledger->append(record(kT0 + total, "m", 0));
    ledger->flush();  // raises it once more, then it catches up and drops back
    for (int i = 0; i < 200 && !ledger->stats().writerIdle; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_TRUE(ledger->stats().writerIdle);
  } else {
    EXPECT_EQ(promotions, 0);  // stays a normal nice-10 thread throughout
  }
}

// The write lag (arbitra_ledger_write_lag_seconds) is the age of the oldest
// record not yet committed, wherever it waits: a batch the writer has taken
// and cannot commit yet (here: a second connection holds the file's write
// lock) is as unsafe under kill -9 as one still queued.
TEST(Ledger, WriteLagCountsTheBatchBeingCommitted) {
  auto path = tempPath("lag.db");
  auto ledger = Ledger::open(ledgerConfig(path, 5));
  ledger->append(record(kT0, "m", 1));
  ledger->flush();
  EXPECT_EQ(ledger->stats().lagMicros, 0);

  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  ledger->append(record(kT0 + 1, "m", 2));
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (ledger->stats().queued > 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto stuck = ledger->stats();
  EXPECT_EQ(stuck.queued, 0) << "the writer took the record";
  EXPECT_EQ(stuck.committed, 1) << "and cannot commit it";
  EXPECT_GE(stuck.lagMicros, 100'000);

  ASSERT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  ledger->flush();
  EXPECT_EQ(ledger->stats().committed, 2);
  EXPECT_EQ(ledger->stats().lagMicros, 0);
}

// A child process appends, commits some, then dies without closing (as under
// kill -9): the next open counts exactly the records it lost.
TEST(Ledger, CountsWhatAKilledProcessLost) {
  auto path = tempPath("crash.db");
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto ledger = Ledger::open(ledgerConfig(path, 60'000));
    for (int i = 0; i < 300; ++i) {
      ledger->begin();
      ledger->append(record(kT0 + i, "m", i));
    }
    ledger->flush();  // 300 committed
    for (int i = 0; i < 45; ++i) {  // 45 in the commit window
      ledger->begin();
      ledger->append(record(kT0 + 1000 + i, "m", i));
    }
    for (int i = 0; i < 5; ++i) ledger->begin();  // 5 requests still in flight
    std::_Exit(0);  // no close(), no destructors: like kill -9
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  auto ledger = Ledger::open(ledgerConfig(path, 10));
  EXPECT_EQ(ledger->stats().lostAtStart, 50);
  auto reader = ledger->openReader();
  EXPECT_EQ(reader->recordCount(), 300);
  EXPECT_EQ(reader->reportedLoss(), 50);
  // Numbering continues after the committed records; nothing is counted twice.
  ledger->begin();
  ledger->append(record(kT0 + 5000, "m", 1));
  ledger->close();
  EXPECT_EQ(openSqliteStore(path)->committedSeq(), 301);
  EXPECT_EQ(Ledger::open(ledgerConfig(path, 10))->stats().lostAtStart, 0);
}

TEST(Ledger, UtcPeriods) {
  // 2026-11-29T06:00:00Z
  int64_t t = 1'795'932'000'000 - 1'795'932'000'000 % 3'600'000;
  EXPECT_EQ(formatDate(dayStartMs(t)), formatDate(t));
  EXPECT_EQ(dayStartMs(t) % kDay, 0);
  EXPECT_EQ(formatDate(monthStartMs(t)).substr(8), "01");
  EXPECT_EQ(parseDate("2026-11-01"), monthStartMs(*parseDate("2026-11-29")));
  EXPECT_FALSE(parseDate("2026-13-01"));
  EXPECT_FALSE(parseDate("yesterday"));
}

}  // namespace
}  // namespace arbitra::ledger
