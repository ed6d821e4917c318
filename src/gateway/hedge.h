// Hedged requests: send the first choice; if it has not answered after the
// router's hedge delay (its predicted p95 TTFT), send the next choice too, and
// keep whichever answers first (the other is cancelled: its connection is
// closed, not pooled).
//
// "Answers" is whatever the caller's `send` waits for: the gateway waits for
// the first token (a non-streamed answer's headers come with the whole
// answer; a stream is read, and buffered, up to its first token). A failure
// of one side waits for the other: the race fails only when both have.
//
// Design: two branches under Asio's `||`, which cancels the loser and
// completes only when both branches have finished. A side that fails while
// the other is still out parks on a shared timer until the other finishes.
// Included by gateway.cpp only (it brings Asio's awaitable operators).
//
// Guarantees: `send` is called at most twice (primary, then hedge); `admit`
// is asked at most once, when the delay has passed and the primary is still
// out; a branch cancelled by the other's win never reports its cancellation
// as a failure.
#pragma once

#include <chrono>
#include <functional>
#include <optional>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "core/error.h"
#include "gateway/exchange.h"
#include "http/types.h"

namespace arbitra::gateway {

template <typename T>
struct HedgeResult {
  core::Result<T> response = core::makeError(core::ErrorKind::Internal, "no answer");
  bool hedgeWon = false;
  bool hedgeSent = false;
  Clock::time_point hedgeStartedAt;
  std::optional<core::Error> primaryError;  // the primary failed while the hedge was still out
  std::optional<core::Error> hedgeError;    // the hedge failed
};

namespace hedge_detail {

namespace asio = boost::asio;

template <typename T>
struct Race {
  explicit Race(asio::any_io_executor executor) : wake(executor, asio::steady_timer::time_point::max()) {}
  asio::steady_timer wake;  // cancelled when a side fails, to wake a parked one
  bool primaryFailed = false;
  bool hedgeOut = false;
  bool hedgeFailed = false;
  HedgeResult<T>* result = nullptr;
};

template <typename T>
http::Task<void> park(Race<T>& race) {
  co_await race.wake.async_wait(asio::as_tuple(asio::use_awaitable));
}

// True once `||` has cancelled this branch (the other side won).
inline http::Task<bool> cancelled() {
  auto state = co_await asio::this_coro::cancellation_state;
  co_return state.cancelled() != asio::cancellation_type::none;
}

template <typename T>
http::Task<core::Result<T>> primary(std::function<http::Task<core::Result<T>>(bool)>& send, Race<T>& race) {
  auto response = co_await send(false);
  if (!response) {
    if (co_await cancelled()) co_return response;
    race.primaryFailed = true;
    if (race.hedgeOut && !race.hedgeFailed) {
      race.result->primaryError = response.error();
      co_await park(race);  // the hedge may still answer
    }
  }
  co_return response;
}

template <typename T>
http::Task<core::Result<T>> hedge(std::function<http::Task<core::Result<T>>(bool)>& send, std::function<bool()>& admit,
                                  std::chrono::microseconds after, Race<T>& race) {
  asio::steady_timer timer(co_await asio::this_coro::executor, after);
  auto [waited] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  if (waited || co_await cancelled()) co_return core::makeError(core::ErrorKind::Internal, "hedge cancelled");
  if (race.primaryFailed || !admit()) {
    co_await park(race);  // never sent: the primary's outcome decides
    co_return core::makeError(core::ErrorKind::Internal, "hedge not sent");
  }
  race.hedgeOut = true;
  race.result->hedgeSent = true;
  race.result->hedgeStartedAt = Clock::now();
  auto response = co_await send(true);
  if (!response) {
    if (co_await cancelled()) co_return response;
    race.hedgeFailed = true;
    race.result->hedgeError = response.error();
    race.wake.cancel();  // a parked primary returns its own error now
    if (!race.primaryFailed) co_await park(race);
  }
  co_return response;
}

}  // namespace hedge_detail

// send(false) sends to the primary, send(true) to the hedge.
template <typename T>
http::Task<HedgeResult<T>> sendWithHedge(std::function<http::Task<core::Result<T>>(bool hedge)> send,
                                         std::chrono::microseconds after, std::function<bool()> admit) {
  using namespace boost::asio::experimental::awaitable_operators;
  HedgeResult<T> result;
  hedge_detail::Race<T> race(co_await boost::asio::this_coro::executor);
  race.result = &result;
  auto winner = co_await (hedge_detail::primary<T>(send, race) || hedge_detail::hedge<T>(send, admit, after, race));
  if (winner.index() == 0) {
    result.response = std::move(std::get<0>(winner));
  } else {
    result.response = std::move(std::get<1>(winner));
    result.hedgeWon = result.response.ok();
    if (!result.hedgeWon && result.primaryError) result.response = *result.primaryError;
  }
  co_return result;
}

}  // namespace arbitra::gateway
