// Learned thresholds (see threshold.h).
#include "cache/threshold.h"

#include <algorithm>
#include <cmath>

namespace arbitra::cache {
namespace {
constexpr float kMargin = 0.005f;

int binOf(double s) {
  int b = static_cast<int>(std::floor(std::clamp(s, 0.0, 1.0) * Calibrator::kBins));
  return std::min(b, Calibrator::kBins - 1);
}
}  // namespace

void Evidence::observe(float similarity, bool same) {
  if (same) {
    ++correct;
    if (similarity < lowCorrect[0]) {
      lowCorrect[1] = lowCorrect[0];
      lowCorrect[0] = similarity;
    } else if (similarity < lowCorrect[1]) {
      lowCorrect[1] = similarity;
    }
  } else {
    ++wrong;
    highestWrong = std::max(highestWrong, similarity);
  }
}

void Calibrator::record(double similarity, bool same) {
  auto& bins = same ? same_ : wrong_;
  bins[binOf(similarity)].fetch_add(1, std::memory_order_relaxed);
}

uint64_t Calibrator::observations() const {
  uint64_t n = 0;
  for (int b = 0; b < kBins; ++b) n += same_[b].load(std::memory_order_relaxed) + wrong_[b].load(std::memory_order_relaxed);
  return n;
}

double Calibrator::threshold(const ThresholdPolicy& policy) const {
  if (!policy.learn) return policy.staticThreshold;
  // Walk down from the static threshold in windows of kWindowBins bins
  // (overlapping by half). Each window must hold >= kMinSamples observations
  // with estimated error (wrong + 0.5) / (n + 1) <= delta for the threshold to
  // go below it; the first window that lacks evidence or fails ends the walk:
  // no extrapolation into unobserved similarity.
  const double floor = policy.staticThreshold - kMaxDrop;
  double t = policy.staticThreshold;
  int top = static_cast<int>(std::lround(policy.staticThreshold * kBins));
  for (; top - kWindowBins >= 0; top -= kWindowBins / 2) {
    uint64_t n = 0, wrong = 0;
    for (int b = top - kWindowBins; b < top; ++b) {
      uint64_t w = wrong_[b].load(std::memory_order_relaxed);
      n += same_[b].load(std::memory_order_relaxed) + w;
      wrong += w;
    }
    double edge = double(top - kWindowBins) / kBins;
    if (edge < floor - 1e-9) break;
    if (n < kMinSamples || (double(wrong) + 0.5) / (double(n) + 1.0) > policy.delta) break;
    t = edge;
  }
  // Above the static threshold the group threshold is never raised: one
  // entry's wrong neighbour must not cost every entry its hits (the global
  // threshold failure mode); that entry's own evidence raises it (Evidence).
  return t;
}

double entryThreshold(const ThresholdPolicy& policy, double groupThreshold, const Evidence& e) {
  if (!policy.learn) return policy.staticThreshold;
  double t = groupThreshold;
  if (e.correct >= 2 && e.lowCorrect[1] <= 1.0f) {
    t = std::min(t, std::max(double(e.lowCorrect[1]), groupThreshold - policy.grayWidth));
  }
  if (e.highestWrong >= 0) t = std::max(t, double(e.highestWrong) + kMargin);
  return t;
}

Decision decide(const ThresholdPolicy& policy, double groupThreshold, const Evidence& evidence,
                double similarity, double draw) {
  Decision d;
  d.threshold = entryThreshold(policy, groupThreshold, evidence);
  if (similarity >= d.threshold) {
    d.kind = draw < policy.verifyFraction ? Decision::Kind::Verify : Decision::Kind::Hit;
  } else if (policy.learn && similarity >= d.threshold - policy.grayWidth) {
    d.kind = Decision::Kind::Probe;
  }
  return d;
}

}  // namespace arbitra::cache
