// The hedge race (see hedge.h): two branches under Asio's `||`, which cancels
// the loser. Each branch that fails while the other is still out parks on a
// shared timer until the other finishes, so `||` completes with an answer
// whenever one side has one.
#include "gateway/hedge.h"

#include <boost/asio/experimental/awaitable_operators.hpp>

namespace arbitra::gateway {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

struct Race {
  explicit Race(asio::any_io_executor executor) : wake(executor, asio::steady_timer::time_point::max()) {}
  asio::steady_timer wake;  // cancelled when a side finishes, to wake a parked one
  bool primaryFailed = false;
  bool hedgeOut = false;
  bool hedgeFailed = false;
  HedgeResult* result = nullptr;
};

http::Task<void> park(Race& race) {
  co_await race.wake.async_wait(asio::as_tuple(asio::use_awaitable));
}

// True once `||` has cancelled this branch (the other side won).
http::Task<bool> cancelled() {
  auto state = co_await asio::this_coro::cancellation_state;
  co_return state.cancelled() != asio::cancellation_type::none;
}

http::Task<UpstreamResponse> primary(std::function<http::Task<UpstreamResponse>(bool)>& send, Race& race) {
  auto response = co_await send(false);
  if (!response) {
    if (co_await cancelled()) co_return response;
    race.primaryFailed = true;
    if (race.hedgeOut && !race.hedgeFailed) {
      race.result->primaryError = response.error();
      race.wake.cancel();
      co_await park(race);  // the hedge may still answer
    }
  }
  co_return response;
}

http::Task<UpstreamResponse> hedge(std::function<http::Task<UpstreamResponse>(bool)>& send,
                                   std::function<bool()>& admit, std::chrono::microseconds after, Race& race) {
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
    // Both failed: the primary's error is the one reported.
  }
  co_return response;
}

}  // namespace

http::Task<HedgeResult> sendWithHedge(std::function<http::Task<UpstreamResponse>(bool hedge)> send,
                                      std::chrono::microseconds after, std::function<bool()> admit) {
  HedgeResult result;
  Race race(co_await asio::this_coro::executor);
  race.result = &result;
  auto winner = co_await (primary(send, race) || hedge(send, admit, after, race));
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
