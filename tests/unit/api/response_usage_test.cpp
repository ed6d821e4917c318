// parseResponseUsage: the cheap usage read for answers passed through untouched
// must agree with the full parse, and refuse what is not a JSON object.
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
  // Larger than the stack arena: still parsed (the arena spills to the heap).
  std::string big = R"({"id":"c","choices":[{"message":{"content":")" + std::string(100000, 'x') +
                    R"("}}],"usage":{"prompt_tokens":5,"completion_tokens":6}})";
  auto spilled = codec.parseResponseUsage(big);
  ASSERT_TRUE(spilled.ok());
  ASSERT_TRUE(spilled->has_value());
  EXPECT_EQ((*spilled)->outputTokens, 6);
}

}  // namespace
}  // namespace arbitra::api
