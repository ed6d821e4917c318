// Exact micro-dollar arithmetic and formatting (see money.h).
#include "planner/money.h"

#include <cmath>
#include <limits>

namespace arbitra::planner {

std::optional<Micros> parseDollars(const std::string& text) {
  if (text.empty()) return std::nullopt;
  size_t dot = text.find('.');
  std::string whole = text.substr(0, dot);
  std::string frac = dot == std::string::npos ? "" : text.substr(dot + 1);
  if (whole.empty() || (dot != std::string::npos && frac.empty()) || frac.size() > 6) return std::nullopt;
  for (char c : whole + frac) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  if (whole.size() > 12) return std::nullopt;
  frac.append(6 - frac.size(), '0');
  Micros value = std::stoll(whole) * kMicrosPerDollar + std::stoll(frac);
  return value;
}

int64_t divRound(__int128 numerator, __int128 denominator) {
  bool negative = numerator < 0;
  __int128 n = negative ? -numerator : numerator;
  __int128 q = (n + denominator / 2) / denominator;
  return static_cast<int64_t>(negative ? -q : q);
}

Micros costOfTokens(int64_t tokens, Micros perMillion) {
  return divRound(static_cast<__int128>(tokens) * perMillion, 1'000'000);
}

Micros microsFromDouble(double dollars) {
  return static_cast<Micros>(std::llround(dollars * static_cast<double>(kMicrosPerDollar)));
}

namespace {

std::string withCommas(uint64_t whole) {
  std::string digits = std::to_string(whole);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string format(Micros amount, bool forceCents) {
  bool negative = amount < 0;
  uint64_t abs = negative ? static_cast<uint64_t>(-(amount + 1)) + 1 : static_cast<uint64_t>(amount);
  uint64_t cents = (abs + 5'000) / 10'000;  // round half up to the cent
  std::string out = negative ? "-$" : "$";
  if (!forceCents && cents >= 10'000) {
    out += withCommas((cents + 50) / 100);
    return out;
  }
  out += withCommas(cents / 100);
  uint64_t c = cents % 100;
  out += '.';
  out += static_cast<char>('0' + c / 10);
  out += static_cast<char>('0' + c % 10);
  return out;
}

}  // namespace

std::string formatDollars(Micros amount) {
  return format(amount, false);
}
std::string formatCents(Micros amount) {
  return format(amount, true);
}

std::string formatPerMillion(Micros amount) {
  if (amount >= kMicrosPerDollar || amount <= -kMicrosPerDollar) return formatCents(amount);
  int64_t mills = divRound(amount, 1'000);  // thousandths of a dollar
  bool negative = mills < 0;
  int64_t m = negative ? -mills : mills;
  std::string frac = std::to_string(m % 1000);
  frac.insert(0, 3 - frac.size(), '0');
  return std::string(negative ? "-$" : "$") + std::to_string(m / 1000) + "." + frac;
}

std::string decimalDollars(Micros amount) {
  bool negative = amount < 0;
  uint64_t abs = negative ? static_cast<uint64_t>(-(amount + 1)) + 1 : static_cast<uint64_t>(amount);
  std::string frac = std::to_string(abs % 1'000'000);
  frac.insert(0, 6 - frac.size(), '0');
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  return (negative ? "-" : "") + std::to_string(abs / 1'000'000) + (frac.empty() ? "" : "." + frac);
}

}  // namespace arbitra::planner
