// Test models: GGUF files of the llama architecture with random weights and a
// real tokenizer, so the engine's loading, batching, sampling and streaming
// run on real llama.cpp code without committing weights.
//
// Design: the tokenizer (every `tokenizer.*` key) is copied from a vocab-only
// GGUF of the llama.cpp tree (share/vocab/ggml-vocab-llama-bpe.gguf in the
// llama install); the shape is chosen here; weights come from a seeded
// generator (splitmix64 + Box-Muller), so the same seed and shape give the
// same file byte for byte. Tensors are written one at a time after the
// metadata, so a ~1B-parameter model needs only one tensor's worth of memory.
// The output projection is its own matrix (untied), scaled so that logits are
// peaked (greedy decoding has clear winners, not near-ties). `confident`
// models (see the shape) make a draft/target pair that agrees, for benchmarks
// of speculative decoding; their output follows a fixed token->token map and
// is meaningless text, like every test model's.
//
//   engine::TestModelShape shape = engine::TestModelShape::tiny();
//   auto written = engine::writeTestModel(vocabPath, "tiny.gguf", shape, 42);
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/error.h"

namespace arbitra::engine {

struct TestModelShape {
  int embedding = 32;      // n_embd (a multiple of 32: q4_0/q8_0 blocks)
  int layers = 2;          // n_layer
  int heads = 4;           // n_head
  int kvHeads = 2;         // n_head_kv (grouped-query attention)
  int feedForward = 128;   // n_ff
  int contextLength = 4096;
  bool f16 = true;         // weights in F16 (norms stay F32)
  bool tiedOutput = false; // output = token embeddings: the model repeats itself (n-gram tests)
  // A synthetic "confident" model: each token's embedding points at the output
  // row of one fixed next token (a seeded random map over the text tokens),
  // and the residual branches (attn_output, ffn_down) are scaled by 0.05, so
  // the next-token choice has a margin of ~200 logits over the runner-up and
  // survives Q4 quantization: a Q4 copy agrees with its F16 target on nearly
  // every token, as a trained model's quantized copy mostly does. Every layer
  // still runs at full size (the same compute and memory traffic per token as
  // the plain random model); only the weights' values differ. Not with tiedOutput.
  bool confident = false;
  std::string name = "arbitra-tiny";

  // ~25 MB with the Llama-3 tokenizer (128k-row embeddings and output, 8 MB of tokenizer).
  static TestModelShape tiny();
  // Llama-3.2-1B's shape (2048 wide, 16 layers, 32/8 heads, 8192 FFN), untied: ~3 GB F16.
  static TestModelShape oneB();
  // Qwen2.5-0.5B's layers (896 wide, 24 layers, 14/2 heads of 64, 4864 FFN) with the
  // Llama-3 vocabulary, untied: 588M parameters, ~1.2 GB F16.
  static TestModelShape halfB();
  // SmolLM2-135M's layers (576 wide, 30 layers, 9/3 heads of 64, 1536 FFN) with the
  // Llama-3 vocabulary, untied: 254M parameters (148M of them the two 128k-row
  // embedding matrices), ~0.5 GB F16. Deep and narrow: per-layer overhead shows.
  static TestModelShape smol135m();
  // By name: "tiny", "135m", "500m", "1b"; nullopt for anything else.
  static std::optional<TestModelShape> named(const std::string& name);
};

// Writes the model; returns the file size in bytes.
core::Result<int64_t> writeTestModel(const std::string& vocabPath, const std::string& outPath,
                                     const TestModelShape& shape, uint64_t seed);

}  // namespace arbitra::engine
