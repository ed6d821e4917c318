// Why the ledger writer runs at idle priority, and how it is kept on time.
//
// The writer shares the gateway's cores. Any CPU it holds when an I/O thread
// wakes delays that request: at nice 10 the writer's commits (a few ms of
// CPU every window) still added 57% to the gateway's p99 at 5,000 req/s,
// because the scheduler lets a running task finish its slice. Under
// SCHED_IDLE a waking I/O thread preempts it at once (p99 0.98x / 0.83x of
// no ledger), but an idle-priority thread can starve: with the CPU saturated
// its commits slip past the group-commit window, so a kill -9 loses more
// than one window.
//
// So the writer starts idle, and a guard promotes it to a normal thread
// (nice 0 where allowed) when it has missed its commit by a tenth of a
// window with records waiting; the writer demotes itself once caught up.
// Promotions happen only when the CPU is saturated (else an idle thread
// runs on time), where records at risk matter more than a request's wait. Leaving SCHED_IDLE needs
// CAP_SYS_NICE or an RLIMIT_NICE that allows nice 10; without either, the
// writer stays at nice 10 (the old behaviour) rather than risk starving.
#pragma once

#include <atomic>
#include <mutex>
#include <sys/types.h>

namespace arbitra::ledger {

class WriterPriority {
 public:
  enum class Mode { Idle, Normal };

  // Called on the writer thread when it starts: idle when it can be
  // promoted later, else nice 10 for good.
  void adoptOnWriterThread();
  // Any thread: make the writer a normal thread (nice 0 where allowed).
  // True when this call changed it.
  bool promote();
  // Writer thread: back to idle after catching up (no-op when not allowed).
  void demote();

  bool idleAllowed() const { return idleAllowed_; }
  Mode mode() const { return mode_.load(std::memory_order_acquire); }
  // Whether this process may leave SCHED_IDLE once in it.
  static bool mayLeaveIdle();

 private:
  std::atomic<pid_t> tid_{0};
  std::atomic<Mode> mode_{Mode::Normal};
  std::mutex change_;  // one policy change at a time (guard vs writer)
  bool idleAllowed_ = false;
};

}  // namespace arbitra::ledger
