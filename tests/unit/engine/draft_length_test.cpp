// The adaptive draft length (engine/draft_length.h) on its own: it grows while
// the target accepts everything, shrinks to what was accepted, pauses a draft
// that keeps missing with doubling pauses, and keeps a good draft drafting.
#include <gtest/gtest.h>

#include "engine/draft_length.h"

namespace arbitra::engine {
namespace {

// Steps until next() is non-zero again, calling skipped() for each.
int pauseLength(DraftLength& d) {
  int n = 0;
  while (d.next() == 0) {
    d.skipped();
    ++n;
  }
  return n;
}

TEST(DraftLength, StartsAtTheMaximumAndStaysThereWhileEverythingIsAccepted) {
  DraftLength d(8);
  EXPECT_EQ(d.next(), 8);
  for (int i = 0; i < 10; ++i) d.record(8, 8);
  EXPECT_EQ(d.next(), 8);
  EXPECT_FALSE(d.paused());
}

TEST(DraftLength, ShrinksToTheAcceptedRunThenDoublesBack) {
  DraftLength d(8);
  d.record(8, 8);
  d.record(8, 2);  // 2 agreed, the third did not
  EXPECT_EQ(d.next(), 3);
  d.record(3, 3);
  EXPECT_EQ(d.next(), 6);
  d.record(6, 6);
  EXPECT_EQ(d.next(), 8);  // capped at the maximum
}

TEST(DraftLength, OneEarlyMissDoesNotStopAGoodDraft) {
  DraftLength d(8);
  d.record(8, 0);
  EXPECT_FALSE(d.paused());
  EXPECT_EQ(d.next(), 1);
  d.record(1, 1);
  EXPECT_EQ(d.next(), 2);
}

TEST(DraftLength, ADraftThatNeverAgreesIsPausedWithDoublingPauses) {
  DraftLength d(8);
  d.record(8, 0);
  d.record(d.next(), 0);
  ASSERT_TRUE(d.paused());
  EXPECT_EQ(pauseLength(d), DraftLength::kFirstBackoff);
  EXPECT_EQ(d.next(), 1);  // a short probe
  d.record(1, 0);
  EXPECT_EQ(pauseLength(d), 2 * DraftLength::kFirstBackoff);
  d.record(d.next(), 0);
  EXPECT_EQ(pauseLength(d), 4 * DraftLength::kFirstBackoff);
  for (int i = 0; i < 10; ++i) {
    d.record(d.next(), 0);
    pauseLength(d);
  }
  d.record(d.next(), 0);
  EXPECT_EQ(pauseLength(d), DraftLength::kMaxBackoff);
}

TEST(DraftLength, ANeverAgreeingDraftCostsFewProposalsOverALongRequest) {
  // 1000 steps; count the tokens proposed (each one costs a draft decode and
  // a verified position) when none is ever accepted.
  DraftLength d(8);
  int proposed = 0;
  for (int step = 0; step < 1000; ++step) {
    int k = d.next();
    if (k == 0) {
      d.skipped();
      continue;
    }
    proposed += k;
    d.record(k, 0);
  }
  EXPECT_LT(proposed, 40);  // 8 + 1 + one probe per pause (4, 8, 16, 32, 64, 64 ...)
}

TEST(DraftLength, AProbeThatHitsResumesSpeculationAndResetsTheBackoff) {
  DraftLength d(8);
  d.record(8, 0);
  d.record(1, 0);
  pauseLength(d);
  d.record(1, 0);
  EXPECT_EQ(pauseLength(d), 8);
  d.record(1, 1);  // the draft agrees again
  EXPECT_FALSE(d.paused());
  EXPECT_EQ(d.next(), 2);
  d.record(2, 2);
  d.record(4, 4);
  EXPECT_EQ(d.next(), 8);
  d.record(8, 0);
  d.record(1, 0);
  d.record(1, 0);
  EXPECT_EQ(pauseLength(d), DraftLength::kFirstBackoff);
}

TEST(DraftLength, AMostlyAgreeingDraftKeepsDrafting) {
  // 90% per token, deterministic pattern: every tenth proposed token misses.
  DraftLength d(8);
  int position = 0, paused = 0, proposed = 0;
  for (int step = 0; step < 500; ++step) {
    int k = d.next();
    if (k == 0) {
      d.skipped();
      ++paused;
      continue;
    }
    int accepted = 0;
    while (accepted < k && (position + accepted + 1) % 10 != 0) ++accepted;
    position += accepted + 1;
    proposed += k;
    d.record(k, accepted);
  }
  EXPECT_EQ(paused, 0);
  EXPECT_GT(proposed, 500 * 4);  // long drafts on average
}

}  // namespace
}  // namespace arbitra::engine
