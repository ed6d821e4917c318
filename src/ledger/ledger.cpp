// The ledger's writer thread, group commit and crash accounting (see ledger.h).
#include "ledger/ledger.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>

#include "core/log.h"

namespace arbitra::ledger {

namespace {

using SteadyClock = std::chrono::steady_clock;

int64_t steadyMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now().time_since_epoch()).count();
}

}  // namespace

int64_t nowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t dayStartMs(int64_t unixMs) { return unixMs - unixMs % 86'400'000; }

int64_t monthStartMs(int64_t unixMs) {
  std::time_t seconds = static_cast<std::time_t>(unixMs / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  utc.tm_mday = 1;
  utc.tm_hour = utc.tm_min = utc.tm_sec = 0;
  return static_cast<int64_t>(timegm(&utc)) * 1000;
}

std::unique_ptr<Ledger> Ledger::open(const config::LedgerConfig& config) {
  auto store = openStore(config.path, config.postgres);
  return std::unique_ptr<Ledger>(new Ledger(config, std::move(store)));
}

Ledger::Ledger(const config::LedgerConfig& config, std::unique_ptr<Store> store)
    : config_(config), store_(std::move(store)), description_(store_->describe()) {
  // The accepted-sequence counter lives in a shared mapping next to the ledger.
  std::string seqPath = config_.path + ".seq";
  seqFd_ = ::open(seqPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (seqFd_ < 0 || ::ftruncate(seqFd_, sizeof(int64_t)) != 0) {
    throw StoreError("ledger: cannot open " + seqPath + ": " + std::strerror(errno));
  }
  void* mapped = ::mmap(nullptr, sizeof(int64_t), PROT_READ | PROT_WRITE, MAP_SHARED, seqFd_, 0);
  if (mapped == MAP_FAILED) throw StoreError("ledger: cannot map " + seqPath + ": " + std::strerror(errno));
  begun_ = static_cast<int64_t*>(mapped);

  // Sequence numbers count records, so the committed sequence is how many
  // records were ever committed; every begun request owes one record.
  committedSeq_ = store_->committedSeq();
  int64_t begun = __atomic_load_n(begun_, __ATOMIC_ACQUIRE);
  if (begun > committedSeq_) {
    lostAtStart_ = begun - committedSeq_;
    store_->noteLoss(nowUnixMs(), lostAtStart_,
                     "the previous run stopped without flushing (kill -9 or crash): records of its last "
                     "group-commit window and of requests in flight");
    core::log(core::LogLevel::Warn, "ledger: the previous run lost " + std::to_string(lostAtStart_) +
                                        " record(s): its last group-commit window and requests in flight "
                                        "(it did not shut down cleanly)");
  }
  __atomic_store_n(begun_, committedSeq_, __ATOMIC_RELEASE);
  nextSeq_ = committedSeq_ + 1;

  int64_t cutoff = dayStartMs(nowUnixMs() - config_.retentionDays * 86'400'000);
  if (int64_t rolled = store_->compact(cutoff); rolled > 0) {
    core::log(core::LogLevel::Info, "ledger: rolled " + std::to_string(rolled) + " record(s) older than " +
                                        std::to_string(config_.retentionDays) + " days into daily rollups");
  }
  writer_ = std::thread([this] { run(); });
  if (WriterPriority::mayLeaveIdle()) guard_ = std::thread([this] { guard(); });
}

Ledger::~Ledger() {
  close();
  if (begun_) ::munmap(begun_, sizeof(int64_t));
  if (seqFd_ >= 0) ::close(seqFd_);
}

void Ledger::begin() { __atomic_fetch_add(begun_, 1, __ATOMIC_RELAXED); }

void Ledger::append(Record record) {
  std::unique_lock lock(mutex_);
  if (closed_) {
    core::log(core::LogLevel::Error, "ledger: record " + record.requestId + " arrived after close; not written");
    return;
  }
  record.seq = nextSeq_++;
  if (queue_.empty()) oldestQueuedMicros_ = steadyMicros();
  queue_.push_back(std::move(record));
  if (queue_.size() < kMaxQueued) return;
  // The record is queued (nothing is lost); now let the writer catch up.
  behind_ = true;
  wake_.notify_one();
  backPressureWaits_.fetch_add(1, std::memory_order_relaxed);
  if (priority_.promote()) promotions_.fetch_add(1, std::memory_order_relaxed);
  taken_.wait_for(lock, kBackPressureWait, [&] { return queue_.size() < kMaxQueued || closed_; });
}

void Ledger::flush() {
  std::unique_lock lock(mutex_);
  int64_t target = nextSeq_ - 1;
  if (committedSeq_ >= target) return;
  flushRequested_ = true;
  wake_.notify_one();
  lock.unlock();
  if (priority_.promote()) promotions_.fetch_add(1, std::memory_order_relaxed);  // someone is waiting
  lock.lock();
  flushed_.wait(lock, [&] { return committedSeq_ >= target || !writer_.joinable(); });
}

void Ledger::close() {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    stopping_ = true;
  }
  wake_.notify_one();
  taken_.notify_all();
  guardWake_.notify_all();
  if (guard_.joinable()) guard_.join();
  priority_.promote();  // the final flush must not wait behind other work
  if (writer_.joinable()) writer_.join();
  flushed_.notify_all();
}

namespace {

// tcmalloc's hook, when the binary links it (CMakeLists.txt): a backlog of
// records is freed all at once after its commit, and tcmalloc would keep
// those pages; hand them back. A weak symbol: absent (null) otherwise.
extern "C" void MallocExtension_ReleaseFreeMemory() __attribute__((weak));

void releaseFreeMemory() {
  if (MallocExtension_ReleaseFreeMemory) MallocExtension_ReleaseFreeMemory();
}

}  // namespace

void Ledger::run() {
  priority_.adoptOnWriterThread();
  std::vector<Record> batch;
  auto interval = std::chrono::milliseconds(config_.commitIntervalMs);
  int64_t lastCompactionDay = dayStartMs(nowUnixMs());
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      writerWaitingSince_ = steadyMicros();
      wake_.wait_for(lock, interval, [&] { return stopping_ || flushRequested_ || behind_; });
      writerWaitingSince_ = 0;
      writerBusySince_ = steadyMicros();
      flushRequested_ = false;
      behind_ = false;
      if (!queue_.empty() && committingSinceMicros_ == 0) committingSinceMicros_ = oldestQueuedMicros_;
      if (batch.empty()) batch.swap(queue_);
      else if (!queue_.empty()) {
        batch.insert(batch.end(), std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
        queue_.clear();
      }
    }
    taken_.notify_all();
    bool large = batch.size() >= kMaxQueued / 2;
    if (!batch.empty()) commit(batch);
    if (large && batch.empty()) releaseFreeMemory();
    if (priority_.mode() == WriterPriority::Mode::Normal) {  // promoted: back to idle once caught up
      std::unique_lock lock(mutex_);
      bool caughtUp = lateMicrosLocked(steadyMicros()) < config_.commitIntervalMs * 500;
      lock.unlock();
      if (caughtUp) priority_.demote();
    }
    bool done;
    {
      std::lock_guard lock(mutex_);
      done = stopping_ && queue_.empty() && (batch.empty() || writeErrors_.load() > 1000);
    }
    if (done) {
      if (!batch.empty()) {
        core::log(core::LogLevel::Error, "ledger: " + std::to_string(batch.size()) +
                                             " record(s) could not be written at shutdown; the next start counts them");
      }
      return;
    }
    // Once a day: roll up what fell out of the retention window.
    int64_t today = dayStartMs(nowUnixMs());
    if (today != lastCompactionDay) {
      lastCompactionDay = today;
      try {
        store_->compact(dayStartMs(nowUnixMs() - config_.retentionDays * 86'400'000));
      } catch (const StoreError& e) {
        core::log(core::LogLevel::Error, std::string("ledger: compaction failed: ") + e.what());
      }
    }
  }
}

// Watches the writer's clock: it is due one window after it began to wait
// (or one window into a commit). When it is still not there a grace period
// later and records are waiting, the idle writer is starved (the CPU is
// saturated): raise it to a normal thread until it catches up. So records
// are committed about as promptly as by an always-normal writer.
void Ledger::guard() {
  const int64_t windowUs = config_.commitIntervalMs * 1000;
  const int64_t graceUs = std::max<int64_t>(1000, windowUs / 10);
  auto at = [](int64_t micros) { return SteadyClock::time_point(std::chrono::microseconds(micros)); };
  auto dueLocked = [&] { return (writerWaitingSince_ ? writerWaitingSince_ : writerBusySince_) + windowUs + graceUs; };
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    int64_t due = dueLocked();
    guardWake_.wait_until(lock, at(due), [&] { return stopping_; });
    if (stopping_) return;
    int64_t now = steadyMicros();
    if (dueLocked() > now) continue;  // the writer moved on: watch its new deadline
    if (lateMicrosLocked(now) > 0) {
      lock.unlock();
      if (priority_.promote()) promotions_.fetch_add(1, std::memory_order_relaxed);
      lock.lock();
    }
    guardWake_.wait_for(lock, std::chrono::microseconds(windowUs / 2), [&] { return stopping_; });
  }
}

int64_t Ledger::lateMicrosLocked(int64_t now) const {
  int64_t oldest = committingSinceMicros_;
  if (!queue_.empty() && (oldest == 0 || oldestQueuedMicros_ < oldest)) oldest = oldestQueuedMicros_;
  return oldest == 0 ? 0 : now - oldest;
}

// Commits the batch; on failure keeps it for the next window.
void Ledger::commit(std::vector<Record>& batch) {
  for (auto& r : batch) {  // work kept off the request path
    if (r.route.empty() && !r.routeFacts.empty()) r.route = routeJson(r.routeFacts);
  }
  try {
    store_->append(batch);
  } catch (const StoreError& e) {
    if (writeErrors_.fetch_add(1) % 100 == 0) {
      core::log(core::LogLevel::Error, std::string(e.what()) + " (" + std::to_string(batch.size()) +
                                           " record(s) kept queued, retrying)");
    }
    return;
  }
  committed_.fetch_add(static_cast<int64_t>(batch.size()), std::memory_order_relaxed);
  commits_.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard lock(mutex_);
    committedSeq_ = batch.back().seq;
    committingSinceMicros_ = 0;
  }
  flushed_.notify_all();
  batch.clear();
}

LedgerStats Ledger::stats() const {
  LedgerStats s;
  {
    std::lock_guard lock(mutex_);
    s.queued = static_cast<int64_t>(queue_.size());
    s.lagMicros = lateMicrosLocked(steadyMicros());  // a batch being committed is not yet safe
    s.writerPromotions = promotions_.load(std::memory_order_relaxed);
    s.writerIdle = priority_.mode() == WriterPriority::Mode::Idle;
  }
  s.committed = committed_.load();
  s.commits = commits_.load();
  s.writeErrors = writeErrors_.load();
  s.lostAtStart = lostAtStart_;
  s.backPressureWaits = backPressureWaits_.load();
  return s;
}

std::unique_ptr<Store> Ledger::openReader() const { return openStore(config_.path, config_.postgres); }

}  // namespace arbitra::ledger
