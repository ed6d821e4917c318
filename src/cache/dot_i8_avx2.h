// The int8 dot product's AVX2 kernel, in a header so that it inlines where
// it is hot: compact.cpp hands it out through dotI8 (chosen at run time),
// vector_index.cpp's graph search calls it directly inside its own
// avx2-targeted loop. x86 only: include it behind an __x86_64__ check.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace arbitra::cache {

// |a| * (b * sign(a)) with maddubs: codes are within [-127, 127], so a pair
// sum is at most 2 * 127 * 127 and never saturates.
[[gnu::target("avx2")]] inline int32_t dotI8Avx2(const int8_t* a, const int8_t* b, size_t n) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256i va = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i));
    __m256i vb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i));
    __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(va, va), _mm256_sign_epi8(vb, va));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, ones));
  }
  __m128i h = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
  h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
  h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
  int32_t s = _mm_cvtsi128_si32(h);
  for (; i < n; ++i) s += int32_t(a[i]) * int32_t(b[i]);
  return s;
}

}  // namespace arbitra::cache
