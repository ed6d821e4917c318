// Compact codes and kernels (see compact.h).
#include "cache/compact.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "cache/dot_i8_avx2.h"
#define ARBITRA_X86 1
#endif

namespace arbitra::cache {
namespace {

float dotF32Scalar(const float* a, const float* b, size_t n) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < n; ++i) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

int32_t dotI8Scalar(const int8_t* a, const int8_t* b, size_t n) {
  int32_t s = 0;
  for (size_t i = 0; i < n; ++i) s += int32_t(a[i]) * int32_t(b[i]);
  return s;
}

float dotI8F32Scalar(const int8_t* a, const float* b, size_t n) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += float(a[i]) * b[i];
    s1 += float(a[i + 1]) * b[i + 1];
    s2 += float(a[i + 2]) * b[i + 2];
    s3 += float(a[i + 3]) * b[i + 3];
  }
  for (; i < n; ++i) s0 += float(a[i]) * b[i];
  return (s0 + s1) + (s2 + s3);
}

#ifdef ARBITRA_X86
__attribute__((target("avx2,fma"))) float dotI8F32Avx2(const int8_t* a, const float* b, size_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i));
    const __m256 lo = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q));
    const __m256 hi = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(q, 8)));
    s0 = _mm256_fmadd_ps(lo, _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(hi, _mm256_loadu_ps(b + i + 8), s1);
  }
  s0 = _mm256_add_ps(s0, s1);
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
  h = _mm_hadd_ps(h, h);
  h = _mm_hadd_ps(h, h);
  float s = _mm_cvtss_f32(h);
  for (; i < n; ++i) s += float(a[i]) * b[i];
  return s;
}

__attribute__((target("avx2,fma"))) float dotF32Avx2(const float* a, const float* b, size_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  s0 = _mm256_add_ps(s0, s1);
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
  h = _mm_hadd_ps(h, h);
  h = _mm_hadd_ps(h, h);
  float s = _mm_cvtss_f32(h);
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

bool haveAvx2() {
  static const bool have = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return have;
}
#endif

using DotF32 = float (*)(const float*, const float*, size_t);
using DotI8 = int32_t (*)(const int8_t*, const int8_t*, size_t);
using DotI8F32 = float (*)(const int8_t*, const float*, size_t);

#ifdef ARBITRA_X86
const DotF32 kDotF32 = haveAvx2() ? dotF32Avx2 : dotF32Scalar;
const DotI8 kDotI8 = haveAvx2() ? dotI8Avx2 : dotI8Scalar;
const DotI8F32 kDotI8F32 = haveAvx2() ? dotI8F32Avx2 : dotI8F32Scalar;
#else
const DotF32 kDotF32 = dotF32Scalar;
const DotI8 kDotI8 = dotI8Scalar;
const DotI8F32 kDotI8F32 = dotI8F32Scalar;
#endif

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

float dotF32(const float* a, const float* b, size_t n) { return kDotF32(a, b, n); }
int32_t dotI8(const int8_t* a, const int8_t* b, size_t n) { return kDotI8(a, b, n); }
float dotI8F32(const int8_t* a, const float* b, size_t n) { return kDotI8F32(a, b, n); }
bool simdKernels() {
#ifdef ARBITRA_X86
  return haveAvx2();
#else
  return false;
#endif
}

Projection::Projection(size_t in, size_t out) : in_(in), out_(out), rows_(in * out) {
  const float v = 1.0f / std::sqrt(static_cast<float>(out));
  constexpr uint64_t kSeed = 0x41524249545241ULL;  // "ARBITRA": fixed forever (codes are recomputed on load anyway)
  for (size_t i = 0; i < rows_.size(); i += 64) {
    uint64_t bits = splitmix64(kSeed ^ (i / 64));
    for (size_t k = 0; k < 64 && i + k < rows_.size(); ++k) rows_[i + k] = (bits >> k) & 1 ? v : -v;
  }
}

void Projection::apply(const float* x, float* y) const {
  float norm = 0;
  for (size_t r = 0; r < out_; ++r) {
    y[r] = dotF32(&rows_[r * in_], x, in_);
    norm += y[r] * y[r];
  }
  if (norm > 0) {
    const float inv = 1.0f / std::sqrt(norm);
    for (size_t r = 0; r < out_; ++r) y[r] *= inv;
  }
}

const Projection& sharedProjection(size_t in, size_t out) {
  static std::mutex mutex;
  static std::map<std::pair<size_t, size_t>, std::unique_ptr<Projection>> shapes;
  std::lock_guard lock(mutex);
  auto& p = shapes[{in, out}];
  if (!p) p = std::make_unique<Projection>(in, out);
  return *p;
}

CompactCodec::CompactCodec(size_t dims, size_t indexDims, bool int8)
    : dims_(dims), codeDims_(indexDims == 0 || indexDims >= dims ? dims : indexDims), int8_(int8) {
  if (codeDims_ < dims_) projection_ = &sharedProjection(dims_, codeDims_);
}

void CompactCodec::encode(const float* v, uint8_t* code) const {
  float onStack[256];  // no allocation for the usual code sizes (a lookup encodes its query)
  std::vector<float> onHeap;
  const float* x = v;
  if (projection_) {
    float* y = codeDims_ <= 256 ? onStack : (onHeap.resize(codeDims_), onHeap.data());
    projection_->apply(v, y);
    x = y;
  }
  if (!int8_) {
    std::memcpy(code, x, codeDims_ * sizeof(float));
    return;
  }
  float maxAbs = 0;
  for (size_t i = 0; i < codeDims_; ++i) maxAbs = std::max(maxAbs, std::fabs(x[i]));
  const float scale = maxAbs / 127.0f;
  std::memcpy(code, &scale, sizeof scale);
  auto* q = reinterpret_cast<int8_t*>(code + sizeof scale);
  for (size_t i = 0; i < codeDims_; ++i) {
    q[i] = scale > 0 ? static_cast<int8_t>(std::clamp(std::lround(x[i] / scale), -127L, 127L)) : 0;
  }
}

float CompactCodec::similarity(const uint8_t* a, const uint8_t* b) const {
  if (!int8_) {
    return dotF32(reinterpret_cast<const float*>(a), reinterpret_cast<const float*>(b), codeDims_);
  }
  float sa, sb;
  std::memcpy(&sa, a, sizeof sa);
  std::memcpy(&sb, b, sizeof sb);
  return sa * sb *
         static_cast<float>(dotI8(reinterpret_cast<const int8_t*>(a + sizeof sa),
                                  reinterpret_cast<const int8_t*>(b + sizeof sb), codeDims_));
}

namespace {
// Rounds a non-negative double up to the next float (a bound stays a bound).
float upward(double x) {
  float f = static_cast<float>(x);
  return double(f) >= x ? f : std::nextafter(f, std::numeric_limits<float>::infinity());
}
}  // namespace

void FineCode::encode(const float* x, size_t dims, uint8_t* code) {
  float maxAbs = 0;
  for (size_t i = 0; i < dims; ++i) maxAbs = std::max(maxAbs, std::fabs(x[i]));
  const float scale = maxAbs / 127.0f;
  auto* q = reinterpret_cast<int8_t*>(code + kHeader);
  double err = 0, norm = 0, normQ = 0;
  for (size_t i = 0; i < dims; ++i) {
    q[i] = scale > 0 ? static_cast<int8_t>(std::clamp(std::lround(x[i] / scale), -127L, 127L)) : 0;
    const double sq = double(scale) * q[i];  // exact: a float times a small integer fits a double
    err += (double(x[i]) - sq) * (double(x[i]) - sq);
    norm += double(x[i]) * x[i];
    normQ += sq * sq;
  }
  std::memset(q + dims, 0, bytes(dims) - kHeader - dims);
  // sqrt in double is correctly rounded; the relative slack covers the
  // sums' own rounding (a few ulps of a double).
  const float e = upward(std::sqrt(err) * (1 + 1e-12));
  const float mag = upward(std::sqrt(std::max(norm, normQ)) * (1 + 1e-12));
  std::memcpy(code, &scale, 4);
  std::memcpy(code + 4, &e, 4);
  std::memcpy(code + 8, &mag, 4);
  std::memset(code + 12, 0, 4);
}

float FineCode::estimate(const uint8_t* code, const float* y, size_t dims) {
  float scale;
  std::memcpy(&scale, code, 4);
  return scale * dotI8F32(reinterpret_cast<const int8_t*>(code + kHeader), y, dims);
}

float FineCode::bound(const uint8_t* code, float yNorm, size_t dims) {
  float e, mag;
  std::memcpy(&e, code + 4, 4);
  std::memcpy(&mag, code + 8, 4);
  // Both kernels' rounding (gamma * mag * |y| each, gamma = (n+2) eps, the
  // scale's multiplication included), doubled, plus |e| * |y|; computed in
  // double and rounded up.
  const double gamma = double(dims + 2) * std::numeric_limits<float>::epsilon();
  return upward((double(e) + 2.0 * gamma * double(mag)) * double(yNorm) * (1 + 1e-6) + 1e-30);
}

}  // namespace arbitra::cache
