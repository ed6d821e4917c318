// The cache: section: per-group settings, defaults, file:line errors.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <unistd.h>

#include "config/config.h"

namespace arbitra::config {
namespace {

const char* kBase = R"(providers:
  p: { kind: openai, base_url: "http://127.0.0.1:9/v1" }
models:
  fast: { provider: p, model: m }
)";

std::string errorOf(const std::string& yaml) {
  try {
    parseConfig(yaml, "c.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(CacheConfigTest, OffWithoutASection) {
  auto config = parseConfig(kBase, "c.yaml");
  EXPECT_FALSE(config.cache.enabled);
}

TEST(CacheConfigTest, GroupsStartFromTheDefault) {
  auto config = parseConfig(std::string(kBase) + R"(cache:
  max_bytes: 1048576
  snapshot: /tmp/x.snap
  ef_search: 24
  embedder: { kind: ngram, threads: 2 }
  default: { mode: exact, ttl_s: 60 }
  models:
    fast: { mode: semantic, threshold: 0.9, delta: 0.02, verify_fraction: 0.1, shared: true, max_temperature: 0 }
)", "c.yaml");
  ASSERT_TRUE(config.cache.enabled);
  EXPECT_EQ(config.cache.maxBytes, 1048576);
  EXPECT_EQ(config.cache.embedThreads, 2);
  EXPECT_EQ(config.cache.efSearch, 24);
  EXPECT_EQ(config.cache.defaults.mode, "exact");
  const auto& fast = config.cache.models.at("fast");
  EXPECT_EQ(fast.mode, "semantic");
  EXPECT_EQ(fast.ttlSeconds, 60);  // from default
  EXPECT_DOUBLE_EQ(*fast.threshold, 0.9);
  EXPECT_DOUBLE_EQ(fast.delta, 0.02);
  EXPECT_TRUE(fast.shared);
  EXPECT_DOUBLE_EQ(*fast.maxTemperature, 0);
}

TEST(CacheConfigTest, EfSearchIsTheIndexDefaultUnlessSet) {
  EXPECT_EQ(parseConfig(std::string(kBase) + "cache:\n  max_bytes: 1048576\n", "c.yaml").cache.efSearch, 0);
}

TEST(CacheConfigTest, LocalEmbedderModelIsAFileRelativeToTheConfig) {
  std::string dir = "/tmp/arbitra-cache-local-" + std::to_string(::getpid());
  std::system(("mkdir -p " + dir + " && touch " + dir + "/e.gguf").c_str());
  auto config = parseConfig(std::string(kBase) + "cache:\n  embedder: { kind: local, model: e.gguf }\n", dir + "/c.yaml");
  EXPECT_EQ(config.cache.embedder, "local");
  EXPECT_EQ(config.cache.embedderModel, dir + "/e.gguf");
  std::system(("rm -rf " + dir).c_str());
}

TEST(CacheConfigTest, ErrorsNameFileAndLine) {
  EXPECT_EQ(errorOf(std::string(kBase) + "cache:\n  default: { mode: sometimes }\n"),
            "c.yaml:6: cache mode must be off, exact or semantic (got 'sometimes')");
  EXPECT_EQ(errorOf(std::string(kBase) + "cache:\n  models:\n    slow: { mode: exact }\n"),
            "c.yaml:7: cache: model 'slow' is not declared under models");
  EXPECT_EQ(errorOf(std::string(kBase) + "cache:\n  models:\n    fast:\n      threshold: 1.5\n"),
            "c.yaml:8: threshold must be a number from 0.0 to 1.0 (got '1.5')");
  EXPECT_EQ(errorOf(std::string(kBase) + "cache:\n  embedder: { kind: words }\n"),
            "c.yaml:6: embedder kind words needs word_vectors (the file scripts/fetch_word_vectors.sh writes)");
  EXPECT_EQ(errorOf(std::string(kBase) + "cache:\n  embedder: { kind: local }\n"),
            "c.yaml:6: embedder kind local needs a model (a .gguf file)");
  EXPECT_EQ(errorOf(std::string(kBase) + "cache:\n  embedder: { kind: local, model: /nonexistent/e.gguf }\n"),
            "c.yaml:6: embedder model file /nonexistent/e.gguf does not exist");
  EXPECT_EQ(errorOf(std::string(kBase) + "cache:\n  ef_search: 0\n"),
            "c.yaml:6: ef_search must be an integer from 1 to 4096 (got '0')");
  EXPECT_NE(errorOf(std::string(kBase) + "cache:\n  colour: blue\n").find("c.yaml:6: unknown key 'colour' in cache"),
            std::string::npos);
}

}  // namespace
}  // namespace arbitra::config
