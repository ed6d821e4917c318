// The ledger's write path: the request path enqueues a record and returns;
// one writer thread commits what has queued every `commit_interval_ms`, in
// one transaction (group commit). Nothing on the request path waits for I/O.
//
// Durability:
//   - close() (SIGTERM, after the server drained) commits every record queued;
//   - kill -9: what was committed stays; what is lost is the records of the
//     last group-commit window and of the requests still in flight, and the
//     next start counts them exactly and reports them (log line + `gaps`
//     table + lostAtStart()). The count comes from a small memory-mapped
//     counter file (<ledger>.seq) that begin() bumps when a request starts:
//     the kernel keeps a killed process's writes to a shared mapping, so
//     "begun - committed" at restart is the number lost — including a request
//     whose answer reached its client just before the kill.
//   - a write that fails (disk full, locked file) is retried every window;
//     the records stay queued, none is dropped.
//
// Back-pressure: the writer runs below the I/O threads' priority, so under a
// load beyond what it can commit it falls behind. Once kMaxQueued records
// wait, append() wakes it and waits (at most kBackPressureWait) for it to
// take the queue: the gateway slows to what it can record instead of
// dropping records or growing without bound (a 10 s burst at 36k req/s had
// queued 125k records, ~300 MB, before this).
//
//   auto ledger = ledger::Ledger::open(config.ledger);
//   ledger->append(std::move(record));   // any thread, ~100 ns
//   ledger->close();                     // flush and stop
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "ledger/record.h"
#include "ledger/store.h"
#include "ledger/writer_priority.h"

namespace arbitra::ledger {

struct LedgerStats {
  int64_t queued = 0;        // records waiting for the writer
  int64_t committed = 0;     // records committed since start
  int64_t commits = 0;       // transactions
  int64_t writeErrors = 0;   // failed commits (retried)
  int64_t lagMicros = 0;     // age of the oldest record not yet committed (queued or in a commit)
  int64_t lostAtStart = 0;   // records a previous run lost (kill -9 window)
  int64_t backPressureWaits = 0;  // appends that waited for the writer to catch up
  int64_t writerPromotions = 0;   // times the idle writer was late and raised (writer_priority.h)
  bool writerIdle = false;        // the writer runs at SCHED_IDLE between promotions
};

class Ledger {
 public:
  // Opens the store, counts what a previous run lost, compacts old records,
  // and starts the writer. Throws StoreError with a clear message.
  static std::unique_ptr<Ledger> open(const config::LedgerConfig& config);
  ~Ledger();

  // A request starts that will append exactly one record when it ends.
  void begin();
  // Takes the record (assigns its seq) and queues it. Never blocks on I/O;
  // waits for the writer only when kMaxQueued records are already queued.
  void append(Record record);
  static constexpr size_t kMaxQueued = 8192;
  static constexpr std::chrono::milliseconds kBackPressureWait{1000};
  // Blocks until everything appended before the call is committed.
  void flush();
  // Flushes and stops the writer; later appends are refused (logged).
  void close();

  LedgerStats stats() const;
  std::string describe() const { return description_; }
  const config::LedgerConfig& config() const { return config_; }

  // A store for reading (reports, keys): its own connection.
  std::unique_ptr<Store> openReader() const;

 private:
  Ledger(const config::LedgerConfig& config, std::unique_ptr<Store> store);
  void run();
  void guard();
  int64_t lateMicrosLocked(int64_t now) const;  // age of the oldest uncommitted record
  void commit(std::vector<Record>& batch);

  config::LedgerConfig config_;
  std::unique_ptr<Store> store_;  // the writer thread's
  std::string description_;
  int64_t* begun_ = nullptr;  // requests begun, in the memory-mapped counter file
  int seqFd_ = -1;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable flushed_;
  std::condition_variable taken_;  // the writer took the queue
  std::vector<Record> queue_;
  bool behind_ = false;            // kMaxQueued reached: commit now
  int64_t nextSeq_ = 1;
  int64_t committedSeq_ = 0;
  bool stopping_ = false;
  bool flushRequested_ = false;
  bool closed_ = false;
  std::thread writer_;
  WriterPriority priority_;
  std::thread guard_;                   // promotes a late writer; see writer_priority.h
  std::condition_variable guardWake_;   // close() stops the guard
  int64_t committingSinceMicros_ = 0;   // oldest record of the batch being committed; guarded by mutex_
  int64_t writerWaitingSince_ = 0;      // the writer's wait began (0: it is working); guarded by mutex_
  int64_t writerBusySince_ = 0;         // the writer's last wake; guarded by mutex_
  std::atomic<int64_t> promotions_{0};

  std::atomic<int64_t> committed_{0};
  std::atomic<int64_t> commits_{0};
  std::atomic<int64_t> writeErrors_{0};
  std::atomic<int64_t> backPressureWaits_{0};
  int64_t oldestQueuedMicros_ = 0;  // steady clock; guarded by mutex_
  int64_t lostAtStart_ = 0;
};

// UTC day and month starts (unix ms) for budgets and compaction.
int64_t dayStartMs(int64_t unixMs);
int64_t monthStartMs(int64_t unixMs);
int64_t nowUnixMs();

}  // namespace arbitra::ledger
