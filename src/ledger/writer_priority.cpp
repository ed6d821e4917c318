// The ledger writer's scheduling class; see writer_priority.h.
#include "ledger/writer_priority.h"

#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace arbitra::ledger {

namespace {

constexpr int kWriterNice = 10;

bool setPolicy(pid_t tid, int policy) {
  sched_param param{};
  param.sched_priority = 0;
  return ::sched_setscheduler(tid, policy, &param) == 0;
}

}  // namespace

bool WriterPriority::mayLeaveIdle() {
  // The kernel lets a thread leave SCHED_IDLE when it could set its nice
  // value: CAP_SYS_NICE (root here) or RLIMIT_NICE >= 20 - nice.
  if (::geteuid() == 0) return true;
  rlimit limit{};
  return ::getrlimit(RLIMIT_NICE, &limit) == 0 &&
         (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= static_cast<rlim_t>(20 - kWriterNice));
}

void WriterPriority::adoptOnWriterThread() {
  pid_t tid = static_cast<pid_t>(::syscall(SYS_gettid));
  tid_.store(tid, std::memory_order_release);
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(tid), kWriterNice);  // per thread on Linux
  idleAllowed_ = mayLeaveIdle() && setPolicy(0, SCHED_IDLE);
  mode_.store(idleAllowed_ ? Mode::Idle : Mode::Normal, std::memory_order_release);
}

bool WriterPriority::promote() {
  if (mode() != Mode::Idle) return false;
  std::lock_guard lock(change_);
  if (mode() != Mode::Idle) return false;
  pid_t tid = tid_.load(std::memory_order_acquire);
  if (!setPolicy(tid, SCHED_OTHER)) return false;
  // A late writer means records at risk: it runs as an equal of the I/O
  // threads until it catches up (nice 0 where allowed, else it keeps 10).
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(tid), 0);
  mode_.store(Mode::Normal, std::memory_order_release);
  return true;
}

void WriterPriority::demote() {
  if (!idleAllowed_ || mode() != Mode::Normal) return;
  std::lock_guard lock(change_);
  if (mode() != Mode::Normal) return;
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(tid_.load(std::memory_order_acquire)), kWriterNice);
  if (setPolicy(0, SCHED_IDLE)) mode_.store(Mode::Idle, std::memory_order_release);
}

}  // namespace arbitra::ledger
