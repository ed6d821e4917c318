// The `local` cache embedder (see cache_embedder.h).
#include "engine/cache_embedder.h"

#include <algorithm>
#include <future>
#include <thread>

#include "engine/engine.h"

namespace arbitra::engine {
namespace {

constexpr int kContext = 2048;        // tokens of one embedded text
constexpr size_t kMaxBytes = 3 * kContext;  // longer text is cut (English: ~4 bytes per token)

class LocalEmbedder final : public cache::Embedder {
 public:
  LocalEmbedder(std::unique_ptr<Engine> engine, std::string path) : engine_(std::move(engine)), path_(std::move(path)) {}

  std::string name() const override { return "local:" + path_; }
  size_t dimensions() const override { return static_cast<size_t>(engine_->info().embeddingSize); }
  double defaultThreshold() const override { return kLocalEmbedderThreshold; }

  core::Result<cache::Vector> embed(std::string_view text) const override {
    std::string input(text.substr(0, kMaxBytes));
    if (input.empty()) input = " ";
    auto promise = std::make_shared<std::promise<core::Result<EmbedResult>>>();
    auto future = promise->get_future();
    std::vector<std::string> inputs{std::move(input)};
    engine_->embed(std::move(inputs), [promise](core::Result<EmbedResult> result) { promise->set_value(std::move(result)); });
    auto result = future.get();
    if (!result) return result.error();
    if (result->vectors.empty()) return core::makeError(core::ErrorKind::Internal, "the local embedder returned no vector");
    return std::move(result->vectors[0]);
  }

 private:
  std::unique_ptr<Engine> engine_;
  std::string path_;
};

}  // namespace

void registerCacheEmbedder(cache::EmbedderRegistry& registry) {
  registry.registerFactory("local", [](const cache::EmbedderOptions& o) -> core::Result<std::unique_ptr<cache::Embedder>> {
    if (o.model.empty()) return core::makeError(core::ErrorKind::InvalidRequest, "cache embedder local needs a model file");
    EngineOptions options;
    options.modelPath = o.model;
    options.parallel = 1;
    options.maxQueued = 0;
    options.contextSize = kContext;
    options.threads = static_cast<int>(std::clamp(std::thread::hardware_concurrency() / 2, 1u, 4u));
    options.embeddings = true;
    auto engine = Engine::load(options);
    if (!engine) return core::makeError(engine.error().kind, "cache embedder: " + engine.error().message);
    return std::unique_ptr<cache::Embedder>(new LocalEmbedder(std::move(*engine), o.model));
  });
}

}  // namespace arbitra::engine
