// When is a semantic neighbour close enough to serve? Per-entry thresholds
// learned online under an error bound, in the spirit of vCache (Schroeder et
// al., "vCache: Verified Semantic Prompt Caching", ICLR 2026), with a static
// threshold as the fallback.
//
// Evidence comes from comparing a cached answer with a fresh upstream answer
// to a nearby query (same namespace). Two sources:
//   verification  a would-be hit (similarity >= the entry's threshold) is,
//                 with probability verify_fraction, sent upstream instead;
//                 the caller gets the fresh answer, the cache compares.
//   probe         a miss whose nearest entry is within `grayWidth` under the
//                 threshold goes upstream anyway; its answer is compared with
//                 that entry's for free.
// Each comparison is an observation (similarity, same answer or not), kept
// per entry (Evidence) and per model group (Calibrator, similarity bins).
//
// Threshold of an entry (learn on):
//   base  = the group's learned threshold: walking down from the static
//           threshold in windows 0.04 wide, the lowest window edge such that
//           it and every window above it (down from static) hold
//           >= kMinSamples observations with estimated error
//           (wrong + 0.5) / (n + 1) <= delta; never lower than
//           static - kMaxDrop. It is never raised above the static
//           threshold: one entry's wrong neighbour must not cost every entry
//           its hits (the global-threshold failure mode); the entry's own
//           evidence raises that entry.
//   entry = base, lowered to the entry's second-lowest matching observation
//           (two fresh answers agreed with it there) but no lower than
//           base - grayWidth; raised above any similarity where the entry's
//           answer was wrong (highestWrong + kMargin). A wrong observation
//           always wins: an entry never serves at or below a similarity
//           where it was seen wrong.
// With learn off the threshold is the static one and nothing is learned.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace arbitra::cache {

struct ThresholdPolicy {
  double staticThreshold = 0.80;
  double delta = 0.01;
  double verifyFraction = 0.05;
  double grayWidth = 0.08;
  bool learn = true;
};

// What one entry has been seen to do.
struct Evidence {
  float highestWrong = -1;           // highest similarity at which its answer was wrong
  float lowCorrect[2] = {2.0f, 2.0f};  // the two lowest similarities at which it was right
  uint32_t correct = 0;
  uint32_t wrong = 0;
  void observe(float similarity, bool same);
};

// Similarity bins of one model group's observations. Thread-safe (atomics).
class Calibrator {
 public:
  static constexpr int kBins = 400;  // 0.0025 wide, over [0, 1]
  static constexpr uint32_t kMinSamples = 50;
  static constexpr int kWindowBins = 16;  // 0.04 of similarity
  static constexpr double kMaxDrop = 0.12;

  void record(double similarity, bool same);
  // The learned group threshold (see file comment).
  double threshold(const ThresholdPolicy& policy) const;
  uint64_t observations() const;

 private:
  std::array<std::atomic<uint32_t>, kBins> same_{};
  std::array<std::atomic<uint32_t>, kBins> wrong_{};
};

struct Decision {
  enum class Kind { Miss, Hit, Verify, Probe };
  Kind kind = Kind::Miss;
  double threshold = 0;
};

double entryThreshold(const ThresholdPolicy& policy, double groupThreshold, const Evidence& evidence);
// `draw` is uniform in [0, 1): below verifyFraction a would-be hit is verified.
Decision decide(const ThresholdPolicy& policy, double groupThreshold, const Evidence& evidence,
                double similarity, double draw);

}  // namespace arbitra::cache
