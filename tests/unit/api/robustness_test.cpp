// Hostile input in the unit suite (the fuzz targets go further): every prefix
// of valid bodies and streams, odd JSON values and huge numbers must give an
// Error or a value, never a crash, an exception or an overflow.
#include <gtest/gtest.h>

#include "api_test_util.h"

namespace arbitra::api::test {
namespace {

constexpr const char* kOpenAIBody =
    R"({"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"hi"},)"
    R"({"type":"image_url","image_url":{"url":"data:image/png;base64,AA"}}]},{"role":"assistant","content":null,)"
    R"("tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},)"
    R"({"role":"tool","tool_call_id":"c","content":"r"}],"tools":[{"type":"function","function":{"name":"f"}}],)"
    R"("tool_choice":"auto","stop":["x"],"stream":true,"max_tokens":5})";

constexpr const char* kAnthropicBody =
    R"({"model":"m","max_tokens":5,"system":[{"type":"text","text":"s"}],"messages":[{"role":"user","content":"hi"},)"
    R"({"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{"a":1}}]},)"
    R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"r"},{"type":"text","text":"x"}]}],)"
    R"("tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"auto"},"stream":true})";

TEST(Robustness, EveryPrefixOfARequestIsAnErrorOrARequest) {
  for (const auto& [codec, body] :
       {std::pair{&openAI(), std::string(kOpenAIBody)}, std::pair{&anthropic(), std::string(kAnthropicBody)}}) {
    ASSERT_TRUE(codec->parseRequest(body).ok());
    for (size_t n = 0; n < body.size(); ++n) {
      auto parsed = codec->parseRequest(std::string_view(body).substr(0, n));
      ASSERT_FALSE(parsed.ok()) << n;
      EXPECT_EQ(parsed.error().kind, core::ErrorKind::InvalidRequest);
      EXPECT_FALSE(parsed.error().message.empty());
    }
  }
}

TEST(Robustness, EveryPrefixOfAStreamEventIsHandled) {
  const std::string openAIChunk =
      R"({"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"hi","tool_calls":[{"index":0,"id":"t",)"
      R"("function":{"name":"f","arguments":"{}"}}]},"finish_reason":"stop"}],"usage":{"prompt_tokens":1}})";
  const std::string anthropicEvent =
      R"({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t","name":"f","input":{"a":1}}})";
  for (size_t n = 0; n <= openAIChunk.size(); ++n) {
    auto decoder = openAI().makeStreamDecoder();
    (void)decoder->decode("", std::string_view(openAIChunk).substr(0, n));
  }
  for (size_t n = 0; n <= anthropicEvent.size(); ++n) {
    auto decoder = anthropic().makeStreamDecoder();
    (void)decoder->decode("content_block_start", std::string_view(anthropicEvent).substr(0, n));
  }
}

TEST(Robustness, WrongShapesInUpstreamAnswersAreTolerated) {
  // Types other than expected everywhere: a best-effort answer, never a crash.
  auto openai = openAI().parseResponse(R"({"id":5,"model":[],"created":"x","choices":[7,{"index":0,"message":
      {"content":{"a":1},"tool_calls":[1,{"function":3},{"id":1,"function":{"name":2,"arguments":{}}}]},
      "finish_reason":9}],"usage":{"prompt_tokens":"x","completion_tokens":-4}})");
  ASSERT_TRUE(openai.ok());
  EXPECT_EQ(openai->usage->inputTokens, 0);
  EXPECT_EQ(openai->usage->outputTokens, 0);
  auto anthropic = api::codecFor(WireFormat::Anthropic)
                       .parseResponse(R"({"content":[1,{"type":"tool_use","input":5},{"type":"text","text":3}],
                                        "usage":{"input_tokens":1.5,"output_tokens":null}})");
  ASSERT_TRUE(anthropic.ok());
  EXPECT_EQ(anthropic->toolCalls.at(0).arguments, "5");
  // Re-encoding such an answer still yields a valid body in both formats.
  EXPECT_TRUE(api::codecFor(WireFormat::Anthropic)
                  .parseResponse(api::codecFor(WireFormat::Anthropic).encodeResponse(*anthropic))
                  .ok());
  EXPECT_TRUE(openAI().parseResponse(openAI().encodeResponse(*anthropic)).ok());
}

TEST(Robustness, HugeUsageNumbersAreCappedNotOverflowed) {
  auto parsed = anthropic().parseResponse(R"({"content":[],"usage":{"input_tokens":9223372036854775807,
      "cache_read_input_tokens":9223372036854775807,"cache_creation_input_tokens":18446744073709551615,
      "output_tokens":1e300}})");
  ASSERT_TRUE(parsed.ok());
  EXPECT_GT(parsed->usage->inputTokens, 0);
  EXPECT_EQ(parsed->usage->cachedReadTokens, int64_t{1} << 50);
  auto body = obj(openAI().encodeResponse(*parsed));
  EXPECT_GT(body.at("usage").at("total_tokens").as_int64(), 0);
}

TEST(Robustness, ToolArgsForAnUnknownToolStillEncode) {
  for (const Codec* codec : {&openAI(), &anthropic()}) {
    auto encoder = codec->makeStreamEncoder(callerRequest(codec->format(), "m", true));
    std::string out;
    encoder->encode(toolArgs(7, "{\"a\":1}"), out);
    encoder->encode(finish(core::FinishReason::ToolCalls), out);
    encoder->finish(out);
    EXPECT_NE(out.find(R"({\"a\":1})"), std::string::npos) << out;
    splitSse(out);  // well framed
  }
}

}  // namespace
}  // namespace arbitra::api::test
