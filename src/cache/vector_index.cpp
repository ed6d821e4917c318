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

#include <algorithm>
#include <atomic>
#include <cstring>
#include <thread>
#include <unordered_map>

#include "cache/compact.h"

namespace arbitra::cache {
namespace {

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
        codec(dims, p.indexDims, p.int8),
        space(codec, codec.bytes()),
        index(&space, capacity, p.m, p.efConstruction, 100) {
    index.setEf(p.efSearch);
    fitUpdateLocks();
    hugePages();
  }
  const float* full(uint32_t slot) const { return &full_[slot / kChunk][(slot % kChunk) * dims]; }
  float* full(uint32_t slot) { return &full_[slot / kChunk][(slot % kChunk) * dims]; }
  // A new slot holding v (not yet in the graph). A chunk grows as it fills,
  // so a namespace of a few hundred vectors does not hold a whole chunk.
  uint32_t newSlot(uint64_t id, const float* v) {
    const auto slot = static_cast<uint32_t>(slotIds.size());
    if (slot % kChunk == 0) {
      full_.emplace_back();
      if (slot > 0) full_.back().reserve(kChunk * dims);  // not the first: the namespace is big
    }
    full_.back().insert(full_.back().end(), v, v + dims);
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
  // The level-0 block is what a search walks: ask for huge pages (fewer TLB
  // misses at millions of elements); a no-op where THP is off.
  void hugePages() {
#ifdef MADV_HUGEPAGE
    const size_t page = 2 << 20;
    auto begin = reinterpret_cast<uintptr_t>(index.data_level0_memory_);
    auto end = begin + index.max_elements_ * index.size_data_per_element_;
    begin = (begin + page - 1) / page * page;
    if (end > begin + page) madvise(reinterpret_cast<void*>(begin), (end - begin) / page * page, MADV_HUGEPAGE);
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
    b += vectorBytes(slotIds) + mapBytes(slots) + vectorBytes(freeSlots);
    return b;
  }

  static constexpr size_t kMaxCode = 1024;
  static constexpr float kRepair = 0.1f;  // share of a reused slot's old neighbours repaired
  size_t dims;
  CompactCodec codec;
  CodeSpace space;
  hnswlib::HierarchicalNSW<float> index;
  std::vector<std::vector<float>> full_;  // kChunk vectors each (pointers change only in newSlot)
  std::vector<uint64_t> slotIds;                 // slot -> entry id
  std::unordered_map<uint64_t, uint32_t> slots;  // live entry id -> slot
  std::vector<uint32_t> freeSlots;               // deleted slots, reused first
  size_t deleted = 0;
  std::atomic<size_t> upperBytes{0};  // upper-level link lists, as allocated
};

VectorIndex::VectorIndex(size_t dims, IndexParams params) : dims_(dims), params_(params) {}
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
}

void VectorIndex::setSearch(size_t efSearch, size_t rerank) {
  params_.efSearch = efSearch;
  params_.rerank = rerank;
  if (hnsw_) hnsw_->index.setEf(efSearch);
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
  } else {
    const auto& g = *hnsw_;
    uint8_t code[Graph::kMaxCode];
    std::vector<uint8_t> big;
    uint8_t* c = g.codec.bytes() <= Graph::kMaxCode ? code : (big.resize(g.codec.bytes()), big.data());
    g.codec.encode(q.data(), c);
    auto found = g.index.searchKnn(c, std::max(k, params_.rerank));
    // Re-rank: ask for every candidate's full vector first (the first lines
    // of each; the hardware prefetcher follows), then read them.
    uint32_t onStack[64];
    std::vector<uint32_t> onHeap;
    uint32_t* slots = found.size() <= 64 ? onStack : (onHeap.resize(found.size()), onHeap.data());
    size_t n = 0;
    for (; !found.empty(); found.pop()) slots[n++] = static_cast<uint32_t>(found.top().second);
    for (size_t i = 0; i < n; ++i) {
      const char* v = reinterpret_cast<const char*>(g.full(slots[i]));
      __builtin_prefetch(v);
      __builtin_prefetch(v + 64);
    }
    out.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      out.emplace_back(g.slotIds[slots[i]], dotF32(g.full(slots[i]), q.data(), dims_));  // exact cosine, full vector
    }
  }
  size_t keep = std::min(k, out.size());
  std::partial_sort(out.begin(), out.begin() + keep, out.end(),
                    [](const auto& a, const auto& b) { return a.second > b.second || (a.second == b.second && a.first < b.first); });
  out.resize(keep);
  return out;
}

}  // namespace arbitra::cache
