// arbitra-cpu-peak: measures this machine's two figures the planner's CPU row
// needs (data/planner/hardware.yaml, cpu-2vcpu-avx2), so they are measured,
// not guessed: memory bandwidth (a STREAM-style triad a[i] = b[i] + s*c[i],
// counted as STREAM does: 3 × 8 bytes per element, no write-allocate) and peak
// FP32 FMA throughput with AVX2 (independent 8-wide FMA chains per thread).
// Both run on N threads (default: every core) and report the best of R
// repetitions, as STREAM does. A benchmark, not a test: it prints two lines of
// JSON-ish text and asserts nothing.
//
//   arbitra-cpu-peak [--threads N] [--mib M per array] [--reps R]
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

template <typename F>
double timeThreads(int threads, F body) {
  std::vector<std::thread> pool;
  auto start = Clock::now();
  for (int t = 0; t < threads; ++t) pool.emplace_back(body, t);
  for (auto& th : pool) th.join();
  return seconds(start, Clock::now());
}

// FMA chains: 10 independent accumulators hide the FMA latency (4 cycles ×
// 2 ports); the result is kept so the loop is not optimised away.
__attribute__((target("avx2,fma"))) float fmaKernel(long iterations) {
  __m256 acc[10];
  for (int i = 0; i < 10; ++i) acc[i] = _mm256_set1_ps(0.001f * static_cast<float>(i));
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (long n = 0; n < iterations; ++n) {
    for (int i = 0; i < 10; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  }
  __m256 sum = acc[0];
  for (int i = 1; i < 10; ++i) sum = _mm256_add_ps(sum, acc[i]);
  float out[8];
  _mm256_storeu_ps(out, sum);
  return out[0] + out[7];
}

}  // namespace

int main(int argc, char** argv) {
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  long mib = 256;
  int reps = 7;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    long v = std::strtol(argv[i + 1], nullptr, 10);
    if (flag == "--threads") threads = static_cast<int>(v);
    else if (flag == "--mib") mib = v;
    else if (flag == "--reps") reps = static_cast<int>(v);
    else {
      std::fprintf(stderr, "usage: arbitra-cpu-peak [--threads N] [--mib M] [--reps R]\n");
      return 2;
    }
  }
  if (threads < 1 || mib < 16 || reps < 1) {
    std::fprintf(stderr, "arbitra-cpu-peak: threads >= 1, mib >= 16, reps >= 1\n");
    return 2;
  }
  // Triad: each thread owns a contiguous slice (first-touched by that thread).
  const size_t n = static_cast<size_t>(mib) * 1024 * 1024 / sizeof(double);
  std::vector<double> a(n), b(n), c(n);
  const size_t slice = n / static_cast<size_t>(threads);
  timeThreads(threads, [&](int t) {
    size_t lo = t * slice, hi = t + 1 == threads ? n : lo + slice;
    for (size_t i = lo; i < hi; ++i) {
      a[i] = 0;
      b[i] = 1.0 + static_cast<double>(i % 7);
      c[i] = 2.0;
    }
  });
  double bestTriad = 1e30;
  for (int r = 0; r < reps; ++r) {
    const double s = 3.0 + r;
    double sec = timeThreads(threads, [&](int t) {
      size_t lo = t * slice, hi = t + 1 == threads ? n : lo + slice;
      double* __restrict pa = a.data();
      const double* __restrict pb = b.data();
      const double* __restrict pc = c.data();
      for (size_t i = lo; i < hi; ++i) pa[i] = pb[i] + s * pc[i];
    });
    bestTriad = std::min(bestTriad, sec);
  }
  double check = a[n / 3] + a[n - 1];
  double gbs = 3.0 * sizeof(double) * static_cast<double>(n) / bestTriad / 1e9;

  const long iterations = 200'000'000 / 10;
  double bestFma = 1e30;
  std::vector<float> sink(static_cast<size_t>(threads));
  for (int r = 0; r < std::min(reps, 5); ++r) {
    double sec = timeThreads(threads, [&](int t) { sink[static_cast<size_t>(t)] = fmaKernel(iterations); });
    bestFma = std::min(bestFma, sec);
  }
  // 10 chains × 8 lanes × 2 flops per FMA, per iteration, per thread.
  double gflops = static_cast<double>(iterations) * 10 * 8 * 2 * threads / bestFma / 1e9;
  std::printf("{\"threads\": %d, \"triad_mib_per_array\": %ld, \"triad_gb_per_s\": %.2f, \"fma_fp32_gflops\": %.1f, "
              "\"reps\": %d, \"check\": %.1f}\n",
              threads, mib, gbs, gflops, reps, check + sink[0] * 0);
  return 0;
}
