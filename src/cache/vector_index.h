// Nearest-neighbour search inside one semantic namespace.
//
// Design: most namespaces are small (one conversation prefix, one system
// prompt with few questions), so a namespace starts as a flat array scanned
// exactly; past kFlatLimit vectors it becomes an HNSW graph (hnswlib, inner
// product on unit vectors = cosine). The graph is built on a compact code of
// each vector (compact.h: a fixed random projection to `indexDims`, int8) and
// stores the full vector beside it; a search takes the `rerank` best
// candidates of the graph and orders them by the exact cosine on the full
// vectors, so every similarity returned is exact (only which candidates are
// found is approximate). The graph is walked by our own search over
// hnswlib's memory layout (no allocation, a small L1-resident visited set,
// every unvisited neighbour's code prefetched at once; same algorithm and
// distances as hnswlib's searchKnn). Re-ranking first scores each candidate
// on an int8 copy of its full vector (FineCode, compact.h: a quarter of the
// bytes, with a proven error bound) and reads the full float vectors only of
// those that can still be among the k best: the result equals scoring every
// candidate exactly. Deletes: flat ones are removed at once;
// HNSW ones are marked deleted (skipped by searches) and their slot is reused
// by the next add (hnswlib relinks a re-added label), so a namespace under
// eviction churn does not grow; the graph is rebuilt from its live vectors
// (flat again at flatLimit or fewer) when deleted ones outnumber them. Ids are
// the store's entry ids.
//
// Memory: memoryBytes() is what the index holds on the heap, counted from
// its structures as allocated (capacities, deleted slots, hnswlib's
// per-element locks, link lists, label map, visited list, allocator chunk
// rounding), not per live vector, so a store that charges it stays under its
// bound with many mid-sized namespaces too (tests/unit/cache/memory_test.cpp
// checks it against glibc's allocation counters). hnswlib 0.6.2 allocates
// 65,536 mutexes (2.6 MB) per index for concurrent updates; an index keeps
// min(65,536, capacity) of them, which is all its ids can reach.
//
// Not thread-safe: the owning store serialises access.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "cache/embedder.h"

namespace arbitra::cache {

struct IndexParams {
  size_t flatLimit = 256;    // vectors kept flat before switching to HNSW
  // Defaults measured with bench/cache_speed at 1M entries in one namespace
  // (README, "Speed", 2026-12-07): on 512-d n-gram vectors the brute-force
  // nearest is the best of every entry's 64-d code for 1,000 of 1,000
  // queries (--diagnose), so recall is lost only where the graph does not
  // reach it. A graph built with ef_construction 128 finds it at ef_search
  // 24 for 998 of 1,000 (the 64-built graph: 987 at 24, 995 at 32, 998 at
  // 48) at 50-60% of the old default's p50; 8 re-ranked candidates find the
  // same answers as 16 (128 dims, measured earlier: lower recall, slower).
  // The price: put() builds the graph ~2x slower.
  size_t m = 16;             // HNSW links per node
  size_t efConstruction = 128;
  size_t efSearch = 24;      // cache.ef_search in the config
  size_t indexDims = 64;     // the graph's code: projected dims (0: the full vector)
  bool int8 = true;          // the graph's code quantised to int8
  size_t rerank = 8;         // graph candidates re-ranked on the full vectors
  bool fineCode = true;      // keep an int8 copy of each full vector (FineCode) to screen re-ranking
  bool ownSearch = true;     // our graph search (false: hnswlib's searchKnn; same results, slower)
};

// What the allocator takes for a request of n bytes (glibc: an 8-byte header,
// 16-byte alignment, 32 bytes at least; tcmalloc's size classes round up by
// no more at the sizes that matter here). Memory accounting counts with it.
size_t heapBytes(size_t n);

class VectorIndex {
 public:
  VectorIndex(size_t dims, IndexParams params = {});
  ~VectorIndex();
  VectorIndex(const VectorIndex&) = delete;
  VectorIndex& operator=(const VectorIndex&) = delete;

  void add(uint64_t id, const Vector& v);  // dims must match (ignored otherwise)
  // Adds many at once; a graph is built with up to `threads` threads (the
  // result is the same set of vectors, searchable the same way).
  void addMany(const std::vector<std::pair<uint64_t, const Vector*>>& items, size_t threads);
  void remove(uint64_t id);
  // The stored vector of `id` (false when absent). The index holds the only
  // copy of an entry's embedding.
  bool get(uint64_t id, Vector& out) const;
  // Up to k (id, cosine) pairs, most similar first.
  std::vector<std::pair<uint64_t, float>> search(const Vector& q, size_t k) const;
  // Search effort from now on (ef_search, re-ranked candidates).
  void setSearch(size_t efSearch, size_t rerank);
  // Which search paths run from now on (bench and tests compare them on one
  // index): our graph search or hnswlib's; the FineCode screen or every
  // candidate's full vector (the screen needs params.fineCode).
  void setSearchPath(bool ownSearch, bool fineScreen);
  // Full vectors the last graph search scored exactly (diagnosis and tests:
  // the FineCode screen reads fewer than the re-rank's candidates).
  size_t lastExactScored() const { return exactScored_; }
  size_t size() const { return live_; }
  size_t dims() const { return dims_; }
  bool graph() const { return hnsw_ != nullptr; }
  // Heap bytes this index holds now (see the file comment), the object itself
  // included.
  size_t memoryBytes() const;

 private:
  void toGraph();
  void rebuild();
  void toFlat();

  size_t dims_;
  IndexParams params_;
  size_t live_ = 0;
  bool fineScreen_;
  mutable size_t exactScored_ = 0;
  // Flat form.
  std::vector<uint64_t> flatIds_;
  std::vector<float> flat_;
  // Graph form.
  struct Graph;
  std::unique_ptr<Graph> hnsw_;
};

}  // namespace arbitra::cache
