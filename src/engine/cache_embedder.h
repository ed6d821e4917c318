// The semantic cache's `local` embedder: a GGUF embedding model served by the
// edge engine (its own Engine, embeddings only), registered under kind
// `local` in the cache's EmbedderRegistry (cache/embedder.h).
//
// Design: embed() is synchronous, as the Embedder interface asks; it posts
// the text to the engine thread and waits for its vector. It is called only
// from the cache's bounded embedding pool (cache/thread_pool.h; the gateway's
// cache step hands it there), so the wait blocks a pool thread, never an I/O
// thread; the engine thread embeds one request at a time.
// Guarantees: vectors are L2-normalised, deterministic for the same text;
// a model that cannot be loaded is an Error naming the file (a start-up
// error in the gateway); text is cut to its first 6 KiB (about 1500 tokens
// of English, inside the 2048-token embedding context); a text with more
// tokens than that context gets an Error (the lookup is then exact-only).
//
//   cache::EmbedderRegistry registry;
//   engine::registerCacheEmbedder(registry);
//   auto embedder = registry.create({.kind = "local", .model = "embed.gguf"});
#pragma once

#include "cache/embedder.h"

namespace arbitra::engine {

// The similarity threshold of the `local` embedder when a group sets none:
// typical for sentence-embedding models (the same default as the deployment
// embedder); not measured on bench/cache_eval (no trained model offline).
inline constexpr double kLocalEmbedderThreshold = 0.90;

// Registers kind `local` (EmbedderOptions::model: the GGUF file).
void registerCacheEmbedder(cache::EmbedderRegistry& registry);

}  // namespace arbitra::engine
