// parseResponseUsage: the cheap usage read for answers passed through untouched
// must agree with the full parse, read only the top-level "usage", and refuse
// what is not one valid JSON object.
#include <gtest/gtest.h>

#include "api/codec.h"

namespace arbitra::api {
namespace {

TEST(ResponseUsage, OpenAIMatchesFullParse) {
  const std::string body = R"({"id":"c","object":"chat.completion","created":1,"model":"m",
    "choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],
    "usage":{"prompt_tokens":120,"completion_tokens":30,"total_tokens":150,
             "prompt_tokens_details":{"cached_tokens":100},"completion_tokens_details":{"reasoning_tokens":12}}})";
  const auto& codec = codecFor(core::WireFormat::OpenAI);
  auto quick = codec.parseResponseUsage(body);
  auto full = codec.parseResponse(body);
  ASSERT_TRUE(quick.ok());
  ASSERT_TRUE(full.ok());
  ASSERT_TRUE(quick->has_value());
  EXPECT_EQ(**quick, *full->usage);
  EXPECT_EQ((*quick)->cachedReadTokens, 100);
  EXPECT_EQ((*quick)->reasoningTokens, 12);
}

TEST(ResponseUsage, AnthropicAddsCacheTokensLikeFullParse) {
  const std::string body = R"({"id":"msg_1","type":"message","role":"assistant","model":"m",
    "content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","stop_sequence":null,
    "usage":{"input_tokens":20,"output_tokens":7,"cache_read_input_tokens":100,"cache_creation_input_tokens":30}})";
  const auto& codec = codecFor(core::WireFormat::Anthropic);
  auto quick = codec.parseResponseUsage(body);
  auto full = codec.parseResponse(body);
  ASSERT_TRUE(quick.ok());
  ASSERT_TRUE(full.ok());
  ASSERT_TRUE(quick->has_value());
  EXPECT_EQ(**quick, *full->usage);
  EXPECT_EQ((*quick)->inputTokens, 150);  // 20 + 100 read + 30 written
}

TEST(ResponseUsage, NoUsageIsNulloptAndGarbageIsAnError) {
  const auto& codec = codecFor(core::WireFormat::OpenAI);
  auto none = codec.parseResponseUsage(R"({"id":"c","choices":[]})");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_FALSE(codec.parseResponseUsage("{\"id\": \"garbage\", \"choices\": [tru").ok());
  EXPECT_FALSE(codec.parseResponseUsage("[1,2]").ok());
  // A large answer (its text is read and dropped, never stored).
  std::string big = R"({"id":"c","choices":[{"message":{"content":")" + std::string(100000, 'x') +
                    R"("}}],"usage":{"prompt_tokens":5,"completion_tokens":6}})";
  auto spilled = codec.parseResponseUsage(big);
  ASSERT_TRUE(spilled.ok());
  ASSERT_TRUE(spilled->has_value());
  EXPECT_EQ((*spilled)->outputTokens, 6);
}

TEST(ResponseUsage, OnlyTheTopLevelUsageCounts) {
  const auto& codec = codecFor(core::WireFormat::OpenAI);
  // A "usage" inside the answer's text or a choice is not the answer's usage;
  // arrays and objects inside usage are walked without confusing the reader;
  // an escaped key is read as its text.
  const std::string body = R"({"choices":[{"index":0,"usage":{"prompt_tokens":999},"finish_reason":"stop",
      "message":{"role":"assistant","content":"\"usage\":{\"prompt_tokens\":777}"}}],
    "usage":{"prompt_tokens":7,"extra":[{"prompt_tokens":555},[1,2]],"nested":{"deep":{"prompt_tokens":444}},
             "completion_tokens":3,"prompt_tokens_details":{"cached_tokens":2},
             "completion_tokens_details":{"reasoning_tokens":1}},
    "after":{"usage":{"prompt_tokens":888}}})";
  auto quick = codec.parseResponseUsage(body);
  auto full = codec.parseResponse(body);
  ASSERT_TRUE(quick.ok());
  ASSERT_TRUE(full.ok());
  ASSERT_TRUE(quick->has_value());
  EXPECT_EQ(**quick, *full->usage);
  EXPECT_EQ((*quick)->inputTokens, 7);
  EXPECT_EQ((*quick)->outputTokens, 3);
  EXPECT_EQ((*quick)->cachedReadTokens, 2);
  EXPECT_EQ((*quick)->reasoningTokens, 1);
  auto escaped = codec.parseResponseUsage(R"({"us\u0061ge":{"prompt_tokens":4,"completion_tokens":5}})");
  ASSERT_TRUE(escaped.ok());
  ASSERT_TRUE(escaped->has_value());
  EXPECT_EQ((*escaped)->outputTokens, 5);
  auto notAnObject = codec.parseResponseUsage(R"({"usage":[1,2,3]})");
  ASSERT_TRUE(notAnObject.ok());
  EXPECT_FALSE(notAnObject->has_value());
}

TEST(ResponseUsage, OddNumbersReadAsTheFullParseReadsThem) {
  // The quick read (simdjson) and the full parse (Boost.JSON) must agree on
  // every number shape: integral doubles count, fractions, negatives,
  // strings and values past int64 fall back to 0, huge counts are capped.
  for (auto format : {core::WireFormat::OpenAI, core::WireFormat::Anthropic}) {
    const auto& codec = codecFor(format);
    const std::string body = format == core::WireFormat::OpenAI
        ? R"({"choices":[],"usage":{"prompt_tokens":12.0,"completion_tokens":-3,
             "prompt_tokens_details":{"cached_tokens":18446744073709551615,"cache_write_tokens":1e300},
             "completion_tokens_details":{"reasoning_tokens":2.5}}})"
        : R"({"type":"message","content":[],"usage":{"input_tokens":12.0,"output_tokens":"7",
             "cache_read_input_tokens":9223372036854775807,"cache_creation_input_tokens":-1}})";
    auto quick = codec.parseResponseUsage(body);
    auto full = codec.parseResponse(body);
    ASSERT_TRUE(quick.ok()) << quick.error().message;
    ASSERT_TRUE(full.ok()) << full.error().message;
    ASSERT_TRUE(quick->has_value());
    EXPECT_EQ(**quick, *full->usage);
    if (format == core::WireFormat::OpenAI) {
      EXPECT_EQ((*quick)->inputTokens, 12);
      EXPECT_EQ((*quick)->outputTokens, 0);
      EXPECT_EQ((*quick)->cachedReadTokens, 0);
      EXPECT_EQ((*quick)->reasoningTokens, 0);
    } else {
      EXPECT_EQ((*quick)->cachedReadTokens, int64_t{1} << 50);
      EXPECT_EQ((*quick)->outputTokens, 0);
    }
  }
}

TEST(ResponseUsage, RefusesTrailingGarbageScalarsAndTruncation) {
  const auto& codec = codecFor(core::WireFormat::OpenAI);
  EXPECT_FALSE(codec.parseResponseUsage(R"({"usage":{"prompt_tokens":1}} {"x":1})").ok());
  EXPECT_FALSE(codec.parseResponseUsage(R"("just a string")").ok());
  EXPECT_FALSE(codec.parseResponseUsage("42").ok());
  EXPECT_FALSE(codec.parseResponseUsage(R"({"usage":{"prompt_tokens":1})").ok());
  EXPECT_FALSE(codec.parseResponseUsage("").ok());
  EXPECT_TRUE(codec.parseResponseUsage("{\"usage\":{\"prompt_tokens\":1}}\n  ").ok());
  // The reader is reused per thread: a failure leaves nothing behind.
  auto after = codec.parseResponseUsage(R"({"usage":{"prompt_tokens":1,"completion_tokens":2}})");
  ASSERT_TRUE(after.ok());
  ASSERT_TRUE(after->has_value());
  EXPECT_EQ((*after)->outputTokens, 2);
}

}  // namespace
}  // namespace arbitra::api
