// GET /metrics: Prometheus text exposition of what the gateway did, per model
// group and deployment — requests by status class, tokens by kind, exact cost,
// latency and time-to-first-token histograms, cache hits and savings, budget
// and rate-limit rejections — plus the ledger's queue depth and write lag.
//
// One mutex around a small map keyed by (model, deployment); an observation
// is a map probe and a few additions. Costs are kept in integer pico-dollars
// and printed as exact decimals.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "ledger/ledger.h"
#include "ledger/record.h"

namespace arbitra::ledger {

class Metrics {
 public:
  void observe(const Record& record);
  void reject(const std::string& reason);  // "budget", "rate_limit", "auth", "model_not_allowed"
  // The exposition; `ledger` may be null (ledger off).
  std::string render(const Ledger* ledger) const;

  static constexpr std::array<double, 14> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                      1,     2.5,  5,     10,   30,   60,  120};

 private:
  struct Histogram {
    std::array<int64_t, kBuckets.size()> counts{};  // cumulative at render time
    int64_t count = 0;
    int64_t sumMicros = 0;
    void add(int64_t micros);
  };
  struct Series {
    std::map<int, int64_t> requestsByClass;  // 2, 4, 5 (x100)
    int64_t input = 0, output = 0, cachedRead = 0, cacheWrite = 0, reasoning = 0;
    int64_t costPico = 0, cacheSavedPico = 0, routeSavedPico = 0;
    int64_t cacheHitsExact = 0, cacheHitsSemantic = 0, cacheMisses = 0;
    int64_t estimated = 0, priceMissing = 0;
    Histogram latency, ttft;
  };
  // (model, deployment), looked up without building strings.
  struct KeyLess {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      int first = std::string_view(a.first).compare(std::string_view(b.first));
      return first != 0 ? first < 0 : std::string_view(a.second) < std::string_view(b.second);
    }
  };
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, Series, KeyLess> series_;
  std::map<std::string, int64_t> rejections_;
};

}  // namespace arbitra::ledger
