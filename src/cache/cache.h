// The response cache: exact and semantic, per model group, with learned
// thresholds and snapshots. No I/O besides the snapshot file; no Beast/Asio.
// The gateway drives it in three steps (gateway/cache_step.cpp):
//
//   auto lookup = cache.begin(request, tenant, control, now);   // I/O thread, µs
//   if (lookup.needsEmbedding)                                   // on the pool:
//     cache.semantic(lookup, embedder.embed(lookup.ticket.query), now);
//   if (lookup.hit()) replay lookup.entry->answer ...
//   else after a successful upstream answer:
//     cache.complete(lookup.ticket, answer, deployment, cost, now);  // on the pool
//
// Guarantees:
//   - a hit never crosses scopes: tenant (unless the group is shared), model
//     group, system prompt, earlier turns, tools, tool choice, response
//     format, sampling parameters (request_key.h);
//   - semantic hits only for groups in mode semantic, for requests whose
//     final message is a text-only user turn, without tool results and for
//     answers without tool calls unless the group sets `tools: true`;
//   - requests above the group's max_temperature are neither served nor stored;
//   - a snapshot that fails its checks is refused with one error log line
//     naming the file and the reason, and the cache starts empty.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "cache/embedder.h"
#include "cache/store.h"
#include "cache/threshold.h"
#include "config/config.h"
#include "core/types.h"

namespace arbitra::cache {

enum class Mode { Off, Exact, Semantic };

struct GroupPolicy {
  Mode mode = Mode::Off;
  bool shared = false;
  int64_t ttlSeconds = 3600;
  double maxTemperature = 2.0;
  bool tools = false;
  ThresholdPolicy threshold;
};

struct CacheOptions {
  size_t maxBytes = 256u * 1024 * 1024;
  std::string snapshotPath;
  int64_t snapshotIntervalSeconds = 300;
  GroupPolicy defaults;
  std::map<std::string, GroupPolicy> groups;
  double answerMatch = 0.90;  // n-gram similarity at which two answers count as the same
  uint64_t seed = 0x5eed;     // verification draws (deterministic per cache)
  IndexParams index;
};

// From config: the per-group policies, the embedder's threshold as the
// static default where the config gives none.
CacheOptions optionsFromConfig(const config::CacheConfig& config, double embedderThreshold);

// x-arbitra-cache request header / "arbitra_cache" body field:
// comma-separated no-cache (do not serve from cache; still store), no-store
// (do not store this answer), ttl=SECONDS.
struct Control {
  bool noCache = false;
  bool noStore = false;
  int64_t ttlSeconds = 0;  // 0: the group's
};
core::Result<Control> parseControl(std::string_view text);

// Carries what the lookup learned to the store step.
struct Ticket {
  bool store = false;  // store the answer when it comes
  std::string group;
  Digest exact;
  std::optional<Digest> ns;
  std::string query;
  Vector embedding;
  int64_t ttlSeconds = 0;
  bool tools = false;        // tool-call answers may be stored semantically
  uint64_t compareWith = 0;  // entry whose answer the fresh one is compared to
  float compareSimilarity = 0;
  bool verifying = false;    // compareWith was a would-be hit (verification)
};

struct Lookup {
  enum class Kind { Bypass, Miss, HitExact, HitSemantic };
  Kind kind = Kind::Bypass;  // Bypass: the cache is off for this request
  std::shared_ptr<const Entry> entry;
  double similarity = 0;
  double threshold = 0;
  bool needsEmbedding = false;  // call semantic() with the query's embedding
  bool serve = true;            // false under no-cache: look nothing up, only store
  Ticket ticket;
  bool hit() const { return kind == Kind::HitExact || kind == Kind::HitSemantic; }
  // "hit-exact", "hit-semantic; sim=0.93; threshold=0.91", "miss", "" for Bypass.
  std::string header() const;
};

struct Metrics {
  uint64_t lookups = 0, hitsExact = 0, hitsSemantic = 0, misses = 0;
  uint64_t verifications = 0, verifiedWrong = 0;  // would-be hits checked upstream, and wrong
  uint64_t probes = 0, probesSame = 0;
  uint64_t stores = 0, evictions = 0, entries = 0, bytes = 0;
  int64_t savedPico = 0;
  // Estimated share of served semantic hits that were wrong: verifiedWrong / verifications.
  double falseHitEstimate() const { return verifications ? double(verifiedWrong) / verifications : 0; }
};

class Cache {
 public:
  explicit Cache(CacheOptions options, std::unique_ptr<Store> store = nullptr);
  ~Cache();  // writes the snapshot when one is configured
  Cache(const Cache&) = delete;
  Cache& operator=(const Cache&) = delete;

  const GroupPolicy& policyFor(const std::string& group) const;

  Lookup begin(const core::ChatRequest& request, const std::string& tenant, const Control& control, int64_t nowMs);
  void semantic(Lookup& lookup, Vector embedding, int64_t nowMs);
  // After a successful upstream answer. `costPico`: what it cost (what a hit saves).
  void complete(const Ticket& ticket, const StoredAnswer& answer, const std::string& deployment, int64_t costPico,
                int64_t nowMs);
  // Counts a served hit's savings (the gateway calls it when the replay was sent).
  void served(const Lookup& lookup);

  Metrics metrics() const;
  // Prometheus text lines (arbitra_cache_*), for the gateway's /metrics.
  void appendPrometheus(std::string& out) const;
  double groupThreshold(const std::string& group) const;

  // Snapshots: checksummed binary (snapshot.cpp). save: false + error on I/O
  // failure. load: false + error when the file is refused (nothing loaded).
  bool saveSnapshot(const std::string& path, std::string& error) const;
  bool loadSnapshot(const std::string& path, int64_t nowMs, std::string& error);
  Store& store() { return *store_; }

 private:
  Calibrator& calibrator(const std::string& group);
  bool sameAnswer(const StoredAnswer& a, const StoredAnswer& b) const;
  void snapshotLoop();

  CacheOptions options_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Embedder> answerEmbedder_;  // ngram, for comparing answers
  mutable std::mutex calibratorsMutex_;
  std::map<std::string, std::unique_ptr<Calibrator>> calibrators_;
  std::atomic<uint64_t> draws_{0};
  struct Counters;
  std::unique_ptr<Counters> counters_;
  std::mutex loopMutex_;
  std::condition_variable loopWake_;
  bool stopping_ = false;
  std::thread snapshotThread_;
};

// A stored answer from a neutral response / from a stream's neutral events.
StoredAnswer answerFrom(const core::ChatResponse& response);
class AnswerBuilder {
 public:
  void add(const core::StreamEvent& event);
  StoredAnswer take();
  bool complete() const { return finished_; }

 private:
  StoredAnswer answer_;
  bool finished_ = false;
};

// The neutral stream events that replay a stored answer (Start, text deltas,
// tool calls, Finish, Usage), for the caller codec's StreamEncoder.
std::vector<core::StreamEvent> replayEvents(const StoredAnswer& answer, const std::string& id, const std::string& model);

}  // namespace arbitra::cache
