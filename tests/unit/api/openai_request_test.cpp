// OpenAI Chat Completions request parsing: every supported field lands in the
// neutral request, and each kind of bad input is a 400 naming its field.
#include <gtest/gtest.h>

#include "api_test_util.h"

namespace arbitra::api::test {
namespace {

using core::ContentPart;
using core::Role;
using core::ToolChoice;

TEST(OpenAIRequest, ParsesEveryField) {
  auto r = parseOk(openAI(), R"({
    "model": "gpt-4o",
    "messages": [
      {"role": "system", "content": "Be brief."},
      {"role": "developer", "content": [{"type": "text", "text": "No emojis."}]},
      {"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "https://x.test/cat.png", "detail": "low"}}
      ]},
      {"role": "assistant", "content": null, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{\"q\":\"cat\"}"}}
      ]},
      {"role": "tool", "tool_call_id": "call_1", "content": "a cat"},
      {"role": "assistant", "content": "It is a cat."}
    ],
    "tools": [{"type": "function", "function": {"name": "lookup", "description": "Look up",
               "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}],
    "tool_choice": {"type": "function", "function": {"name": "lookup"}},
    "max_completion_tokens": 300,
    "temperature": 0.5,
    "top_p": 0.9,
    "stop": "END",
    "stream": true,
    "stream_options": {"include_usage": true},
    "response_format": {"type": "json_object"},
    "user": "u-42",
    "seed": 7
  })");
  EXPECT_EQ(r.format, WireFormat::OpenAI);
  EXPECT_EQ(r.model, "gpt-4o");
  EXPECT_EQ(r.system, "Be brief.\nNo emojis.");
  ASSERT_EQ(r.messages.size(), 4u);

  EXPECT_EQ(r.messages[0].role, Role::User);
  ASSERT_EQ(r.messages[0].content.size(), 2u);
  EXPECT_EQ(r.messages[0].content[0].kind, ContentPart::Kind::Text);
  EXPECT_EQ(r.messages[0].content[0].text, "What is this?");
  EXPECT_EQ(r.messages[0].content[1].kind, ContentPart::Kind::Image);
  EXPECT_EQ(r.messages[0].content[1].imageUrl, "https://x.test/cat.png");

  EXPECT_EQ(r.messages[1].role, Role::Assistant);
  EXPECT_TRUE(r.messages[1].content.empty());
  ASSERT_EQ(r.messages[1].toolCalls.size(), 1u);
  EXPECT_EQ(r.messages[1].toolCalls[0].id, "call_1");
  EXPECT_EQ(r.messages[1].toolCalls[0].name, "lookup");
  EXPECT_EQ(r.messages[1].toolCalls[0].arguments, R"({"q":"cat"})");

  EXPECT_EQ(r.messages[2].role, Role::Tool);
  EXPECT_EQ(r.messages[2].toolCallId, "call_1");
  ASSERT_EQ(r.messages[2].content.size(), 1u);
  EXPECT_EQ(r.messages[2].content[0].text, "a cat");

  EXPECT_EQ(r.messages[3].role, Role::Assistant);
  EXPECT_EQ(r.messages[3].content.at(0).text, "It is a cat.");

  ASSERT_EQ(r.tools.size(), 1u);
  EXPECT_EQ(r.tools[0].name, "lookup");
  EXPECT_EQ(r.tools[0].description, "Look up");
  EXPECT_EQ(r.tools[0].parameters.at("type").as_string(), "object");
  ASSERT_TRUE(r.toolChoice.has_value());
  EXPECT_EQ(r.toolChoice->kind, ToolChoice::Kind::Named);
  EXPECT_EQ(r.toolChoice->name, "lookup");
  EXPECT_EQ(r.maxTokens, 300);
  EXPECT_EQ(r.temperature, 0.5);
  EXPECT_EQ(r.topP, 0.9);
  EXPECT_EQ(r.stop, std::vector<std::string>{"END"});
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.includeUsage);
  EXPECT_EQ(r.responseFormat.at("type").as_string(), "json_object");
  EXPECT_EQ(r.user, "u-42");
  EXPECT_FALSE(r.topK.has_value());
  // The original body, unknown fields included.
  EXPECT_EQ(r.raw.at("seed").as_int64(), 7);
  EXPECT_EQ(r.raw.at("messages").as_array().size(), 6u);
}

TEST(OpenAIRequest, MinimalRequestHasDefaults) {
  auto r = parseOk(openAI(), R"({"model":"m","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(r.system, "");
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].content.at(0).text, "hi");
  EXPECT_FALSE(r.stream);
  EXPECT_FALSE(r.includeUsage);
  EXPECT_FALSE(r.maxTokens.has_value());
  EXPECT_FALSE(r.toolChoice.has_value());
  EXPECT_TRUE(r.responseFormat.is_null());
  EXPECT_TRUE(r.stop.empty());
}

TEST(OpenAIRequest, MaxTokensAndMaxCompletionTokens) {
  EXPECT_EQ(parseOk(openAI(), R"({"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":12})").maxTokens,
            12);
  // max_completion_tokens wins over the deprecated max_tokens.
  EXPECT_EQ(parseOk(openAI(), R"({"model":"m","messages":[{"role":"user","content":"x"}],
                                  "max_tokens":12,"max_completion_tokens":34})")
                .maxTokens,
            34);
  // 64.0 is an integer in JSON terms.
  EXPECT_EQ(
      parseOk(openAI(), R"({"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":64.0})").maxTokens, 64);
}

TEST(OpenAIRequest, StopAsArrayAndToolChoiceStrings) {
  auto r = parseOk(openAI(), R"({"model":"m","messages":[{"role":"user","content":"x"}],"stop":["a","b"],
                                "tool_choice":"required"})");
  EXPECT_EQ(r.stop, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r.toolChoice->kind, ToolChoice::Kind::Required);
  EXPECT_EQ(parseOk(openAI(), R"({"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"none"})")
                .toolChoice->kind,
            ToolChoice::Kind::None);
  EXPECT_EQ(parseOk(openAI(), R"({"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"auto"})")
                .toolChoice->kind,
            ToolChoice::Kind::Auto);
}

TEST(OpenAIRequest, NullOptionalFieldsAreAbsent) {
  auto r = parseOk(openAI(), R"({"model":"m","messages":[{"role":"user","content":"x"}],"temperature":null,
                                "tools":null,"tool_choice":null,"stop":null,"stream":null,"max_tokens":null,
                                "stream_options":null,"response_format":null,"user":null})");
  EXPECT_FALSE(r.temperature.has_value());
  EXPECT_TRUE(r.tools.empty());
  EXPECT_FALSE(r.toolChoice.has_value());
  EXPECT_FALSE(r.maxTokens.has_value());
  EXPECT_FALSE(r.stream);
}

TEST(OpenAIRequest, SystemMessagesAnywhereJoinInOrder) {
  auto r = parseOk(openAI(), R"({"model":"m","messages":[
      {"role":"system","content":"one"},{"role":"user","content":"x"},{"role":"developer","content":"two"}]})");
  EXPECT_EQ(r.system, "one\ntwo");
  EXPECT_EQ(r.messages.size(), 1u);
}

TEST(OpenAIRequest, UnknownPartKindsAndCustomToolsAreSkippedNotRefused) {
  auto r = parseOk(openAI(), R"({"model":"m","messages":[{"role":"user","content":[
      {"type":"text","text":"listen"},{"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}}]}],
      "tools":[{"type":"custom","custom":{"name":"grammar"}},{"type":"function","function":{"name":"f"}}]})");
  ASSERT_EQ(r.messages[0].content.size(), 1u);
  EXPECT_EQ(r.messages[0].content[0].text, "listen");
  ASSERT_EQ(r.tools.size(), 1u);
  EXPECT_EQ(r.tools[0].name, "f");
  EXPECT_TRUE(r.tools[0].parameters.is_null());
}

struct BadCase {
  const char* body;
  const char* param;     // expected Error::param ("" for body-level errors)
  const char* contains;  // expected substring of the message
};

class OpenAIBadRequest : public ::testing::TestWithParam<BadCase> {};

TEST_P(OpenAIBadRequest, IsInvalidRequestNamingTheField) {
  const BadCase& c = GetParam();
  auto parsed = openAI().parseRequest(c.body);
  ASSERT_FALSE(parsed.ok()) << c.body;
  EXPECT_EQ(parsed.error().kind, core::ErrorKind::InvalidRequest);
  EXPECT_EQ(parsed.error().httpStatus(), 400);
  EXPECT_EQ(parsed.error().param, c.param) << parsed.error().message;
  EXPECT_NE(parsed.error().message.find(c.contains), std::string::npos)
      << "message: " << parsed.error().message << "\nexpected to contain: " << c.contains;
}

#define MSGS(x) R"({"model":"m","messages":)" x "}"
#define USER R"([{"role":"user","content":"hi"}])"
#define WITH(extra) R"({"model":"m","messages":[{"role":"user","content":"hi"}],)" extra "}"

INSTANTIATE_TEST_SUITE_P(
    Cases, OpenAIBadRequest,
    ::testing::Values(
        BadCase{R"({"model":"m","messages":[{"role":"user","content":"hi")", "", "invalid JSON"},
        BadCase{"", "", "invalid JSON"}, BadCase{"hello", "", "invalid JSON"},
        BadCase{R"({"model":"m",})", "", "invalid JSON"}, BadCase{"[1,2,3]", "", "must be a JSON object"},
        BadCase{"null", "", "must be a JSON object"}, BadCase{R"({"messages":)" USER "}", "model", "model: required"},
        BadCase{R"({"model":42,"messages":)" USER "}", "model", "model: expected a string (got a number)"},
        BadCase{R"({"model":"","messages":)" USER "}", "model", "model: must not be empty"},
        BadCase{R"({"model":"m"})", "messages", "messages: required"},
        BadCase{MSGS(R"("x")"), "messages", "messages: expected an array (got a string)"},
        BadCase{MSGS("[]"), "messages", "at least one message"},
        BadCase{MSGS("[5]"), "messages[0]", "messages[0]: expected a message object"},
        BadCase{MSGS(R"([{"content":"hi"}])"), "messages[0].role", "messages[0].role: required"},
        BadCase{MSGS(R"([{"role":"wizard","content":"hi"}])"), "messages[0].role", "wizard"},
        BadCase{MSGS(R"([{"role":"user","content":"a"},{"role":"user","content":"b"},{"role":"user","content":7}])"),
                "messages[2].content", "messages[2].content: expected a string or an array (got a number)"},
        BadCase{MSGS(R"([{"role":"user"}])"), "messages[0].content", "messages[0].content: required"},
        BadCase{MSGS(R"([{"role":"user","content":[{"text":"x"}]}])"), "messages[0].content[0].type",
                "messages[0].content[0].type: required"},
        BadCase{MSGS(R"([{"role":"user","content":[{"type":"text","text":9}]}])"), "messages[0].content[0].text",
                "messages[0].content[0].text: expected a string"},
        BadCase{MSGS(R"([{"role":"user","content":[{"type":"image_url","image_url":{"url":3}}]}])"),
                "messages[0].content[0].image_url.url", "expected a string"},
        BadCase{MSGS(R"([{"role":"user","content":[{"type":"image_url"}]}])"), "messages[0].content[0].image_url",
                "required"},
        BadCase{MSGS(R"([{"role":"system","content":[{"type":"image_url","image_url":{"url":"u"}}]}])"),
                "messages[0].content[0].type", "only allowed in user messages"},
        BadCase{MSGS(R"([{"role":"tool","content":"r"}])"), "messages[0].tool_call_id", "tool_call_id: required"},
        BadCase{MSGS(R"([{"role":"assistant","tool_calls":{}}])"), "messages[0].tool_calls", "expected an array"},
        BadCase{MSGS(R"([{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f"}}]}])"),
                "messages[0].tool_calls[0].id", "required"},
        BadCase{
            MSGS(
                R"([{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":{}}}]}])"),
            "messages[0].tool_calls[0].function.arguments", "expected a string (got an object)"},
        BadCase{MSGS(R"([{"role":"assistant","tool_calls":[{"id":"c","type":"function"}]}])"),
                "messages[0].tool_calls[0].function", "required"},
        BadCase{WITH(R"("tools":{})"), "tools", "tools: expected an array"},
        BadCase{WITH(R"("tools":[{"function":{"name":"f"}}])"), "tools[0].type", "required"},
        BadCase{WITH(R"("tools":[{"type":"function"}])"), "tools[0].function", "tools[0].function: required"},
        BadCase{WITH(R"("tools":[{"type":"function","function":{"description":"d"}}])"), "tools[0].function.name",
                "required"},
        BadCase{WITH(R"("tools":[{"type":"function","function":{"name":"f","parameters":"x"}}])"),
                "tools[0].function.parameters", "expected an object"},
        BadCase{WITH(R"("tool_choice":"sometimes")"), "tool_choice", "tool_choice: expected"},
        BadCase{WITH(R"("tool_choice":3)"), "tool_choice", "tool_choice: expected"},
        BadCase{WITH(R"("tool_choice":{"type":"function"})"), "tool_choice.function", "required"},
        BadCase{WITH(R"("tool_choice":{"type":"function","function":{}})"), "tool_choice.function.name", "required"},
        BadCase{WITH(R"("max_tokens":"ten")"), "max_tokens", "max_tokens: expected an integer (got a string)"},
        BadCase{WITH(R"("max_tokens":1.5)"), "max_tokens", "expected an integer"},
        BadCase{WITH(R"("max_tokens":0)"), "max_tokens", "at least 1"},
        BadCase{WITH(R"("max_completion_tokens":true)"), "max_completion_tokens", "expected an integer"},
        BadCase{WITH(R"("temperature":"hot")"), "temperature", "temperature: expected a number"},
        BadCase{WITH(R"("top_p":[])"), "top_p", "expected a number"},
        BadCase{WITH(R"("stop":5)"), "stop", "stop: expected a string or an array of strings"},
        BadCase{WITH(R"("stop":["a",1])"), "stop[1]", "stop[1]: expected a string"},
        BadCase{WITH(R"("stream":"yes")"), "stream", "stream: expected a boolean (got a string)"},
        BadCase{WITH(R"("stream_options":1)"), "stream_options", "expected an object"},
        BadCase{WITH(R"("stream_options":{"include_usage":"yes"})"), "stream_options.include_usage",
                "expected a boolean"},
        BadCase{WITH(R"("response_format":"json")"), "response_format", "expected an object"},
        BadCase{WITH(R"("user":5)"), "user", "user: expected a string"},
        BadCase{WITH(R"("n":"two")"), "n", "expected an integer"}));

#undef MSGS
#undef USER
#undef WITH

TEST(OpenAIRequest, InvalidJsonReportsWhere) {
  auto parsed = openAI().parseRequest(R"({"model": "m", "messages": [}])");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().message.find("at byte"), std::string::npos) << parsed.error().message;
}

TEST(OpenAIRequest, DeepNestingIsRefusedNotACrash) {
  std::string deep = R"({"model":"m","messages":[{"role":"user","content":"x"}],"x":)";
  for (int i = 0; i < 100000; ++i) deep += '[';
  auto parsed = openAI().parseRequest(deep);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().kind, core::ErrorKind::InvalidRequest);
}

}  // namespace
}  // namespace arbitra::api::test
