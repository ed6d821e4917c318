// Anthropic Messages request parsing: every supported field lands in the
// neutral request (tool_result blocks split into neutral tool messages, in
// order), and each kind of bad input is a 400 naming its field.
#include <gtest/gtest.h>

#include "api_test_util.h"

namespace arbitra::api::test {
namespace {

using core::ContentPart;
using core::Role;
using core::ToolChoice;

TEST(AnthropicRequest, ParsesEveryField) {
  auto r = parseOk(anthropic(), R"({
    "model": "claude-sonnet",
    "max_tokens": 1024,
    "system": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "No emojis.", "cache_control": {"type": "ephemeral"}}],
    "messages": [
      {"role": "user", "content": [
        {"type": "text", "text": "Look:"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0"}},
        {"type": "image", "source": {"type": "url", "url": "https://x.test/a.jpg"}}
      ]},
      {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "hmm", "signature": "s"},
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "cat", "n": 2}},
        {"type": "tool_use", "id": "toolu_2", "name": "clock", "input": {}}
      ]},
      {"role": "user", "content": [
        {"type": "text", "text": "before"},
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a cat"},
        {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": true,
         "content": [{"type": "text", "text": "clock"}, {"type": "text", "text": "broken"}]},
        {"type": "text", "text": "after"}
      ]}
    ],
    "tools": [{"name": "lookup", "description": "Look up", "input_schema": {"type": "object"}},
              {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}],
    "tool_choice": {"type": "tool", "name": "lookup"},
    "temperature": 0.2,
    "top_p": 0.8,
    "top_k": 40,
    "stop_sequences": ["END", "STOP"],
    "stream": true,
    "metadata": {"user_id": "u-7"},
    "thinking": {"type": "enabled", "budget_tokens": 2000}
  })");
  EXPECT_EQ(r.format, WireFormat::Anthropic);
  EXPECT_EQ(r.model, "claude-sonnet");
  EXPECT_EQ(r.maxTokens, 1024);
  EXPECT_EQ(r.system, "Be brief.\nNo emojis.");

  ASSERT_EQ(r.messages.size(), 6u);
  const auto& user = r.messages[0];
  EXPECT_EQ(user.role, Role::User);
  ASSERT_EQ(user.content.size(), 3u);
  EXPECT_EQ(user.content[0].text, "Look:");
  EXPECT_EQ(user.content[1].kind, ContentPart::Kind::Image);
  EXPECT_EQ(user.content[1].imageUrl, "data:image/png;base64,iVBORw0");
  EXPECT_EQ(user.content[2].imageUrl, "https://x.test/a.jpg");

  const auto& assistant = r.messages[1];
  EXPECT_EQ(assistant.role, Role::Assistant);
  ASSERT_EQ(assistant.content.size(), 1u);  // the thinking block has no neutral form
  EXPECT_EQ(assistant.content[0].text, "Checking.");
  ASSERT_EQ(assistant.toolCalls.size(), 2u);
  EXPECT_EQ(assistant.toolCalls[0].id, "toolu_1");
  EXPECT_EQ(assistant.toolCalls[0].name, "lookup");
  EXPECT_EQ(json::parse(assistant.toolCalls[0].arguments), json::parse(R"({"q":"cat","n":2})"));
  EXPECT_EQ(assistant.toolCalls[1].arguments, "{}");

  // [text, tool_result, tool_result, text] -> user, tool, tool, user, in order.
  EXPECT_EQ(r.messages[2].role, Role::User);
  EXPECT_EQ(r.messages[2].content.at(0).text, "before");
  EXPECT_EQ(r.messages[3].role, Role::Tool);
  EXPECT_EQ(r.messages[3].toolCallId, "toolu_1");
  EXPECT_EQ(r.messages[3].content.at(0).text, "a cat");
  EXPECT_FALSE(r.messages[3].toolError);
  EXPECT_EQ(r.messages[4].role, Role::Tool);
  EXPECT_EQ(r.messages[4].toolCallId, "toolu_2");
  EXPECT_TRUE(r.messages[4].toolError);
  ASSERT_EQ(r.messages[4].content.size(), 2u);
  EXPECT_EQ(r.messages[4].content[1].text, "broken");
  EXPECT_EQ(r.messages[5].role, Role::User);
  EXPECT_EQ(r.messages[5].content.at(0).text, "after");

  ASSERT_EQ(r.tools.size(), 1u);  // the server tool travels in raw only
  EXPECT_EQ(r.tools[0].name, "lookup");
  EXPECT_EQ(r.tools[0].description, "Look up");
  EXPECT_EQ(r.tools[0].parameters.at("type").as_string(), "object");
  EXPECT_EQ(r.toolChoice->kind, ToolChoice::Kind::Named);
  EXPECT_EQ(r.toolChoice->name, "lookup");
  EXPECT_EQ(r.temperature, 0.2);
  EXPECT_EQ(r.topP, 0.8);
  EXPECT_EQ(r.topK, 40);
  EXPECT_EQ(r.stop, (std::vector<std::string>{"END", "STOP"}));
  EXPECT_TRUE(r.stream);
  EXPECT_EQ(r.user, "u-7");
  EXPECT_TRUE(r.raw.contains("thinking"));
}

TEST(AnthropicRequest, StringSystemAndStringContent) {
  auto r =
      parseOk(anthropic(), R"({"model":"c","max_tokens":5,"system":"S","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(r.system, "S");
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].content.at(0).text, "hi");
  EXPECT_FALSE(r.stream);
}

TEST(AnthropicRequest, OnlyToolResultsMakeOnlyToolMessages) {
  auto r = parseOk(anthropic(), R"({"model":"c","max_tokens":5,"messages":[
      {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1"},{"type":"tool_result","tool_use_id":"t2","content":[]}]}]})");
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[0].role, Role::Tool);
  EXPECT_EQ(r.messages[0].toolCallId, "t1");
  EXPECT_TRUE(r.messages[0].content.empty());
  EXPECT_EQ(r.messages[1].toolCallId, "t2");
}

TEST(AnthropicRequest, ToolChoiceKinds) {
  auto choice = [](const char* json) {
    return parseOk(
               anthropic(),
               std::string(R"({"model":"c","max_tokens":5,"messages":[{"role":"user","content":"x"}],"tool_choice":)") +
                   json + "}")
        .toolChoice->kind;
  };
  EXPECT_EQ(choice(R"({"type":"auto"})"), ToolChoice::Kind::Auto);
  EXPECT_EQ(choice(R"({"type":"any"})"), ToolChoice::Kind::Required);
  EXPECT_EQ(choice(R"({"type":"none"})"), ToolChoice::Kind::None);
  EXPECT_EQ(choice(R"({"type":"auto","disable_parallel_tool_use":true})"), ToolChoice::Kind::Auto);
}

TEST(AnthropicRequest, EmptyContentArrayKeepsTheTurn) {
  auto r = parseOk(
      anthropic(),
      R"({"model":"c","max_tokens":5,"messages":[{"role":"user","content":"a"},{"role":"assistant","content":[]}]})");
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[1].role, Role::Assistant);
}

struct BadCase {
  const char* body;
  const char* param;
  const char* contains;
};

class AnthropicBadRequest : public ::testing::TestWithParam<BadCase> {};

TEST_P(AnthropicBadRequest, IsInvalidRequestNamingTheField) {
  const BadCase& c = GetParam();
  auto parsed = anthropic().parseRequest(c.body);
  ASSERT_FALSE(parsed.ok()) << c.body;
  EXPECT_EQ(parsed.error().kind, core::ErrorKind::InvalidRequest);
  EXPECT_EQ(parsed.error().param, c.param) << parsed.error().message;
  EXPECT_NE(parsed.error().message.find(c.contains), std::string::npos)
      << "message: " << parsed.error().message << "\nexpected to contain: " << c.contains;
  // The Anthropic error body carries no param: the message itself must name the field.
  if (*c.param != '\0') {
    EXPECT_NE(parsed.error().message.find(c.param), std::string::npos);
  }
}

#define MSGS(x) R"({"model":"c","max_tokens":10,"messages":)" x "}"
#define WITH(extra) R"({"model":"c","max_tokens":10,"messages":[{"role":"user","content":"hi"}],)" extra "}"

INSTANTIATE_TEST_SUITE_P(
    Cases, AnthropicBadRequest,
    ::testing::Values(
        BadCase{R"({"model":"c","max_tokens":5,"messages":[{"role":"user","content":"hi"})", "", "invalid JSON"},
        BadCase{R"("a string")", "", "must be a JSON object"},
        BadCase{R"({"max_tokens":5,"messages":[{"role":"user","content":"hi"}]})", "model", "model: required"},
        BadCase{R"({"model":"c","messages":[{"role":"user","content":"hi"}]})", "max_tokens", "max_tokens: required"},
        BadCase{R"({"model":"c","max_tokens":"ten","messages":[{"role":"user","content":"hi"}]})", "max_tokens",
                "max_tokens: expected an integer (got a string)"},
        BadCase{R"({"model":"c","max_tokens":-1,"messages":[{"role":"user","content":"hi"}]})", "max_tokens",
                "at least 1"},
        BadCase{R"({"model":"c","max_tokens":10})", "messages", "messages: required"},
        BadCase{MSGS(R"("x")"), "messages", "messages: expected an array"},
        BadCase{MSGS("[]"), "messages", "at least one message"},
        BadCase{MSGS(R"([{"role":"system","content":"hi"}])"), "messages[0].role", "\"user\" or \"assistant\""},
        BadCase{MSGS(R"([{"role":"user"}])"), "messages[0].content", "messages[0].content: required"},
        BadCase{MSGS(R"([{"role":"user","content":5}])"), "messages[0].content",
                "messages[0].content: expected a string or an array (got a number)"},
        BadCase{MSGS(R"([{"role":"user","content":[{"type":"text","text":9}]}])"), "messages[0].content[0].text",
                "messages[0].content[0].text: expected a string (got a number)"},
        BadCase{MSGS(R"([{"role":"user","content":["hi"]}])"), "messages[0].content[0]", "expected a content block"},
        BadCase{MSGS(R"([{"role":"user","content":[{"text":"hi"}]}])"), "messages[0].content[0].type", "required"},
        BadCase{MSGS(R"([{"role":"user","content":[{"type":"image"}]}])"), "messages[0].content[0].source", "required"},
        BadCase{
            MSGS(
                R"([{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png"}}]}])"),
            "messages[0].content[0].source.data", "required"},
        BadCase{MSGS(R"([{"role":"user","content":[{"type":"tool_use","id":"t","name":"n","input":{}}]}])"),
                "messages[0].content[0].type", "only allowed in assistant messages"},
        BadCase{MSGS(R"([{"role":"assistant","content":[{"type":"tool_result","tool_use_id":"t"}]}])"),
                "messages[0].content[0].type", "only allowed in user messages"},
        BadCase{MSGS(R"([{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"n","input":"x"}]}])"),
                "messages[0].content[0].input", "expected an object (got a string)"},
        BadCase{MSGS(R"([{"role":"assistant","content":[{"type":"tool_use","id":"t","input":{}}]}])"),
                "messages[0].content[0].name", "required"},
        BadCase{MSGS(R"([{"role":"user","content":[{"type":"tool_result","content":"r"}]}])"),
                "messages[0].content[0].tool_use_id", "required"},
        BadCase{MSGS(R"([{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":5}]}])"),
                "messages[0].content[0].content", "expected a string or an array of content blocks"},
        BadCase{
            MSGS(
                R"([{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text"}]}]}])"),
            "messages[0].content[0].content[0].text", "required"},
        BadCase{MSGS(R"([{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","is_error":"yes"}]}])"),
                "messages[0].content[0].is_error", "expected a boolean"},
        BadCase{WITH(R"("system":5)"), "system", "system: expected a string or an array of text blocks"},
        BadCase{WITH(R"("system":[{"type":"image"}])"), "system[0].type", "expected \"text\""},
        BadCase{WITH(R"("system":[{"type":"text","text":1}])"), "system[0].text", "expected a string"},
        BadCase{WITH(R"("tools":[{"name":"f"}])"), "tools[0].input_schema", "required"},
        BadCase{WITH(R"("tools":[{"input_schema":{}}])"), "tools[0].name", "required"},
        BadCase{WITH(R"("tools":"f")"), "tools", "expected an array"},
        BadCase{WITH(R"("tool_choice":"auto")"), "tool_choice", "tool_choice: expected an object"},
        BadCase{WITH(R"("tool_choice":{"type":"maybe"})"), "tool_choice.type",
                "\"auto\", \"any\", \"tool\" or \"none\""},
        BadCase{WITH(R"("tool_choice":{"type":"tool"})"), "tool_choice.name", "required"},
        BadCase{WITH(R"("temperature":"warm")"), "temperature", "expected a number"},
        BadCase{WITH(R"("top_k":-1)"), "top_k", "at least 0"},
        BadCase{WITH(R"("stop_sequences":"END")"), "stop_sequences", "expected an array of strings"},
        BadCase{WITH(R"("stop_sequences":["a",2])"), "stop_sequences[1]", "expected a string"},
        BadCase{WITH(R"("stream":1)"), "stream", "expected a boolean"},
        BadCase{WITH(R"("metadata":[])"), "metadata", "expected an object"},
        BadCase{WITH(R"("metadata":{"user_id":5})"), "metadata.user_id", "expected a string"}));

#undef MSGS
#undef WITH

}  // namespace
}  // namespace arbitra::api::test
