// Compact index vectors for the HNSW graph, and the dot-product kernels.
//
// Why: at 1M entries in one namespace the graph search is bound by memory
// traffic, and a 512-d float vector is 32 cache lines per visited node. The
// graph is therefore built on a compact code (a random projection to fewer
// dimensions, optionally int8-quantised: 128 dims int8 = 2 cache lines), and
// the best candidates it returns are re-ranked on the full vectors, so the
// similarity the cache decides on is always the exact cosine.
//
// Design:
//  - Projection: a fixed matrix of +-1/sqrt(out) entries drawn from
//    splitmix64 with a constant seed, so the same input gives the same code in
//    every process and on every machine (no std:: distribution involved);
//    the projected vector is renormalised to unit length. One matrix per
//    (in, out) shape, built once and shared (sharedProjection).
//  - Code layout (CompactCodec::bytes()): int8: f32 scale, then `dims` int8
//    (x ~= scale * q, |q| <= 127); float: `dims` f32.
//  - Kernels: AVX2+FMA versions compiled with target attributes and chosen at
//    run time (the rest of the build stays portable), scalar otherwise.
//  - FineCode: the full vector int8-quantised (dims bytes, a quarter of the
//    floats) with what it needs to bound its error, so re-ranking can skip
//    the full vectors that cannot win (see FineCode).
//
// Thread safety: everything here is immutable after construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace arbitra::cache {

// Dot products, dispatched once to AVX2/FMA when the CPU has it.
float dotF32(const float* a, const float* b, size_t n);
int32_t dotI8(const int8_t* a, const int8_t* b, size_t n);
// int8 times float (a fine code against a float query).
float dotI8F32(const int8_t* a, const float* b, size_t n);
// True when the AVX2/FMA kernels are in use (for the bench's header).
bool simdKernels();

class Projection {
 public:
  Projection(size_t in, size_t out);
  size_t in() const { return in_; }
  size_t out() const { return out_; }
  // out() floats, unit length (zero stays zero).
  void apply(const float* x, float* y) const;

 private:
  size_t in_, out_;
  std::vector<float> rows_;  // out x in, row-major
};

// The shared, lazily built projection for this shape (thread-safe).
const Projection& sharedProjection(size_t in, size_t out);

// How a full vector becomes the code the graph is built on.
class CompactCodec {
 public:
  // indexDims 0 or >= dims: no projection (the code is the full vector,
  // quantised when int8).
  CompactCodec(size_t dims, size_t indexDims, bool int8);
  size_t dims() const { return dims_; }          // full vector
  size_t codeDims() const { return codeDims_; }  // after projection
  bool int8() const { return int8_; }
  size_t bytes() const { return int8_ ? sizeof(float) + codeDims_ : codeDims_ * sizeof(float); }
  // Writes bytes() bytes for the full vector v (dims() floats).
  void encode(const float* v, uint8_t* code) const;
  // Cosine estimate between two codes.
  float similarity(const uint8_t* a, const uint8_t* b) const;

 private:
  size_t dims_, codeDims_;
  bool int8_;
  const Projection* projection_ = nullptr;
};

// The full vector x, int8-quantised, with a guaranteed bound on how far the
// dot product it gives can be from the exact one:
//
//   for any query y:  dotF32(x, y) <= estimate(code, y) + bound(code, |y|)
//
// where dotF32 is the float kernel the index reports exact cosines with (so
// the inequality holds for the float result, rounding included). Why it
// holds: x = s*q + e with |e_i| <= s/2, so x.y = s*(q.y) + e.y and
// |e.y| <= |e|*|y| (Cauchy-Schwarz; |e| is computed exactly at encoding, in
// double, and rounded up). Both float dot products differ from their real
// values by at most gamma*|a|*|b| with gamma = (n+2)*eps (any summation
// order, FMA or not), charged on `mag` = max(|x|, |s*q|). Re-ranking scores
// candidates exactly in order of estimate + bound and stops when the next
// one's bound is below the k-th exact score: the result equals exact scoring
// of every candidate.
//
// Layout (bytes(dims)): f32 scale, f32 err (|e|, rounded up), f32 mag, 4
// bytes padding, then `dims` int8 (|q| <= 127). 16-byte header so the int8
// part is 16-byte aligned when the record is.
class FineCode {
 public:
  static constexpr size_t kHeader = 16;
  static size_t bytes(size_t dims) { return kHeader + ((dims + 15) & ~size_t(15)); }
  static void encode(const float* x, size_t dims, uint8_t* code);
  // s * (q . y), in float.
  static float estimate(const uint8_t* code, const float* y, size_t dims);
  // The most dotF32(x, y) can exceed estimate() by, for a query of norm |y|
  // (pass an upper bound of |y|).
  static float bound(const uint8_t* code, float yNorm, size_t dims);
};

}  // namespace arbitra::cache
