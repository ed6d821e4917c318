// The store's memory accounting against the allocator: bytes() must not
// undercount what the store really allocates (glibc's mallinfo2: bytes in
// use, every arena and mmapped block), in one big namespace, many mid-sized
// ones, many small ones and exact-only entries; and under eviction the
// allocation must stay under the bound. A test fails if the accounting
// misses a structure (README "Response cache", memory: it once charged half
// of what 1,000 namespaces of 1,000 entries held).
#include <gtest/gtest.h>
#include <malloc.h>

#include <cctype>
#include <random>

#include "cache/cache.h"
#include "cache/compact.h"
#include "random_vectors.h"

namespace arbitra::cache {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kMallinfo = false;  // the sanitizers' allocators do not report mallinfo2
#else
constexpr bool kMallinfo = true;
#endif

size_t allocated() {
  const auto m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

constexpr size_t kDims = 256;

// What the process sets up once, not the store: OpenSSL's digest state
// (~135 KB on first use) and the shared projection matrix.
void processWideState() {
  sha256("warm up");
  sharedProjection(kDims, IndexParams{}.indexDims);
}


Vector randomUnit(std::mt19937& rng) { return test::randomUnit(rng, kDims); }

Entry entry(size_t i, std::optional<Digest> ns, std::mt19937& rng) {
  Entry e;
  e.exact = sha256("key " + std::to_string(i));
  e.ns = ns;
  e.group = "a-model-group";
  e.query = "How do I change the thing number " + std::to_string(i) + " on my account today?";
  e.answer.text = std::string(300, 'a');
  e.deployment = "provider/deployment-name";
  e.expiresMs = 1LL << 60;
  if (ns) e.embedding = randomUnit(rng);
  return e;
}

struct Shape {
  const char* name;
  size_t namespaces;  // 0: exact-only entries
  size_t perNamespace;
};

class MemoryTest : public ::testing::TestWithParam<Shape> {};

TEST_P(MemoryTest, AccountingCoversWhatIsAllocated) {
  if (!kMallinfo) GTEST_SKIP() << "no allocator statistics under a sanitizer";
  const Shape shape = GetParam();
  processWideState();
  std::mt19937 rng(1);
  const size_t total = std::max<size_t>(1, shape.namespaces) * shape.perNamespace;
  std::vector<Digest> spaces;
  for (size_t k = 0; k < shape.namespaces; ++k) spaces.push_back(sha256("ns " + std::to_string(k)));
  const size_t before = allocated();
  auto store = makeMemoryStore(size_t(1) << 34);
  for (size_t i = 0; i < total; ++i) {
    std::optional<Digest> ns;
    if (!spaces.empty()) ns = spaces[i % spaces.size()];
    ASSERT_NE(store->put(entry(i, ns, rng)), 0u);
  }
  ASSERT_EQ(store->size(), total);
  const size_t measured = allocated() - before;
  const size_t accounted = store->bytes();
  std::printf("[ %s ] %zu entries: accounted %zu B (%.0f per entry), allocated %zu B (%.0f per entry), ratio %.3f\n",
              shape.name, total, accounted, double(accounted) / total, measured, double(measured) / total,
              double(accounted) / measured);
  // Never less than what is allocated (1%: the store object, allocator
  // rounding of whole pages, freed chunks glibc's thread cache holds)...
  EXPECT_GE(accounted + measured / 100, measured);
  // ...and not so much more that the bound would waste memory.
  EXPECT_LE(accounted, measured + measured / 10);
}

INSTANTIATE_TEST_SUITE_P(Shapes, MemoryTest,
                         ::testing::Values(Shape{"one namespace", 1, 6000}, Shape{"mid-sized namespaces", 30, 700},
                                           Shape{"small namespaces", 1500, 6}, Shape{"exact only", 0, 6000}),
                         [](const auto& info) {
                           std::string n = info.param.name;
                           for (auto& c : n) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return n;
                         });

// Entries spread over namespaces, many more than fit: what stays allocated
// is under the bound at every step, and memory comes back as namespaces
// shrink (the store keeps a fair share of entries, not a handful).
TEST(MemoryTest, EvictionKeepsTheAllocationUnderTheBound) {
  if (!kMallinfo) GTEST_SKIP() << "no allocator statistics under a sanitizer";
  processWideState();
  for (size_t namespaces : {size_t(1), size_t(24)}) {
    std::mt19937 rng(2);
    const size_t bound = size_t(12) << 20;
    const size_t before = allocated();
    auto store = makeMemoryStore(bound);
    std::vector<Digest> spaces;
    for (size_t k = 0; k < namespaces; ++k) spaces.push_back(sha256("ns " + std::to_string(k)));
    size_t most = 0;
    for (size_t i = 0; i < 24000; ++i) {
      // Namespaces in turn, in runs of 50 (traffic moves between contexts).
      store->put(entry(i, spaces[(i / 50) % namespaces], rng));
      ASSERT_LE(store->bytes(), bound);
      if (i % 500 == 499) {
        const size_t measured = allocated() - before;
        most = std::max(most, measured);
        ASSERT_LE(measured, bound + bound / 100) << namespaces << " namespace(s), after " << i + 1 << " puts";
      }
    }
    EXPECT_GT(store->evictions(), 10000u);
    EXPECT_GT(store->size(), 2500u) << namespaces << " namespace(s)";
    std::printf("[ %zu namespace(s) ] bound %zu B: %zu entries kept, at most %zu B allocated\n", namespaces, bound,
                store->size(), most);
  }
}

}  // namespace
}  // namespace arbitra::cache
