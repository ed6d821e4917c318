// Estimators, breaker and rate windows of one deployment (see estimator.h).
#include "router/estimator.h"

#include <algorithm>
#include <cmath>
#include <thread>

namespace arbitra::router {
namespace {

constexpr int64_t kMinuteUs = 60'000'000;
constexpr double kMinSigma = 0.05;  // never claim a spread tighter than ±5%
constexpr int64_t kDefaultRetryAfterUs = 1'000'000;
constexpr double kErrorAlpha = 0.1;

}  // namespace

// ---- LogEwma ----------------------------------------------------------------

void LogEwma::add(double value, int64_t nowUs) {
  double x = std::log(std::max(value, 1e-3));
  if (count_ == 0) {
    mu_ = x;
    var_ = 0.04;  // a first sample says little about the spread: assume ±20%
  } else {
    double dt = static_cast<double>(std::max<int64_t>(0, nowUs - lastUs_));
    double alpha = std::max(minAlpha_, 1.0 - std::exp(-dt / tauUs_));
    double diff = x - mu_;
    mu_ += alpha * diff;
    var_ = (1 - alpha) * (var_ + alpha * diff * diff);
  }
  count_++;
  lastUs_ = nowUs;
}

double LogEwma::quantile(double z) const {
  if (count_ == 0) return 0;
  double sigma = std::max(kMinSigma, std::sqrt(var_));
  return std::exp(mu_ + z * sigma);
}

double LogEwma::mean() const {
  if (count_ == 0) return 0;
  return std::exp(mu_ + var_ / 2);
}

// ---- MinuteWindow -----------------------------------------------------------

void MinuteWindow::roll(int64_t nowUs) {
  if (nowUs - windowStartUs_ < kMinuteUs) return;
  if (nowUs - windowStartUs_ < 2 * kMinuteUs) {
    previous_ = current_;
    windowStartUs_ += kMinuteUs;
  } else {
    previous_ = 0;
    windowStartUs_ = nowUs;
  }
  current_ = 0;
}

void MinuteWindow::add(int64_t amount, int64_t nowUs) {
  roll(nowUs);
  current_ += amount;
}

int64_t MinuteWindow::used(int64_t nowUs) const {
  int64_t elapsed = nowUs - windowStartUs_;
  if (elapsed >= 2 * kMinuteUs) return 0;
  if (elapsed >= kMinuteUs) {
    // current_ has become the previous minute.
    double left = 1.0 - static_cast<double>(elapsed - kMinuteUs) / kMinuteUs;
    return static_cast<int64_t>(current_ * left);
  }
  double left = 1.0 - static_cast<double>(std::max<int64_t>(0, elapsed)) / kMinuteUs;
  return current_ + static_cast<int64_t>(previous_ * left);
}

// ---- DeploymentState --------------------------------------------------------

DeploymentState::DeploymentState() : ttft_(5e6, 0.05), tps_ewma_(5e6, 0.05) {}

void DeploymentState::lock() const {
  while (spin_.exchange(true, std::memory_order_acquire)) {
    while (spin_.load(std::memory_order_relaxed)) std::this_thread::yield();
  }
}

void DeploymentState::unlock() const {
  spin_.store(false, std::memory_order_release);
}

void DeploymentState::publish() {
  ttftP90_.store(ttft_.quantile(kZ90), std::memory_order_relaxed);
  ttftP95_.store(ttft_.quantile(kZ95), std::memory_order_relaxed);
  // Throughput: the pessimistic side of the spread (p10 of tokens/s).
  tps_.store(tps_ewma_.quantile(-kZ90), std::memory_order_relaxed);
  errorRate_.store(errorEwma_, std::memory_order_relaxed);
}

Breaker DeploymentState::breaker(int64_t nowUs) const {
  auto state = static_cast<Breaker>(breakerState_.load(std::memory_order_acquire));
  if (state == Breaker::Open && nowUs >= openUntilUs_.load(std::memory_order_relaxed)) return Breaker::HalfOpen;
  return state;
}

bool DeploymentState::available(int64_t nowUs, int64_t tokens, int64_t rpm, int64_t tpm, int64_t* readyAtUs) const {
  int64_t ready = nowUs;
  Breaker state = breaker(nowUs);
  if (state == Breaker::Open) ready = std::max(ready, openUntilUs_.load(std::memory_order_relaxed));
  if (state == Breaker::HalfOpen && probeOut_.load(std::memory_order_relaxed)) ready = std::max(ready, nowUs + 1);
  int64_t cool = coolUntilUs_.load(std::memory_order_relaxed);
  if (cool > nowUs) ready = std::max(ready, cool);
  if (rpm > 0 || tpm > 0) {
    // The window is approximate (it assumes the last minute's requests were
    // spread evenly) and providers count exactly: keep 5% headroom.
    rpm = rpm > 0 ? std::max<int64_t>(1, rpm - rpm / 20) : 0;
    tpm = tpm > 0 ? std::max<int64_t>(1, tpm - tpm / 20) : 0;
    // The published counts are as of the last attempt; recount only near the limit.
    bool near = (rpm > 0 && minuteRequests_.load(std::memory_order_relaxed) + 1 > rpm) ||
                (tpm > 0 && minuteTokens_.load(std::memory_order_relaxed) + tokens > tpm);
    if (near) {
      lock();
      int64_t usedRequests = requests_.used(nowUs);
      int64_t usedTokens = tokens_.used(nowUs);
      unlock();
      if ((rpm > 0 && usedRequests + 1 > rpm) || (tpm > 0 && usedTokens + tokens > tpm)) {
        ready = std::max(ready, nowUs + 1'000'000);  // the window slides: look again in a second
      }
    }
  }
  if (readyAtUs) *readyAtUs = ready;
  return ready <= nowUs;
}

bool DeploymentState::begin(int64_t tokens, int64_t nowUs, bool lastResort) {
  if (breaker(nowUs) == Breaker::HalfOpen) {
    bool expected = false;
    if (!probeOut_.compare_exchange_strong(expected, true) && !lastResort) return false;
  }
  inFlight_.fetch_add(1, std::memory_order_relaxed);
  lock();
  requests_.add(1, nowUs);
  tokens_.add(tokens, nowUs);
  minuteRequests_.store(requests_.used(nowUs), std::memory_order_relaxed);
  minuteTokens_.store(tokens_.used(nowUs), std::memory_order_relaxed);
  minuteAtUs_.store(nowUs, std::memory_order_relaxed);
  unlock();
  return true;
}

void DeploymentState::firstToken(double ttftMs, int64_t nowUs) {
  lock();
  ttft_.add(ttftMs, nowUs);
  errorEwma_ = (1 - kErrorAlpha) * errorEwma_;
  consecutiveFailures_ = 0;
  openPeriodUs_ = 0;
  publish();
  unlock();
  samples_.fetch_add(1, std::memory_order_relaxed);
  lastSampleUs_.store(nowUs, std::memory_order_relaxed);
  breakerState_.store(static_cast<int>(Breaker::Closed), std::memory_order_release);
  probeOut_.store(false, std::memory_order_relaxed);
}

void DeploymentState::finish(int64_t outputTokens, double generationMs, int64_t nowUs) {
  if (outputTokens > 1 && generationMs > 0.5) {
    // Tokens after the first, over the time after the first.
    double tps = static_cast<double>(outputTokens - 1) * 1000.0 / generationMs;
    lock();
    tps_ewma_.add(tps, nowUs);
    publish();
    unlock();
  }
  settle();
}

void DeploymentState::fail(Failure failure, std::optional<int> retryAfterSeconds, int64_t nowUs) {
  if (failure == Failure::RateLimited) {
    int64_t wait =
        retryAfterSeconds && *retryAfterSeconds > 0 ? int64_t{*retryAfterSeconds} * 1'000'000 : kDefaultRetryAfterUs;
    int64_t until = nowUs + wait;
    int64_t current = coolUntilUs_.load(std::memory_order_relaxed);
    while (current < until && !coolUntilUs_.compare_exchange_weak(current, until)) {
    }
  } else if (failure == Failure::Server || failure == Failure::Timeout) {
    Breaker before = breaker(nowUs);
    lock();
    errorEwma_ = (1 - kErrorAlpha) * errorEwma_ + kErrorAlpha;
    consecutiveFailures_++;
    bool open = before == Breaker::HalfOpen || consecutiveFailures_ >= breakerSettings_.failures;
    if (open) {
      openPeriodUs_ =
          openPeriodUs_ == 0 ? breakerSettings_.openUs : std::min(openPeriodUs_ * 2, breakerSettings_.maxOpenUs);
      openUntilUs_.store(nowUs + openPeriodUs_, std::memory_order_relaxed);
    }
    publish();
    unlock();
    if (open) breakerState_.store(static_cast<int>(Breaker::Open), std::memory_order_release);
  }
  settle();
}

void DeploymentState::cancel() {
  settle();
}

void DeploymentState::settle() {
  inFlight_.fetch_sub(1, std::memory_order_relaxed);
  probeOut_.store(false, std::memory_order_relaxed);
}

bool DeploymentState::claimProbe(int64_t nowUs, int64_t everyUs) {
  int64_t last = lastProbeUs_.load(std::memory_order_relaxed);
  if (nowUs - last < everyUs) return false;
  return lastProbeUs_.compare_exchange_strong(last, nowUs);
}

}  // namespace arbitra::router
