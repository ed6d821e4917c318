// Budget reservations and sliding-window rate limits (see limits.h).
#include "ledger/limits.h"

#include <algorithm>

#include "ledger/cost.h"
#include "ledger/ledger.h"

namespace arbitra::ledger {

int64_t Limiter::Window::sum(int64_t nowSecond) const {
  int64_t total = 0;
  for (int i = 0; i < 60; ++i) {
    if (nowSecond - seconds[i] < 60) total += counts[i];
  }
  return total;
}

void Limiter::Window::add(int64_t nowSecond, int64_t amount) {
  int slot = static_cast<int>(nowSecond % 60);
  if (seconds[slot] != nowSecond) {
    seconds[slot] = nowSecond;
    counts[slot] = 0;
  }
  counts[slot] += amount;
}

// How long until the window's sum + amount fits under the limit.
int Limiter::Window::secondsUntilBelow(int64_t nowSecond, int64_t limit, int64_t amount) const {
  for (int wait = 1; wait <= 60; ++wait) {
    int64_t total = 0;
    for (int i = 0; i < 60; ++i) {
      if (nowSecond + wait - seconds[i] < 60) total += counts[i];
    }
    if (total + amount <= limit) return wait;
  }
  return 60;
}

void Limiter::State::roll(int64_t nowMs) {
  int64_t today = dayStartMs(nowMs), thisMonth = monthStartMs(nowMs);
  if (today != day) {
    day = today;
    spentDay = 0;
  }
  if (thisMonth != month) {
    month = thisMonth;
    spentMonth = 0;
  }
}

Limiter::State& Limiter::state(const std::string& keyId) {
  std::lock_guard lock(mapMutex_);
  auto& slot = states_[keyId];
  if (!slot) slot = std::make_unique<State>();
  return *slot;
}

void Limiter::seed(const std::string& keyId, int64_t daySpendPico, int64_t monthSpendPico, int64_t nowMs) {
  auto& s = state(keyId);
  std::lock_guard lock(s.mutex);
  s.roll(nowMs);
  s.spentDay = daySpendPico;
  s.spentMonth = monthSpendPico;
}

Admission Limiter::admit(const KeyRecord& key, int64_t estimatePico, int64_t estimateTokens, int64_t nowMs) {
  Admission admission;
  auto& s = state(key.id);
  std::lock_guard lock(s.mutex);
  s.roll(nowMs);
  int64_t second = nowMs / 1000;
  if (key.rpm > 0 && s.requests.sum(second) + 1 > key.rpm) {
    admission.admitted = false;
    admission.limit = "rate limit: key " + key.id + " allows " + std::to_string(key.rpm) + " requests per minute";
    admission.retryAfterSeconds = s.requests.secondsUntilBelow(second, key.rpm, 1);
    return admission;
  }
  if (key.tpm > 0 && s.tokens.sum(second) + estimateTokens > key.tpm) {
    admission.admitted = false;
    admission.limit = "rate limit: key " + key.id + " allows " + std::to_string(key.tpm) +
                      " tokens per minute (this request needs up to " + std::to_string(estimateTokens) + ")";
    admission.retryAfterSeconds = s.tokens.secondsUntilBelow(second, key.tpm, std::min(estimateTokens, key.tpm));
    return admission;
  }
  auto refuse = [&](const char* period, int64_t budget, int64_t spent) {
    admission.admitted = false;
    admission.limit = std::string("budget exceeded: key ") + key.id + " has a " + period + " budget of $" +
                      formatDollars(budget, 2) + "; spent $" + formatDollars(spent, 6) + ", in flight $" +
                      formatDollars(s.reserved, 6) + ", this request up to $" + formatDollars(estimatePico, 6);
  };
  if (key.budgetDayPico > 0 && s.spentDay + s.reserved + estimatePico > key.budgetDayPico) {
    refuse("daily", key.budgetDayPico, s.spentDay);
    return admission;
  }
  if (key.budgetMonthPico > 0 && s.spentMonth + s.reserved + estimatePico > key.budgetMonthPico) {
    refuse("monthly", key.budgetMonthPico, s.spentMonth);
    return admission;
  }
  s.requests.add(second, 1);
  s.tokens.add(second, estimateTokens);
  s.reserved += estimatePico;
  s.inFlight += 1;
  admission.reservedPico = estimatePico;
  admission.reservedTokens = estimateTokens;
  return admission;
}

void Limiter::settle(const KeyRecord& key, const Admission& admission, int64_t actualPico, int64_t actualTokens,
                     int64_t nowMs) {
  if (!admission.admitted) return;
  auto& s = state(key.id);
  std::lock_guard lock(s.mutex);
  s.roll(nowMs);
  s.reserved -= admission.reservedPico;
  s.inFlight -= 1;
  s.spentDay += actualPico;
  s.spentMonth += actualPico;
  s.tokens.add(nowMs / 1000, actualTokens - admission.reservedTokens);
}

Limiter::KeyUsage Limiter::usage(const std::string& keyId, int64_t nowMs) {
  auto& s = state(keyId);
  std::lock_guard lock(s.mutex);
  s.roll(nowMs);
  return {s.spentDay, s.spentMonth, s.reserved, s.inFlight};
}

}  // namespace arbitra::ledger
