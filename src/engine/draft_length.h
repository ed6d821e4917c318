// How many tokens a slot's speculation proposes next, adapted to how often the
// target agreed (after llama.cpp's server: a draft that keeps missing must
// stop costing time; one that keeps hitting may propose more).
//
// Design: per request, a current length `len` in 1..max and a cool-down.
//  - every proposed token accepted: len doubles (up to max), back-off resets;
//  - some rejected: len = accepted + 1 (the run the draft got right, plus one);
//  - the per-token acceptance rate is estimated as hits / (hits + misses),
//    where a round adds its accepted tokens as hits and one miss if it stopped
//    short (tokens after the first miss say nothing about the draft), both
//    sums halved each round so recent rounds count most; a request starts
//    with 2 prior hits (one early miss does not stop a good draft);
//  - that estimate below `kLowRate`: speculation pauses for `backoff` plain
//    steps, then probes again with the current (short) length; each pause
//    doubles the next one, up to kMaxBackoff, and the estimate restarts after
//    a pause (the probe is judged alone).
// So a draft that never agrees costs one short probe every `maxBackoff` steps
// (about 1-2% of plain decoding); one that always agrees drafts `max` tokens.
// Pure and deterministic: no clock, no randomness (unit-tested on its own).
//
//   DraftLength d(8);
//   int k = d.next();       // 0: decode plainly this step, and call skipped()
//   d.record(k, accepted);  // after the target verified k proposed tokens
#pragma once

#include <algorithm>

namespace arbitra::engine {

class DraftLength {
 public:
  static constexpr double kLowRate = 0.35;  // below: pause speculation
  static constexpr int kFirstBackoff = 4;   // plain steps of the first pause
  static constexpr int kMaxBackoff = 64;

  explicit DraftLength(int max = 8) : max_(std::max(1, max)), len_(max_) {}

  // Tokens to propose this step; 0 while paused.
  int next() const { return cooldown_ > 0 ? 0 : len_; }
  // A step decoded plainly because next() was 0.
  void skipped() {
    if (cooldown_ > 0) --cooldown_;
  }
  // The target verified `drafted` proposed tokens and accepted the first `accepted`.
  void record(int drafted, int accepted) {
    if (drafted <= 0) return;
    accepted = std::clamp(accepted, 0, drafted);
    hits_ = 0.5 * hits_ + accepted;
    misses_ = 0.5 * misses_ + (accepted < drafted ? 1 : 0);
    if (accepted == drafted) {
      len_ = std::min(max_, len_ * 2);
      backoff_ = kFirstBackoff;
      return;
    }
    len_ = std::clamp(accepted + 1, 1, max_);
    if (rate() < kLowRate) {
      cooldown_ = backoff_;
      backoff_ = std::min(kMaxBackoff, backoff_ * 2);
      hits_ = 1;  // after a pause one missed probe pauses again
      misses_ = 0;
    }
  }

  int length() const { return len_; }
  // Estimated chance that the target accepts a proposed token .
  double rate() const { return hits_ / (hits_ + misses_); }
  bool paused() const { return cooldown_ > 0; }

 private:
  int max_;
  int len_;
  int cooldown_ = 0;
  int backoff_ = kFirstBackoff;
  double hits_ = 2;    // decayed accepted tokens (2: the prior)
  double misses_ = 0;  // decayed rounds that stopped short
};

}  // namespace arbitra::engine
