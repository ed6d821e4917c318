// The memory store: bound, LRU order, HNSW namespaces with deletes; snapshots.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <chrono>
#include <random>

#include "cache/cache.h"

namespace arbitra::cache {
namespace {

Entry entry(int i, size_t textBytes = 200) {
  Entry e;
  std::string key = "key-" + std::to_string(i);
  e.exact = sha256(key);
  e.group = "g";
  e.answer.text = std::string(textBytes, 'x');
  e.expiresMs = 1LL << 60;
  return e;
}

Vector randomUnit(std::mt19937& rng, size_t dims) {
  std::normal_distribution<float> n;
  Vector v(dims);
  float sum = 0;
  for (auto& x : v) sum += (x = n(rng)) * x;
  for (auto& x : v) x /= std::sqrt(sum);
  return v;
}

TEST(StoreTest, EvictionKeepsMemoryUnderTheBound) {
  const size_t bound = 256 * 1024;
  auto store = makeMemoryStore(bound);
  std::mt19937 rng(1);
  Digest ns = sha256("ns");
  for (int i = 0; i < 5000; ++i) {
    Entry e = entry(i, 100 + i % 500);
    if (i % 2) {
      e.ns = ns;
      e.embedding = randomUnit(rng, 64);
    }
    ASSERT_NE(store->put(std::move(e)), 0u);
    ASSERT_LE(store->bytes(), bound) << "after " << i;
  }
  EXPECT_GT(store->evictions(), 3000u);
  EXPECT_GT(store->size(), 100u);
  EXPECT_TRUE(store->findExact(sha256("key-4999"), 0));
  EXPECT_FALSE(store->findExact(sha256("key-0"), 0));
}

TEST(StoreTest, LeastRecentlyUsedGoesFirst) {
  auto probe = makeMemoryStore(1 << 20);  // what three entries are charged, the store's nodes included
  probe->put(entry(1));
  probe->put(entry(2));
  probe->put(entry(3));
  const size_t three = probe->bytes();
  auto store = makeMemoryStore(three + three / 6);  // room for three and a half
  store->put(entry(1));
  store->put(entry(2));
  store->put(entry(3));
  ASSERT_TRUE(store->findExact(sha256("key-1"), 0));  // 1 is now the most recent
  store->put(entry(4));                                // evicts 2
  EXPECT_TRUE(store->findExact(sha256("key-1"), 0));
  EXPECT_FALSE(store->findExact(sha256("key-2"), 0));
  EXPECT_TRUE(store->findExact(sha256("key-3"), 0));
  EXPECT_TRUE(store->findExact(sha256("key-4"), 0));
}

TEST(StoreTest, AnEntryLargerThanTheBoundIsRefused) {
  auto store = makeMemoryStore(1000);
  EXPECT_EQ(store->put(entry(1, 5000)), 0u);
  EXPECT_EQ(store->bytes(), 0u);
}

TEST(StoreTest, HnswNamespaceFindsNeighboursAndHonoursDeletes) {
  auto store = makeMemoryStore(1ull << 30);
  std::mt19937 rng(2);
  Digest ns = sha256("big");
  std::vector<Vector> vectors;
  std::vector<uint64_t> ids;
  for (int i = 0; i < 2000; ++i) {  // well past the flat limit: a graph
    Entry e = entry(i);
    e.ns = ns;
    e.embedding = randomUnit(rng, 48);
    vectors.push_back(e.embedding);
    ids.push_back(store->put(std::move(e)));
  }
  int found = 0;
  for (int i = 0; i < 2000; i += 50) {
    auto n = store->nearest(ns, vectors[i], 1, 0);
    ASSERT_FALSE(n.empty());
    if (n[0].entry->id == ids[i]) ++found;
    EXPECT_GT(n[0].similarity, 0.99f);
  }
  EXPECT_GE(found, 38);  // approximate search: nearly all exact matches
  // Delete most of them (forces a rebuild); the rest stay findable, the deleted never come back.
  for (int i = 0; i < 1900; ++i) store->erase(ids[i]);
  for (int i = 0; i < 1900; i += 100) {
    auto n = store->nearest(ns, vectors[i], 1, 0);
    ASSERT_FALSE(n.empty());
    EXPECT_NE(n[0].entry->id, ids[i]);
  }
  for (int i = 1900; i < 2000; i += 10) {
    auto n = store->nearest(ns, vectors[i], 1, 0);
    ASSERT_FALSE(n.empty());
    EXPECT_EQ(n[0].entry->id, ids[i]);
  }
}

TEST(StoreTest, NamespacesAreSeparate) {
  auto store = makeMemoryStore(1ull << 20);
  std::mt19937 rng(3);
  Entry e = entry(1);
  e.ns = sha256("a");
  e.embedding = randomUnit(rng, 16);
  Vector v = e.embedding;
  store->put(std::move(e));
  EXPECT_EQ(store->nearest(sha256("a"), v, 1, 0).size(), 1u);
  EXPECT_TRUE(store->nearest(sha256("b"), v, 1, 0).empty());
}

class SnapshotTest : public ::testing::Test {
 protected:
  std::string path_ = ::testing::TempDir() + "/arbitra-cache-snapshot-" + std::to_string(::getpid()) + ".bin";
  void TearDown() override { std::remove(path_.c_str()); }

  static CacheOptions options(const std::string& snapshot = "") {
    CacheOptions o;
    o.defaults.mode = Mode::Semantic;
    o.defaults.threshold.learn = false;
    o.defaults.threshold.verifyFraction = 0;
    o.snapshotPath = snapshot;
    return o;
  }

  static core::ChatRequest request(const std::string& q) {
    core::ChatRequest r;
    r.model = "fast";
    core::Message m;
    m.content.push_back({core::ContentPart::Kind::Text, q, ""});
    r.messages.push_back(m);
    return r;
  }

  static int64_t now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  }

  static void fill(Cache& cache) {
    auto embedder = makeNgramEmbedder();
    for (const char* q : {"How do I reset my password?", "What are your opening hours?"}) {
      auto l = cache.begin(request(q), "t", {}, now());
      cache.semantic(l, *embedder->embed(l.ticket.query), now());
      StoredAnswer a;
      a.text = std::string("answer to ") + q;
      if (q[0] == 'W') a.toolCalls.push_back({"id1", "fn", "{\"a\":1}"});  // exact-only (tool call)
      a.usage = core::Usage{1, 2, 0, 0, 0};
      cache.complete(l.ticket, a, "sim/fast", 77, now());
    }
    cache.store().observe(1, 0.9f, false);
  }
};

TEST_F(SnapshotTest, SurvivesRestart) {
  {
    Cache cache(options(path_));  // writes the snapshot on destruction
    fill(cache);
  }
  Cache restarted(options(path_));
  ASSERT_EQ(restarted.store().size(), 2u);
  auto l = restarted.begin(request("How do I reset my password?"), "t", {}, now());
  ASSERT_EQ(l.kind, Lookup::Kind::HitExact);
  EXPECT_EQ(l.entry->answer.text, "answer to How do I reset my password?");
  EXPECT_EQ(l.entry->costPico, 77);
  auto tool = restarted.begin(request("What are your opening hours?"), "t", {}, now());
  ASSERT_EQ(tool.kind, Lookup::Kind::HitExact);
  ASSERT_EQ(tool.entry->answer.toolCalls.size(), 1u);
  EXPECT_EQ(tool.entry->answer.toolCalls[0].arguments, "{\"a\":1}");
  ASSERT_TRUE(l.entry->ns.has_value());
  EXPECT_EQ(l.entry->answer.usage->outputTokens, 2);
  // The semantic index came back too, and the learned evidence with it.
  auto embedder = makeNgramEmbedder();
  auto n = restarted.store().nearest(*l.entry->ns, *embedder->embed("how can I reset my password"), 1, now());
  ASSERT_EQ(n.size(), 1u);
  bool sawEvidence = false;
  size_t withVectors = 0;
  restarted.store().forEach([&](const Entry& e, const Evidence& ev, const Vector& v) {
    sawEvidence |= ev.wrong == 1;
    if (e.ns && v.size() == embedder->dimensions()) ++withVectors;
  });
  EXPECT_EQ(withVectors, 1u);  // the semantic entry kept its vector across the restart
  EXPECT_TRUE(sawEvidence);
}

TEST_F(SnapshotTest, CorruptSnapshotIsRejectedWithAClearErrorAndTheCacheStartsEmpty) {
  {
    Cache cache(options());
    fill(cache);
    std::string error;
    ASSERT_TRUE(cache.saveSnapshot(path_, error)) << error;
  }
  {  // flip one byte in the middle
    std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(60);
    f.put('\x7f');
  }
  Cache direct(options());
  std::string error;
  EXPECT_FALSE(direct.loadSnapshot(path_, 0, error));
  EXPECT_NE(error.find("checksum"), std::string::npos) << error;
  EXPECT_EQ(direct.store().size(), 0u);

  ::testing::internal::CaptureStderr();
  {
    Cache started(options(path_));
    EXPECT_EQ(started.store().size(), 0u);
    EXPECT_EQ(started.begin(request("How do I reset my password?"), "t", {}, now()).kind, Lookup::Kind::Miss);
    std::string log = ::testing::internal::GetCapturedStderr();
    EXPECT_NE(log.find("cache snapshot " + path_ + " rejected: checksum mismatch"), std::string::npos) << log;
    EXPECT_NE(log.find("starting with an empty cache"), std::string::npos) << log;
  }
}

TEST_F(SnapshotTest, TruncatedAndForeignFilesAreRejected) {
  {
    Cache cache(options());
    fill(cache);
    std::string error;
    ASSERT_TRUE(cache.saveSnapshot(path_, error));
  }
  std::ifstream in(path_, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size() - 10));
  }
  Cache a(options());
  std::string error;
  EXPECT_FALSE(a.loadSnapshot(path_, 0, error));
  EXPECT_NE(error.find("truncated"), std::string::npos) << error;
  {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out << "{\"not\": \"a snapshot\", \"padding\": \"...............................................\"}";
  }
  EXPECT_FALSE(a.loadSnapshot(path_, 0, error));
  EXPECT_NE(error.find("not an arbitra cache snapshot"), std::string::npos) << error;
  EXPECT_EQ(a.store().size(), 0u);
}

// cache.ef_search reaches the index parameters; unset, the index's default stays.
TEST(CacheOptionsTest, EfSearchFromConfig) {
  config::CacheConfig c;
  c.enabled = true;
  EXPECT_EQ(optionsFromConfig(c, 0.9).index.efSearch, IndexParams{}.efSearch);
  c.efSearch = 7;
  EXPECT_EQ(optionsFromConfig(c, 0.9).index.efSearch, 7u);
}

}  // namespace
}  // namespace arbitra::cache
