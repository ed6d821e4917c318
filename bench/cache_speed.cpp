// bench/cache_speed: how fast the cache answers, excluding embedding, and what
// it costs. Not a test: prints tables (bench/cache.sh runs it).
//
//  - lookup latency (exact: hash probe; semantic: one nearest-neighbour search
//    through Store::nearest, lock included) at N entries in ONE namespace
//    (the worst case: every entry shares one context), one thread;
//  - the built-in embedders' cost per request (short and long prompts);
//  - memory per entry as the store accounts it, and the process's RSS growth.
//
//   build/arbitra-cache-speed [--sizes 10000,100000,1000000] [--queries 20000] [--word-vectors FILE]
//                             [--m 16] [--ef-search 24[,32,...]] [--namespaces 1]
//                             [--index-dims 64] [--int8 1] [--rerank 8[,16,...]] [--exact 200] [--passes 10]
//                             [--build-threads 1] [--pin CPU] [--lock FILE] [--switches 0]
//                             [--paths own/fine[,own/full,hnswlib/full,...]] [--fine-code 1]
//                             [--ef-construction 128[,64,...]] [--diagnose 0]
//   build/arbitra-cache-speed --bulk 100000   (index build of a snapshot reload, 1 thread vs every core)
//   build/arbitra-cache-speed --memory 256 [--memory-puts 200000] [--memory-namespaces K]
//                             (RSS against the bound: one namespace, then puts/1000 namespaces)
//
// --build-threads N > 1 builds through Store::putMany in batches of 100,000
// (a snapshot reload's path; minutes instead of ~5 at 1M). --lock FILE: the
// build runs under a shared flock of FILE and the measurement under an
// exclusive one (this project's CPU lock protocol); --pin CPU pins only the
// measurement. --switches 1 also reports how many lookups had the thread
// switched out (diagnosis).
//
// Semantic latency: the query set is run --passes times (interleaved, so a
// pass does not find the previous one's nodes in cache). "p50/p99" are the
// median over passes of each pass's own percentile: a pass's p99 is the
// plain p99 of that many lookups, the figure the target is about. Also
// reported: the first pass's and the worst pass's p99, and "best-of-N", the
// p99 over each query's fastest pass, which removes most of what other
// processes and the hypervisor do to the pinned core. "fixed work": the
// same arithmetic (L1-resident) timed after every lookup, sized to the
// lookup's mean: what the machine adds to any work that long (noise floor).
// Exact lookups: per pass, the same way.
//
// --ef-search, --rerank and --paths take lists: the index is built once per
// size and searched with each combination (Store::setSearch, setSearchPath).
// --ef-construction takes a list too: one index per value and size.
// --diagnose 1 also prints where the exact best of the --exact queries ranks
// in the graph's code space (brute force over every entry's code): the part
// of the recall lost to the projection, which no graph search can recover.
// A path is graph/re-rank: graph `own` (our search over hnswlib's layout) or
// `hnswlib` (its searchKnn); re-rank `fine` (int8 screen, exact scores only
// for candidates that can win) or `full` (every candidate's full vector).
// The default is the index's default, own/fine. --fine-code 0 builds the
// index without FineCodes (the memory before them; `fine` then reads the
// full vectors as `full` does).
//
// recall@1 is measured two ways: "own" = the search found the entry the
// query was made from (similarity > 0.99); "vs exact" = its best similarity
// equals a brute-force scan's over the same namespace, for the first
// --exact queries (the scan re-embeds every entry's text: seconds at 1M).
#include <fcntl.h>
#include <malloc.h>
#include <sys/file.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cache/cache.h"
#include "cache/compact.h"

using namespace arbitra;
using namespace arbitra::cache;
using Clock = std::chrono::steady_clock;

namespace {

const char* kSubjects[] = {"password", "invoice", "order", "subscription", "account", "refund", "delivery", "router",
                           "laptop", "printer", "flight", "hotel room", "table", "ticket", "payment", "warranty"};
const char* kVerbs[] = {"reset", "cancel", "track", "change", "renew", "return", "upgrade", "book", "pay for",
                        "repair", "update", "find", "delete", "transfer", "confirm", "check"};
const char* kTails[] = {"today", "this week", "from my phone", "online", "before Friday", "without an account",
                        "in Canada", "for my team", "after the deadline", "with a gift card"};

std::string text(std::mt19937_64& rng) {
  std::string t = "How do I ";
  t += kVerbs[rng() % 16];
  t += " my ";
  t += kSubjects[rng() % 16];
  t += " number " + std::to_string(rng() % 100000) + " ";
  t += kTails[rng() % 10];
  t += "?";
  return t;
}

// Transparent huge pages the process holds (kB), from smaps_rollup.
long hugeKb() {
  std::ifstream in("/proc/self/smaps_rollup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("AnonHugePages:", 0) == 0) return std::stol(line.substr(14));
  }
  return -1;
}

long rssKb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

std::vector<size_t> numbers(const std::string& list) {
  std::vector<size_t> out;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(std::stoul(item));
  return out;
}

double pct(std::vector<double>& v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(p * v.size()))];
}

// A fixed amount of arithmetic on L1-resident data: the same work every call,
// so its tail is what the machine (interrupts, the hypervisor, other
// processes) adds to anything that runs that long on the pinned core.
float fixedWork(size_t rounds) {
  alignas(64) static float a[512], b[512];
  static bool init = [] {
    for (int i = 0; i < 512; ++i) a[i] = b[i] = 1.0f / float(i + 1);
    return true;
  }();
  float s = init ? 0.0f : 1.0f;
  for (size_t r = 0; r < rounds; ++r) s += dotF32(a, b, 512) * 1e-9f;
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<size_t> sizes = {10000, 100000, 1000000};
  size_t queries = 20000;
  std::string wordVectors;
  IndexParams params;
  size_t namespaces = 1;
  size_t exactQueries = 200;
  size_t passes = 10;
  size_t bulk = 0;
  size_t memoryMb = 0;      // --memory MB: RSS against the bound, one namespace and many
  size_t memoryPuts = 200000;
  size_t memoryNamespaces = 0;  // --memory-namespaces K: only that shape (0: one, then puts/1000)
  bool switches = false;
  size_t threads = 1;       // --build-threads: >1 builds through Store::putMany in batches (a reload's path)
  std::string lockPath;     // --lock FILE: build under a shared flock, measure under an exclusive one
  int pin = -1;             // --pin CPU: measure pinned to this CPU (building uses every core)
  std::vector<size_t> efList = {params.efSearch}, rerankList = {params.rerank};
  std::vector<std::string> paths = {"own/fine"};
  std::vector<size_t> efcList = {params.efConstruction};
  bool diagnose = false;  // --diagnose 1: where recall is lost (the graph or the projection)
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--m")) params.m = std::stoul(argv[i + 1]);
    if (!std::strcmp(argv[i], "--namespaces")) namespaces = std::stoul(argv[i + 1]);
    if (!std::strcmp(argv[i], "--ef-construction")) efcList = numbers(argv[i + 1]);
    if (!std::strcmp(argv[i], "--diagnose")) diagnose = std::stoul(argv[i + 1]) != 0;
    if (!std::strcmp(argv[i], "--ef-search")) efList = numbers(argv[i + 1]);
    if (!std::strcmp(argv[i], "--index-dims")) params.indexDims = std::stoul(argv[i + 1]);
    if (!std::strcmp(argv[i], "--int8")) params.int8 = std::stoul(argv[i + 1]) != 0;
    if (!std::strcmp(argv[i], "--fine-code")) params.fineCode = std::stoul(argv[i + 1]) != 0;
    if (!std::strcmp(argv[i], "--rerank")) rerankList = numbers(argv[i + 1]);
    if (!std::strcmp(argv[i], "--exact")) exactQueries = std::stoul(argv[i + 1]);
    if (!std::strcmp(argv[i], "--passes")) passes = std::max<size_t>(1, std::stoul(argv[i + 1]));
    if (!std::strcmp(argv[i], "--sizes")) sizes = numbers(argv[i + 1]);
    if (!std::strcmp(argv[i], "--queries")) queries = std::stoul(argv[i + 1]);
    if (!std::strcmp(argv[i], "--word-vectors")) wordVectors = argv[i + 1];
    if (!std::strcmp(argv[i], "--bulk")) bulk = std::stoul(argv[i + 1]);
    if (!std::strcmp(argv[i], "--memory")) memoryMb = std::stoul(argv[i + 1]);
    if (!std::strcmp(argv[i], "--memory-puts")) memoryPuts = std::stoul(argv[i + 1]);
    if (!std::strcmp(argv[i], "--memory-namespaces")) memoryNamespaces = std::stoul(argv[i + 1]);
    if (!std::strcmp(argv[i], "--switches")) switches = std::stoul(argv[i + 1]) != 0;
    if (!std::strcmp(argv[i], "--build-threads")) threads = std::max<size_t>(1, std::stoul(argv[i + 1]));
    if (!std::strcmp(argv[i], "--lock")) lockPath = argv[i + 1];
    if (!std::strcmp(argv[i], "--pin")) pin = std::stoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--paths")) {
      paths.clear();
      std::stringstream ss(argv[i + 1]);
      for (std::string item; std::getline(ss, item, ',');) {
        if (item != "own/fine" && item != "own/full" && item != "hnswlib/fine" && item != "hnswlib/full") {
          std::fprintf(stderr, "--paths: unknown path %s (own|hnswlib)/(fine|full)\n", item.c_str());
          return 2;
        }
        paths.push_back(item);
      }
    }
  }
  auto embedder = makeNgramEmbedder();

  if (memoryMb) {
    // The bound against the process: more entries than fit, put one by one
    // (namespaces in turn, 100 requests at a time), in one namespace and in
    // many mid-sized ones. RSS: what the kernel says the process holds;
    // allocated: glibc's bytes in use (mallinfo2).
    const size_t bound = memoryMb << 20;
    std::printf("## memory against the bound: %zu MiB, %zu puts (answer 300 B, 512-d vectors), glibc malloc\n\n"
                "| namespaces | entries kept | evictions | accounted MiB | allocated MiB | RSS growth MiB | RSS / bound "
                "|\n|---:|---:|---:|---:|---:|---:|---:|\n",
                memoryMb, memoryPuts);
    std::vector<size_t> shapes = {1, memoryPuts / 1000};
    if (memoryNamespaces) shapes = {memoryNamespaces};
    for (size_t namespaces : shapes) {
      std::mt19937_64 r(namespaces);
      std::vector<Digest> spaces;
      for (size_t k = 0; k < namespaces; ++k) spaces.push_back(sha256("namespace " + std::to_string(k)));
      malloc_trim(0);
      const long rss0 = rssKb();
      const auto m0 = mallinfo2();
      auto store = makeMemoryStore(bound, params);
      for (size_t i = 0; i < memoryPuts; ++i) {
        Entry e;
        e.query = text(r);
        e.exact = sha256(e.query + std::to_string(i));
        e.ns = spaces[(i / 100) % namespaces];
        e.group = "bench";
        e.embedding = *embedder->embed(e.query);
        e.answer.text = std::string(300, 'a');
        e.expiresMs = 1LL << 60;
        store->put(std::move(e));
      }
      const auto m1 = mallinfo2();
      const long rss1 = rssKb();
      const double mib = 1024.0 * 1024.0;
      std::printf("| %zu | %zu | %llu | %.1f | %.1f | %.1f | %.2f |\n", namespaces, store->size(),
                  (unsigned long long)store->evictions(), store->bytes() / mib,
                  double((m1.uordblks + m1.hblkhd) - (m0.uordblks + m0.hblkhd)) / mib, (rss1 - rss0) / 1024.0,
                  (rss1 - rss0) * 1024.0 / double(bound));
      std::fflush(stdout);
    }
    return 0;
  }

  if (bulk) {
    // A snapshot reload's index build: Store::putMany into one namespace.
    const size_t cores = std::max(1u, std::thread::hardware_concurrency());
    std::printf("## bulk load (snapshot reload): %zu entries in one namespace, Store::putMany\n\n"
                "| threads | seconds | recall@1 own |\n|---:|---:|---:|\n", bulk);
    for (size_t threads : {size_t(1), cores}) {
      std::mt19937_64 r(bulk);
      std::vector<std::pair<Entry, Evidence>> entries;
      std::vector<Vector> probes;
      Digest ns = sha256("namespace 0");
      for (size_t i = 0; i < bulk; ++i) {
        Entry e;
        e.query = text(r);
        e.exact = sha256(e.query + std::to_string(i));
        e.ns = ns;
        e.embedding = *embedder->embed(e.query);
        e.expiresMs = 1LL << 60;
        if (i % 100 == 0) probes.push_back(e.embedding);
        entries.emplace_back(std::move(e), Evidence{});
      }
      auto store = makeMemoryStore(size_t(64) << 30, params);
      auto start = Clock::now();
      store->putMany(std::move(entries), threads);
      double seconds = std::chrono::duration<double>(Clock::now() - start).count();
      size_t found = 0;
      for (const auto& v : probes) {
        auto n = store->nearest(ns, v, 1, 0);
        found += !n.empty() && n[0].similarity > 0.9999f;
      }
      std::printf("| %zu | %.1f | %.3f |\n", threads, seconds, double(found) / probes.size());
      std::fflush(stdout);
    }
    return 0;
  }

  // Embedder cost per request.
  std::printf("## embedder cost per request (one thread)\n\n| embedder | prompt | µs per embed |\n|---|---|---:|\n");
  std::vector<std::unique_ptr<Embedder>> embedders;
  embedders.push_back(makeNgramEmbedder());
  if (!wordVectors.empty()) {
    if (auto w = makeWordsEmbedder(wordVectors)) embedders.push_back(std::move(*w));
  }
  std::mt19937_64 rng(5);
  std::string longText;
  while (longText.size() < 2000) longText += text(rng) + " ";
  for (const auto& e : embedders) {
    for (auto [label, sample] : {std::pair<const char*, std::string>{"short (~60 B)", text(rng)},
                                 std::pair<const char*, std::string>{"long (~2 KB)", longText}}) {
      int n = sample.size() > 1000 ? 2000 : 20000;
      auto start = Clock::now();
      float sink = 0;
      for (int i = 0; i < n; ++i) sink += (*e->embed(sample))[0];
      double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count() / n;
      std::printf("| %s | %s | %.1f |\n", e->name().c_str(), label, us + sink * 0);
    }
  }

  std::string code = params.indexDims == 0 || params.indexDims >= embedder->dimensions()
                         ? "full vector"
                         : "projected to " + std::to_string(params.indexDims);
  code += params.int8 ? ", int8" : ", f32";
  std::printf("\n## lookup latency excluding embedding, %zu namespace(s), one thread (ngram vectors, %zu dims; "
              "HNSW M=%zu, ef_construction in the ef_c column; graph code: %s; re-rank on full vectors; %s kernels; "
              "built with %s; %zu passes of the query set)\n\n"
              "p50/p99: the median over passes of each pass's own percentile (a pass is one run of every query, "
              "so its p99 is the plain p99 of that many lookups); first/worst: that pass's p99; best-of-N: p99 "
              "over each query's fastest pass; fixed work: the same arithmetic timed after every lookup, sized to "
              "the lookup's p50 (what the machine adds to any work that long: the noise floor); faults: minor page "
              "faults per 1,000 lookups while measuring.\n\n"
              "| entries | ef_c | ef_search / re-rank | path | build s | exact p50 µs | exact p99 µs | semantic p50 µs | "
              "semantic p99 µs | p99 first pass | p99 worst pass | p99 best-of-N | fixed work p50 / p99 µs | faults | "
              "recall@1 own | recall@1 vs exact | bytes/entry (accounted) | RSS growth/entry |\n"
              "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
              namespaces, embedder->dimensions(), params.m, code.c_str(),
              simdKernels() ? "AVX2" : "scalar",
              threads > 1 ? ("Store::putMany, " + std::to_string(threads) + " threads").c_str() : "Store::put, one thread",
              passes);
  std::fflush(stdout);
  int lockFd = lockPath.empty() ? -1 : ::open(lockPath.c_str(), O_RDWR | O_CREAT, 0666);
  auto lock = [&](int how) {
    if (lockFd >= 0) ::flock(lockFd, how);
  };
  std::vector<std::pair<size_t, size_t>> builds;  // (ef_construction, entries): one index each
  for (size_t efc : efcList) {
    for (size_t n : sizes) builds.emplace_back(efc, n);
  }
  for (const auto& [efc, n] : builds) {
    params.efConstruction = efc;
    lock(LOCK_SH);  // building is ordinary CPU work; only the measurement needs the core to itself
    long rss0 = rssKb();
    auto store = makeMemoryStore(size_t(64) << 30, params);
    std::vector<Digest> spaces;
    for (size_t k = 0; k < namespaces; ++k) spaces.push_back(sha256("namespace " + std::to_string(k)));
    std::vector<size_t> sampleSpace;
    std::mt19937_64 r(n);
    std::vector<Vector> sample;
    std::vector<Digest> keys;
    std::vector<std::pair<Entry, Evidence>> batch;
    auto start = Clock::now();
    for (size_t i = 0; i < n; ++i) {
      Entry e;
      std::string q = text(r);
      e.exact = sha256(q + std::to_string(i));
      e.ns = spaces[i % namespaces];
      e.group = "bench";
      e.query = q;
      e.embedding = *embedder->embed(q);
      e.answer.text = std::string(300, 'a');  // a short answer
      e.expiresMs = 1LL << 60;
      if (i % (n / 1000) == 0) {
        sample.push_back(e.embedding), keys.push_back(e.exact);
        sampleSpace.push_back(i % namespaces);
      }
      if (threads == 1) {
        store->put(std::move(e));
        continue;
      }
      batch.emplace_back(std::move(e), Evidence{});
      if (batch.size() == 100000 || i + 1 == n) {  // batches: the pending vectors stay small next to the store
        store->putMany(std::move(batch), threads);
        batch.clear();
      }
    }
    double build = std::chrono::duration<double>(Clock::now() - start).count();
    long rss1 = rssKb();
    // The queries: a stored vector, slightly perturbed, so the search is real work.
    std::vector<Vector> queryVectors;
    std::vector<size_t> querySpace;
    for (size_t q = 0; q < std::min(queries, sample.size() * 20); ++q) {
      Vector v = sample[q % sample.size()];
      v[q % v.size()] += 0.05f;
      float norm = 0;
      for (float x : v) norm += x * x;
      for (float& x : v) x /= std::sqrt(norm);
      queryVectors.push_back(std::move(v));
      querySpace.push_back(sampleSpace[q % sample.size()]);
    }
    // Brute force over the same texts (same seed) for the first exactQueries.
    const size_t checked = std::min(exactQueries, queryVectors.size());
    std::vector<float> best(checked, -2.0f);
    std::vector<size_t> bestAt(checked, 0);
    const CompactCodec codec(embedder->dimensions(), params.indexDims, params.int8);
    std::vector<uint8_t> codes(diagnose ? n * codec.bytes() : 0);
    std::mt19937_64 again(n);
    for (size_t i = 0; i < n && checked; ++i) {
      Vector e = *embedder->embed(text(again));
      if (diagnose) codec.encode(e.data(), &codes[i * codec.bytes()]);
      for (size_t c = 0; c < checked; ++c) {
        if (querySpace[c] != i % namespaces) continue;
        const float s = dotF32(e.data(), queryVectors[c].data(), e.size());
        if (s > best[c]) best[c] = s, bestAt[c] = i;
      }
    }
    if (diagnose && checked) {
      // Where recall is lost: the rank of the exact best entry in the
      // graph's code space, by brute force over every entry's code (rank 0:
      // no entry's code is closer to the query's). A search that re-ranks R
      // candidates can only find it when its rank is below R, however good
      // the graph; the rest of the misses are the graph's.
      std::vector<size_t> ranks;
      std::vector<uint8_t> qc(codec.bytes());
      for (size_t c = 0; c < checked; ++c) {
        codec.encode(queryVectors[c].data(), qc.data());
        const float target = codec.similarity(qc.data(), &codes[bestAt[c] * codec.bytes()]);
        size_t rank = 0;
        for (size_t i = 0; i < n; ++i) {
          if (i % namespaces == querySpace[c]) rank += codec.similarity(qc.data(), &codes[i * codec.bytes()]) > target;
        }
        ranks.push_back(rank);
      }
      auto under = [&](size_t r) { return double(std::count_if(ranks.begin(), ranks.end(), [r](size_t x) { return x < r; })) / checked; };
      std::sort(ranks.begin(), ranks.end());
      std::printf("<!-- %zu entries: the exact best's rank in code space (%zu queries): under 1: %.3f, 4: %.3f, 8: %.3f, "
                  "16: %.3f, 32: %.3f, 48: %.3f, 64: %.3f; worst %zu -->\n",
                  n, checked, under(1), under(4), under(8), under(16), under(32), under(48), under(64), ranks.back());
      std::fflush(stdout);
      std::vector<uint8_t>().swap(codes);
    }
    lock(LOCK_EX);
    cpu_set_t all;
    sched_getaffinity(0, sizeof all, &all);
    if (pin >= 0) {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(pin, &one);
      sched_setaffinity(0, sizeof one, &one);
    }
    std::printf("<!-- %zu entries built; transparent huge pages held: %ld MiB of RSS %ld MiB -->\n", n, hugeKb() / 1024,
                rssKb() / 1024);
    std::vector<std::pair<size_t, std::string>> rerankPaths;
    for (size_t rerank : rerankList) {
      for (const auto& path : paths) rerankPaths.emplace_back(rerank, path);
    }
    for (size_t ef : efList) {
      for (const auto& [rerank, path] : rerankPaths) {
        store->setSearch(ef, rerank);
        store->setSearchPath(path.rfind("own", 0) == 0, path.find("fine") != std::string::npos);
        const size_t nq = queryVectors.size();
        std::vector<double> semantic(nq, 1e300);  // each query's fastest pass
        std::vector<double> passP50, passP99, exactP50, exactP99;
        size_t found = 0, same = 0;
        auto warm = Clock::now();
        for (size_t q = 0; q < 2000; ++q) store->nearest(spaces[querySpace[q % nq]], queryVectors[q % nq], 1, 0);  // warm-up
        const double warmUs = std::chrono::duration<double, std::micro>(Clock::now() - warm).count() / 2000;
        // Fixed work as long as a lookup (the warm-up's mean).
        size_t rounds = 1000;
        auto c0 = Clock::now();
        float sink = fixedWork(rounds);
        const double perRound = std::chrono::duration<double, std::micro>(Clock::now() - c0).count() / double(rounds);
        rounds = std::max<size_t>(1, size_t(warmUs / perRound));
        std::vector<double> one(nq), oneExact(nq), fixed(nq), fixedP50, fixedP99;
        // --switches 1: which lookups had the thread switched out (diagnosis).
        std::vector<double> switched, unswitched;
        rusage ru0{}, ru1{};
        getrusage(RUSAGE_SELF, &ru0);
        for (size_t pass = 0; pass < passes; ++pass) {
          for (size_t q = 0; q < nq; ++q) {
            const auto& key = keys[q % keys.size()];
            auto t0 = Clock::now();
            auto hit = store->findExact(key, 0);
            auto t1 = Clock::now();
            oneExact[q] = std::chrono::duration<double, std::micro>(t1 - t0).count();
            rusage c0{}, c1{};
            if (switches) getrusage(RUSAGE_THREAD, &c0);
            auto t2 = Clock::now();
            auto nearest = store->nearest(spaces[querySpace[q]], queryVectors[q], 1, 0);
            auto t3 = Clock::now();
            one[q] = std::chrono::duration<double, std::micro>(t3 - t2).count();
            if (switches) {
              getrusage(RUSAGE_THREAD, &c1);
              const bool preempted = c1.ru_nivcsw != c0.ru_nivcsw || c1.ru_nvcsw != c0.ru_nvcsw;
              (preempted ? switched : unswitched).push_back(one[q]);
            }
            semantic[q] = std::min(semantic[q], one[q]);
            auto t4 = Clock::now();
            sink += fixedWork(rounds);
            fixed[q] = std::chrono::duration<double, std::micro>(Clock::now() - t4).count();
            if (pass > 0) continue;
            const float got = nearest.empty() ? -2.0f : nearest[0].similarity;
            found += got > 0.99f;
            if (q < checked) same += got >= best[q] - 1e-5f;
            (void)hit;
          }
          passP50.push_back(pct(one, 0.5));
          passP99.push_back(pct(one, 0.99));
          exactP50.push_back(pct(oneExact, 0.5));
          exactP99.push_back(pct(oneExact, 0.99));
          fixedP50.push_back(pct(fixed, 0.5));
          fixedP99.push_back(pct(fixed, 0.99));
        }
        getrusage(RUSAGE_SELF, &ru1);
        const double faults = double(ru1.ru_minflt - ru0.ru_minflt) * 1000.0 / double(passes * nq);
        const double first = passP99.front();
        const double worst = *std::max_element(passP99.begin(), passP99.end());
        std::printf("| %zu | %zu | %zu / %zu | %s | %.1f | %.2f | %.2f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f / %.1f | %.2f | %.3f "
                    "| %.3f (%zu) | %zu | %ld |\n",
                    n, efc, ef, rerank, path.c_str(), build, pct(exactP50, 0.5), pct(exactP99, 0.5), pct(passP50, 0.5), pct(passP99, 0.5),
                    first, worst, pct(semantic, 0.99), pct(fixedP50, 0.5) + sink * 0, pct(fixedP99, 0.5), faults,
                    double(found) / nq,
                    checked ? double(same) / checked : 0.0, checked, store->bytes() / n, (rss1 - rss0) * 1024 / long(n));
        if (switches && !unswitched.empty()) {
          std::printf("<!-- context switches: %zu of %zu lookups (p50 %.1f µs); lookups without one: p99 %.1f µs -->\n",
                      switched.size(), switched.size() + unswitched.size(),
                      switched.empty() ? 0.0 : pct(switched, 0.5), pct(unswitched, 0.99));
        }
        std::fflush(stdout);
      }
    }
    sched_setaffinity(0, sizeof all, &all);
    lock(LOCK_UN);
  }
  return 0;
}
