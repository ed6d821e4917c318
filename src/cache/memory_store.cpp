// The in-memory store (see store.h): a hash map per exact key, an LRU list,
// a VectorIndex per semantic namespace, one mutex. Lookups take microseconds
// (hash probe or one HNSW search), so one lock is simpler and fast enough;
// embedding and answer comparison happen outside it. A snapshot (forEach)
// holds the lock for one batch of 1,024 entries at a time, not for the whole
// walk; a reload (putMany) builds large namespaces' graphs on several threads.
//
// Memory accounting: bytes() = each entry's own allocations (entryBytes:
// the entry, its strings and tool calls) and the store's per-entry nodes
// (slot, exact key, LRU), + every namespace index as it is allocated
// (VectorIndex::memoryBytes: capacities, deleted slots, hnswlib's per-index
// structures) + the hash tables' bucket arrays. So many mid-sized namespaces
// are charged what they really hold, not a per-vector average. put() evicts
// from the LRU tail until the total is under 90% of the bound (the rest is
// headroom for the allocator's retained free memory); an eviction frees a
// graph's slot for the namespace's next vector, and a namespace's memory
// comes back when it shrinks (rebuilt smaller, flat again, or gone).
#include <algorithm>
#include <atomic>
#include <list>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "cache/store.h"

namespace arbitra::cache {

namespace {
// A std::string's heap block (none while it fits in the object).
size_t stringBytes(const std::string& s) { return s.capacity() > 15 ? heapBytes(s.capacity() + 1) : 0; }
}  // namespace

size_t entryBytes(const Entry& e) {
  size_t bytes = heapBytes(sizeof(Entry) + 16);  // make_shared: the entry and its control block
  bytes += stringBytes(e.group) + stringBytes(e.query) + stringBytes(e.deployment) + stringBytes(e.answer.text);
  bytes += heapBytes(e.embedding.capacity() * sizeof(float));
  bytes += heapBytes(e.answer.toolCalls.capacity() * sizeof(core::ToolCall));
  for (const auto& call : e.answer.toolCalls) {
    bytes += stringBytes(call.id) + stringBytes(call.name) + stringBytes(call.arguments);
  }
  return bytes;
}

namespace {

class MemoryStore : public Store {
 public:
  MemoryStore(size_t maxBytes, IndexParams params)
      : maxBytes_(maxBytes), target_(maxBytes - maxBytes / kHeadroomDivisor), params_(params) {}

  std::shared_ptr<const Entry> findExact(const Digest& key, int64_t nowMs) override {
    std::lock_guard lock(mutex_);
    auto it = exact_.find(key);
    if (it == exact_.end()) return nullptr;
    auto& slot = slots_.at(it->second);
    if (slot.entry->expiresMs <= nowMs) {
      eraseLocked(it->second);
      return nullptr;
    }
    touch(slot);
    return slot.entry;
  }

  std::vector<Neighbor> nearest(const Digest& ns, const Vector& query, size_t k, int64_t nowMs) override {
    std::vector<Neighbor> out;
    std::lock_guard lock(mutex_);
    auto space = spaces_.find(ns);
    if (space == spaces_.end()) return out;
    auto found = space->second->search(query, k);
    std::vector<uint64_t> expired;
    for (const auto& [id, similarity] : found) {
      auto slot = slots_.find(id);
      if (slot == slots_.end()) continue;
      if (slot->second.entry->expiresMs <= nowMs) {
        expired.push_back(id);
        continue;
      }
      out.push_back(Neighbor{slot->second.entry, similarity, slot->second.evidence});
    }
    for (uint64_t id : expired) eraseLocked(id);
    if (!out.empty()) touch(slots_.at(out.front().entry->id));
    return out;
  }

  std::shared_ptr<const Entry> get(uint64_t id) override {
    std::lock_guard lock(mutex_);
    auto it = slots_.find(id);
    return it == slots_.end() ? nullptr : it->second.entry;
  }

  uint64_t put(Entry entry, const Evidence& evidence) override {
    std::lock_guard lock(mutex_);
    if (auto old = exact_.find(entry.exact); old != exact_.end()) eraseLocked(old->second);
    entry.id = ++nextId_;
    Slot slot;
    slot.evidence = evidence;
    // One copy of the vector: the index's (charged with the index).
    slot.bytes = entryBytes(entry) - heapBytes(entry.embedding.capacity() * sizeof(float)) + kPerEntry;
    if (slot.bytes > target_) return 0;
    if (entry.ns && !entry.embedding.empty()) {
      auto& space = spaces_[*entry.ns];
      if (!space) {
        space = std::make_unique<VectorIndex>(entry.embedding.size(), params_);
        if (fineScreenOff_) space->setSearchPath(params_.ownSearch, false);
        indexBytes_ += charge(*space);
      }
      if (space->dims() == entry.embedding.size()) {
        const size_t before = charge(*space);
        space->add(entry.id, entry.embedding);
        indexBytes_ += charge(*space) - before;
      } else {
        entry.ns.reset();  // an embedder change: keep it exact-only
      }
    }
    const uint64_t id = entry.id;
    bytes_ += slot.bytes;
    linkLocked(std::move(entry), std::move(slot));
    while (totalLocked() > target_ && !lru_.empty()) {
      eraseLocked(lru_.back());
      ++evictions_;
    }
    return slots_.count(id) ? id : 0;
  }

  void erase(uint64_t id) override {
    std::lock_guard lock(mutex_);
    eraseLocked(id);
  }

  void observe(uint64_t id, float similarity, bool same) override {
    std::lock_guard lock(mutex_);
    auto it = slots_.find(id);
    if (it != slots_.end()) it->second.evidence.observe(similarity, same);
  }

  void forEach(const std::function<void(const Entry&, const Evidence&, const Vector&)>& visit) const override {
    constexpr size_t kBatch = 1024;
    std::vector<uint64_t> order;
    {
      std::lock_guard lock(mutex_);
      order.assign(lru_.rbegin(), lru_.rend());
    }
    struct Copy {
      std::shared_ptr<const Entry> entry;
      Evidence evidence;
      Vector embedding;
    };
    std::vector<Copy> batch;
    for (size_t at = 0; at < order.size(); at += kBatch) {
      batch.clear();
      {
        std::lock_guard lock(mutex_);
        for (size_t i = at; i < std::min(order.size(), at + kBatch); ++i) {
          auto slot = slots_.find(order[i]);
          if (slot == slots_.end()) continue;  // erased since the order was taken
          Copy c{slot->second.entry, slot->second.evidence, {}};
          if (c.entry->ns) {
            auto space = spaces_.find(*c.entry->ns);
            if (space != spaces_.end()) space->second->get(c.entry->id, c.embedding);
          }
          batch.push_back(std::move(c));
        }
      }
      for (const auto& c : batch) visit(*c.entry, c.evidence, c.embedding);
    }
  }

  void putMany(std::vector<std::pair<Entry, Evidence>> entries, size_t threads) override {
    std::lock_guard lock(mutex_);
    // 1. Entries in, in order (so the LRU order is put()'s); vectors aside.
    std::unordered_map<Digest, std::vector<std::pair<uint64_t, Vector>>, DigestHash> pending;
    for (auto& [entry, evidence] : entries) {
      if (auto old = exact_.find(entry.exact); old != exact_.end()) eraseLocked(old->second);
      entry.id = ++nextId_;
      Slot slot;
      slot.evidence = evidence;
      slot.charged = false;
      slot.bytes = entryBytes(entry) - heapBytes(entry.embedding.capacity() * sizeof(float)) + kPerEntry;
      if (entry.ns && !entry.embedding.empty()) {
        auto space = spaces_.find(*entry.ns);
        auto& list = pending[*entry.ns];
        size_t dims = space != spaces_.end() ? space->second->dims()
                      : list.empty()         ? entry.embedding.size()
                                             : list.front().second.size();
        if (dims == entry.embedding.size()) {
          list.emplace_back(entry.id, std::move(entry.embedding));
        } else {
          entry.ns.reset();
        }
      }
      linkLocked(std::move(entry), std::move(slot));
    }
    // 2. Indexes: big namespaces one at a time with all threads, the rest
    // spread over the threads, one namespace per thread at a time.
    std::vector<std::pair<VectorIndex*, std::vector<std::pair<uint64_t, const Vector*>>>> big, small;
    for (auto& [ns, list] : pending) {
      std::vector<std::pair<uint64_t, const Vector*>> items;
      for (const auto& [id, v] : list) {
        if (slots_.count(id)) items.emplace_back(id, &v);  // not replaced later in the batch
      }
      if (items.empty()) continue;
      auto& space = spaces_[ns];
      if (!space) {
        space = std::make_unique<VectorIndex>(items.front().second->size(), params_);
        if (fineScreenOff_) space->setSearchPath(params_.ownSearch, false);
      }
      (items.size() >= 10000 ? big : small).emplace_back(space.get(), std::move(items));
    }
    threads = std::max<size_t>(1, threads);
    for (auto& [index, items] : big) index->addMany(items, threads);
    std::atomic<size_t> next{0};
    auto work = [&] {
      for (size_t i; (i = next.fetch_add(1)) < small.size();) small[i].first->addMany(small[i].second, 1);
    };
    std::vector<std::thread> pool;
    for (size_t t = 1; t < std::min(threads, small.size()); ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    // 3. Charges, then the bound (least recent first, as put() would).
    for (auto& [id, slot] : slots_) {
      if (slot.charged) continue;
      slot.charged = true;
      bytes_ += slot.bytes;
    }
    indexBytes_ = 0;
    for (const auto& [ns, space] : spaces_) indexBytes_ += charge(*space);
    std::vector<uint64_t> tooBig;
    for (const auto& [id, slot] : slots_) {
      if (slot.bytes > target_) tooBig.push_back(id);
    }
    for (uint64_t id : tooBig) eraseLocked(id);
    while (totalLocked() > target_ && !lru_.empty()) {
      eraseLocked(lru_.back());
      ++evictions_;
    }
  }

  void setSearch(size_t efSearch, size_t rerank) override {
    std::lock_guard lock(mutex_);
    params_.efSearch = efSearch;
    params_.rerank = rerank;
    for (auto& [ns, space] : spaces_) space->setSearch(efSearch, rerank);
  }

  void setSearchPath(bool ownSearch, bool fineScreen) override {
    std::lock_guard lock(mutex_);
    params_.ownSearch = ownSearch;
    fineScreenOff_ = !fineScreen;
    for (auto& [ns, space] : spaces_) space->setSearchPath(ownSearch, fineScreen);
  }

  size_t size() const override {
    std::lock_guard lock(mutex_);
    return slots_.size();
  }
  size_t bytes() const override {
    std::lock_guard lock(mutex_);
    return totalLocked();
  }
  size_t maxBytes() const override { return maxBytes_; }
  uint64_t evictions() const override {
    std::lock_guard lock(mutex_);
    return evictions_;
  }

 private:
  struct Slot {
    std::shared_ptr<const Entry> entry;
    std::list<uint64_t>::iterator lru;
    Evidence evidence;
    size_t bytes = 0;
    bool charged = true;  // false while putMany() has not added it to bytes_ yet
  };

  // The entry (its vector already handed to an index or dropped) becomes
  // the most recent in the LRU, findable by its exact key. Not charged here.
  void linkLocked(Entry entry, Slot slot) {
    Vector().swap(entry.embedding);
    const uint64_t id = entry.id;
    exact_[entry.exact] = id;
    slot.entry = std::make_shared<const Entry>(std::move(entry));
    lru_.push_front(id);
    slot.lru = lru_.begin();
    slots_.emplace(id, std::move(slot));
  }

  // The store's own nodes per entry: its slot, its exact key (the Digest
  // hash is not noexcept, so libstdc++ caches it in the node) and its LRU
  // list node.
  static constexpr size_t kSlotNode = sizeof(void*) + sizeof(std::pair<const uint64_t, Slot>);
  static constexpr size_t kExactNode = sizeof(void*) + sizeof(std::pair<const Digest, uint64_t>) + sizeof(size_t);
  static constexpr size_t kLruNode = 2 * sizeof(void*) + sizeof(uint64_t);
  static inline const size_t kPerEntry = heapBytes(kSlotNode) + heapBytes(kExactNode) + heapBytes(kLruNode);
  // A namespace: its index and its node in spaces_.
  static size_t charge(const VectorIndex& index) {
    return index.memoryBytes() +
           heapBytes(sizeof(void*) + sizeof(std::pair<const Digest, std::unique_ptr<VectorIndex>>) + sizeof(size_t));
  }

  // Everything charged: entries, indexes, the tables' bucket arrays.
  size_t totalLocked() const {
    auto buckets = [](const auto& map) { return map.bucket_count() > 1 ? heapBytes(map.bucket_count() * sizeof(void*)) : 0; };
    return bytes_ + indexBytes_ + buckets(slots_) + buckets(exact_) + buckets(spaces_);
  }

  void touch(Slot& slot) { lru_.splice(lru_.begin(), lru_, slot.lru); }

  void removeFromSpace(const Digest& ns, uint64_t id) {
    auto space = spaces_.find(ns);
    if (space == spaces_.end()) return;
    indexBytes_ -= charge(*space->second);
    space->second->remove(id);
    if (space->second->size() == 0) {
      spaces_.erase(space);
    } else {
      indexBytes_ += charge(*space->second);
    }
  }

  void eraseLocked(uint64_t id) {
    auto it = slots_.find(id);
    if (it == slots_.end()) return;
    const auto& entry = *it->second.entry;
    if (entry.ns) removeFromSpace(*entry.ns, id);
    if (auto e = exact_.find(entry.exact); e != exact_.end() && e->second == id) exact_.erase(e);
    lru_.erase(it->second.lru);
    if (it->second.charged) bytes_ -= it->second.bytes;
    slots_.erase(it);
  }

  mutable std::mutex mutex_;
  // The store's allocations stay under target_ = 90% of the bound: the
  // rest is headroom for what the allocator keeps of freed memory under
  // eviction churn (bench/cache_speed --memory: the process grew 6-7% past
  // the store's allocations with 200 namespaces under glibc and tcmalloc).
  static constexpr size_t kHeadroomDivisor = 10;
  size_t maxBytes_;
  size_t target_;
  IndexParams params_;
  bool fineScreenOff_ = false;  // setSearchPath(_, false): new indexes too
  size_t bytes_ = 0;       // entries (slot.bytes of charged slots)
  size_t indexBytes_ = 0;  // namespace indexes (their memoryBytes(), each with its spaces_ node)
  uint64_t nextId_ = 0;
  uint64_t evictions_ = 0;
  std::unordered_map<uint64_t, Slot> slots_;
  std::unordered_map<Digest, uint64_t, DigestHash> exact_;
  std::unordered_map<Digest, std::unique_ptr<VectorIndex>, DigestHash> spaces_;
  std::list<uint64_t> lru_;
};

}  // namespace

std::unique_ptr<Store> makeMemoryStore(size_t maxBytes, IndexParams params) {
  return std::make_unique<MemoryStore>(maxBytes, params);
}

}  // namespace arbitra::cache
