// The semantic cache's `local` embedder (engine/cache_embedder.h) on the
// generated tiny model: registered as kind `local`, unit vectors,
// deterministic, refused with the file's name when the model is bad, and a
// cache using it answers a near-identical question from its semantic index
// while an unrelated one misses.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <future>

#include "cache/cache.h"
#include "cache/thread_pool.h"
#include "engine/cache_embedder.h"
#include "engine_test_util.h"

namespace arbitra::engine {
namespace {

using namespace enginetest;

std::unique_ptr<cache::Embedder> localEmbedder(const std::string& model) {
  cache::EmbedderRegistry registry;
  cache::registerBuiltinEmbedders(registry);
  registerCacheEmbedder(registry);
  cache::EmbedderOptions options;
  options.kind = "local";
  options.model = model;
  auto made = registry.create(options);
  if (!made) {
    ADD_FAILURE() << made.error().message;
    return nullptr;
  }
  return std::move(*made);
}

core::ChatRequest question(const std::string& text) {
  core::ChatRequest r;
  r.model = "fast";
  core::Message m;
  m.role = core::Role::User;
  m.content.push_back({core::ContentPart::Kind::Text, text, ""});
  r.messages.push_back(std::move(m));
  r.temperature = 0;
  return r;
}

TEST(LocalCacheEmbedder, RegisteredAsKindLocalWithUnitDeterministicVectors) {
  auto embedder = localEmbedder(tinyModel());
  ASSERT_TRUE(embedder);
  EXPECT_EQ(embedder->dimensions(), 32u);
  EXPECT_DOUBLE_EQ(embedder->defaultThreshold(), kLocalEmbedderThreshold);
  auto a = embedder->embed("How do I reset my password?");
  auto b = embedder->embed("How do I reset my password?");
  auto c = embedder->embed("Quarterly revenue of the steel mill");
  ASSERT_TRUE(a && b && c);
  ASSERT_EQ(a->size(), 32u);
  double norm = 0;
  for (float x : *a) norm += x * x;
  EXPECT_NEAR(norm, 1.0, 1e-4);
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, *c);
}

TEST(LocalCacheEmbedder, ABadModelIsRefusedWithItsName) {
  std::string path = "/tmp/arbitra-bad-embed-" + std::to_string(::getpid()) + ".gguf";
  std::ofstream(path) << "not a model";
  cache::EmbedderRegistry registry;
  registerCacheEmbedder(registry);
  cache::EmbedderOptions options;
  options.kind = "local";
  options.model = path;
  auto made = registry.create(options);
  ASSERT_FALSE(made);
  EXPECT_NE(made.error().message.find(path), std::string::npos) << made.error().message;
  std::remove(path.c_str());
}

TEST(LocalCacheEmbedder, ACacheWithTheLocalEmbedderHitsSemantically) {
  auto embedder = localEmbedder(tinyModel());
  ASSERT_TRUE(embedder);
  cache::CacheOptions o;
  o.defaults.mode = cache::Mode::Semantic;
  o.defaults.threshold.staticThreshold = embedder->defaultThreshold();
  o.defaults.threshold.learn = false;
  o.defaults.threshold.verifyFraction = 0;
  cache::Cache cache(o);
  // Embeddings run on a bounded pool, as the gateway's cache step runs them.
  cache::ThreadPool pool(1, 4);
  auto onPool = [&](const std::string& text) {
    auto done = std::make_shared<std::promise<cache::Vector>>();
    auto future = done->get_future();
    EXPECT_TRUE(pool.submit([&, text, done] {
      auto v = embedder->embed(text);
      done->set_value(v ? *v : cache::Vector{});
    }));
    return future.get();
  };
  const int64_t now = 1'000'000;
  auto find = [&](const std::string& text) {
    auto lookup = cache.begin(question(text), "t1", cache::Control{}, now);
    if (lookup.needsEmbedding) cache.semantic(lookup, onPool(lookup.ticket.query), now);
    return lookup;
  };
  auto first = find("How do I reset my password?");
  ASSERT_EQ(first.kind, cache::Lookup::Kind::Miss);
  cache::StoredAnswer answer;
  answer.text = "Use the reset link.";
  answer.usage = core::Usage{10, 20, 0, 0, 0};
  cache.complete(first.ticket, answer, "edge/tiny", 1234, now);

  auto near = find("How do I reset my password");  // not the same request: no exact hit
  ASSERT_EQ(near.kind, cache::Lookup::Kind::HitSemantic);
  EXPECT_EQ(near.entry->answer.text, "Use the reset link.");
  EXPECT_GE(near.similarity, kLocalEmbedderThreshold);
  EXPECT_EQ(find("What is the weather in Paris tomorrow?").kind, cache::Lookup::Kind::Miss);
  EXPECT_EQ(find("Quarterly revenue of the steel mill").kind, cache::Lookup::Kind::Miss);
}

}  // namespace
}  // namespace arbitra::engine
