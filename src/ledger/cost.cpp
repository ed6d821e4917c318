// Cost arithmetic (see cost.h for the rules).
#include "ledger/cost.h"

#include <algorithm>
#include <cstdlib>

namespace arbitra::ledger {

namespace {

// rate x ratio (num/den), rounded half up; used for batch discounts on cache rates.
int64_t scaled(__int128 picoTimesTokens, int64_t num, int64_t den) {
  if (den == 0) return static_cast<int64_t>(picoTimesTokens);
  __int128 product = picoTimesTokens * num;
  return static_cast<int64_t>((product + den / 2) / den);
}

}  // namespace

Cost priceUsage(const config::Price& price, const core::Usage& usage, Billing billing) {
  Cost cost;
  config::PriceRates rates = price.base();
  if (price.longContext && usage.inputTokens > price.longContext->aboveInputTokens) {
    rates = price.longContext->rates;
    cost.longContext = true;
  }
  int64_t input = std::max<int64_t>(usage.inputTokens, 0);
  int64_t cached = std::clamp<int64_t>(usage.cachedReadTokens, 0, input);
  int64_t written = std::clamp<int64_t>(usage.cacheWriteTokens, 0, input - cached);
  int64_t uncached = input - cached - written;
  int64_t output = std::max<int64_t>(usage.outputTokens, 0);
  int64_t reasoning = std::clamp<int64_t>(usage.reasoningTokens, 0, output);

  int64_t inputRate = rates.inputPerMillion;
  int64_t outputRate = rates.outputPerMillion;
  bool batch = billing == Billing::Batch && price.batchInputPerMillion && price.batchOutputPerMillion;
  if (batch) {
    cost.batch = true;
    // The batch discount as the ratio of batch to standard input price.
    int64_t num = *price.batchInputPerMillion, den = price.inputPerMillion;
    cost.cachedReadPico = scaled(static_cast<__int128>(cached) * rates.cachedInputPerMillion, num, den);
    cost.cacheWritePico = scaled(static_cast<__int128>(written) * rates.cacheWritePerMillion, num, den);
    inputRate = cost.longContext ? scaled(rates.inputPerMillion, num, den) : *price.batchInputPerMillion;
    int64_t onum = *price.batchOutputPerMillion, oden = price.outputPerMillion;
    outputRate = cost.longContext ? scaled(rates.outputPerMillion, onum, oden) : *price.batchOutputPerMillion;
  } else {
    cost.cachedReadPico = cached * rates.cachedInputPerMillion;
    cost.cacheWritePico = written * rates.cacheWritePerMillion;
  }
  cost.inputPico = uncached * inputRate;
  if (price.reasoningPerMillion) {
    int64_t reasoningRate = *price.reasoningPerMillion;
    if (batch) reasoningRate = scaled(reasoningRate, *price.batchOutputPerMillion, price.outputPerMillion);
    cost.reasoningPico = reasoning * reasoningRate;
    cost.outputPico = (output - reasoning) * outputRate;
  } else {
    cost.outputPico = output * outputRate;
  }
  cost.totalPico = cost.inputPico + cost.cachedReadPico + cost.cacheWritePico + cost.outputPico + cost.reasoningPico;
  return cost;
}

std::optional<int64_t> parseDollars(const std::string& text) {
  auto micros = config::parseMicroDollars(text);
  if (!micros || *micros > INT64_MAX / 1'000'000) return std::nullopt;
  return *micros * 1'000'000;
}

int64_t estimateTokens(size_t bytes) { return static_cast<int64_t>((bytes + 3) / 4); }

std::string formatDollars(int64_t pico, int decimals) {
  bool negative = pico < 0;
  unsigned long long magnitude = negative ? 0ULL - static_cast<unsigned long long>(pico) : static_cast<unsigned long long>(pico);
  unsigned long long whole = magnitude / 1'000'000'000'000ULL;
  unsigned long long fraction = magnitude % 1'000'000'000'000ULL;
  std::string digits = std::to_string(fraction);
  digits.insert(0, 12 - digits.size(), '0');
  decimals = std::clamp(decimals, 0, 12);
  std::string out = (negative ? "-" : "") + std::to_string(whole);
  if (decimals > 0) out += "." + digits.substr(0, static_cast<size_t>(decimals));
  return out;
}

std::string exactDollars(int64_t pico) {
  std::string text = formatDollars(pico, 12);
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text;
}

}  // namespace arbitra::ledger
