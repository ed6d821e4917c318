// The engine on the generated tiny model (random weights, Llama-3 tokenizer):
// loading, determinism, streaming, stop strings, limits, cancellation,
// continuous batching equal to running alone, prefix reuse, back-pressure,
// embeddings, speculative decoding equal to greedy, corrupt files refused.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "engine/test_model.h"
#include "engine_test_util.h"

namespace arbitra::engine {
namespace {

using namespace enginetest;

class EngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { engine_ = mustLoad(tinyOptions(4)).release(); }
  static void TearDownTestSuite() {
    delete engine_;
    engine_ = nullptr;
  }
  static Engine* engine_;
};
Engine* EngineTest::engine_ = nullptr;

TEST_F(EngineTest, LoadsTheModelAndItsTokenizer) {
  ASSERT_NE(engine_, nullptr);
  const auto& info = engine_->info();
  EXPECT_EQ(info.vocabSize, 128256);  // Llama 3's tokenizer
  EXPECT_EQ(info.embeddingSize, 32);
  EXPECT_TRUE(info.hasChatTemplate);
  EXPECT_EQ(info.name, "arbitra-tiny");
  auto tokens = engine_->tokenize("Hello world", false);
  ASSERT_TRUE(tokens);
  EXPECT_EQ(*tokens, (std::vector<int32_t>{9906, 1917}));  // Llama 3 ids for "Hello", " world"
  auto prompt = engine_->render({{"user", "hi"}});
  EXPECT_NE(prompt.find("<|start_header_id|>user<|end_header_id|>"), std::string::npos) << prompt;
  EXPECT_NE(prompt.find("<|start_header_id|>assistant<|end_header_id|>"), std::string::npos) << prompt;
}

TEST_F(EngineTest, GreedyIsDeterministic) {
  auto a = runOne(*engine_, greedy("Tell me a story", 24));
  auto b = runOne(*engine_, greedy("Tell me a story", 24));
  ASSERT_FALSE(a.error) << a.error->message;
  EXPECT_EQ(a.stats.outputTokens, 24);
  EXPECT_EQ(a.finish, Finish::Length);
  EXPECT_FALSE(a.text.empty());
  EXPECT_EQ(a.text, b.text);
  auto other = runOne(*engine_, greedy("Something else entirely", 24));
  EXPECT_NE(a.text, other.text);
}

TEST_F(EngineTest, SamplingIsDeterministicUnderASeed) {
  auto params = [](uint64_t seed) {
    GenerateParams p = greedy("Write a poem", 24);
    p.temperature = 1.5f;
    p.topP = 0.95f;
    p.topK = 50;
    p.seed = seed;
    return p;
  };
  auto a = runOne(*engine_, params(7));
  auto b = runOne(*engine_, params(7));
  auto c = runOne(*engine_, params(8));
  EXPECT_EQ(a.text, b.text);
  EXPECT_NE(a.text, c.text);
  auto g = runOne(*engine_, greedy("Write a poem", 24));
  EXPECT_NE(a.text, g.text);  // sampling really samples
}

TEST_F(EngineTest, StreamsTextAsItIsGenerated) {
  auto run = runOne(*engine_, greedy("Stream this please", 20));
  EXPECT_GE(run.chunks.size(), 5u);  // one step, one chunk (held back only for UTF-8 or stop prefixes)
  std::string joined;
  for (const auto& c : run.chunks) joined += c;
  EXPECT_EQ(joined, run.text);
  EXPECT_GT(run.stats.firstTokenMs, 0);
  EXPECT_LE(run.stats.firstTokenMs, run.stats.totalMs);
}

TEST_F(EngineTest, StopStringsEndTheAnswerBeforeThem) {
  auto full = runOne(*engine_, greedy("Count for me", 40));
  ASSERT_GE(full.text.size(), 12u);
  // A stop string taken from the middle of the greedy answer.
  std::string stop = full.text.substr(full.text.size() / 2, 3);
  auto expected = full.text.substr(0, full.text.find(stop));
  auto p = greedy("Count for me", 40);
  p.stop = {"never-appears-xyz", stop};
  auto run = runOne(*engine_, p);
  EXPECT_EQ(run.finish, Finish::Stop);
  EXPECT_EQ(run.text, expected);
  EXPECT_LT(run.stats.outputTokens, 40);
}

TEST_F(EngineTest, CancellationFreesTheSlot) {
  Collector c;
  auto p = greedy("A long answer", 400);
  auto id = engine_->submit(p, c.sink());
  ASSERT_TRUE(id);
  ASSERT_TRUE(c.waitForText());
  engine_->cancel(*id);
  auto run = c.wait();
  EXPECT_EQ(run.finish, Finish::Cancelled);
  EXPECT_LT(run.stats.outputTokens, 400);
  // The engine goes on serving.
  auto after = runOne(*engine_, greedy("Still there?", 8));
  EXPECT_EQ(after.stats.outputTokens, 8);
  engine_->cancel(*id);  // unknown by now: harmless
}

TEST_F(EngineTest, ConcurrentRequestsEachGetTheirOwnTokens) {
  std::vector<std::string> prompts = {"alpha", "bravo charlie", "delta echo foxtrot", "golf", "hotel india",
                                      "juliet kilo lima mike"};
  std::vector<RunResult> alone;
  for (const auto& p : prompts) alone.push_back(runOne(*engine_, greedy(p, 24)));
  // All at once: 4 slots run, 2 wait, every step decodes the active ones together.
  std::vector<std::unique_ptr<Collector>> collectors;
  for (const auto& p : prompts) {
    collectors.push_back(std::make_unique<Collector>());
    auto id = engine_->submit(greedy(p, 24), collectors.back()->sink());
    ASSERT_TRUE(id) << id.error().message;
  }
  auto before = engine_->counters();
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto run = collectors[i]->wait();
    EXPECT_EQ(run.text, alone[i].text) << prompts[i];
    EXPECT_EQ(run.stats.outputTokens, alone[i].stats.outputTokens);
  }
  (void)before;
}

TEST_F(EngineTest, BatchingSharesDecodeSteps) {
  auto before = engine_->counters();
  std::vector<std::unique_ptr<Collector>> collectors;
  for (int i = 0; i < 4; ++i) {
    collectors.push_back(std::make_unique<Collector>());
    ASSERT_TRUE(engine_->submit(greedy("batch " + std::to_string(i), 32), collectors.back()->sink()));
  }
  for (auto& c : collectors) c->wait();
  auto after = engine_->counters();
  // 4 x 32 tokens alone would take >= 128 steps; together about 32 (+ prompt steps).
  EXPECT_LT(after.steps - before.steps, 64);
  EXPECT_EQ(after.generatedTokens - before.generatedTokens, 128);
}

TEST_F(EngineTest, ReusesTheCachedPromptPrefix) {
  auto p = greedy("The same long prompt, with some words to make it longer than a few tokens", 8);
  auto first = runOne(*engine_, p);
  auto second = runOne(*engine_, p);
  EXPECT_EQ(first.text, second.text);
  EXPECT_EQ(second.stats.cachedTokens, second.stats.promptTokens - 1);
  EXPECT_GT(second.stats.promptTokens, 20);
}

TEST(EngineLimits, RefusesWhenSlotsAndQueueAreFull) {
  auto o = tinyOptions(1);
  o.maxQueued = 1;
  auto engine = mustLoad(o);
  ASSERT_TRUE(engine);
  Collector a, b, c;
  ASSERT_TRUE(engine->submit(greedy("first", 400), a.sink()));
  ASSERT_TRUE(engine->submit(greedy("second", 4), b.sink()));
  auto refused = engine->submit(greedy("third", 4), c.sink());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, core::ErrorKind::Overloaded);
  EXPECT_EQ(refused.error().retryAfterSeconds, 1);
  ASSERT_TRUE(a.waitForText());
  auto stats = engine->counters();
  EXPECT_EQ(stats.active, 1);
  engine.reset();  // shutting down finishes both, exactly once
  EXPECT_EQ(a.wait().finish, Finish::Cancelled);
  EXPECT_EQ(b.wait().finish, Finish::Cancelled);
}

// Whether the process maps `path` (the model file mmapped) right now.
bool fileIsMapped(const std::string& path) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  const std::string real = std::filesystem::canonical(path).string();
  while (std::getline(maps, line)) {
    if (line.size() >= real.size() && line.compare(line.size() - real.size(), real.size(), real) == 0) return true;
  }
  return false;
}

// hugePages (default): the weights are read into memory (advised for 2 MiB
// pages: HugePages.* test the advice); off: the file is mmapped as llama.cpp
// does by default. Same tokens either way.
TEST(EngineMemory, WeightsAreReadIntoMemoryAndDecodeTheSame) {
  auto on = mustLoad(tinyOptions(2));
  ASSERT_TRUE(on);
  EXPECT_TRUE(on->options().hugePages);
  EXPECT_FALSE(fileIsMapped(tinyModel()));
  // The advised bytes cover the weights when llama.cpp's buffers got
  // mappings of their own; glibc may serve the tiny model's ~16 MB from heap
  // memory it mapped earlier (a real model's hundreds of MB get their own).
  if (on->info().hugePageBytes > 0) EXPECT_GE(on->info().hugePageBytes, on->info().sizeBytes);
  auto o = tinyOptions(2);
  o.hugePages = false;
  auto off = mustLoad(o);
  ASSERT_TRUE(off);
  EXPECT_TRUE(fileIsMapped(tinyModel()));
  EXPECT_EQ(off->info().hugePageBytes, 0);
  auto a = runOne(*on, greedy("Tell me about the sea", 16));
  auto b = runOne(*off, greedy("Tell me about the sea", 16));
  ASSERT_FALSE(a.error);
  EXPECT_EQ(a.stats.outputTokens, 16);
  EXPECT_EQ(a.text, b.text);
}

TEST(EngineLimits, RefusesAPromptLongerThanTheContext) {
  auto o = tinyOptions(1);
  o.contextSize = 32;
  auto engine = mustLoad(o);
  ASSERT_TRUE(engine);
  Collector c;
  std::string longText;
  for (int i = 0; i < 40; ++i) longText += "word ";
  auto refused = engine->submit(greedy(longText, 4), c.sink());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, core::ErrorKind::InvalidRequest);
  // Generation stops at the context's end with Length.
  auto run = runOne(*engine, greedy("short", 1000));
  EXPECT_EQ(run.finish, Finish::Length);
  EXPECT_LT(run.stats.promptTokens + run.stats.outputTokens, 32);
}

TEST_F(EngineTest, EmbeddingsAreNormalisedAndDeterministic) {
  std::promise<core::Result<EmbedResult>> promise;
  engine_->embed({"the cat sat", "a different sentence", "the cat sat"},
                 [&](core::Result<EmbedResult> r) { promise.set_value(std::move(r)); });
  auto result = promise.get_future().get();
  ASSERT_TRUE(result) << result.error().message;
  ASSERT_EQ(result->vectors.size(), 3u);
  for (const auto& v : result->vectors) {
    ASSERT_EQ(v.size(), 32u);
    double norm = 0;
    for (float x : v) norm += x * x;
    EXPECT_NEAR(norm, 1.0, 1e-4);
  }
  EXPECT_EQ(result->vectors[0], result->vectors[2]);
  EXPECT_NE(result->vectors[0], result->vectors[1]);
  EXPECT_GT(result->promptTokens, 6);
}

TEST(EngineSpeculation, DraftModelGivesTheGreedyTokens) {
  auto plainEngine = mustLoad(tinyOptions(2));
  auto o = tinyOptions(2);
  o.draftPath = tinyModel();  // a draft that agrees with its target
  o.draftTokens = 6;
  auto specEngine = mustLoad(o);
  ASSERT_TRUE(plainEngine && specEngine);
  for (const char* prompt : {"speculate on this", "and on that"}) {
    auto plain = runOne(*plainEngine, greedy(prompt, 40));
    auto spec = runOne(*specEngine, greedy(prompt, 40));
    EXPECT_EQ(spec.text, plain.text) << prompt;
    EXPECT_EQ(spec.stats.outputTokens, plain.stats.outputTokens);
    EXPECT_GT(spec.stats.draftedTokens, 0);
    EXPECT_GT(spec.stats.acceptedTokens, spec.stats.draftedTokens / 2);
  }
  auto counters = specEngine->counters();
  EXPECT_LT(counters.steps, 2 * 40);  // fewer target steps than tokens
}

// A draft that disagrees with its target (another random model) costs little:
// the adaptive length (DraftLength) pauses it after two misses, so far fewer
// tokens are proposed than generated, and the output is still exact.
TEST(EngineSpeculation, ADisagreeingDraftIsPausedAndTheOutputStaysExact) {
  auto dir = std::filesystem::temp_directory_path() / ("arbitra-baddraft-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto other = (dir / "other.gguf").string();
  ASSERT_TRUE(writeTestModel(ARBITRA_VOCAB, other, TestModelShape::tiny(), 99));
  auto plainEngine = mustLoad(tinyOptions(1));
  auto o = tinyOptions(1);
  o.draftPath = other;
  o.draftTokens = 8;
  auto specEngine = mustLoad(o);
  ASSERT_TRUE(plainEngine && specEngine);
  auto plain = runOne(*plainEngine, greedy("a draft that disagrees", 96));
  auto spec = runOne(*specEngine, greedy("a draft that disagrees", 96));
  EXPECT_EQ(spec.text, plain.text);
  EXPECT_EQ(spec.stats.outputTokens, 96);
  EXPECT_GT(spec.stats.draftedTokens, 0);
  // Without adaptation: ~8 proposed per token (~770); paused: 8 + 1 + a probe per pause.
  EXPECT_LT(spec.stats.draftedTokens, 24) << "accepted " << spec.stats.acceptedTokens;
  specEngine.reset();
  std::filesystem::remove_all(dir);
}

TEST(EngineSpeculation, NGramLookupGivesTheGreedyTokens) {
  // A model that repeats itself (output tied to its input embeddings), so
  // lookup in the request's own tokens has proposals that hold.
  auto dir = std::filesystem::temp_directory_path() / ("arbitra-ngram-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto model = (dir / "tied.gguf").string();
  auto shape = TestModelShape::tiny();
  shape.tiedOutput = true;
  ASSERT_TRUE(writeTestModel(ARBITRA_VOCAB, model, shape, 3));
  auto o = tinyOptions(2);
  o.modelPath = model;
  auto plainEngine = mustLoad(o);
  o.speculation = Speculation::NGram;
  auto specEngine = mustLoad(o);
  ASSERT_TRUE(plainEngine && specEngine);
  std::string prompt = "one two three four one two three four";
  auto plain = runOne(*plainEngine, greedy(prompt, 48));
  auto spec = runOne(*specEngine, greedy(prompt, 48));
  EXPECT_EQ(spec.text, plain.text);
  EXPECT_EQ(spec.stats.outputTokens, plain.stats.outputTokens);
  EXPECT_GT(spec.stats.draftedTokens, 0);
  EXPECT_GT(spec.stats.acceptedTokens, 0);
  // Plain decoding takes a target step per token; each accepted draft saves
  // one (the ledger's tokens per step), give or take the step that ends it.
  EXPECT_GE(plain.stats.decodeSteps, plain.stats.outputTokens);
  EXPECT_NEAR(spec.stats.decodeSteps, plain.stats.decodeSteps - spec.stats.acceptedTokens, 1);
  // Concurrent speculative requests stay exact too.
  Collector a, b;
  ASSERT_TRUE(specEngine->submit(greedy(prompt, 48), a.sink()));
  ASSERT_TRUE(specEngine->submit(greedy("unrelated words here", 48), b.sink()));
  EXPECT_EQ(a.wait().text, plain.text);
  EXPECT_EQ(b.wait().text, runOne(*plainEngine, greedy("unrelated words here", 48)).text);
  specEngine.reset();
  plainEngine.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace arbitra::engine
