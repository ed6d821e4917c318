// The namespace index's compact codes and re-ranking, the SIMD kernels, the
// parallel bulk load, and snapshots that do not hold the store's lock.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <future>
#include <map>
#include <random>
#include <thread>

#include "cache/cache.h"
#include "cache/compact.h"
#include "random_vectors.h"

namespace arbitra::cache {
namespace {

using test::randomUnit;

// v moved a little (cosine with v about 1 - noise^2 / 2), unit length.
Vector near(std::mt19937& rng, const Vector& v, float noise) {
  Vector d = randomUnit(rng, v.size());
  Vector out(v.size());
  float sum = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    out[i] = v[i] + noise * d[i];
    sum += out[i] * out[i];
  }
  for (auto& x : out) x /= std::sqrt(sum);
  return out;
}

// `count` random unit vectors: the cluster centres of a clustered test set.
std::vector<Vector> randomCenters(std::mt19937& rng, int count, size_t dims) {
  std::vector<Vector> centers;
  for (int c = 0; c < count; ++c) centers.push_back(randomUnit(rng, dims));
  return centers;
}

double exactDot(const Vector& a, const Vector& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += double(a[i]) * b[i];
  return s;
}

TEST(KernelTest, DotProductsMatchPlainLoopsAtEveryLength) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> code(-127, 127);
  for (size_t n = 0; n <= 300; ++n) {
    Vector a(n), b(n);
    std::vector<int8_t> qa(n), qb(n);
    int32_t want = 0;
    for (size_t i = 0; i < n; ++i) {
      a[i] = std::uniform_real_distribution<float>(-1, 1)(rng);
      b[i] = std::uniform_real_distribution<float>(-1, 1)(rng);
      qa[i] = static_cast<int8_t>(code(rng));
      qb[i] = static_cast<int8_t>(code(rng));
      want += int32_t(qa[i]) * qb[i];
    }
    EXPECT_NEAR(dotF32(a.data(), b.data(), n), exactDot(a, b), 1e-4) << n;
    EXPECT_EQ(dotI8(qa.data(), qb.data(), n), want) << n;
  }
  // The extremes do not saturate.
  std::vector<int8_t> hi(64, 127), lo(64, -127);
  EXPECT_EQ(dotI8(hi.data(), hi.data(), 64), 64 * 127 * 127);
  EXPECT_EQ(dotI8(hi.data(), lo.data(), 64), -64 * 127 * 127);
}

TEST(CompactTest, ProjectionIsDeterministicAndUnitLength) {
  std::mt19937 rng(1);
  Vector v = randomUnit(rng, 512);
  Projection a(512, 64), b(512, 64);
  std::vector<float> ya(64), yb(64), ys(64);
  a.apply(v.data(), ya.data());
  b.apply(v.data(), yb.data());
  sharedProjection(512, 64).apply(v.data(), ys.data());
  EXPECT_EQ(ya, yb);
  EXPECT_EQ(ya, ys);
  EXPECT_EQ(&sharedProjection(512, 64), &sharedProjection(512, 64));
  double norm = 0;
  for (float x : ya) norm += double(x) * x;
  EXPECT_NEAR(norm, 1.0, 1e-5);
  // Pinned values: a change of seed or generator changes every code (and is
  // then a deliberate change of this test).
  Vector e0(512, 0.0f);
  e0[0] = 1;
  a.apply(e0.data(), ya.data());
  for (float x : ya) EXPECT_NEAR(std::fabs(x), 0.125f, 1e-6);  // +-1/sqrt(64), renormalised
  std::string signs;
  for (int i = 0; i < 16; ++i) signs += ya[i] > 0 ? '+' : '-';
  EXPECT_EQ(signs, "----+-+--+-+--++");
}

TEST(CompactTest, CodesEstimateCosine) {
  std::mt19937 rng(2);
  CompactCodec codec(512, 128, true);
  EXPECT_EQ(codec.codeDims(), 128u);
  EXPECT_EQ(codec.bytes(), 4u + 128u);
  std::vector<uint8_t> ca(codec.bytes()), cb(codec.bytes());
  double errUnrelated = 0, errNear = 0;
  for (int i = 0; i < 200; ++i) {
    Vector a = randomUnit(rng, 512), b = randomUnit(rng, 512), c = near(rng, a, 0.3f);
    codec.encode(a.data(), ca.data());
    codec.encode(b.data(), cb.data());
    errUnrelated += std::fabs(codec.similarity(ca.data(), cb.data()) - exactDot(a, b));
    codec.encode(c.data(), cb.data());
    errNear += std::fabs(codec.similarity(ca.data(), cb.data()) - exactDot(a, c));
    // A vector's own code is near 1 (int8 rounding only).
    EXPECT_NEAR(codec.similarity(ca.data(), ca.data()), 1.0, 0.01);
  }
  // Random projection to 128 dims: error ~ (1 - s^2) * sqrt(2 / (pi * 128)).
  EXPECT_LT(errUnrelated / 200, 0.1);
  EXPECT_LT(errNear / 200, 0.03);
  // No projection when the index asks for as many dims or more.
  CompactCodec full(64, 128, false);
  EXPECT_EQ(full.codeDims(), 64u);
  EXPECT_EQ(full.bytes(), 64u * sizeof(float));
}

// Many pairs of near-duplicates around a query: the code often ranks the pair
// wrongly (checked below, so the test means something); the index must still
// return the exact best of the two, with its exact cosine.
// FineCode's bound holds against the float kernel, rounding included, for
// unit, sparse, spiky and non-unit vectors at many lengths; and it is tight
// enough on the index's vectors to screen (a bound of 0.1 would make the
// screen read every full vector).
TEST(FineCodeTest, BoundHoldsForEveryShapeAndIsTight) {
  std::mt19937 rng(21);
  std::uniform_real_distribution<float> uniform(-1, 1);
  size_t checked = 0;
  double worstSlack = 1e9, widest512 = 0;
  for (size_t dims : {1, 7, 16, 33, 64, 255, 256, 512, 768, 1536}) {
    std::vector<uint8_t> code(FineCode::bytes(dims));
    for (int trial = 0; trial < 60; ++trial) {
      Vector x = randomUnit(rng, dims);
      if (trial % 4 == 1) {  // sparse: a few large coordinates
        std::fill(x.begin(), x.end(), 0.0f);
        for (int j = 0; j < 3; ++j) x[rng() % dims] = uniform(rng);
      } else if (trial % 4 == 2) {  // one spike: a large quantisation step for the rest
        x[rng() % dims] = 5.0f;
      } else if (trial % 4 == 3) {  // not unit length
        for (auto& v : x) v *= 3.7f;
      }
      FineCode::encode(x.data(), dims, code.data());
      for (int qi = 0; qi < 20; ++qi) {
        Vector y = qi % 5 == 0 ? x : randomUnit(rng, dims);
        if (qi % 5 == 1) {
          for (auto& v : y) v *= 0.3f;
        }
        if (qi % 5 == 2) y = near(rng, x, 0.01f);  // near-duplicates: where the decision is made
        double norm = 0;
        for (float v : y) norm += double(v) * v;
        const float yNorm = static_cast<float>(std::sqrt(norm) * (1 + 1e-6));
        const float exact = dotF32(x.data(), y.data(), dims);
        const float estimate = FineCode::estimate(code.data(), y.data(), dims);
        const float bound = FineCode::bound(code.data(), yNorm, dims);
        ASSERT_LE(exact, estimate + bound) << dims << " " << trial << " " << qi;
        ASSERT_GE(exact, estimate - bound) << dims << " " << trial << " " << qi;
        worstSlack = std::min(worstSlack, double(estimate + bound) - exact);
        if (dims == 512 && trial % 4 == 0) widest512 = std::max(widest512, double(bound));
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 10u * 60 * 20);
  EXPECT_GE(worstSlack, 0.0);
  // 512-d unit Gaussian vectors: |e| ~ s * sqrt(512 / 12) with s ~ 4/sqrt(512)/127.
  EXPECT_LT(widest512, 0.01);
  EXPECT_GT(widest512, 0.0);
}

// The screened re-rank (FineCode) returns exactly what scoring every
// candidate's full vector returns: same ids, same similarities bit for bit,
// same order, for k = 1, 3, 10, on data built to make bounds overlap
// (clusters of near-duplicates, exact duplicates: ties broken by id).
TEST(IndexTest, ScreenedReRankEqualsFullReRank) {
  std::mt19937 rng(22);
  const size_t dims = 512;
  IndexParams sixteen;  // twice a cluster: the screen has candidates to skip
  sixteen.rerank = 16;
  VectorIndex index(dims, sixteen);
  std::vector<Vector> stored;
  uint64_t id = 1;
  for (int c = 0; c < 300; ++c) {
    Vector center = randomUnit(rng, dims);
    for (int j = 0; j < 8; ++j) {
      stored.push_back(j == 7 ? stored.back() : near(rng, center, j < 4 ? 0.002f : 0.05f));  // j 7: a duplicate
      index.add(id++, stored.back());
    }
  }
  ASSERT_TRUE(index.graph());
  size_t compared = 0, screenedReads = 0, fullReads = 0;
  for (int i = 0; i < 300; ++i) {
    Vector q = near(rng, stored[(i * 131) % stored.size()], i % 2 ? 0.001f : 0.1f);
    for (size_t k : {1, 3, 10}) {
      index.setSearchPath(true, true);
      auto screened = index.search(q, k);
      if (k == 1) screenedReads += index.lastExactScored();
      index.setSearchPath(true, false);
      auto full = index.search(q, k);
      if (k == 1) fullReads += index.lastExactScored();
      ASSERT_EQ(screened.size(), full.size());
      for (size_t r = 0; r < full.size(); ++r) {
        EXPECT_EQ(screened[r].first, full[r].first) << i << " k " << k << " rank " << r;
        EXPECT_EQ(screened[r].second, full[r].second) << i << " k " << k << " rank " << r;
      }
      ++compared;
    }
  }
  EXPECT_EQ(compared, 900u);
  // The screen reads fewer full vectors: here at most the query's cluster
  // (8 near-ties, within the bound of each other) of the 16 candidates;
  // with well-separated vectors, about one.
  EXPECT_EQ(fullReads, 300u * sixteen.rerank);
  EXPECT_LE(screenedReads, 300u * 8);
  VectorIndex apart(dims);
  std::vector<Vector> spread;
  for (uint64_t i = 1; i <= 3000; ++i) {
    spread.push_back(randomUnit(rng, dims));
    apart.add(i, spread.back());
  }
  size_t reads = 0;
  for (int i = 0; i < 200; ++i) {
    auto found = apart.search(near(rng, spread[i * 7], 0.2f), 1);
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0].first, uint64_t(i * 7 + 1));
    reads += apart.lastExactScored();
  }
  EXPECT_LE(reads, 200u * 3 / 2);
}

// Our graph search walks hnswlib's graph as its searchKnn does (same
// distances, same best-first rule), so the candidates, and the answers,
// agree: checked with and without deleted elements in the graph.
TEST(IndexTest, OwnGraphSearchAgreesWithHnswlib) {
  std::mt19937 rng(23);
  const size_t dims = 256;
  std::vector<Vector> centers = randomCenters(rng, 60, dims);
  VectorIndex index(dims);
  std::map<uint64_t, Vector> live;
  for (uint64_t i = 0; i < 5000; ++i) index.add(i, live[i] = near(rng, centers[i % 60], 0.5f));
  auto compare = [&](const char* phase) {
    size_t same = 0, total = 0;
    for (int i = 0; i < 300; ++i) {
      auto it = live.begin();
      std::advance(it, (i * 97) % live.size());
      Vector q = near(rng, it->second, 0.3f);
      index.setSearchPath(false, false);
      auto theirs = index.search(q, 10);
      index.setSearchPath(true, false);
      auto ours = index.search(q, 10);
      same += ours == theirs;
      ++total;
    }
    // Equal distances may leave a heap in another order; anything more
    // than a rare tie is a different search.
    EXPECT_GE(double(same) / total, 0.98) << phase;
  };
  compare("no deletions");
  for (uint64_t i = 0; i < 5000; i += 3) {  // a third deleted (marked in the graph, slots free)
    index.remove(i);
    live.erase(i);
  }
  ASSERT_TRUE(index.graph());
  compare("with deletions");
  // Deleted entries are never returned by either path.
  for (int i = 0; i < 100; ++i) {
    Vector q = near(rng, centers[i % 60], 0.3f);
    for (auto [own, fine] : {std::pair{true, true}, std::pair{false, false}}) {
      index.setSearchPath(own, fine);
      for (const auto& [found, similarity] : index.search(q, 10)) EXPECT_TRUE(live.count(found)) << found;
    }
  }
}

TEST(IndexTest, ReRankReturnsTheExactNearestAmongCandidates) {
  std::mt19937 rng(4);
  IndexParams params;
  params.indexDims = 32;  // a coarse code, so that it misorders often
  VectorIndex index(256, params);
  CompactCodec codec(256, 32, true);
  std::vector<uint8_t> cq(codec.bytes()), ca(codec.bytes()), cb(codec.bytes());
  uint64_t id = 1;
  size_t misordered = 0, trials = 0;
  std::vector<std::tuple<Vector, uint64_t, double>> queries;  // query, best id, best cosine
  for (int i = 0; i < 400; ++i) {
    Vector q = randomUnit(rng, 256);
    Vector a = near(rng, q, 0.10f), b = near(rng, q, 0.12f);
    const double sa = exactDot(q, a), sb = exactDot(q, b);
    codec.encode(q.data(), cq.data());
    codec.encode(a.data(), ca.data());
    codec.encode(b.data(), cb.data());
    ++trials;
    misordered += (codec.similarity(cq.data(), ca.data()) > codec.similarity(cq.data(), cb.data())) != (sa > sb);
    index.add(id, a);
    index.add(id + 1, b);
    queries.emplace_back(q, sa > sb ? id : id + 1, std::max(sa, sb));
    id += 2;
  }
  ASSERT_TRUE(index.graph());
  EXPECT_GT(misordered, trials / 20) << "the code should misorder some pairs";
  for (const auto& [q, best, cosine] : queries) {
    auto found = index.search(q, 1);
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0].first, best);
    EXPECT_NEAR(found[0].second, cosine, 1e-5);
  }
}

TEST(IndexTest, SimilaritiesAreExactAndSorted) {
  std::mt19937 rng(5);
  VectorIndex index(512);
  std::vector<Vector> stored;
  for (uint64_t i = 1; i <= 2000; ++i) {
    stored.push_back(randomUnit(rng, 512));
    index.add(i, stored.back());
  }
  ASSERT_TRUE(index.graph());
  Vector v;
  for (int i = 0; i < 50; ++i) {
    Vector q = near(rng, stored[i * 37], 0.2f);
    auto found = index.search(q, 5);
    ASSERT_EQ(found.size(), 5u);
    EXPECT_EQ(found[0].first, uint64_t(i * 37 + 1));
    for (size_t k = 0; k < found.size(); ++k) {
      ASSERT_TRUE(index.get(found[k].first, v));
      EXPECT_EQ(v, stored[found[k].first - 1]);  // the full vector, bit for bit
      EXPECT_NEAR(found[k].second, exactDot(q, v), 1e-5);
      if (k) {
        EXPECT_GE(found[k - 1].second, found[k].second);
      }
    }
  }
}

// Clustered data (what a cache holds: many near-duplicates per topic):
// recall@1 against a brute-force scan.
TEST(IndexTest, RecallOnClusteredDataAgainstExactSearch) {
  std::mt19937 rng(6);
  const size_t dims = 256;
  std::vector<Vector> centers = randomCenters(rng, 50, dims), stored;
  VectorIndex index(dims);
  for (uint64_t i = 0; i < 4000; ++i) {
    stored.push_back(near(rng, centers[i % centers.size()], 0.5f));
    index.add(i, stored.back());
  }
  size_t hits = 0;
  const int queries = 200;
  for (int i = 0; i < queries; ++i) {
    Vector q = near(rng, stored[(i * 7919) % stored.size()], 0.3f);
    double best = -2;
    for (const auto& v : stored) best = std::max(best, exactDot(q, v));
    auto found = index.search(q, 1);
    hits += !found.empty() && found[0].second >= best - 1e-5;
  }
  EXPECT_GE(double(hits) / queries, 0.95);
}

// Eviction churn in one namespace: a removed vector's slot is the next
// add's, so the index does not grow, and the relinked graph still finds
// old and new vectors as well as a fresh one; shrunk, it turns flat again.
TEST(IndexTest, ChurnReusesSlotsKeepsRecallAndShrinks) {
  std::mt19937 rng(11);
  const size_t dims = 256;
  std::vector<Vector> centers = randomCenters(rng, 40, dims);
  VectorIndex index(dims);
  std::map<uint64_t, Vector> live;
  uint64_t next = 0;
  for (; next < 3000; ++next) index.add(next, live[next] = near(rng, centers[next % 40], 0.5f));
  const size_t full = index.memoryBytes();
  // 6,000 replacements, oldest first: twice the whole index.
  for (int round = 0; round < 6000; ++round, ++next) {
    index.remove(live.begin()->first);
    live.erase(live.begin());
    index.add(next, live[next] = near(rng, centers[next % 40], 0.5f));
  }
  EXPECT_EQ(index.size(), 3000u);
  EXPECT_LE(index.memoryBytes(), full + full / 50) << "slots are reused, not added";
  size_t hits = 0, checked = 0;
  for (auto it = live.begin(); it != live.end(); std::advance(it, 15), ++checked) {
    Vector q = near(rng, it->second, 0.2f);
    double best = -2;
    for (const auto& [id, v] : live) best = std::max(best, exactDot(q, v));
    auto found = index.search(q, 1);
    hits += !found.empty() && found[0].second >= best - 1e-5;
  }
  EXPECT_GE(double(hits) / checked, 0.95);
  // Shrinking: the graph is rebuilt smaller, then flat again.
  while (index.size() > 100) {
    index.remove(live.begin()->first);
    live.erase(live.begin());
  }
  EXPECT_FALSE(index.graph());
  EXPECT_LT(index.memoryBytes(), full / 10);
  for (const auto& [id, v] : live) {
    auto found = index.search(v, 1);
    ASSERT_FALSE(found.empty());
    EXPECT_EQ(found[0].first, id);
  }
}

TEST(IndexTest, AddManyOnThreadsFindsEveryVector) {
  std::mt19937 rng(7);
  std::vector<Vector> stored;
  for (int i = 0; i < 6000; ++i) stored.push_back(randomUnit(rng, 128));
  std::vector<std::pair<uint64_t, const Vector*>> items;
  for (size_t i = 0; i < stored.size(); ++i) items.emplace_back(i + 1, &stored[i]);
  items.emplace_back(1, &stored[0]);  // a duplicate id: ignored
  VectorIndex index(128);
  index.addMany(items, 4);
  EXPECT_EQ(index.size(), stored.size());
  ASSERT_TRUE(index.graph());
  size_t found = 0;
  Vector v;
  for (size_t i = 0; i < stored.size(); i += 7) {
    auto r = index.search(stored[i], 1);
    found += !r.empty() && r[0].first == i + 1;
    ASSERT_TRUE(index.get(i + 1, v));
    EXPECT_EQ(v, stored[i]);
  }
  EXPECT_GE(double(found) / ((stored.size() + 6) / 7), 0.99);
  // Still a normal index afterwards: removes and adds.
  index.remove(1);
  EXPECT_FALSE(index.get(1, v));
  index.add(100000, stored[0]);
  auto r = index.search(stored[0], 1);
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r[0].first, 100000u);
}

Entry semanticEntry(int i, const Digest& ns, Vector v) {
  Entry e;
  e.exact = sha256("k" + std::to_string(i));
  e.ns = ns;
  e.group = "g";
  e.answer.text = "answer " + std::to_string(i);
  e.embedding = std::move(v);
  e.expiresMs = 1LL << 60;
  return e;
}

TEST(StoreBulkTest, PutManyEqualsPutInOrderUnderTheBound) {
  std::mt19937 rng(8);
  std::vector<Vector> vectors;
  for (int i = 0; i < 1500; ++i) vectors.push_back(randomUnit(rng, 64));
  Digest a = sha256("a"), b = sha256("b");
  // Unbounded: everything is there and searchable.
  auto bulk = makeMemoryStore(size_t(1) << 30);
  std::vector<std::pair<Entry, Evidence>> batch;
  for (int i = 0; i < 1500; ++i) batch.emplace_back(semanticEntry(i, i % 3 ? a : b, vectors[i]), Evidence{});
  batch.emplace_back(semanticEntry(5, a, vectors[5]), Evidence{});  // replaces entry 5 (same key)
  bulk->putMany(std::move(batch), 4);
  EXPECT_EQ(bulk->size(), 1500u);
  for (int i = 1; i < 1500; i += 13) {
    auto n = bulk->nearest(i % 3 ? a : b, vectors[i], 1, 0);
    ASSERT_FALSE(n.empty());
    EXPECT_EQ(n[0].entry->answer.text, "answer " + std::to_string(i));
  }
  // Bounded: the same survivors as put() one by one (the most recent ones).
  auto one = makeMemoryStore(size_t(1) << 30);
  one->put(semanticEntry(0, a, vectors[0]));
  const size_t bound = one->bytes() * 500;
  // How many fit depends on whether the graph's capacity doubled (512 ->
  // 1024 slots) before the bound was reached: putMany reserves the whole
  // batch's capacity first, put() grows it step by step. With FineCodes
  // (80 more bytes a slot here) put() reaches the bound just before the
  // step (461 kept) and putMany after it (326); without them both land past
  // it, the case this test compares (the bulk path, not the codes).
  IndexParams noFine;
  noFine.fineCode = false;
  auto sequential = makeMemoryStore(bound, noFine), together = makeMemoryStore(bound, noFine);
  batch.clear();
  for (int i = 0; i < 1500; ++i) {
    sequential->put(semanticEntry(i, a, vectors[i]));
    batch.emplace_back(semanticEntry(i, a, vectors[i]), Evidence{});
  }
  together->putMany(std::move(batch), 2);
  EXPECT_LE(together->bytes(), bound);
  EXPECT_NEAR(double(together->size()), double(sequential->size()), sequential->size() * 0.1);
  EXPECT_TRUE(together->findExact(sha256("k1499"), 0));
  EXPECT_FALSE(together->findExact(sha256("k0"), 0));
}

TEST(StoreBulkTest, SnapshotVisitsWithoutHoldingTheLock) {
  auto store = makeMemoryStore(size_t(1) << 30);
  std::mt19937 rng(9);
  Digest ns = sha256("ns");
  for (int i = 0; i < 3000; ++i) store->put(semanticEntry(i, ns, randomUnit(rng, 32)));
  size_t visited = 0;
  bool putWhileVisiting = false;
  store->forEach([&](const Entry&, const Evidence&, const Vector& v) {
    ++visited;
    EXPECT_EQ(v.size(), 32u);
    if (visited == 1500) {
      // Another thread's put must not wait for the whole walk.
      auto done = std::async(std::launch::async, [&] { return store->put(semanticEntry(-1, ns, randomUnit(rng, 32))); });
      putWhileVisiting = done.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
      done.wait();
    }
  });
  EXPECT_TRUE(putWhileVisiting);
  EXPECT_EQ(visited, 3000u);  // the order was taken before the put
  EXPECT_EQ(store->size(), 3001u);
}

}  // namespace
}  // namespace arbitra::cache
