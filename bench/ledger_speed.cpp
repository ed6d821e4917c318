// arbitra-ledger-speed: how many records per second the ledger commits.
// A benchmark, not a test: it prints a table and judges nothing.
//
// Side by side, in one run, on the same kind of store:
//   group commit   Ledger::append from N threads; the writer thread commits
//                  every commit_interval_ms in one transaction (what the
//                  gateway does)
//   one per txn    the baseline: every record its own transaction, written by
//                  the caller (what a naive "INSERT per request" proxy does)
//
//   arbitra-ledger-speed [--records N] [--threads T] [--postgres CONNINFO]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "ledger/ledger.h"
#include "ledger/store.h"

using namespace arbitra;
using Clock = std::chrono::steady_clock;

namespace {

ledger::Record sample(int64_t i) {
  ledger::Record r;
  r.timeMs = 1'795'900'000'000 + i;
  r.requestId = "arb-" + std::to_string(i);
  r.keyId = "key_0123456789ab";
  r.model = "gpt-4o-mini";
  r.deployment = "openai/gpt-4o-mini";
  r.provider = "openai";
  r.format = "openai";
  r.status = 200;
  r.inputTokens = 120 + i % 50;
  r.outputTokens = 16;
  r.costPico = 27'600'000 + i % 50 * 150'000;
  r.latencyUs = 800 + i % 300;
  r.ttftUs = 300;
  r.attempts = 1;
  r.route = R"({"policy":"cost","reason":"cheapest meeting the bar"})";
  return r;
}

struct Row {
  std::string store, mode;
  int64_t records = 0;
  double seconds = 0;
};

std::string fresh(const std::string& name) {
  auto path = std::filesystem::temp_directory_path() / name;
  for (const char* suffix : {"", "-wal", "-shm", ".seq"}) std::filesystem::remove(path.string() + suffix);
  return path.string();
}

Row groupCommit(const std::string& label, config::LedgerConfig config, int64_t records, int threads) {
  auto ledger = ledger::Ledger::open(config);
  auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int64_t i = t; i < records; i += threads) {
        ledger->begin();
        ledger->append(sample(i));
      }
    });
  }
  for (auto& w : workers) w.join();
  ledger->flush();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return {label, "group commit (" + std::to_string(config.commitIntervalMs) + " ms window)", records, seconds};
}

Row onePerTransaction(const std::string& label, std::unique_ptr<ledger::Store> store, int64_t records) {
  auto start = Clock::now();
  for (int64_t i = 0; i < records; ++i) {
    auto r = sample(i);
    r.seq = i + 1;
    store->append({r});
  }
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return {label, "one transaction per record (baseline)", records, seconds};
}

}  // namespace

int main(int argc, char** argv) {
  int64_t records = 200'000;
  int threads = 2;
  std::string postgres;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--records" && i + 1 < argc) records = std::atoll(argv[++i]);
    else if (arg == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (arg == "--postgres" && i + 1 < argc) postgres = argv[++i];
    else {
      std::fprintf(stderr, "usage: arbitra-ledger-speed [--records N] [--threads T] [--postgres CONNINFO]\n");
      return 2;
    }
  }
  std::vector<Row> rows;
  config::LedgerConfig sqlite;
  sqlite.path = fresh("arbitra-ledger-speed.db");
  rows.push_back(groupCommit("sqlite (WAL)", sqlite, records, threads));
  int64_t baseline = std::min<int64_t>(records, 20'000);
  rows.push_back(onePerTransaction("sqlite (WAL)", ledger::openSqliteStore(fresh("arbitra-ledger-naive.db")), baseline));
  if (!postgres.empty()) {
    // A fresh schema each run: drop the tables through a store-independent psql call.
    std::string drop = "psql \"" + postgres + "\" -q -c 'DROP TABLE IF EXISTS records, rollups, meta, gaps, keys' >/dev/null 2>&1";
    if (std::system(drop.c_str()) != 0) std::fprintf(stderr, "warning: could not reset the Postgres tables\n");
    config::LedgerConfig pg;
    pg.path = fresh("arbitra-ledger-speed-pg");
    pg.postgres = postgres;
    rows.push_back(groupCommit("postgres", pg, records, threads));
    if (std::system(drop.c_str()) != 0) std::fprintf(stderr, "warning: could not reset the Postgres tables\n");
    rows.push_back(onePerTransaction("postgres", ledger::openPostgresStore(postgres), std::min<int64_t>(records, 5'000)));
  }
  // A year of traffic, rolled up: how long a report over it takes.
  config::LedgerConfig year;
  year.path = fresh("arbitra-ledger-year.db");
  int64_t perDay = std::max<int64_t>(records / 100, 500);
  double yearReportMs = 0, yearRawReportMs = 0;
  {
    auto ledger = ledger::Ledger::open(year);
    const int64_t day = 86'400'000, start = 1'764'547'200'000;  // 2025-12-01
    const char* models[] = {"gpt-4o-mini", "claude-haiku-4-5", "llama-3.1-8b", "gpt-4.1"};
    for (int64_t d = 0; d < 365; ++d) {
      for (int64_t i = 0; i < perDay; ++i) {
        auto r = sample(d * perDay + i);
        r.timeMs = start + d * day + i * (day / perDay);
        r.model = models[i % 4];
        ledger->append(r);
      }
    }
    ledger->close();
    auto store = ledger::openSqliteStore(year.path);
    ledger::ReportQuery byModel;
    byModel.groupBy = ledger::GroupBy::Model;
    auto t0 = Clock::now();
    auto raw = store->report(byModel);
    yearRawReportMs = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    store->compact(start + 365 * day);
    t0 = Clock::now();
    auto rolled = store->report(byModel);
    yearReportMs = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (rolled.size() != raw.size() || rolled[0].costPico != raw[0].costPico) {
      std::fprintf(stderr, "rolled-up report differs from the raw one\n");
      return 1;
    }
  }
  std::printf("| store | mode | records | seconds | records/s |\n|---|---|---:|---:|---:|\n");
  for (const auto& r : rows) {
    std::printf("| %s | %s | %lld | %.2f | %.0f |\n", r.store.c_str(), r.mode.c_str(), static_cast<long long>(r.records),
                r.seconds, static_cast<double>(r.records) / r.seconds);
  }
  std::printf("\nA year of traffic (%lld records, 365 days x 4 models), report by model: %.1f ms from raw records, "
              "%.1f ms after the daily rollup (identical totals).\n",
              static_cast<long long>(perDay * 365), yearRawReportMs, yearReportMs);
  return 0;
}
