// What the gateway knows about one request, filled in as the request walks:
// the log line, the ledger record, the response headers, the router's and the
// cache's feedback all read it. One struct, one owner (the chat walk); the
// steps that run later (router, cache, ledger) each fill their own part.
//
// Nothing here is a secret: the caller's key appears only as its id
// (`keyId`), never as the key itself.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/types.h"

namespace arbitra::gateway {

using Clock = std::chrono::steady_clock;

// Why a deployment was chosen (router) and what the others would have cost.
struct RouteCandidate {
  std::string deployment;        // label, "<provider>/<upstream model>"
  int64_t predictedCostPico = 0;  // expected cost of this request there, pico-dollars
  double predictedTtftMs = 0;     // predicted p90 time to first token
  bool eligible = true;           // met the request's bars and was available (breaker, 429, RPM/TPM)
};

struct RouteDecision {
  std::string policy;  // "cost", "latency", "balanced", "weighted", "priority", "" = config order
  std::string reason;  // the x-arbitra-route header: "<deployment>; policy=<p>; <why>; expected=$..; p90_ttft=..ms"
  std::vector<RouteCandidate> candidates;
};

// What the cache did for this request.
struct CacheOutcome {
  enum class Kind { None, Miss, HitExact, HitSemantic };
  Kind kind = Kind::None;  // None: the cache was not consulted
  double similarity = 0;   // semantic hits: similarity of the matched entry
  double threshold = 0;    // semantic hits: that entry's threshold
  int64_t savedPico = 0;   // what the upstream call would have cost
};

// What an in-process (kind local) deployment reported: speculation and the
// machine cost of this request.
struct EngineOutcome {
  bool used = false;
  int cachedTokens = 0;    // prompt tokens served from the slot's KV cache
  int draftedTokens = 0;   // speculative decoding: proposed
  int acceptedTokens = 0;  //                       accepted (rate = accepted / drafted)
  int decodeSteps = 0;     // target steps that produced the output (tokens per step = output / steps)
  int64_t costPico = 0;    // cost_per_hour over measured throughput, for this request
};

struct Exchange {
  std::string id;  // x-arbitra-request-id
  core::WireFormat format = core::WireFormat::OpenAI;
  Clock::time_point start = Clock::now();
  int64_t wallStartMs = 0;  // unix milliseconds at start, for the ledger
  std::optional<Clock::time_point> firstToken;
  std::string keyId;       // virtual key id ("" when no keys are configured)
  std::string model;       // public model name as asked
  std::string deployment;  // the deployment that served it (label)
  std::string provider;    // its provider's name
  int status = 0;
  int attempts = 0;
  bool stream = false;
  bool simulated = false;
  bool batch = false;  // served through a provider's batch API: billed at its batch prices
  std::optional<core::Usage> usage;
  bool usageEstimated = false;  // counted locally: the upstream reported none
  size_t promptBytes = 0;       // the caller's body, for a local estimate
  size_t outputBytes = 0;       // streamed text and tool arguments, for a local estimate
  int64_t costPico = 0;         // what it cost (set when it is recorded)
  RouteDecision route;
  CacheOutcome cache;
  EngineOutcome engine;
  std::string note;  // what went wrong, if anything
};

}  // namespace arbitra::gateway
