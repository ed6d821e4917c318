// Draft-free speculation's proposal (engine/ngram_lookup.h) on its own: what
// followed the latest earlier occurrence of the history's last n-gram, the
// longest n-gram first, continued through a loop up to the budget.
#include <gtest/gtest.h>

#include "engine/ngram_lookup.h"

namespace arbitra::engine {
namespace {

std::vector<int> propose(const std::vector<int>& history, int budget) {
  std::vector<int> out;
  ngramLookup(history, budget, out);
  return out;
}

TEST(NGramLookup, ProposesWhatFollowedTheEarlierOccurrence) {
  // "5 6" occurred at the start, followed by 7 8 9.
  EXPECT_EQ(propose({5, 6, 7, 8, 9, 1, 5, 6}, 3), (std::vector<int>{7, 8, 9}));
  EXPECT_EQ(propose({5, 6, 7, 8, 9, 1, 5, 6}, 2), (std::vector<int>{7, 8}));
}

TEST(NGramLookup, PrefersTheLongestMatchingNGram) {
  // The last token 3 occurred twice; the bigram "2 3" only once (followed by 4).
  std::vector<int> out;
  EXPECT_EQ(ngramLookup(std::vector<int>{2, 3, 4, 9, 3, 7, 2, 3}, 1, out), 2);
  EXPECT_EQ(out, (std::vector<int>{4}));
}

TEST(NGramLookup, ALoopOfOneTokenProposesTheWholeBudget) {
  // Reading only the history, the latest "7 7 7 7" is one token back and is
  // followed by a single token; the loop goes on for the whole budget.
  EXPECT_EQ(propose({1, 7, 7, 7, 7, 7}, 8), std::vector<int>(8, 7));
}

TEST(NGramLookup, AShortLoopContinuesInItsOrder) {
  EXPECT_EQ(propose({9, 1, 2, 3, 1, 2, 3, 1, 2}, 7), (std::vector<int>{3, 1, 2, 3, 1, 2, 3}));
}

TEST(NGramLookup, AppendsToWhatIsAlreadyThere) {
  std::vector<int> out{42};
  ngramLookup(std::vector<int>{4, 4, 4}, 3, out);
  EXPECT_EQ(out, (std::vector<int>{42, 4, 4, 4}));
}

TEST(NGramLookup, NothingWithoutAnEarlierOccurrenceOrBudget) {
  EXPECT_TRUE(propose({1, 2, 3, 4}, 8).empty());
  EXPECT_TRUE(propose({5}, 8).empty());
  EXPECT_TRUE(propose({}, 8).empty());
  EXPECT_TRUE(propose({3, 3, 3}, 0).empty());
}

}  // namespace
}  // namespace arbitra::engine
