// Money for the planner: exact integer micro-dollars, no floating point.
//
// Design: every amount of money is an int64 count of micro-dollars ($1 =
// 1,000,000). Prices per million tokens are kept as "micro-dollars per million
// tokens" (the same number as pico-dollars per token), so
//   cost(tokens) = tokens × pricePerMillion / 1,000,000     (one rounding)
// Intermediate products use __int128, so no overflow below ~9.2e12 dollars.
// Throughput math is double; the single place a double becomes money is
// microsFromDouble(), which rounds half away from zero, once.
//
//   Micros p = *parseDollars("0.15");          // 150000
//   Micros c = costOfTokens(2'000'000, p);     // $0.30 = 300000
//   formatDollars(c) == "$0.30"
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace arbitra::planner {

using Micros = int64_t;  // micro-dollars
constexpr Micros kMicrosPerDollar = 1'000'000;

// "0.15" -> 150000. A non-negative plain decimal (no sign, exponent, or stray
// dot) with at most 6 fraction digits; nullopt otherwise or on overflow.
std::optional<Micros> parseDollars(const std::string& text);

// numerator / denominator rounded half away from zero (denominator > 0).
int64_t divRound(__int128 numerator, __int128 denominator);

// tokens × (micro-dollars per million tokens) / 1e6, rounded once.
Micros costOfTokens(int64_t tokens, Micros perMillion);

// The one double -> money conversion (round half away from zero).
Micros microsFromDouble(double dollars);

// "$1,180" (whole dollars at or above $100), "$12.34" below; negative with "-".
std::string formatDollars(Micros amount);
// Always with cents: "$1,180.25".
std::string formatCents(Micros amount);
// A price per million tokens: 3 decimals under $1 ("$0.016"), else cents.
std::string formatPerMillion(Micros amount);
// A plain decimal string, "1180.25" (JSON output keeps micro-dollars as integers
// and adds this for reading).
std::string decimalDollars(Micros amount);

}  // namespace arbitra::planner
