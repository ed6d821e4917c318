// Whole answers and error bodies: parseResponse for upstream answers,
// encodeResponse for the caller, the usage convention (Anthropic input_tokens
// exclude cache reads/writes, neutral inputTokens include them), finish reason
// mapping, ids, encodeError and parseErrorMessage.
#include <gtest/gtest.h>

#include "api_test_util.h"

namespace arbitra::api::test {
namespace {

using core::FinishReason;

constexpr const char* kOpenAIAnswer = R"({
  "id": "chatcmpl-abc", "object": "chat.completion", "created": 1700000000, "model": "gpt-4o-2024",
  "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": "Let me look.",
    "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{\"q\":\"x\"}"}},
                   {"id": "call_2", "type": "function", "function": {"name": "clock", "arguments": "{}"}}]}}],
  "usage": {"prompt_tokens": 120, "completion_tokens": 40, "total_tokens": 160,
            "prompt_tokens_details": {"cached_tokens": 100}, "completion_tokens_details": {"reasoning_tokens": 25}}
})";

constexpr const char* kAnthropicAnswer = R"({
  "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet",
  "content": [{"type": "thinking", "thinking": "...", "signature": "s"},
              {"type": "text", "text": "Let me "}, {"type": "text", "text": "look."},
              {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}}],
  "stop_reason": "tool_use", "stop_sequence": null,
  "usage": {"input_tokens": 100, "output_tokens": 40, "cache_read_input_tokens": 30, "cache_creation_input_tokens": 20}
})";

TEST(OpenAIResponse, Parses) {
  auto r = openAI().parseResponse(kOpenAIAnswer);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->id, "chatcmpl-abc");
  EXPECT_EQ(r->model, "gpt-4o-2024");
  EXPECT_EQ(r->created, 1700000000);
  EXPECT_EQ(r->text, "Let me look.");
  ASSERT_EQ(r->toolCalls.size(), 2u);
  EXPECT_EQ(r->toolCalls[0].id, "call_1");
  EXPECT_EQ(r->toolCalls[0].name, "lookup");
  EXPECT_EQ(r->toolCalls[0].arguments, R"({"q":"x"})");
  EXPECT_EQ(r->finish, FinishReason::ToolCalls);
  ASSERT_TRUE(r->usage.has_value());
  EXPECT_EQ(*r->usage, makeUsage(120, 40, 100, 0, 25));
}

TEST(OpenAIResponse, FinishReasons) {
  auto finishOf = [](const char* reason) {
    auto r = openAI().parseResponse(
        std::string(R"({"id":"x","choices":[{"index":0,"message":{"content":"a"},"finish_reason":")") + reason +
        R"("}]})");
    return r.ok() ? r->finish : FinishReason::Unknown;
  };
  EXPECT_EQ(finishOf("stop"), FinishReason::Stop);
  EXPECT_EQ(finishOf("length"), FinishReason::Length);
  EXPECT_EQ(finishOf("tool_calls"), FinishReason::ToolCalls);
  EXPECT_EQ(finishOf("content_filter"), FinishReason::ContentFilter);
  EXPECT_EQ(finishOf("weird"), FinishReason::Unknown);
}

TEST(OpenAIResponse, NoUsageStaysAbsentAndNullContentIsEmpty) {
  auto r = openAI().parseResponse(
      R"({"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":null},"finish_reason":"stop"}]})");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->usage.has_value());
  EXPECT_EQ(r->text, "");
}

TEST(OpenAIResponse, GarbageAndErrorsAreUpstreamErrors) {
  for (const char* body : {"{\"id\": \"garbage\", \"choices\": [tru", "", "[]", "{\"id\":\"x\"}",
                           R"({"error":{"message":"boom","type":"server_error"}})"}) {
    auto r = openAI().parseResponse(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().kind, core::ErrorKind::UpstreamError) << body;
  }
  auto r = openAI().parseResponse(R"({"error":{"message":"boom","type":"server_error"}})");
  EXPECT_NE(r.error().message.find("boom"), std::string::npos);
}

TEST(OpenAIResponse, Encodes) {
  core::ChatResponse response;
  response.id = "msg_from_anthropic";
  response.model = "public-model";
  response.text = "Hello";
  response.finish = FinishReason::Length;
  response.created = 1234;
  response.usage = makeUsage(150, 40, 30, 20, 5);
  auto body = obj(openAI().encodeResponse(response));
  EXPECT_EQ(body.at("id").as_string(), "msg_from_anthropic") << "a foreign id is kept as is";
  EXPECT_EQ(body.at("object").as_string(), "chat.completion");
  EXPECT_EQ(body.at("created").as_int64(), 1234);
  EXPECT_EQ(body.at("model").as_string(), "public-model");
  const auto& choice = body.at("choices").at(0);
  EXPECT_EQ(choice.at("index").as_int64(), 0);
  EXPECT_EQ(choice.at("message").at("role").as_string(), "assistant");
  EXPECT_EQ(choice.at("message").at("content").as_string(), "Hello");
  EXPECT_FALSE(choice.at("message").as_object().contains("tool_calls"));
  EXPECT_EQ(choice.at("finish_reason").as_string(), "length");
  const auto& usage = body.at("usage");
  EXPECT_EQ(usage.at("prompt_tokens").as_int64(), 150);
  EXPECT_EQ(usage.at("completion_tokens").as_int64(), 40);
  EXPECT_EQ(usage.at("total_tokens").as_int64(), 190);
  EXPECT_EQ(usage.at("prompt_tokens_details").at("cached_tokens").as_int64(), 30);
  EXPECT_EQ(usage.at("prompt_tokens_details").at("cache_write_tokens").as_int64(), 20);
  EXPECT_EQ(usage.at("completion_tokens_details").at("reasoning_tokens").as_int64(), 5);
}

TEST(OpenAIResponse, EncodesToolCallsWithNullContentAndGeneratesIds) {
  core::ChatResponse response;
  response.toolCalls.push_back({"toolu_9", "lookup", R"({"q":"x"})"});
  response.finish = FinishReason::ToolCalls;
  auto body = obj(openAI().encodeResponse(response));
  EXPECT_EQ(body.at("id").as_string().subview(0, 9), "chatcmpl-");
  EXPECT_GT(body.at("id").as_string().size(), 9u);
  EXPECT_GT(body.at("created").as_int64(), 1600000000);
  EXPECT_FALSE(body.contains("usage"));
  const auto& message = body.at("choices").at(0).at("message");
  EXPECT_TRUE(message.at("content").is_null());
  EXPECT_EQ(message.at("tool_calls"), json::parse(R"([{"id":"toolu_9","type":"function",
      "function":{"name":"lookup","arguments":"{\"q\":\"x\"}"}}])"));
  EXPECT_EQ(body.at("choices").at(0).at("finish_reason").as_string(), "tool_calls");
  // Two encodings get two different ids.
  EXPECT_NE(obj(openAI().encodeResponse(response)).at("id"), body.at("id"));
}

TEST(AnthropicResponse, ParsesAndAddsCacheTokensToInput) {
  auto r = anthropic().parseResponse(kAnthropicAnswer);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->id, "msg_01");
  EXPECT_EQ(r->model, "claude-sonnet");
  EXPECT_EQ(r->text, "Let me look.");
  ASSERT_EQ(r->toolCalls.size(), 1u);
  EXPECT_EQ(r->toolCalls[0].id, "toolu_1");
  EXPECT_EQ(json::parse(r->toolCalls[0].arguments), json::parse(R"({"q":"x"})"));
  EXPECT_EQ(r->finish, FinishReason::ToolCalls);
  // 100 uncached + 30 read + 20 written.
  EXPECT_EQ(*r->usage, makeUsage(150, 40, 30, 20));
}

TEST(AnthropicResponse, StopReasons) {
  auto finishOf = [](const char* reason) {
    auto r =
        anthropic().parseResponse(std::string(R"({"type":"message","content":[],"stop_reason":")") + reason + "\"}");
    return r.ok() ? r->finish : FinishReason::Unknown;
  };
  EXPECT_EQ(finishOf("end_turn"), FinishReason::Stop);
  EXPECT_EQ(finishOf("stop_sequence"), FinishReason::Stop);
  EXPECT_EQ(finishOf("max_tokens"), FinishReason::Length);
  EXPECT_EQ(finishOf("tool_use"), FinishReason::ToolCalls);
  EXPECT_EQ(finishOf("refusal"), FinishReason::ContentFilter);
}

TEST(AnthropicResponse, GarbageAndErrorsAreUpstreamErrors) {
  for (const char* body : {"{\"id\": \"garbage\", \"content\": [tru", "nope", R"({"id":"x"})",
                           R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})"}) {
    auto r = anthropic().parseResponse(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().kind, core::ErrorKind::UpstreamError);
  }
}

TEST(AnthropicResponse, EncodesAndSubtractsCacheTokensFromInput) {
  core::ChatResponse response;
  response.id = "chatcmpl-from-openai";
  response.model = "public-model";
  response.text = "Let me look.";
  response.toolCalls.push_back({"call_1", "lookup", R"({"q":"x"})"});
  response.toolCalls.push_back({"", "broken", "{not json"});
  response.finish = FinishReason::ToolCalls;
  response.usage = makeUsage(150, 40, 30, 20, 7);
  auto body = obj(anthropic().encodeResponse(response));
  EXPECT_EQ(body.at("id").as_string(), "chatcmpl-from-openai");
  EXPECT_EQ(body.at("type").as_string(), "message");
  EXPECT_EQ(body.at("role").as_string(), "assistant");
  EXPECT_EQ(body.at("model").as_string(), "public-model");
  EXPECT_EQ(body.at("stop_reason").as_string(), "tool_use");
  EXPECT_TRUE(body.at("stop_sequence").is_null());
  const auto& content = body.at("content").as_array();
  ASSERT_EQ(content.size(), 3u);
  EXPECT_EQ(content[0], json::parse(R"({"type":"text","text":"Let me look."})"));
  EXPECT_EQ(content[1], json::parse(R"({"type":"tool_use","id":"call_1","name":"lookup","input":{"q":"x"}})"));
  EXPECT_EQ(content[2].at("input"), json::parse(R"({"_raw":"{not json"})"));
  EXPECT_EQ(content[2].at("id").as_string().subview(0, 6), "toolu_");
  EXPECT_EQ(body.at("usage"), json::parse(R"({"input_tokens":100,"cache_creation_input_tokens":20,
      "cache_read_input_tokens":30,"output_tokens":40})"));
}

TEST(AnthropicResponse, EncodesStopReasonsAndGeneratesIds) {
  core::ChatResponse response;
  response.text = "x";
  std::pair<FinishReason, const char*> cases[] = {{FinishReason::Stop, "end_turn"},
                                                  {FinishReason::Length, "max_tokens"},
                                                  {FinishReason::ToolCalls, "tool_use"},
                                                  {FinishReason::ContentFilter, "refusal"},
                                                  {FinishReason::Unknown, "end_turn"}};
  for (auto [reason, name] : cases) {
    response.finish = reason;
    auto body = obj(anthropic().encodeResponse(response));
    EXPECT_EQ(body.at("stop_reason").as_string(), name);
    EXPECT_EQ(body.at("id").as_string().subview(0, 4), "msg_");
  }
}

// ---- cross-format answers ------------------------------------------------------

TEST(CrossResponse, AnthropicAnswerToOpenAICallerKeepsEveryUsageField) {
  auto parsed = anthropic().parseResponse(kAnthropicAnswer);
  ASSERT_TRUE(parsed.ok());
  parsed->model = "public";
  auto body = obj(openAI().encodeResponse(*parsed));
  EXPECT_EQ(body.at("usage").at("prompt_tokens").as_int64(), 150);
  EXPECT_EQ(body.at("usage").at("prompt_tokens_details").at("cached_tokens").as_int64(), 30);
  EXPECT_EQ(body.at("choices").at(0).at("finish_reason").as_string(), "tool_calls");
  EXPECT_EQ(body.at("choices").at(0).at("message").at("tool_calls").at(0).at("id").as_string(), "toolu_1");
  // And back: nothing lost.
  auto again = openAI().parseResponse(json::serialize(body));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again->usage, *parsed->usage);
  EXPECT_EQ(again->text, parsed->text);
  EXPECT_EQ(again->finish, parsed->finish);
}

TEST(CrossResponse, OpenAIAnswerToAnthropicCaller) {
  auto parsed = openAI().parseResponse(kOpenAIAnswer);
  ASSERT_TRUE(parsed.ok());
  auto body = obj(anthropic().encodeResponse(*parsed));
  // 120 prompt tokens of which 100 cached: Anthropic reports 20 uncached + 100 read.
  EXPECT_EQ(body.at("usage").at("input_tokens").as_int64(), 20);
  EXPECT_EQ(body.at("usage").at("cache_read_input_tokens").as_int64(), 100);
  EXPECT_EQ(body.at("usage").at("output_tokens").as_int64(), 40);
  EXPECT_EQ(body.at("stop_reason").as_string(), "tool_use");
  auto again = anthropic().parseResponse(json::serialize(body));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->usage->inputTokens, 120);
  EXPECT_EQ(again->usage->cachedReadTokens, 100);
  ASSERT_EQ(again->toolCalls.size(), 2u);
  EXPECT_EQ(json::parse(again->toolCalls[0].arguments), json::parse(R"({"q":"x"})"));
  EXPECT_EQ(again->toolCalls[1].name, "clock");
}

// ---- errors ----------------------------------------------------------------------

TEST(EncodeError, OpenAIShape) {
  auto e = core::makeError(core::ErrorKind::InvalidRequest, "messages[0].role: bad", "messages[0].role");
  EXPECT_EQ(obj(openAI().encodeError(e)), obj(R"({"error":{"message":"messages[0].role: bad",
      "type":"invalid_request_error","param":"messages[0].role","code":null}})"));
  auto notFound = obj(openAI().encodeError(core::makeError(core::ErrorKind::NotFound, "no model x")));
  EXPECT_EQ(notFound.at("error").at("code").as_string(), "model_not_found");
  EXPECT_TRUE(notFound.at("error").at("param").is_null());
  auto limited = obj(openAI().encodeError(core::makeError(core::ErrorKind::RateLimited, "slow down")));
  EXPECT_EQ(limited.at("error").at("code").as_string(), "rate_limit_exceeded");
  EXPECT_EQ(limited.at("error").at("type").as_string(), "rate_limit_error");
  EXPECT_FALSE(limited.contains("type"));
}

TEST(EncodeError, AnthropicShape) {
  auto e = core::makeError(core::ErrorKind::Overloaded, "busy");
  EXPECT_EQ(obj(anthropic().encodeError(e)),
            obj(R"({"type":"error","error":{"type":"overloaded_error","message":"busy"}})"));
  EXPECT_EQ(
      obj(anthropic().encodeError(core::makeError(core::ErrorKind::NotFound, "x"))).at("error").at("type").as_string(),
      "not_found_error");
  // Never an empty message.
  EXPECT_FALSE(obj(anthropic().encodeError(core::Error{})).at("error").at("message").as_string().empty());
  EXPECT_FALSE(obj(openAI().encodeError(core::Error{})).at("error").at("message").as_string().empty());
}

TEST(ParseErrorMessage, BothShapesAndPlainBodies) {
  for (const Codec* codec : {&openAI(), &anthropic()}) {
    EXPECT_EQ(codec->parseErrorMessage(R"({"error":{"message":"Incorrect API key","type":"invalid_request_error"}})"),
              "Incorrect API key");
    EXPECT_EQ(codec->parseErrorMessage(R"({"type":"error","error":{"type":"rate_limit_error","message":"Too many"}})"),
              "Too many");
    EXPECT_EQ(codec->parseErrorMessage("<html>502 Bad Gateway</html>"), "<html>502 Bad Gateway</html>");
    std::string longBody(1000, 'x');
    EXPECT_EQ(codec->parseErrorMessage(longBody).size(), 200u);
    // Never cut inside a UTF-8 sequence: 199 ASCII bytes then a 2-byte character.
    std::string utf8 = std::string(199, 'a') + "\xC3\xA9" + std::string(50, 'b');
    EXPECT_EQ(codec->parseErrorMessage(utf8), std::string(199, 'a'));
    EXPECT_FALSE(codec->parseErrorMessage("").empty());
  }
}

}  // namespace
}  // namespace arbitra::api::test
