// Deadlines (src/http/deadline.h): one timer per io_context serving every
// socket deadline on it. A deadline fires once its time has passed, not
// before; extending or clearing it takes effect without re-arming; an
// earlier deadline set after a later one still fires on time.
#include <gtest/gtest.h>

#include <chrono>

#include <boost/asio/io_context.hpp>

#include "http/deadline.h"

namespace arbitra::http::detail {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Watched {
  explicit Watched(boost::asio::io_context& io)
      : deadline(io.get_executor(), [this] {
          ++fired;
          firedAt = Clock::now();
        }) {}
  int fired = 0;
  Clock::time_point firedAt{};
  Deadline deadline;
};

TEST(Deadline, FiresOnceAfterItsTimeAndSaysSo) {
  boost::asio::io_context io;
  Watched w(io);
  auto start = Clock::now();
  w.deadline.after(30ms);
  io.run_for(300ms);
  EXPECT_EQ(w.fired, 1);
  EXPECT_TRUE(w.deadline.expired());
  EXPECT_GE(w.firedAt - start, 30ms);
}

TEST(Deadline, ExtendingPostponesAndClearingCancels) {
  boost::asio::io_context io;
  Watched extended(io);
  Watched cleared(io);
  auto start = Clock::now();
  extended.deadline.after(20ms);
  cleared.deadline.after(20ms);
  io.run_for(5ms);
  extended.deadline.after(150ms);  // later than the timer's wake-up: no re-arm
  cleared.deadline.clear();
  io.run_for(80ms);
  EXPECT_EQ(extended.fired, 0) << "fired at its old time";
  EXPECT_EQ(cleared.fired, 0);
  io.run_for(400ms);
  EXPECT_EQ(extended.fired, 1);
  EXPECT_GE(extended.firedAt - start, 150ms);
  EXPECT_EQ(cleared.fired, 0);
  EXPECT_FALSE(cleared.deadline.expired());
}

TEST(Deadline, AnEarlierDeadlineSetLaterStillFiresFirst) {
  boost::asio::io_context io;
  Watched late(io);
  Watched early(io);
  late.deadline.after(400ms);
  early.deadline.after(20ms);  // earlier than the armed wake-up: re-armed
  auto start = Clock::now();
  io.run_for(150ms);
  EXPECT_EQ(early.fired, 1);
  EXPECT_LT(early.firedAt - start, 150ms);
  EXPECT_EQ(late.fired, 0);
  io.run_for(600ms);
  EXPECT_EQ(late.fired, 1);
}

TEST(Deadline, ANewDeadlineResetsExpired) {
  boost::asio::io_context io;
  Watched w(io);
  w.deadline.after(10ms);
  io.run_for(100ms);
  ASSERT_TRUE(w.deadline.expired());
  io.restart();  // it ran out of work
  w.deadline.after(10s);
  EXPECT_FALSE(w.deadline.expired());
  // A deadline destroyed while armed leaves the timer nothing to call.
  { Watched gone(io); gone.deadline.after(5ms); }
  io.run_for(50ms);
  EXPECT_EQ(w.fired, 1);
}

}  // namespace
}  // namespace arbitra::http::detail
