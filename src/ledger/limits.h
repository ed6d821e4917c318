// Budgets and rate limits per virtual key, enforced before a request is sent.
//
// Budgets (per UTC day and month, pico-dollars): a request reserves its
// estimated cost (input estimate x input price + max_tokens x output price)
// at admission; it is refused when spent + reserved + estimate would pass the
// budget; when it ends, the reservation is replaced by the actual cost. So
// concurrent requests can overspend only by what the requests already in
// flight cost beyond their estimates (nothing, when max_tokens bounds them).
//
// Rate limits: requests and tokens per minute over a sliding window of 60
// one-second buckets; tokens are counted at the estimate and corrected to the
// actual count when the request ends.
//
// All state is in this process, behind one mutex per key (a refusal or an
// admission is a few hundred nanoseconds). Spend is seeded from the ledger at
// start. Sharing limits across replicas comes with the scale-out store.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "ledger/record.h"

namespace arbitra::ledger {

struct Admission {
  bool admitted = true;
  std::string limit;          // which limit refused it, for the 429 message
  int retryAfterSeconds = 0;  // rate limits: when to try again
  int64_t reservedPico = 0;
  int64_t reservedTokens = 0;
};

class Limiter {
 public:
  // Spend already on the books (from the ledger) for today and this month.
  void seed(const std::string& keyId, int64_t daySpendPico, int64_t monthSpendPico, int64_t nowMs);

  Admission admit(const KeyRecord& key, int64_t estimatePico, int64_t estimateTokens, int64_t nowMs);
  // The request ended: replace its reservation by what it cost and used.
  void settle(const KeyRecord& key, const Admission& admission, int64_t actualPico, int64_t actualTokens,
              int64_t nowMs);

  struct KeyUsage {
    int64_t spentDayPico = 0, spentMonthPico = 0, reservedPico = 0, inFlight = 0;
  };
  KeyUsage usage(const std::string& keyId, int64_t nowMs);

 private:
  struct Window {  // 60 one-second buckets
    int64_t counts[60] = {};
    int64_t seconds[60] = {};
    int64_t sum(int64_t nowSecond) const;
    void add(int64_t nowSecond, int64_t amount);
    int secondsUntilBelow(int64_t nowSecond, int64_t limit, int64_t amount) const;
  };
  struct State {
    std::mutex mutex;
    int64_t day = 0, month = 0;  // the period starts the spends belong to
    int64_t spentDay = 0, spentMonth = 0, reserved = 0, inFlight = 0;
    Window requests, tokens;
    void roll(int64_t nowMs);
  };
  State& state(const std::string& keyId);

  std::mutex mapMutex_;
  std::map<std::string, std::unique_ptr<State>> states_;
};

}  // namespace arbitra::ledger
