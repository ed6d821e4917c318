// Flat-then-HNSW namespace index (see vector_index.h). hnswlib throws on
// capacity and unknown labels; capacity is grown before every insert and only
// known ids are deleted, so nothing here throws on the request path.
//
// hnswlib's elements hold the compact code (CodeSpace); the full vectors live
// beside the graph (Graph::full), read for re-ranking and get(). hnswlib's
// own InnerProductSpace is not used: its SIMD path is chosen by compile-time
// macros (SSE only in this portable build), ours by the CPU at run time.
#include "cache/vector_index.h"

#include <hnswlib/hnswlib.h>
#include <sys/mman.h>

#if defined(__x86_64__)
#include <immintrin.h>

#include "cache/dot_i8_avx2.h"
#endif

#include <algorithm>
#include <atomic>
#include <cstring>
#include <iterator>
#include <limits>
#include <thread>
#include <unordered_map>

#include "cache/compact.h"

namespace arbitra::cache {
namespace {

#ifdef MADV_COLLAPSE
constexpr int kCollapse = MADV_COLLAPSE;
#else
constexpr int kCollapse = 25;  // Linux 6.1's value; older kernels answer EINVAL
#endif

class CodeSpace : public hnswlib::SpaceInterface<float> {
 public:
  CodeSpace(const CompactCodec& codec, size_t stored) : codec_(codec), stored_(stored) {}
  size_t get_data_size() override { return stored_; }
  hnswlib::DISTFUNC<float> get_dist_func() override { return &distance; }
  void* get_dist_func_param() override { return const_cast<CompactCodec*>(&codec_); }

 private:
  static float distance(const void* a, const void* b, const void* codec) {
    return 1.0f - static_cast<const CompactCodec*>(codec)->similarity(static_cast<const uint8_t*>(a),
                                                                       static_cast<const uint8_t*>(b));
  }
  const CompactCodec& codec_;
  size_t stored_;
};

}  // namespace

// ---- Our graph search over hnswlib's layout -------------------------------
//
// The same algorithm and distances as hnswlib's searchKnn (greedy descent
// through the upper levels, then a best-first search of level 0 with a
// result list of ef), so it finds the same candidates; what differs is the
// memory traffic and the overhead around it:
//  - visited: a small open-addressing set of the ids seen by this search
//    (~1,000 at ef 48: L1/L2-resident), not hnswlib's array of 2 bytes per
//    element (2 MB at 1M: a likely cache miss per neighbour checked), and no
//    mutex to take a list from a pool;
//  - every unvisited neighbour of an expanded node has both cache lines of
//    its code prefetched before the first distance is computed (hnswlib
//    prefetches one neighbour ahead), so their misses overlap;
//  - heaps on per-thread vectors reused across searches (hnswlib: two
//    std::priority_queue per search), no atomic metric counters, and the
//    int8 kernel inlined (an AVX2 build of the search chosen at run time).
// Per-thread scratch: a few tens of KB per searching thread, not charged to
// any index (it does not grow with the index).
namespace {

using Hnsw = hnswlib::HierarchicalNSW<float>;
using Scored = std::pair<float, uint32_t>;  // (distance, internal id)

struct SearchScratch {
  std::vector<uint32_t> table;  // id + 1, 0 = empty; size a power of two
  std::vector<uint32_t> used;   // filled positions, cleared after a search
  std::vector<Scored> candidates, top;
  uint32_t ids[512];  // a level-0 list holds 2 * M ids

  void reset() {
    for (uint32_t at : used) table[at] = 0;
    used.clear();
    if (table.empty()) table.assign(4096, 0);
  }
  // True the first time `id` is seen in this search.
  bool visit(uint32_t id) {
    if (used.size() * 2 >= table.size()) grow();
    const size_t mask = table.size() - 1;
    size_t at = (uint32_t(id * 0x9E3779B1u) >> 7) & mask;
    while (table[at]) {
      if (table[at] == id + 1) return false;
      at = (at + 1) & mask;
    }
    table[at] = id + 1;
    used.push_back(static_cast<uint32_t>(at));
    return true;
  }
  void grow() {
    std::vector<uint32_t> ids;
    for (uint32_t at : used) ids.push_back(table[at] - 1);
    table.assign(table.size() * 2, 0);
    used.clear();
    for (uint32_t id : ids) visit(id);
  }
};

SearchScratch& scratch() {
  thread_local SearchScratch s;
  return s;
}

struct MaxFirst {  // a max-heap on distance: the worst result on top
  bool operator()(const Scored& a, const Scored& b) const { return a.first < b.first; }
};
struct MinFirst {  // a min-heap on distance: the closest candidate on top
  bool operator()(const Scored& a, const Scored& b) const { return a.first > b.first; }
};

// Every cache line of [p, p + bytes).
inline void prefetchLines(const char* p, size_t bytes) {
  for (size_t at = 0; at < bytes; at += 64) __builtin_prefetch(p + at);
  __builtin_prefetch(p + bytes - 1);
}

// Fills s.top with up to max(ef, k) (distance, internal id), unordered.
// `Dot` is the int8 kernel (inlined into the AVX2 build below).
template <class Dot>
[[gnu::always_inline]] inline void searchGraph(const Hnsw& h, const uint8_t* query, size_t codeDims, size_t ef,
                                               SearchScratch& s) {
  const char* base = h.data_level0_memory_;
  const size_t stride = h.size_data_per_element_, offData = h.offsetData_, codeBytes = sizeof(float) + codeDims;
  float qScale;
  std::memcpy(&qScale, query, sizeof qScale);
  const auto* q = reinterpret_cast<const int8_t*>(query + sizeof qScale);
  // The distance hnswlib computes through CodeSpace, operation for operation.
  auto code = [&](uint32_t id) { return base + size_t(id) * stride + offData; };
  auto distance = [&](const char* c) {
    float scale;
    std::memcpy(&scale, c, sizeof scale);
    return 1.0f - qScale * scale * static_cast<float>(Dot::run(q, reinterpret_cast<const int8_t*>(c + sizeof scale), codeDims));
  };
  s.reset();
  s.top.clear();
  s.candidates.clear();

  uint32_t current = h.enterpoint_node_;
  float currentDistance = distance(code(current));
  for (int level = h.maxlevel_; level > 0; --level) {
    for (bool changed = true; changed;) {
      changed = false;
      const auto* list = reinterpret_cast<const uint32_t*>(h.linkLists_[current] + size_t(level - 1) * h.size_links_per_element_);
      const size_t n = *reinterpret_cast<const uint16_t*>(list);
      for (size_t i = 1; i <= n; ++i) prefetchLines(code(list[i]), codeBytes);
      for (size_t i = 1; i <= n; ++i) {
        const float d = distance(code(list[i]));
        if (d < currentDistance) {
          currentDistance = d;
          current = list[i];
          changed = true;
        }
      }
    }
  }

  const bool deletions = h.num_deleted_ != 0;
  auto& top = s.top;
  auto& candidates = s.candidates;
  float lowerBound;
  if (!deletions || !h.isMarkedDeleted(current)) {
    lowerBound = distance(code(current));
    top.emplace_back(lowerBound, current);
    candidates.emplace_back(lowerBound, current);
  } else {
    lowerBound = std::numeric_limits<float>::max();
    candidates.emplace_back(lowerBound, current);
  }
  s.visit(current);
  while (!candidates.empty()) {
    const auto [nearest, node] = candidates.front();
    if (nearest > lowerBound && (top.size() == ef || !deletions)) break;
    std::pop_heap(candidates.begin(), candidates.end(), MinFirst{});
    candidates.pop_back();
    const auto* list = reinterpret_cast<const uint32_t*>(base + size_t(node) * stride);  // offsetLevel0_ is 0
    const size_t n = std::min<size_t>(*reinterpret_cast<const uint16_t*>(list), std::size(s.ids));
    size_t fresh = 0;
    for (size_t i = 1; i <= n; ++i) {
      if (!s.visit(list[i])) continue;
      s.ids[fresh++] = list[i];
      prefetchLines(code(list[i]), codeBytes);
    }
    for (size_t i = 0; i < fresh; ++i) {
      const uint32_t id = s.ids[i];
      const float d = distance(code(id));
      if (top.size() < ef || lowerBound > d) {
        candidates.emplace_back(d, id);
        std::push_heap(candidates.begin(), candidates.end(), MinFirst{});
        if (!deletions || !h.isMarkedDeleted(id)) {
          top.emplace_back(d, id);
          std::push_heap(top.begin(), top.end(), MaxFirst{});
        }
        if (top.size() > ef) {
          std::pop_heap(top.begin(), top.end(), MaxFirst{});
          top.pop_back();
        }
        if (!top.empty()) lowerBound = top.front().first;
      }
    }
    if (!candidates.empty()) prefetchLines(base + size_t(candidates.front().second) * stride, h.size_links_level0_);  // the next list
  }
}

struct DotPortable {
  static int32_t run(const int8_t* a, const int8_t* b, size_t n) { return dotI8(a, b, n); }
};
[[gnu::flatten]] void searchPortable(const Hnsw& h, const uint8_t* query, size_t codeDims, size_t ef, SearchScratch& s) {
  searchGraph<DotPortable>(h, query, codeDims, ef, s);
}

#if defined(__x86_64__)
struct DotAvx2 {
  [[gnu::target("avx2")]] static int32_t run(const int8_t* a, const int8_t* b, size_t n) { return dotI8Avx2(a, b, n); }
};
[[gnu::target("avx2"), gnu::flatten]] void searchAvx2(const Hnsw& h, const uint8_t* query, size_t codeDims, size_t ef, SearchScratch& s) {
  searchGraph<DotAvx2>(h, query, codeDims, ef, s);
}
#endif

using SearchFn = void (*)(const Hnsw&, const uint8_t*, size_t, size_t, SearchScratch&);
SearchFn chooseSearch() {
#if defined(__x86_64__)
  if (simdKernels()) return searchAvx2;
#endif
  return searchPortable;
}
const SearchFn kSearch = chooseSearch();

}  // namespace

size_t heapBytes(size_t n) { return n == 0 ? 0 : std::max<size_t>(32, (n + 8 + 15) & ~size_t(15)); }

namespace {
template <class T>
size_t vectorBytes(const std::vector<T>& v) {
  return heapBytes(v.capacity() * sizeof(T));
}
// libstdc++'s unordered_map: one node per element (next pointer, the value;
// integer keys: no cached hash) and the bucket array.
template <class Map>
size_t mapBytes(const Map& m) {
  return m.size() * heapBytes(sizeof(void*) + sizeof(typename Map::value_type)) +
         (m.bucket_count() > 1 ? heapBytes(m.bucket_count() * sizeof(void*)) : 0);
}
}  // namespace

// hnswlib's labels are slots (0, 1, 2... in insertion order), not entry ids:
// a slot finds its full vector in `full` (chunks, so growing never copies
// gigabytes) and its entry id in `slotIds`. hnswlib's own elements hold only
// links, the code and the label (~200 bytes at M=16, 64-d int8), packed
// densely so that a search touches few cache lines and pages. A deleted
// slot goes to `freeSlots` and is the next add's (hnswlib relinks it).
struct VectorIndex::Graph {
  static constexpr size_t kChunk = 1024;  // full vectors per chunk

  Graph(size_t dims, const IndexParams& p, size_t capacity)
      : dims(dims),
        fineBytes(p.fineCode ? FineCode::bytes(dims) : 0),
        codec(dims, p.indexDims, p.int8),
        space(codec, codec.bytes()),
        index(&space, capacity, p.m, p.efConstruction, 100) {
    index.setEf(p.efSearch);
    fitUpdateLocks();
    hugePages();
  }
  const float* full(uint32_t slot) const { return &full_[slot / kChunk][(slot % kChunk) * dims]; }
  float* full(uint32_t slot) { return &full_[slot / kChunk][(slot % kChunk) * dims]; }
  const uint8_t* fine(uint32_t slot) const { return &fine_[slot / kChunk][(slot % kChunk) * fineBytes]; }
  uint8_t* fine(uint32_t slot) { return &fine_[slot / kChunk][(slot % kChunk) * fineBytes]; }
  // The fine code of a slot whose full vector was just written.
  void encodeFine(uint32_t slot) {
    if (fineBytes) FineCode::encode(full(slot), dims, fine(slot));
  }
  // A new slot holding v (not yet in the graph). A chunk grows as it fills,
  // so a namespace of a few hundred vectors does not hold a whole chunk.
  uint32_t newSlot(uint64_t id, const float* v) {
    const auto slot = static_cast<uint32_t>(slotIds.size());
    if (slot % kChunk == 0) {
      full_.emplace_back();
      if (fineBytes) fine_.emplace_back();
      if (slot > 0) {  // not the first: the namespace is big
        full_.back().reserve(kChunk * dims);
        if (fineBytes) fine_.back().reserve(kChunk * fineBytes);
      }
    }
    full_.back().insert(full_.back().end(), v, v + dims);
    if (fineBytes) fine_.back().resize(fine_.back().size() + fineBytes);
    encodeFine(slot);
    slotIds.push_back(id);
    slots[id] = slot;
    return slot;
  }
  // Graph insertion of a new slot; thread-safe while the capacity suffices
  // (addMany).
  void link(uint32_t slot) {
    uint8_t code[kMaxCode];
    std::vector<uint8_t> big;
    uint8_t* c = codec.bytes() <= kMaxCode ? code : (big.resize(codec.bytes()), big.data());
    codec.encode(full(slot), c);
    const auto internal = index.addPoint(c, slot, -1);
    const int level = index.element_levels_[internal];
    if (level > 0) upperBytes += heapBytes(index.size_links_per_element_ * size_t(level) + 1);
  }
  // A deleted slot's element gets the new vector: unmarked, then relinked
  // (hnswlib's updatePoint: its links are searched anew from the entry
  // point, and a fraction of its old neighbours' links are repaired; all of
  // them, what a re-added label gets, made the eviction-churn test 9x
  // slower: 18 s against 2 s).
  void relink(uint32_t slot) {
    uint8_t code[kMaxCode];
    std::vector<uint8_t> big;
    uint8_t* c = codec.bytes() <= kMaxCode ? code : (big.resize(codec.bytes()), big.data());
    codec.encode(full(slot), c);
    const auto internal = index.label_lookup_.find(slot)->second;  // a deleted slot keeps its label
    index.unmarkDeletedInternal(internal);
    index.updatePoint(c, internal, kRepair);
  }
  void reserve(size_t elements) {
    if (elements <= index.max_elements_) return;
    index.resizeIndex(std::max(elements, index.max_elements_ * 2));
    fitUpdateLocks();
    hugePages();
  }
  void insert(uint64_t id, const float* v) {
    if (!freeSlots.empty()) {
      const uint32_t slot = freeSlots.back();
      freeSlots.pop_back();
      std::copy(v, v + dims, full(slot));
      encodeFine(slot);
      slotIds[slot] = id;
      slots[id] = slot;
      --deleted;
      relink(slot);
      return;
    }
    const uint32_t slot = newSlot(id, v);
    reserve(index.cur_element_count + 1);
    link(slot);
  }
  // hnswlib 0.6.2 takes link_list_update_locks_[internal id & 65535] when it
  // adds or updates an element and makes 65,536 of them (2.6 MB) per index;
  // internal ids stay under the capacity, so that many are all it can use.
  void fitUpdateLocks() {
    const size_t want = std::min(size_t(index.max_update_element_locks), index.max_elements_);
    if (index.link_list_update_locks_.size() != want) std::vector<std::mutex>(want).swap(index.link_list_update_locks_);
  }
  // After a parallel build hnswlib's pool keeps one visited list per thread
  // that searched (2 bytes per element each); one is enough from now on.
  void oneVisitedList() {
    delete index.visited_list_pool_;
    index.visited_list_pool_ = new hnswlib::VisitedListPool(1, static_cast<int>(index.max_elements_));
  }
  // The level-0 block is what a search walks (~1,000 random elements per
  // search at 1M): on 4 KB pages nearly every one is a TLB miss, a
  // two-dimensional page walk in a VM. Ask for huge pages for what is
  // faulted from now on (MADV_HUGEPAGE), and collapse what is already there
  // (MADV_COLLAPSE, Linux 6.1+): realloc's growth keeps the old 4 KB pages,
  // so after a bulk load only ~1/3 of a 1M graph was on huge pages. Only the
  // part in use is collapsed (collapsing populates the range). No-ops where
  // THP is off or the kernel is older.
  void hugePages() {
#ifdef MADV_HUGEPAGE
    const size_t page = 2 << 20;
    auto begin = reinterpret_cast<uintptr_t>(index.data_level0_memory_);
    auto end = begin + index.max_elements_ * index.size_data_per_element_;
    const auto used = begin + index.cur_element_count * index.size_data_per_element_;
    begin = (begin + page - 1) / page * page;
    if (end > begin + page) madvise(reinterpret_cast<void*>(begin), (end - begin) / page * page, MADV_HUGEPAGE);
    if (used > begin + page) madvise(reinterpret_cast<void*>(begin), (used - begin) / page * page, kCollapse);
#endif
  }
  size_t memoryBytes() const {
    const size_t cap = index.max_elements_;
    size_t b = heapBytes(sizeof(Graph));
    b += heapBytes(cap * index.size_data_per_element_);  // level 0: links, code, label
    b += heapBytes(cap * sizeof(void*)) + upperBytes;    // upper levels
    b += vectorBytes(index.element_levels_) + vectorBytes(index.link_list_locks_) +
         vectorBytes(index.link_list_update_locks_);
    // The visited list pool: the pool, its deque (map and one block), one list.
    b += heapBytes(sizeof(hnswlib::VisitedListPool)) + heapBytes(64) + heapBytes(512) +
         heapBytes(sizeof(hnswlib::VisitedList)) + heapBytes(cap * sizeof(hnswlib::vl_type));
    b += mapBytes(index.label_lookup_);
    b += vectorBytes(full_);
    for (const auto& chunk : full_) b += vectorBytes(chunk);
    b += vectorBytes(fine_);
    for (const auto& chunk : fine_) b += vectorBytes(chunk);
    b += vectorBytes(slotIds) + mapBytes(slots) + vectorBytes(freeSlots);
    return b;
  }

  static constexpr size_t kMaxCode = 1024;
  static constexpr float kRepair = 0.1f;  // share of a reused slot's old neighbours repaired
  size_t dims;
  size_t fineBytes;  // FineCode::bytes(dims), 0 without fine codes
  CompactCodec codec;
  CodeSpace space;
  hnswlib::HierarchicalNSW<float> index;
  std::vector<std::vector<float>> full_;  // kChunk vectors each (pointers change only in newSlot)
  std::vector<std::vector<uint8_t>> fine_;  // kChunk fine codes each, beside full_
  std::vector<uint64_t> slotIds;                 // slot -> entry id
  std::unordered_map<uint64_t, uint32_t> slots;  // live entry id -> slot
  std::vector<uint32_t> freeSlots;               // deleted slots, reused first
  size_t deleted = 0;
  std::atomic<size_t> upperBytes{0};  // upper-level link lists, as allocated
};

namespace {
// The k most similar, most similar first (ties: the smaller id first).
std::vector<std::pair<uint64_t, float>> sortedTop(std::vector<std::pair<uint64_t, float>>& v, size_t k) {
  const size_t keep = std::min(k, v.size());
  std::partial_sort(v.begin(), v.begin() + keep, v.end(), [](const auto& a, const auto& b) {
    return a.second > b.second || (a.second == b.second && a.first < b.first);
  });
  v.resize(keep);
  return std::move(v);
}
}  // namespace

VectorIndex::VectorIndex(size_t dims, IndexParams params)
    : dims_(dims), params_(params), fineScreen_(params.fineCode) {}
VectorIndex::~VectorIndex() = default;

size_t VectorIndex::memoryBytes() const {
  size_t b = heapBytes(sizeof(VectorIndex));
  if (hnsw_) return b + hnsw_->memoryBytes();
  return b + vectorBytes(flatIds_) + vectorBytes(flat_);
}

void VectorIndex::add(uint64_t id, const Vector& v) {
  if (v.size() != dims_) return;
  if (!hnsw_) {
    flatIds_.push_back(id);
    flat_.insert(flat_.end(), v.begin(), v.end());
    ++live_;
    if (flatIds_.size() > params_.flatLimit) toGraph();
    return;
  }
  if (hnsw_->slots.count(id)) return;
  hnsw_->insert(id, v.data());
  ++live_;
}

void VectorIndex::addMany(const std::vector<std::pair<uint64_t, const Vector*>>& items, size_t threads) {
  // Flat adds until the graph exists (toGraph() happens inside add()).
  size_t next = 0;
  while (!hnsw_ && next < items.size()) {
    add(items[next].first, *items[next].second);
    ++next;
  }
  if (!hnsw_) return;
  auto& g = *hnsw_;
  // Deleted slots first, one at a time (a relink), then new ones in parallel.
  for (; next < items.size() && !g.freeSlots.empty(); ++next) add(items[next].first, *items[next].second);
  const size_t first = g.slotIds.size();
  for (; next < items.size(); ++next) {
    if (items[next].second->size() == dims_ && !g.slots.count(items[next].first)) {
      g.newSlot(items[next].first, items[next].second->data());
    }
  }
  const size_t count = g.slotIds.size() - first;
  if (count == 0) return;
  g.reserve(g.index.cur_element_count + count);
  live_ += count;
  // hnswlib's addPoint is thread-safe while the capacity suffices and labels
  // are distinct (both ensured above).
  std::atomic<size_t> cursor{first};
  auto work = [&] {
    for (size_t slot; (slot = cursor.fetch_add(1)) < first + count;) g.link(static_cast<uint32_t>(slot));
  };
  threads = std::max<size_t>(1, std::min(threads, count / 1000 + 1));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (threads > 1) g.oneVisitedList();
  g.hugePages();
}

void VectorIndex::setSearch(size_t efSearch, size_t rerank) {
  params_.efSearch = efSearch;
  params_.rerank = rerank;
  if (hnsw_) hnsw_->index.setEf(efSearch);
}

void VectorIndex::setSearchPath(bool ownSearch, bool fineScreen) {
  params_.ownSearch = ownSearch;
  fineScreen_ = fineScreen && params_.fineCode;
}

void VectorIndex::remove(uint64_t id) {
  if (!hnsw_) {
    auto it = std::find(flatIds_.begin(), flatIds_.end(), id);
    if (it == flatIds_.end()) return;
    size_t at = static_cast<size_t>(it - flatIds_.begin());
    size_t last = flatIds_.size() - 1;
    flatIds_[at] = flatIds_[last];
    std::copy_n(flat_.begin() + last * dims_, dims_, flat_.begin() + at * dims_);
    flatIds_.pop_back();
    flat_.resize(last * dims_);
    --live_;
    return;
  }
  auto& g = *hnsw_;
  auto it = g.slots.find(id);
  if (it == g.slots.end()) return;
  g.index.markDelete(it->second);
  g.freeSlots.push_back(it->second);
  g.slots.erase(it);
  ++g.deleted;
  --live_;
  if (g.deleted > live_ + 64) rebuild();
}

bool VectorIndex::get(uint64_t id, Vector& out) const {
  if (!hnsw_) {
    auto it = std::find(flatIds_.begin(), flatIds_.end(), id);
    if (it == flatIds_.end()) return false;
    size_t at = static_cast<size_t>(it - flatIds_.begin());
    out.assign(flat_.begin() + at * dims_, flat_.begin() + (at + 1) * dims_);
    return true;
  }
  auto it = hnsw_->slots.find(id);
  if (it == hnsw_->slots.end()) return false;
  const float* v = hnsw_->full(it->second);
  out.assign(v, v + dims_);
  return true;
}

void VectorIndex::toGraph() {
  hnsw_ = std::make_unique<Graph>(dims_, params_, std::max<size_t>(params_.flatLimit * 2, 512));
  for (size_t i = 0; i < flatIds_.size(); ++i) hnsw_->insert(flatIds_[i], &flat_[i * dims_]);
  std::vector<uint64_t>().swap(flatIds_);
  std::vector<float>().swap(flat_);
}

// Back to flat when few vectors are left (a namespace emptied by eviction
// gives its graph back).
void VectorIndex::toFlat() {
  auto old = std::move(hnsw_);
  std::vector<std::pair<uint64_t, uint32_t>> live(old->slots.begin(), old->slots.end());
  std::sort(live.begin(), live.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  flatIds_.reserve(live.size());
  flat_.reserve(live.size() * dims_);
  for (const auto& [id, slot] : live) {
    flatIds_.push_back(id);
    flat_.insert(flat_.end(), old->full(slot), old->full(slot) + dims_);
  }
}

void VectorIndex::rebuild() {
  if (live_ <= params_.flatLimit) return toFlat();
  auto old = std::move(hnsw_);
  std::vector<std::pair<uint64_t, uint32_t>> live(old->slots.begin(), old->slots.end());
  std::sort(live.begin(), live.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  hnsw_ = std::make_unique<Graph>(dims_, params_, std::max<size_t>(live.size() + live.size() / 4, 512));
  for (const auto& [id, slot] : live) hnsw_->insert(id, old->full(slot));
  live_ = live.size();
}

std::vector<std::pair<uint64_t, float>> VectorIndex::search(const Vector& q, size_t k) const {
  std::vector<std::pair<uint64_t, float>> out;
  if (q.size() != dims_ || live_ == 0 || k == 0) return out;
  if (!hnsw_) {
    for (size_t i = 0; i < flatIds_.size(); ++i) out.emplace_back(flatIds_[i], dotF32(&flat_[i * dims_], q.data(), dims_));
    return sortedTop(out, k);
  }
  const auto& g = *hnsw_;
  uint8_t code[Graph::kMaxCode];
  std::vector<uint8_t> big;
  uint8_t* c = g.codec.bytes() <= Graph::kMaxCode ? code : (big.resize(g.codec.bytes()), big.data());
  g.codec.encode(q.data(), c);
  // The graph's candidates, best code similarity first: up to `want` slots.
  const size_t want = std::max(k, params_.rerank);
  uint32_t onStack[64];
  std::vector<uint32_t> onHeap;
  uint32_t* slots = want <= 64 ? onStack : (onHeap.resize(want), onHeap.data());
  size_t n = 0;
  if (params_.ownSearch && g.codec.int8()) {
    auto& s = scratch();
    kSearch(g.index, c, g.codec.codeDims(), std::max(params_.efSearch, want), s);
    auto& top = s.top;
    n = std::min(want, top.size());
    std::partial_sort(top.begin(), top.begin() + n, top.end());
    for (size_t i = 0; i < n; ++i) {
      hnswlib::labeltype label;
      std::memcpy(&label, g.index.data_level0_memory_ + size_t(top[i].second) * g.index.size_data_per_element_ + g.index.label_offset_,
                  sizeof label);
      slots[i] = static_cast<uint32_t>(label);
    }
  } else {
    auto found = g.index.searchKnn(c, want);
    n = found.size();
    for (size_t i = n; !found.empty(); found.pop()) slots[--i] = static_cast<uint32_t>(found.top().second);
  }
  if (!fineScreen_ || n <= k) {
    // Re-rank: ask for every candidate's full vector first (the first lines
    // of each; the hardware prefetcher follows), then read them.
    for (size_t i = 0; i < n; ++i) prefetchLines(reinterpret_cast<const char*>(g.full(slots[i])), 128);
    out.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      out.emplace_back(g.slotIds[slots[i]], dotF32(g.full(slots[i]), q.data(), dims_));  // exact cosine, full vector
    }
    exactScored_ = n;
    return sortedTop(out, k);
  }
  // Screened re-rank (FineCode): each candidate's upper bound from its int8
  // copy; then exact scores in order of that bound, until the next bound is
  // below the k-th exact score found (no later candidate can enter the top
  // k, nor tie it: ties need equality). Equals exact scoring of all of them.
  for (size_t i = 0; i < n; ++i) prefetchLines(reinterpret_cast<const char*>(g.fine(slots[i])), 128);
  double norm = 0;
  for (float x : q) norm += double(x) * x;
  const float qNorm = static_cast<float>(std::sqrt(norm) * (1 + 1e-6));
  std::pair<float, uint32_t> boundsOnStack[64];
  std::vector<std::pair<float, uint32_t>> boundsOnHeap;
  auto* bounds = n <= 64 ? boundsOnStack : (boundsOnHeap.resize(n), boundsOnHeap.data());
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* fine = g.fine(slots[i]);
    bounds[i] = {FineCode::estimate(fine, q.data(), dims_) + FineCode::bound(fine, qNorm, dims_), slots[i]};
  }
  std::sort(bounds, bounds + n, [](const auto& a, const auto& b) { return a.first > b.first; });
  out.reserve(k + 1);
  auto better = [](const auto& a, const auto& b) { return a.second > b.second || (a.second == b.second && a.first < b.first); };
  exactScored_ = n;
  for (size_t i = 0; i < n; ++i) {
    if (out.size() == k && bounds[i].first < out.front().second) {  // out: a heap, its worst on top
      exactScored_ = i;
      break;
    }
    if (i + 1 < n) prefetchLines(reinterpret_cast<const char*>(g.full(bounds[i + 1].second)), 128);
    out.emplace_back(g.slotIds[bounds[i].second], dotF32(g.full(bounds[i].second), q.data(), dims_));
    std::push_heap(out.begin(), out.end(), better);
    if (out.size() > k) {
      std::pop_heap(out.begin(), out.end(), better);
      out.pop_back();
    }
  }
  return sortedTop(out, k);
}

}  // namespace arbitra::cache
