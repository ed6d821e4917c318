// The edge engine: a GGUF model served in process through llama.cpp.
//
// Design (after llama.cpp's server, kept small): one thread owns the model, its
// llama_context and every slot. Callers post typed requests (submit, embed,
// cancel) from any thread and get typed results back through a callback that
// runs on the engine thread (so it must be quick: hand the data to the caller's
// own executor). Each step gathers one batch from every active slot (prompt
// chunks, the next token, draft tokens to verify) and makes one llama_decode.
//
// Guarantees:
//  - Continuous batching: requests join and leave between steps; each keeps its
//    own sampling (temperature, top_p, top_k, seed), stop strings and max_tokens.
//    At temperature 0 a request's tokens do not depend on what else runs.
//  - A slot keeps its tokens' KV cache after a request; a new request goes to
//    the free slot sharing the longest prefix with its prompt and decodes only
//    the rest (`cachedTokens`).
//  - Back-pressure: at most `parallel` requests run and `maxQueued` wait;
//    beyond that submit() fails with ErrorKind::Overloaded (503, Retry-After).
//  - Cancellation: cancel(id) frees the slot at the next step; the callback
//    then gets done with Finish::Cancelled. Every accepted request gets exactly
//    one `done` callback.
//  - Speculative decoding (greedy requests): a draft model, or n-gram lookup in
//    the request's own tokens, proposes tokens the target verifies in the same
//    decode step; the output is the target's greedy output.
//  - The weights are read into memory advised for transparent huge pages
//    (EngineOptions::hugePages, default on; huge_pages.h says why).
//  - A corrupt or truncated GGUF is refused by load() with a message; llama.cpp
//    never sees a file whose tensor table points past its end.
//  - No llama.cpp header leaks out of this file.
//
//   auto engine = engine::Engine::load({.modelPath = "tiny.gguf", .parallel = 4});
//   if (!engine) return engine.error();
//   engine::GenerateParams params;
//   params.messages = {{"user", "hello"}};
//   params.temperature = 0;
//   (*engine)->submit(std::move(params), [](engine::Output out) { ... });
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"

namespace arbitra::engine {

enum class Speculation { None, Draft, NGram };

struct EngineOptions {
  std::string modelPath;
  std::string draftPath;        // optional draft model (same tokenizer)
  int contextSize = 4096;       // KV cells per slot
  int parallel = 4;             // slots decoding at once
  int maxQueued = -1;           // waiting requests beyond the slots; -1: same as parallel
  int threads = 0;              // 0: hardware threads
  int batchSize = 512;          // tokens per decode step (prompt chunking)
  Speculation speculation = Speculation::None;  // Draft needs draftPath
  int draftTokens = 8;          // most tokens proposed per step
  bool embeddings = true;       // allow embed() (a second context, made on first use)
  bool hugePages = true;        // weights read into memory advised for 2 MiB pages (huge_pages.h); false: mmap the file
};

struct ChatTurn {
  std::string role;  // system | user | assistant
  std::string content;
};

struct GenerateParams {
  std::vector<ChatTurn> messages;  // rendered with the model's chat template
  std::string prompt;              // used as is when `messages` is empty
  float temperature = 0.8f;        // <= 0: greedy
  float topP = 1.0f;
  int topK = 0;                    // 0: off
  std::optional<uint64_t> seed;    // absent: random
  std::vector<std::string> stop;
  int maxTokens = 256;
  bool speculative = true;         // use the engine's speculation when greedy
};

enum class Finish { Stop, Length, Cancelled, Error };

struct GenerateStats {
  int promptTokens = 0;
  int cachedTokens = 0;   // prompt tokens whose KV cache was reused
  int outputTokens = 0;
  int draftedTokens = 0;  // proposed by speculation
  int acceptedTokens = 0; // of those, confirmed by the target
  int decodeSteps = 0;    // target steps that produced output: the prompt's last, then one per
                          // generating step (outputTokens / decodeSteps: tokens per step)
  double queueMs = 0;     // submit -> slot
  double firstTokenMs = 0;  // submit -> first token
  double totalMs = 0;
};

// One callback per step with new text; the last one has done = true.
struct Output {
  std::string text;  // new text since the last callback (UTF-8 complete, stop strings removed)
  bool done = false;
  Finish finish = Finish::Stop;
  GenerateStats stats;           // final when done
  std::optional<core::Error> error;  // Finish::Error
};
using OutputSink = std::function<void(Output)>;

struct EmbedResult {
  std::vector<std::vector<float>> vectors;  // L2-normalised, one per input
  int promptTokens = 0;
};
using EmbedSink = std::function<void(core::Result<EmbedResult>)>;

struct ModelInfo {
  std::string description;  // llama_model_desc
  std::string name;         // general.name
  int64_t parameters = 0;
  int64_t sizeBytes = 0;
  int embeddingSize = 0;
  int trainedContext = 0;
  int vocabSize = 0;
  bool hasChatTemplate = false;
  int64_t hugePageBytes = 0;  // weight memory (model + draft) advised for huge pages; 0 with hugePages off
};

struct EngineCounters {
  int64_t steps = 0;
  int64_t decodedTokens = 0;    // tokens through llama_decode (prompt + generated + drafts)
  int64_t generatedTokens = 0;
  int64_t draftedTokens = 0;
  int64_t acceptedTokens = 0;
  int64_t busyMicros = 0;       // time spent in decode steps (decode + sampling)
  int active = 0;
  int queued = 0;
};

class Engine {
 public:
  // Loads the model (and draft), makes the context, starts the engine thread.
  static core::Result<std::unique_ptr<Engine>> load(const EngineOptions& options);
  ~Engine();  // cancels everything, joins the thread
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues a generation. Fails (Overloaded) when slots and queue are full, or
  // (InvalidRequest) when the prompt cannot fit the context.
  core::Result<uint64_t> submit(GenerateParams params, OutputSink sink);
  // Stops a request; harmless for unknown or finished ids.
  void cancel(uint64_t id);
  // Embeds each input (mean pooling unless the model says otherwise).
  void embed(std::vector<std::string> inputs, EmbedSink sink);

  // Thread-safe helpers, independent of the engine thread.
  core::Result<std::vector<int32_t>> tokenize(const std::string& text, bool addSpecial) const;
  std::string render(const std::vector<ChatTurn>& messages) const;  // chat template applied
  const ModelInfo& info() const;
  const EngineOptions& options() const;
  EngineCounters counters() const;

  struct Impl;

 private:
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Reads a GGUF file's header and tensor table and checks that every tensor
// lies inside the file. An error names the file and what is wrong.
core::Result<int64_t> checkGgufFile(const std::string& path);

// Silences llama.cpp's own logging (errors still reach stderr) unless
// ARBITRA_LLAMA_LOG=1. Called by load(); idempotent.
void quietLlamaLogs();

}  // namespace arbitra::engine
