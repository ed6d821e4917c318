// Socket deadlines without a timer per operation. Internal to the http module
// (it includes Asio; only server.cpp and client.cpp include it).
//
// Why: Beast's tcp_stream arms and cancels a timer around every read and
// write. Each arm can move the io_context's earliest timer (a timerfd_settime
// system call) and each cancel queues an aborted completion (one more trip
// through the scheduler): about a third of the system calls a proxied request
// cost. Here a deadline is a time stored next to the socket; setting or
// clearing it is a store. One timer per io_context sleeps until the earliest
// deadline it was armed for, then checks them all, cancels the sockets whose
// time has passed and sleeps again until the next. It is re-armed (the only
// system call) only when a deadline earlier than its wake-up is set; steady
// traffic extends deadlines that are later than the wake-up, so it almost
// never is.
//
// Semantics (the caller's side): `after(ms)` before an operation, `clear()`
// after it. When the time passes while an operation is pending, the socket's
// pending operations are cancelled (they complete with operation_aborted) and
// `expired()` turns true until the next after()/clear(); an operation started
// after that should check `expired()` first. The owner maps operation_aborted
// with expired() to its own timeout error.
//
// Threading: a Deadline and its Deadlines live on one io_context run by one
// thread (the server's model), so nothing here locks.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace arbitra::http::detail {

class Deadline;

class Deadlines : public boost::asio::execution_context::service {
 public:
  using Clock = std::chrono::steady_clock;
  static inline boost::asio::execution_context::id id;
  explicit Deadlines(boost::asio::execution_context& context) : service(context) {}

  static Deadlines& of(const boost::asio::any_io_executor& executor) {
    return boost::asio::use_service<Deadlines>(boost::asio::query(executor, boost::asio::execution::context));
  }

  void shutdown() override {
    timer_.reset();
    armedFor_ = Clock::time_point::max();
  }

 private:
  friend class Deadline;

  void link(Deadline* d);
  void unlink(Deadline* d);
  void wantBy(Clock::time_point when, const boost::asio::any_io_executor& executor) {
    if (when >= armedFor_) return;  // the timer wakes before then anyway
    if (!timer_) timer_.emplace(executor);
    armedFor_ = when;
    timer_->expires_at(when);  // cancels the pending wait, if any
    timer_->async_wait([this, when](const boost::system::error_code& ec) {
      if (ec || when != armedFor_) return;  // re-armed earlier since, or shut down
      fire();
    });
  }
  void fire();

  Deadline* head_ = nullptr;
  std::optional<boost::asio::steady_timer> timer_;
  Clock::time_point armedFor_ = Clock::time_point::max();
};

class Deadline {
 public:
  using Clock = Deadlines::Clock;

  // `onExpire` cancels what the deadline guards (the socket's pending I/O).
  Deadline(const boost::asio::any_io_executor& executor, std::function<void()> onExpire)
      : executor_(executor), owner_(&Deadlines::of(executor)), onExpire_(std::move(onExpire)) {
    owner_->link(this);
  }
  ~Deadline() { owner_->unlink(this); }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  void after(std::chrono::milliseconds timeout) {
    expired_ = false;
    when_ = Clock::now() + std::max(timeout, std::chrono::milliseconds(1));
    owner_->wantBy(when_, executor_);
  }
  void clear() {
    expired_ = false;
    when_ = Clock::time_point::max();
  }
  bool expired() const { return expired_; }

 private:
  friend class Deadlines;
  boost::asio::any_io_executor executor_;
  Deadlines* owner_;
  std::function<void()> onExpire_;
  Clock::time_point when_ = Clock::time_point::max();
  bool expired_ = false;
  Deadline* prev_ = nullptr;
  Deadline* next_ = nullptr;
};

inline void Deadlines::link(Deadline* d) {
  d->next_ = head_;
  if (head_) head_->prev_ = d;
  head_ = d;
}

inline void Deadlines::unlink(Deadline* d) {
  if (d->prev_) d->prev_->next_ = d->next_;
  else head_ = d->next_;
  if (d->next_) d->next_->prev_ = d->prev_;
  d->prev_ = d->next_ = nullptr;
}

inline void Deadlines::fire() {
  armedFor_ = Clock::time_point::max();
  auto now = Clock::now();
  auto next = Clock::time_point::max();
  boost::asio::any_io_executor executor;
  // onExpire may not unlink (it only cancels I/O, whose completions run
  // later), so walking the list while calling it is safe.
  for (Deadline* d = head_; d; d = d->next_) {
    if (d->when_ <= now) {
      d->when_ = Clock::time_point::max();
      d->expired_ = true;
      d->onExpire_();
    } else if (d->when_ < next) {
      next = d->when_;
      executor = d->executor_;
    }
  }
  if (next != Clock::time_point::max()) wantBy(next, executor);
}

}  // namespace arbitra::http::detail
