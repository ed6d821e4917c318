// What a request cost, from its usage and its deployment's price, in exact
// integer pico-dollars (10^-12 $). A price per million tokens in micro-dollars
// is the same number as pico-dollars per token, so cost = tokens x rate with no
// division and no rounding. Aggregates of any size are sums of integers.
//
// The rules (one place, so every record and every report agrees):
//   - input tokens are split into uncached, cached-read and cache-write, each at
//     its own rate (core::Usage counts the last two inside inputTokens);
//   - reasoning tokens are part of outputTokens; where the price bills them
//     apart (`reasoning`), they are at that rate, otherwise at the output rate;
//   - above a long-context tier's threshold of input tokens, the whole request
//     is billed at the tier's rates;
//   - batch (deferred) requests use batch_input/batch_output, and the same
//     discount ratio on cached-read and cache-write rates (providers document the
//     batch discount as stacking with cache pricing); that ratio is the one
//     place where a fraction of a pico-dollar can arise, rounded half up.
//
//   auto cost = ledger::priceUsage(price, usage, ledger::Billing::Standard);
//   cost.totalPico;  // 1'234'500'000 == $0.0012345
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "config/config.h"
#include "core/types.h"

namespace arbitra::ledger {

enum class Billing { Standard, Batch };

struct Cost {
  int64_t inputPico = 0;       // uncached input
  int64_t cachedReadPico = 0;
  int64_t cacheWritePico = 0;
  int64_t outputPico = 0;      // output excluding reasoning billed apart
  int64_t reasoningPico = 0;   // only when the price bills reasoning apart
  int64_t totalPico = 0;
  bool longContext = false;    // the long-context tier applied
  bool batch = false;          // batch prices applied
};

// Exact cost. Token counts that do not add up (cached > input) are clamped so
// that no component is negative; the total never exceeds what the usage says.
Cost priceUsage(const config::Price& price, const core::Usage& usage, Billing billing = Billing::Standard);

// A rough token count for text when the provider reports none: ~4 bytes per
// token for English, rounded up; such records are marked `estimated`.
int64_t estimateTokens(size_t bytes);

// "12.50" (dollars, up to 6 decimal places) -> pico-dollars; nullopt if malformed.
std::optional<int64_t> parseDollars(const std::string& text);

// Pico-dollars as dollars with `decimals` places (truncated toward zero),
// e.g. formatDollars(1'234'500'000, 8) == "0.00123450".
std::string formatDollars(int64_t pico, int decimals = 8);
// The same, exact: as many places as needed, up to 12 ("0.0012345").
std::string exactDollars(int64_t pico);

}  // namespace arbitra::ledger
