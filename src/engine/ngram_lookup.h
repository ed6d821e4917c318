// Draft-free speculation's proposal: guess what comes next from the request's
// own tokens (prompt and output so far), so the target can verify several
// tokens in one batched step.
//
// Design: find the longest n-gram (up to kNGramMaxN tokens) that ends the history
// and occurred before, the most recent occurrence first; propose what followed
// it. A match `p` tokens back also says the text may be repeating with period
// `p`, so when the continuation reaches the end of the history it goes on
// with the proposal's own tokens: a model stuck on one token (or a short
// loop, the usual shape of repetitive output) gets the whole budget proposed,
// where reading only the history would propose `p` tokens, and a one- or
// two-token draft gains nothing on a machine where a batch of two costs
// nearly two steps (bench/engine.sh's speculation rows on Q4_K_M).
// Pure and deterministic, unit-tested on its own.
//
//   std::vector<int32_t> drafts;
//   ngramLookup(history, 8, drafts);  // appends up to 8 proposed tokens
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace arbitra::engine {

inline constexpr int kNGramMaxN = 4;

// Appends up to `budget` proposed tokens to `out` (nothing when no n-gram of
// the history's end occurred before). Returns the matched n-gram's length (0:
// no match).
template <typename Token>
int ngramLookup(const std::vector<Token>& history, int budget, std::vector<Token>& out) {
  const int size = static_cast<int>(history.size());
  if (budget <= 0) return 0;
  for (int n = std::min(kNGramMaxN, size - 1); n >= 1; --n) {
    for (int start = size - n - 1; start >= 0; --start) {
      if (!std::equal(history.begin() + start, history.begin() + start + n, history.end() - n)) continue;
      const int period = size - n - start;  // the earlier occurrence's continuation starts here, `period` back
      const size_t first = out.size();
      for (int j = 0; j < budget; ++j) {
        const int at = size - period + j;  // in history, then in this proposal
        out.push_back(at < size ? history[static_cast<size_t>(at)] : out[first + static_cast<size_t>(at - size)]);
      }
      return n;
    }
  }
  return 0;
}

}  // namespace arbitra::engine
