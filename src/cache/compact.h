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

}  // namespace arbitra::cache
