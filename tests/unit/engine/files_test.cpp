// Model files: corrupt and truncated GGUF refused with a message (never a
// crash), quantization round trips, and the generator's determinism.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/bench.h"
#include "engine/quantize.h"
#include "engine/test_model.h"
#include "engine_test_util.h"

namespace arbitra::engine {
namespace {

namespace fs = std::filesystem;
using namespace enginetest;

class ScratchDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("arbitra-engine-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

using ModelFiles = ScratchDir;

TEST_F(ModelFiles, GarbageIsRefusedWithAMessage) {
  std::ofstream(path("garbage.gguf")) << "this is not a model at all, just text";
  auto o = tinyOptions(1);
  o.modelPath = path("garbage.gguf");
  auto engine = Engine::load(o);
  ASSERT_FALSE(engine);
  EXPECT_EQ(engine.error().kind, core::ErrorKind::InvalidRequest);
  EXPECT_NE(engine.error().message.find("not a valid GGUF file"), std::string::npos) << engine.error().message;
  EXPECT_NE(engine.error().message.find("garbage.gguf"), std::string::npos);
}

TEST_F(ModelFiles, TruncatedFileIsRefused) {
  auto size = fs::file_size(tinyModel());
  for (auto keep : {size - 1, size / 2, size_t{64}, size_t{4}}) {
    fs::copy_file(tinyModel(), path("cut.gguf"), fs::copy_options::overwrite_existing);
    fs::resize_file(path("cut.gguf"), keep);
    auto o = tinyOptions(1);
    o.modelPath = path("cut.gguf");
    auto engine = Engine::load(o);
    ASSERT_FALSE(engine) << "kept " << keep << " bytes";
    const auto& message = engine.error().message;
    EXPECT_TRUE(message.find("truncated") != std::string::npos || message.find("not a valid GGUF") != std::string::npos)
        << message;
  }
}

TEST_F(ModelFiles, CorruptHeaderIsRefused) {
  fs::copy_file(tinyModel(), path("bad.gguf"));
  {
    std::fstream f(path("bad.gguf"), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(8);  // the tensor count: claim billions of tensors
    const char huge[8] = {'\xff', '\xff', '\xff', '\x7f', 0, 0, 0, 0};
    f.write(huge, 8);
  }
  auto o = tinyOptions(1);
  o.modelPath = path("bad.gguf");
  auto engine = Engine::load(o);
  ASSERT_FALSE(engine);
  EXPECT_NE(engine.error().message.find("bad.gguf"), std::string::npos);
}

TEST_F(ModelFiles, MissingFileAndMissingDraftAreRefused) {
  auto o = tinyOptions(1);
  o.modelPath = path("nope.gguf");
  auto engine = Engine::load(o);
  ASSERT_FALSE(engine);
  EXPECT_NE(engine.error().message.find("no such file"), std::string::npos);
  o = tinyOptions(1);
  o.draftPath = path("nope-draft.gguf");
  engine = Engine::load(o);
  ASSERT_FALSE(engine);
  EXPECT_NE(engine.error().message.find("nope-draft.gguf"), std::string::npos);
}

TEST_F(ModelFiles, GeneratorIsDeterministicUnderASeed) {
  auto shape = TestModelShape::tiny();
  shape.layers = 1;
  ASSERT_TRUE(writeTestModel(ARBITRA_VOCAB, path("a.gguf"), shape, 5));
  ASSERT_TRUE(writeTestModel(ARBITRA_VOCAB, path("b.gguf"), shape, 5));
  ASSERT_TRUE(writeTestModel(ARBITRA_VOCAB, path("c.gguf"), shape, 6));
  auto read = [](const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  };
  EXPECT_EQ(read(path("a.gguf")), read(path("b.gguf")));
  EXPECT_NE(read(path("a.gguf")), read(path("c.gguf")));
  EXPECT_TRUE(checkGgufFile(path("a.gguf")));
}

TEST_F(ModelFiles, QuantizeRoundTrip) {
  auto f16 = runOne(*mustLoad(tinyOptions(1)), greedy("quantize me", 16));
  for (const char* type : {"q8_0", "q4_0"}) {
    int calls = 0, lastTotal = 0;
    auto result = quantize({tinyModel(), path(std::string(type) + ".gguf"), type, 2},
                           [&](int done, int total, const std::string&) {
                             ++calls;
                             lastTotal = total;
                             EXPECT_LE(done, total);
                           });
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_GT(calls, 10);  // per-tensor progress
    EXPECT_EQ(calls, lastTotal);
    EXPECT_LT(result->outputBytes, result->inputBytes * 3 / 4) << type;
    auto o = tinyOptions(1);
    o.modelPath = path(std::string(type) + ".gguf");
    auto engine = mustLoad(o);
    ASSERT_TRUE(engine);
    auto run = runOne(*engine, greedy("quantize me", 16));
    EXPECT_EQ(run.stats.outputTokens, 16);
    if (std::string(type) == "q8_0") {
      // 8-bit keeps the peaked random model's greedy choices at the start.
      EXPECT_EQ(run.text.substr(0, 8), f16.text.substr(0, 8));
    }
  }
  EXPECT_FALSE(fs::exists(path("q8_0.gguf.partial")));
}

// A confident model (TestModelShape::confident) wide enough for its margins
// to survive Q4_0, still small.
TestModelShape confidentShape() {
  auto shape = TestModelShape::tiny();
  shape.embedding = 128;
  shape.heads = 4;
  shape.kvHeads = 2;
  shape.feedForward = 512;
  shape.confident = true;
  return shape;
}

// The synthetic confident model (TestModelShape::confident): its Q4_0 copy
// makes the same greedy choices, so as a draft it is accepted almost always
// and speculation needs far fewer target steps; the output stays the
// target's greedy output. The plain random model's Q4_0 copy, by contrast,
// diverges (what made it useless as a draft in the bench).
TEST_F(ModelFiles, ConfidentModelsQ4CopyAgreesWithIt) {
  auto shape = confidentShape();
  ASSERT_TRUE(writeTestModel(ARBITRA_VOCAB, path("target.gguf"), shape, 11));
  ASSERT_TRUE(quantize({path("target.gguf"), path("draft.gguf"), "q4_0", 2}));
  auto o = tinyOptions(1);
  o.modelPath = path("target.gguf");
  auto target = mustLoad(o);
  o.modelPath = path("draft.gguf");
  auto q4 = mustLoad(o);
  o.modelPath = path("target.gguf");
  o.draftPath = path("draft.gguf");
  o.draftTokens = 8;
  auto spec = mustLoad(o);
  ASSERT_TRUE(target && q4 && spec);
  for (const char* prompt : {"confident one", "and a second prompt"}) {
    auto plain = runOne(*target, greedy(prompt, 48));
    ASSERT_EQ(plain.stats.outputTokens, 48);
    EXPECT_EQ(runOne(*q4, greedy(prompt, 48)).text, plain.text) << prompt;
    auto fast = runOne(*spec, greedy(prompt, 48));
    EXPECT_EQ(fast.text, plain.text) << prompt;
    EXPECT_GT(fast.stats.draftedTokens, 0);
    EXPECT_GE(fast.stats.acceptedTokens * 10, fast.stats.draftedTokens * 9) << prompt;  // >= 90%
  }
  EXPECT_LT(spec->counters().steps, 2 * 48 / 4);  // ~9 tokens per target step
  EXPECT_FALSE(writeTestModel(ARBITRA_VOCAB, path("x.gguf"), [&] {
    auto tied = shape;
    tied.tiedOutput = true;
    return tied;
  }(), 1));
}

// A shallow copy of a confident model (same seed, fewer layers: the same
// embeddings and output rows, which decide the next token) agrees with it
// too: a small draft for a deep target, bench/engine.sh's small-draft row.
TEST_F(ModelFiles, ConfidentModelsShallowCopyAgreesWithIt) {
  auto shape = confidentShape();
  shape.layers = 6;
  ASSERT_TRUE(writeTestModel(ARBITRA_VOCAB, path("deep.gguf"), shape, 11));
  shape.layers = 1;
  ASSERT_TRUE(writeTestModel(ARBITRA_VOCAB, path("shallow.gguf"), shape, 11));
  EXPECT_LT(fs::file_size(path("shallow.gguf")), fs::file_size(path("deep.gguf")));
  auto o = tinyOptions(1);
  o.modelPath = path("deep.gguf");
  auto target = mustLoad(o);
  o.draftPath = path("shallow.gguf");
  o.draftTokens = 8;
  auto spec = mustLoad(o);
  ASSERT_TRUE(target && spec);
  for (const char* prompt : {"confident one", "and a second prompt"}) {
    auto plain = runOne(*target, greedy(prompt, 48));
    auto fast = runOne(*spec, greedy(prompt, 48));
    EXPECT_EQ(fast.text, plain.text) << prompt;
    EXPECT_GT(fast.stats.draftedTokens, 0);
    EXPECT_GE(fast.stats.acceptedTokens * 10, fast.stats.draftedTokens * 9) << prompt;  // >= 90%
  }
}

TEST_F(ModelFiles, QuantizeRefusesBadInput) {
  std::ofstream(path("garbage.gguf")) << "GGUF but not really";
  auto bad = quantize({path("garbage.gguf"), path("out.gguf"), "q4_0", 2});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("garbage.gguf"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(fs::exists(path("out.gguf")));
  auto badType = quantize({tinyModel(), path("out.gguf"), "q3_weird", 2});
  ASSERT_FALSE(badType);
  EXPECT_NE(badType.error().message.find("q4_k_m"), std::string::npos);
  auto same = quantize({tinyModel(), tinyModel(), "q4_0", 2});
  ASSERT_FALSE(same);
}

TEST(BenchFormatId, NamesTheFormatAsThePlannerCatalogDoes) {
  // `arbitra bench --json` writes this as "quant"; `arbitra plan --measured`
  // looks it up in data/planner/models.yaml (Q4_K_M, not "Medium").
  EXPECT_EQ(formatId("llama 1B Q4_K - Medium"), "Q4_K_M");
  EXPECT_EQ(formatId("llama 256M Q4_K - Small"), "Q4_K_S");
  EXPECT_EQ(formatId("llama 256M Q8_0"), "Q8_0");
  EXPECT_EQ(formatId("llama ?B F16"), "F16");
  EXPECT_EQ(formatId("llama 1B Q5_K - Medium"), "Q5_K_M");
}

TEST(TestModelShapes, NamedShapesAreTheDocumentedOnes) {
  EXPECT_FALSE(TestModelShape::named("2b"));
  auto smol = TestModelShape::named("135m");
  ASSERT_TRUE(smol);
  EXPECT_EQ(smol->embedding, 576);
  EXPECT_EQ(smol->layers, 30);
  EXPECT_EQ(smol->heads / smol->kvHeads, 3);
  EXPECT_EQ(smol->name, "arbitra-random-135m");  // a planner catalog row (data/planner/models.yaml)
  auto half = TestModelShape::named("500m");
  ASSERT_TRUE(half);
  EXPECT_EQ(half->embedding / half->heads, 64);
  EXPECT_EQ(half->name, "arbitra-random-500m");
  EXPECT_EQ(TestModelShape::named("1b")->name, "arbitra-random-1b");
}

}  // namespace
}  // namespace arbitra::engine
