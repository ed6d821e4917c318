// Where cache entries live, behind one small interface: in memory now
// (MemoryStore); a Redis-backed store comes with the scale-out issue and
// implements the same calls.
//
// An Entry is immutable once stored (shared_ptr<const Entry>): readers keep it
// alive while they encode it even if it is evicted meanwhile. What changes
// (LRU position, learned-threshold Evidence) is the store's own state.
//
// Guarantees (MemoryStore): bytes() (what the store has allocated, counted
// structure by structure) never exceeds 90% of the bound after put()
// returns, the rest being headroom for the allocator's retained free memory
// (least recently used entries are evicted first, expired ones on sight); an
// exact key maps to at most one entry; all calls are thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cache/embedder.h"
#include "cache/request_key.h"
#include "cache/threshold.h"
#include "cache/vector_index.h"
#include "core/types.h"

namespace arbitra::cache {

// The answer as stored: neutral, replayed in either wire format.
struct StoredAnswer {
  std::string text;
  std::vector<core::ToolCall> toolCalls;
  core::FinishReason finish = core::FinishReason::Stop;
  std::optional<core::Usage> usage;
};

struct Entry {
  uint64_t id = 0;  // assigned by the store
  Digest exact;
  std::optional<Digest> ns;  // present: also findable by meaning
  std::string group;
  std::string query;  // the final user turn (semantic entries)
  Vector embedding;   // given to put(); the store keeps it in the namespace index, not here
  StoredAnswer answer;
  std::string deployment;  // which deployment produced it
  int64_t costPico = 0;    // what producing it cost: what each hit saves
  int64_t createdMs = 0;
  int64_t expiresMs = 0;
};

struct Neighbor {
  std::shared_ptr<const Entry> entry;
  float similarity = 0;
  Evidence evidence;  // a copy, taken with the entry
};

class Store {
 public:
  virtual ~Store() = default;
  // The live entry with this exact key (and marks it recently used).
  virtual std::shared_ptr<const Entry> findExact(const Digest& key, int64_t nowMs) = 0;
  // The k most similar live entries in namespace `ns`.
  virtual std::vector<Neighbor> nearest(const Digest& ns, const Vector& query, size_t k, int64_t nowMs) = 0;
  virtual std::shared_ptr<const Entry> get(uint64_t id) = 0;
  // Stores (replacing any entry with the same exact key); returns its id, 0
  // when the entry alone is larger than the bound.
  virtual uint64_t put(Entry entry, const Evidence& evidence = {}) = 0;
  // Stores many, as put() in this order would (later ones are more recent and
  // survive the bound first); a store may build its indexes on up to
  // `threads` threads (snapshot reload).
  virtual void putMany(std::vector<std::pair<Entry, Evidence>> entries, size_t threads) {
    for (auto& [entry, evidence] : entries) put(std::move(entry), evidence);
  }
  virtual void erase(uint64_t id) = 0;
  virtual void observe(uint64_t id, float similarity, bool same) = 0;
  // Every live entry with its evidence and embedding (empty for exact-only
  // entries), least recently used first (for snapshots). Not atomic: the
  // order is taken when the call starts, and entries are copied out in small
  // batches (MemoryStore: 1,024 per lock), so lookups and puts proceed while
  // a snapshot is written; an entry erased meanwhile is skipped, one put
  // meanwhile is not visited. `visit` runs with no store lock held.
  virtual void forEach(const std::function<void(const Entry&, const Evidence&, const Vector&)>& visit) const = 0;
  // Search effort of every namespace index, present and future (tuning;
  // bench/cache_speed sweeps it on one built index). Stores without an
  // approximate index ignore it.
  virtual void setSearch(size_t efSearch, size_t rerank) {}
  // Which search paths the indexes run (VectorIndex::setSearchPath; bench
  // and tests compare them on one built index).
  virtual void setSearchPath(bool ownSearch, bool fineScreen) {}
  virtual size_t size() const = 0;
  virtual size_t bytes() const = 0;
  virtual size_t maxBytes() const = 0;
  virtual uint64_t evictions() const = 0;
};

std::unique_ptr<Store> makeMemoryStore(size_t maxBytes, IndexParams params = {});

// Bytes an entry is charged, excluding its index share.
size_t entryBytes(const Entry& entry);

}  // namespace arbitra::cache
