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
  double floor = policy.staticThreshold - kMaxDrop;
  double best = -1;
  double highestWrong = -1;
  uint64_t n = 0, wrong = 0;
  for (int b = kBins - 1; b >= 0; --b) {
    uint64_t w = wrong_[b].load(std::memory_order_relaxed);
    if (w > 0 && highestWrong < 0) highestWrong = double(b + 1) / kBins;
    n += same_[b].load(std::memory_order_relaxed) + w;
    wrong += w;
    double edge = double(b) / kBins;
    if (edge < floor) break;
    if (n >= kMinSamples && (double(wrong) + 0.5) / (double(n) + 1.0) <= policy.delta) best = edge;
  }
  if (best < 0) {
    // No similarity meets the bound with enough evidence: the static
    // threshold, raised above every wrong answer once evidence is plentiful.
    if (n >= kMinSamples && highestWrong >= 0) return std::max(policy.staticThreshold, highestWrong);
    return policy.staticThreshold;
  }
  return best;
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
