// Live estimates of one deployment: time to first token (a predicted p90 and
// p95), output tokens per second, error rate, output length, in-flight count;
// and its health: circuit breaker, 429 cool-down, requests/tokens per minute.
//
// Design: every sample is folded into a time-decayed EWMA (log space for
// latencies, so the spread gives quantiles of a log-normal: p90 = e^(mu +
// 1.2816 sigma)). The decay weight of a sample is 1 - e^(-dt/tau) with a floor,
// so a burst of samples moves the estimate quickly and a lone sample after a
// long silence (a probe) nearly replaces it. Writers take a per-deployment
// spinlock (a few arithmetic operations held); the derived figures the router
// reads on every request are published in relaxed atomics, so a decision reads
// twenty deployments without taking a lock. A reader may see one field from
// before an update and one from after: estimates, not accounts.
//
// Time is passed in as microseconds on any monotonic clock (the gateway's
// steady clock, or the replay's virtual clock); nothing here reads a clock.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

namespace arbitra::router {

// A log-normal estimate of a positive quantity (milliseconds, tokens/s).
// Not thread-safe by itself: DeploymentState serialises writers.
class LogEwma {
 public:
  // tauUs: how fast old samples fade; minAlpha: the least weight of one sample.
  explicit LogEwma(double tauUs = 5e6, double minAlpha = 0.05) : tauUs_(tauUs), minAlpha_(minAlpha) {}
  void add(double value, int64_t nowUs);
  bool empty() const { return count_ == 0; }
  int64_t count() const { return count_; }
  int64_t lastUs() const { return lastUs_; }
  // The value at standard-normal quantile z (0: the median, 1.2816: p90).
  double quantile(double z) const;
  double mean() const;  // of the log-normal

 private:
  double tauUs_;
  double minAlpha_;
  double mu_ = 0;
  double var_ = 0;
  int64_t count_ = 0;
  int64_t lastUs_ = 0;
};

constexpr double kZ90 = 1.2815515655;
constexpr double kZ95 = 1.6448536270;

enum class Failure {
  Server,       // 5xx, garbage, reset before the first byte: counts against health
  Timeout,      // no first byte in time: counts against health
  RateLimited,  // 429: a cool-down (Retry-After), not a health fault
  Client,       // the caller's fault (4xx): no effect on the deployment
};

enum class Breaker : int { Closed = 0, Open = 1, HalfOpen = 2 };

struct BreakerSettings {
  int failures = 5;            // consecutive failures that open it
  int64_t openUs = 5'000'000;  // first open period; doubles while probes fail
  int64_t maxOpenUs = 60'000'000;
};

// Approximate sliding one-minute window: this minute's count plus the last
// minute's, weighted by how much of it still lies inside the window.
class MinuteWindow {
 public:
  void add(int64_t amount, int64_t nowUs);
  int64_t used(int64_t nowUs) const;

 private:
  void roll(int64_t nowUs);
  int64_t windowStartUs_ = 0;
  int64_t current_ = 0;
  int64_t previous_ = 0;
};

// Everything the router keeps about one deployment. Thread-safe.
class DeploymentState {
 public:
  DeploymentState();

  // ---- what the router reads on every request (lock-free) ----
  bool measured() const { return samples_.load(std::memory_order_relaxed) > 0; }
  double ttftP90Ms() const { return ttftP90_.load(std::memory_order_relaxed); }
  double ttftP95Ms() const { return ttftP95_.load(std::memory_order_relaxed); }
  double tokensPerSecond() const { return tps_.load(std::memory_order_relaxed); }  // 0: unknown
  double errorRate() const { return errorRate_.load(std::memory_order_relaxed); }
  int inFlight() const { return inFlight_.load(std::memory_order_relaxed); }
  int64_t lastSampleUs() const { return lastSampleUs_.load(std::memory_order_relaxed); }
  // Whether a request may be sent now: breaker not open, no 429 cool-down, and
  // (when limits are set) the minute's requests and tokens leave room for
  // `tokens` more. When not, `readyAtUs` says when it might be.
  bool available(int64_t nowUs, int64_t tokens, int64_t rpm, int64_t tpm, int64_t* readyAtUs = nullptr) const;
  Breaker breaker(int64_t nowUs) const;

  // ---- feedback (short spinlock) ----
  // An attempt starts: counts in flight and against the rate window. Returns
  // false when the breaker is half-open and its one probe is already out,
  // unless `lastResort` (nothing else is left to try: never a lock-out).
  bool begin(int64_t tokens, int64_t nowUs, bool lastResort = false);
  void firstToken(double ttftMs, int64_t nowUs);  // success as far as health goes
  void finish(int64_t outputTokens, double generationMs, int64_t nowUs);
  void fail(Failure failure, std::optional<int> retryAfterSeconds, int64_t nowUs);
  void cancel();  // the attempt ended without an outcome (hedge loser, caller gone)

  // A latency probe of a deployment that the estimates have shut out: at most
  // one per `everyUs`, claimed atomically by one request.
  bool claimProbe(int64_t nowUs, int64_t everyUs);

  // Under the lock: a reload may set it while requests report to this state.
  void setBreakerSettings(BreakerSettings settings) {
    lock();
    breakerSettings_ = settings;
    unlock();
  }

 private:
  void lock() const;
  void unlock() const;
  void publish();
  void settle();  // an attempt ended: in-flight down, probe slot freed

  mutable std::atomic<bool> spin_{false};
  BreakerSettings breakerSettings_;
  // Under the lock.
  LogEwma ttft_;
  LogEwma tps_ewma_;
  double errorEwma_ = 0;
  int consecutiveFailures_ = 0;
  int64_t openPeriodUs_ = 0;
  MinuteWindow requests_;
  MinuteWindow tokens_;
  // Published.
  std::atomic<double> ttftP90_{0};
  std::atomic<double> ttftP95_{0};
  std::atomic<double> tps_{0};
  std::atomic<double> errorRate_{0};
  std::atomic<int64_t> samples_{0};
  std::atomic<int64_t> lastSampleUs_{0};
  std::atomic<int> inFlight_{0};
  std::atomic<int> breakerState_{0};
  std::atomic<int64_t> openUntilUs_{0};
  std::atomic<bool> probeOut_{false};
  std::atomic<int64_t> coolUntilUs_{0};
  std::atomic<int64_t> lastProbeUs_{INT64_MIN / 2};
  std::atomic<int64_t> minuteRequests_{0};  // published copies of the windows' use
  std::atomic<int64_t> minuteTokens_{0};
  std::atomic<int64_t> minuteAtUs_{0};
};

}  // namespace arbitra::router
