// What holding the config generation costs a request (gateway/reload.h):
// one std::atomic<std::shared_ptr<World>>::load() when the request starts and
// the reference dropped when it ends, per request, on 1 and 2 threads taking
// it at once, side by side in the same run with: the per-request id counter
// the gateway already has (one relaxed fetch_add on a shared word), a
// mutex-guarded shared_ptr copy (the other way the brief allows), and a plain
// shared_ptr copy (no reload safety at all: the floor for any refcount).
// Prints a markdown table of ns per request; not a test (no timed asserts).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace {

struct World {
  int generation = 1;
};

constexpr int kOps = 5'000'000;

std::atomic<std::shared_ptr<World>> atomicWorld{std::make_shared<World>()};
std::shared_ptr<World> guardedWorld = std::make_shared<World>();
std::mutex guard;
const std::shared_ptr<World> plainWorld = std::make_shared<World>();
std::atomic<uint64_t> counter{0};
std::atomic<int64_t> sink{0};

template <typename F>
double nsPerOp(int threads, F take) {
  std::vector<std::thread> pool;
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      ready++;
      while (!go.load()) {
      }
      int64_t sum = 0;
      for (int i = 0; i < kOps; ++i) sum += take();
      sink += sum;
    });
  }
  while (ready.load() < threads) {
  }
  start = std::chrono::steady_clock::now();
  go = true;
  for (auto& thread : pool) thread.join();
  double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
  return ns / kOps;  // wall time per request on each thread
}

}  // namespace

int main() {
  struct Row {
    const char* name;
    double (*run)(int);
  };
  Row rows[] = {
      {"request id counter (already per request)",
       [](int n) { return nsPerOp(n, [] { return int64_t(counter.fetch_add(1, std::memory_order_relaxed) & 1); }); }},
      {"plain shared_ptr copy (no reload safety)",
       [](int n) { return nsPerOp(n, [] { std::shared_ptr<World> w = plainWorld; return int64_t(w->generation); }); }},
      {"atomic<shared_ptr>::load (what a request does)",
       [](int n) {
         return nsPerOp(n, [] { auto w = atomicWorld.load(std::memory_order_acquire); return int64_t(w->generation); });
       }},
      {"mutex + shared_ptr copy",
       [](int n) {
         return nsPerOp(n, [] {
           std::shared_ptr<World> w;
           {
             std::lock_guard lock(guard);
             w = guardedWorld;
           }
           return int64_t(w->generation);
         });
       }},
  };
  std::printf("| per request: take the World, drop it | 1 thread, ns | 2 threads, ns each |\n|---|---:|---:|\n");
  for (const auto& row : rows) std::printf("| %s | %.1f | %.1f |\n", row.name, row.run(1), row.run(2));
  return sink.load() == -1;
}
