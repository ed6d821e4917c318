// One ledger record: everything the ledger keeps about one request, and the
// virtual keys it keeps alongside. Plain data; stores write and read them.
//
// Money is in pico-dollars (int64: up to $9.2 million per record), latency in
// microseconds. Secrets never appear here: a key is known by its id and the
// SHA-256 of its value, never the value.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace arbitra::ledger {

// The routing decision as the router made it; turned into the `route` JSON
// by the writer thread, off the request path.
struct RouteFacts {
  struct Candidate {
    std::string deployment;
    int64_t predictedCostPico = 0;
    double predictedTtftMs = 0;
    bool eligible = true;
  };
  std::string policy;
  std::string reason;
  std::vector<Candidate> candidates;
  bool empty() const { return policy.empty() && candidates.empty(); }
};
std::string routeJson(const RouteFacts& facts);

struct Record {
  int64_t seq = 0;     // assigned by Ledger::append, strictly increasing
  int64_t timeMs = 0;  // unix milliseconds at the request's start
  std::string requestId;
  std::string keyId;   // "" when no virtual keys are in use
  std::string tags;    // the key's tags, comma-separated
  std::string model;   // public model name as asked
  std::string deployment;
  std::string provider;
  std::string format;  // "openai" | "anthropic"
  int status = 0;
  bool stream = false;
  int64_t inputTokens = 0;
  int64_t outputTokens = 0;
  int64_t cachedReadTokens = 0;
  int64_t cacheWriteTokens = 0;
  int64_t reasoningTokens = 0;
  int64_t costPico = 0;
  int64_t cacheSavedPico = 0;  // a cache hit: what the upstream call would have cost
  int64_t routeSavedPico = 0;  // vs the model group's first deployment, same usage
  bool estimated = false;      // usage counted locally: the upstream reported none
  bool priceMissing = false;   // no price known: cost 0 here is flagged, never silent
  int64_t latencyUs = 0;       // total, request start to last byte
  int64_t ttftUs = 0;          // to the first token (0: none)
  int attempts = 0;
  // The edge engine's speculative decoding (kind `local`; 0 elsewhere):
  // tokens proposed, tokens the target confirmed (acceptance rate =
  // accepted / drafted), and target steps that produced the output (output
  // tokens / decode steps = tokens per step, 1.0 without speculation).
  int64_t draftedTokens = 0;
  int64_t acceptedTokens = 0;
  int64_t decodeSteps = 0;
  std::string cache;  // "" (not consulted), "miss", "hit-exact", "hit-semantic"
  std::string route;  // the routing decision, JSON (policy, reason, candidates)
  RouteFacts routeFacts;  // set on the request path; the writer fills `route` from it
  std::string error;  // what went wrong, if anything (no secrets)
};

struct KeyRecord {
  std::string id;    // "key_" + 12 hex, shown in lists and records
  std::string hash;  // hex SHA-256 of the key's value
  std::string name;
  std::vector<std::string> models;  // allowed public models; empty = all
  int64_t budgetDayPico = 0;        // 0 = no limit
  int64_t budgetMonthPico = 0;
  int64_t rpm = 0;                  // requests per minute; 0 = no limit
  int64_t tpm = 0;                  // tokens per minute; 0 = no limit
  std::vector<std::string> tags;
  int64_t createdMs = 0;
  int64_t revokedMs = 0;            // 0 = active
};

// Latency histogram bucket for reports: 16 buckets per power of two of
// microseconds, so a percentile read from buckets is within ~2.2% of exact.
int latencyBucket(int64_t micros);
int64_t bucketMidpointMicros(int bucket);

// Lists stored as comma-separated text (models, tags).
std::string joinList(const std::vector<std::string>& items);
std::vector<std::string> splitList(const std::string& text);

}  // namespace arbitra::ledger
