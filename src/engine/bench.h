// `arbitra bench`: measures a GGUF model on this machine through the engine
// itself — prompt and generation tokens/s, time to first token, aggregate
// tokens/s at 1..N concurrent streams, speculative acceptance, peak memory —
// and prices it at a given $/hour. The planner reads its JSON (--measured).
//
// Design: one Engine with `parallel` = the largest concurrency; each level
// submits that many distinct greedy requests at once and times them to the
// last token. Prompts differ per request and per level, so no run reuses
// another's KV cache. Numbers are measurements, not asserted anywhere.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "engine/engine.h"

namespace arbitra::engine {

struct BenchOptions {
  std::string modelPath;
  std::string draftPath;
  bool ngram = false;
  int parallel = 4;          // the largest concurrency measured
  int threads = 0;
  int promptTokens = 256;    // prefill measurement
  int generateTokens = 64;   // per stream
  int64_t costPerHourMicros = 0;
};

struct BenchLevel {
  int streams = 0;
  double aggregateTokensPerSecond = 0;  // output tokens / wall time from submit (prefill included)
  double perStreamTokensPerSecond = 0;
  // Decode alone: tokens after each stream's first / time after the last
  // stream's first token (what the planner models as decode; its prefill is
  // measured on its own).
  double decodeTokensPerSecond = 0;
  double meanFirstTokenMs = 0;
  int64_t outputTokens = 0;
  double seconds = 0;
  int64_t drafted = 0;
  int64_t accepted = 0;
  int64_t microsPerMillionTokens = 0;  // at costPerHour; 0 when no cost given
};

struct BenchReport {
  ModelInfo model;
  std::string speculation;  // none | draft | ngram
  int threads = 0;
  double loadSeconds = 0;
  double prefillTokensPerSecond = 0;
  double prefillFirstTokenMs = 0;
  int prefillTokens = 0;
  std::vector<BenchLevel> levels;
  int64_t peakRssBytes = 0;
};

// The planner's format id (data/planner/models.yaml) of a model from its
// llama_model_desc ("llama 1B Q4_K - Medium"): the words after the
// architecture and size, with llama.cpp's " - Medium/Small/Large" spelled
// _M/_S/_L: "Q4_K_M", "Q8_0", "F16".
std::string formatId(const std::string& description);

core::Result<BenchReport> runBench(const BenchOptions& options, const std::function<void(const std::string&)>& progress = {});

}  // namespace arbitra::engine
