// encodeRequest: same-format bodies pass through with the model swapped (and
// usage forced on for OpenAI streams); cross-format bodies are translated, and
// translating there and back keeps roles, system prompt, tool calls and results.
#include <gtest/gtest.h>

#include "api/json_util.h"
#include "api_test_util.h"

namespace arbitra::api::test {
namespace {

using core::ContentPart;
using core::Role;

// ---- same format -------------------------------------------------------------

TEST(EncodeRequest, OpenAIPassthroughSwapsModelKeepsUnknownFields) {
  auto r = parseOk(openAI(), R"({"model":"public","messages":[{"role":"user","content":"hi"}],
                                "logit_bias":{"50256":-100},"seed":3,"n":2})");
  auto body = obj(openAI().encodeRequest(r, "gpt-upstream"));
  EXPECT_EQ(body.at("model").as_string(), "gpt-upstream");
  EXPECT_EQ(body.at("seed").as_int64(), 3);
  EXPECT_EQ(body.at("n").as_int64(), 2);
  EXPECT_TRUE(body.contains("logit_bias"));
  EXPECT_FALSE(body.contains("stream_options"));
  EXPECT_EQ(body.at("messages"), r.raw.at("messages"));
}

TEST(EncodeRequest, OpenAIStreamingPassthroughForcesIncludeUsage) {
  auto r = parseOk(openAI(), R"({"model":"p","stream":true,"messages":[{"role":"user","content":"hi"}]})");
  EXPECT_FALSE(r.includeUsage);
  auto body = obj(openAI().encodeRequest(r, "u"));
  EXPECT_TRUE(body.at("stream_options").at("include_usage").as_bool());
  EXPECT_FALSE(r.includeUsage) << "the caller's own wish is kept";

  // Explicitly false is overridden too; other stream_options survive.
  auto r2 = parseOk(openAI(), R"({"model":"p","stream":true,"stream_options":{"include_usage":false,"x":1},
                                 "messages":[{"role":"user","content":"hi"}]})");
  auto body2 = obj(openAI().encodeRequest(r2, "u"));
  EXPECT_TRUE(body2.at("stream_options").at("include_usage").as_bool());
  EXPECT_EQ(body2.at("stream_options").at("x").as_int64(), 1);
  EXPECT_FALSE(r2.includeUsage);
}

TEST(EncodeRequest, PassthroughKeepsTheCallersOrderAndValues) {
  // The model is swapped in place; an added stream_options goes last; every
  // other member is written as the caller sent it (same order, same values).
  auto r = parseOk(openAI(), R"({"stream":true,"x":{"y":[1,"\u00e9\"",null,2.5]},"model":"public",
                                "messages":[{"role":"user","content":"hi"}],"temperature":0})");
  std::string text = openAI().encodeRequest(r, "up\"stream");
  auto body = obj(text);
  std::vector<std::string> keys;
  for (const auto& member : body) keys.emplace_back(member.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"stream", "x", "model", "messages", "temperature", "stream_options"}));
  EXPECT_EQ(body.at("model").as_string(), "up\"stream");
  EXPECT_EQ(body.at("x"), r.raw.at("x"));
  EXPECT_EQ(body.at("messages"), r.raw.at("messages"));
  EXPECT_EQ(body.at("stream_options"), (json::object{{"include_usage", true}}));
  EXPECT_EQ(r.raw.at("model").as_string(), "public") << "the parsed request is not modified";

  auto empty = json_util::serializeWith(json::object{}, {});
  EXPECT_EQ(empty, "{}");
}

TEST(EncodeRequest, SpliceAgreesWithSerializeAndKeepsTheCallersBytes) {
  // A parsed body is spliced (only the model's value and stream_options are
  // rewritten; every other byte is the caller's); the result must read as the
  // re-serialized body does, whitespace, escapes and nesting included.
  const std::vector<std::string> bodies = {
      R"({"model":"public","messages":[{"role":"user","content":"hi"}]})",
      "  {\n \"messages\" : [ {\"role\":\"user\",\"content\":\"a \\\" } ] \\\\\"} ] ,\n \"model\"\t: \"p\" , "
      "\"temperature\" : 1.5e-1 }\n",
      R"({"model":"p","stream":true,"stream_options":{"include_usage":false,"x":[{"}":"]"}]},"messages":[{"role":"user","content":"hi"}]})",
      R"({"model":"p","messages":[{"role":"user","content":"{\"model\":\"inner\"}"}],"stream":true,"tools":[],"top_p":null})",
  };
  for (const auto& text : bodies) {
    auto r = parseOk(openAI(), text);
    json::value model("up\"stream");
    json::value options(json::object{{"include_usage", true}});
    auto spliced = json_util::spliceWith(r.raw, r.rawText, {{"model", &model}, {"stream_options", &options}});
    ASSERT_TRUE(spliced.has_value()) << text;
    auto expected = json_util::serializeWith(r.raw, {{"model", &model}, {"stream_options", &options}});
    EXPECT_EQ(obj(*spliced), obj(expected)) << *spliced;
    EXPECT_EQ(obj(openAI().encodeRequest(r, "u")).at("model").as_string(), "u");
    EXPECT_NE(spliced->find(R"("up\"stream")"), std::string::npos) << "a model that needs escaping is escaped";
  }
  // The messages go out as the caller wrote them, not re-serialized.
  auto r = parseOk(openAI(), R"({"model":"p","messages":[{"role":"user","content":"caf\u00e9"}]})");
  EXPECT_NE(openAI().encodeRequest(r, "u").find(R"("caf\u00e9")"), std::string::npos);
}

TEST(EncodeRequest, SpliceRefusesWhatItCannotTellAndEditsFallBack) {
  json::value model("u");
  // A repeated or escaped top-level key, or text that is not an object: nullopt.
  json::object one{{"model", "a"}};
  EXPECT_FALSE(json_util::spliceWith(one, R"({"model":"a","model":"b"})", {{"model", &model}}));
  EXPECT_FALSE(json_util::spliceWith(one, R"({"mod\u0065l":"a"})", {{"model", &model}}));
  EXPECT_FALSE(json_util::spliceWith(one, R"([1])", {{"model", &model}}));
  EXPECT_FALSE(json_util::spliceWith(one, "", {{"model", &model}}));
  EXPECT_FALSE(json_util::spliceWith(one, R"({"model":"a")", {{"model", &model}}));
  EXPECT_FALSE(json_util::spliceWith(one, R"({"model":"a","x":1})", {{"model", &model}})) << "not the object's text";
  EXPECT_EQ(json_util::spliceWith(json::object{}, "{ }", {{"model", &model}}),
            std::optional<std::string>(R"({ "model":"u"})"));
  // Such bodies still encode, through serializeWith: the last model counts.
  auto twice = parseOk(openAI(), R"({"model":"a","model":"b","messages":[{"role":"user","content":"hi"}]})");
  auto body = obj(openAI().encodeRequest(twice, "u"));
  EXPECT_EQ(body.at("model").as_string(), "u");
  EXPECT_EQ(body.size(), 2u);
  // A member erased from `raw` (the route override is) is not spliced back
  // in, even where rawText was left as it was: the counts differ.
  auto edited =
      parseOk(openAI(), R"({"model":"a","arbitra":{"route":"x"},"messages":[{"role":"user","content":"hi"}]})");
  edited.raw.erase("arbitra");
  EXPECT_FALSE(obj(openAI().encodeRequest(edited, "u")).contains("arbitra"));
}

TEST(EncodeRequest, AnthropicPassthroughSwapsModelKeepsUnknownFields) {
  auto r = parseOk(anthropic(), R"({"model":"public","max_tokens":9,"messages":[{"role":"user","content":"hi"}],
                                   "thinking":{"type":"enabled","budget_tokens":1024},"stream":true})");
  auto body = obj(anthropic().encodeRequest(r, "claude-upstream"));
  EXPECT_EQ(body.at("model").as_string(), "claude-upstream");
  EXPECT_EQ(body.at("thinking").at("budget_tokens").as_int64(), 1024);
  EXPECT_EQ(body.at("max_tokens").as_int64(), 9);
  EXPECT_FALSE(body.contains("stream_options"));
}

TEST(EncodeRequest, EmptyRawIsTranslatedFromNeutralFields) {
  core::ChatRequest r;
  r.format = WireFormat::OpenAI;
  r.model = "x";
  r.messages.push_back(core::Message{Role::User, {ContentPart{ContentPart::Kind::Text, "hi", ""}}, {}, {}, false});
  auto body = obj(openAI().encodeRequest(r, "up"));
  EXPECT_EQ(body.at("model").as_string(), "up");
  EXPECT_EQ(body.at("messages").at(0).at("content").as_string(), "hi");
}

// ---- OpenAI caller -> Anthropic upstream -------------------------------------

constexpr const char* kOpenAIConversation = R"({
  "model": "public",
  "messages": [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": [{"type": "text", "text": "Weather and time?"},
                                 {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                                 {"type": "image_url", "image_url": {"url": "https://x.test/p.jpg"}}]},
    {"role": "assistant", "content": "Checking.", "tool_calls": [
      {"id": "call_w", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Oslo\"}"}},
      {"id": "call_t", "type": "function", "function": {"name": "time", "arguments": "not json"}}
    ]},
    {"role": "tool", "tool_call_id": "call_w", "content": "rain"},
    {"role": "tool", "tool_call_id": "call_t", "content": [{"type": "text", "text": "12:00"}]},
    {"role": "user", "content": "Thanks."}
  ],
  "tools": [{"type": "function", "function": {"name": "weather", "description": "Weather now",
             "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
            {"type": "function", "function": {"name": "time"}}],
  "tool_choice": "required",
  "parallel_tool_calls": false,
  "temperature": 1.6,
  "top_p": 0.5,
  "stop": ["END"],
  "response_format": {"type": "json_object"},
  "user": "u-1",
  "stream": true
})";

TEST(TranslateRequest, OpenAIToAnthropic) {
  auto r = parseOk(openAI(), kOpenAIConversation);
  auto body = obj(anthropic().encodeRequest(r, "claude-x"));
  EXPECT_EQ(body.at("model").as_string(), "claude-x");
  EXPECT_EQ(body.at("max_tokens").as_int64(), 4096) << "Anthropic requires max_tokens: default when absent";
  EXPECT_EQ(body.at("system").as_string(), "Be brief.");
  EXPECT_EQ(body.at("temperature").as_double(), 1.0) << "clamped to Anthropic's 0..1";
  EXPECT_EQ(body.at("top_p").as_double(), 0.5);
  EXPECT_EQ(body.at("stop_sequences"), json::parse(R"(["END"])"));
  EXPECT_EQ(body.at("metadata").at("user_id").as_string(), "u-1");
  EXPECT_TRUE(body.at("stream").as_bool());
  EXPECT_FALSE(body.contains("response_format")) << "no Messages counterpart: dropped";
  EXPECT_FALSE(body.contains("stream_options"));
  EXPECT_FALSE(body.contains("stop"));
  EXPECT_EQ(body.at("tool_choice"), json::parse(R"({"type":"any","disable_parallel_tool_use":true})"));

  const auto& tools = body.at("tools").as_array();
  ASSERT_EQ(tools.size(), 2u);
  EXPECT_EQ(tools[0], json::parse(R"({"name":"weather","description":"Weather now",
      "input_schema":{"type":"object","properties":{"city":{"type":"string"}}}})"));
  EXPECT_EQ(tools[1], json::parse(R"({"name":"time","input_schema":{"type":"object","properties":{}}})"));

  const auto& messages = body.at("messages").as_array();
  ASSERT_EQ(messages.size(), 3u) << json::serialize(messages);
  EXPECT_EQ(messages[0], json::parse(R"({"role":"user","content":[
      {"type":"text","text":"Weather and time?"},
      {"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}},
      {"type":"image","source":{"type":"url","url":"https://x.test/p.jpg"}}]})"));
  EXPECT_EQ(messages[1], json::parse(R"({"role":"assistant","content":[
      {"type":"text","text":"Checking."},
      {"type":"tool_use","id":"call_w","name":"weather","input":{"city":"Oslo"}},
      {"type":"tool_use","id":"call_t","name":"time","input":{"_raw":"not json"}}]})"));
  // Both tool messages AND the user message after them: ONE user message, results first.
  EXPECT_EQ(messages[2], json::parse(R"({"role":"user","content":[
      {"type":"tool_result","tool_use_id":"call_w","content":"rain"},
      {"type":"tool_result","tool_use_id":"call_t","content":"12:00"},
      {"type":"text","text":"Thanks."}]})"));
}

TEST(TranslateRequest, OpenAIToAnthropicToolChoiceAndLimits) {
  auto translate = [](const std::string& extra) {
    auto r = parseOk(openAI(), R"({"model":"p","messages":[{"role":"user","content":"x"}],
        "tools":[{"type":"function","function":{"name":"f"}}])" +
                                   extra + "}");
    return obj(anthropic().encodeRequest(r, "c"));
  };
  EXPECT_EQ(translate(R"(,"tool_choice":"auto")").at("tool_choice"), json::parse(R"({"type":"auto"})"));
  EXPECT_EQ(translate(R"(,"tool_choice":"none")").at("tool_choice"), json::parse(R"({"type":"none"})"));
  EXPECT_EQ(translate(R"(,"tool_choice":{"type":"function","function":{"name":"f"}})").at("tool_choice"),
            json::parse(R"({"type":"tool","name":"f"})"));
  EXPECT_FALSE(translate("").contains("tool_choice"));
  EXPECT_EQ(translate(R"(,"max_tokens":77)").at("max_tokens").as_int64(), 77);
  EXPECT_EQ(translate(R"(,"max_completion_tokens":78)").at("max_tokens").as_int64(), 78);
  EXPECT_EQ(translate(R"(,"temperature":0.3)").at("temperature").as_double(), 0.3);
  EXPECT_FALSE(translate("").contains("stream"));
}

TEST(TranslateRequest, OpenAIToolMessagesSeparatedByAssistantStaySeparate) {
  auto r = parseOk(openAI(), R"({"model":"p","messages":[
      {"role":"user","content":"go"},
      {"role":"assistant","content":null,"tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"{}"}}]},
      {"role":"tool","tool_call_id":"a","content":"1"},
      {"role":"assistant","content":null,"tool_calls":[{"id":"b","type":"function","function":{"name":"f","arguments":""}}]},
      {"role":"tool","tool_call_id":"b","content":"2"}]})");
  auto messages = obj(anthropic().encodeRequest(r, "c")).at("messages").as_array();
  ASSERT_EQ(messages.size(), 5u);
  std::vector<std::string> roles;
  for (const auto& m : messages) roles.emplace_back(m.at("role").as_string());
  EXPECT_EQ(roles, (std::vector<std::string>{"user", "assistant", "user", "assistant", "user"}));
  EXPECT_EQ(messages[1].at("content").at(0).at("input"), json::object{});
  EXPECT_EQ(messages[3].at("content").at(0).at("input"), json::object{}) << "empty arguments -> {}";
  EXPECT_EQ(messages[4].at("content").at(0).at("tool_use_id").as_string(), "b");
}

// ---- Anthropic caller -> OpenAI upstream -------------------------------------

constexpr const char* kAnthropicConversation = R"({
  "model": "public",
  "max_tokens": 500,
  "system": "Be brief.",
  "messages": [
    {"role": "user", "content": [{"type": "text", "text": "Weather?"},
                                 {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "BBBB"}}]},
    {"role": "assistant", "content": [{"type": "text", "text": "Checking."},
                                      {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Oslo"}},
                                      {"type": "tool_use", "id": "toolu_2", "name": "time", "input": {}}]},
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "rain"},
                                 {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": true, "content": "no clock"},
                                 {"type": "text", "text": "Thanks."}]}
  ],
  "tools": [{"name": "weather", "description": "Weather now", "input_schema": {"type": "object"}}],
  "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
  "temperature": 0.7,
  "top_k": 5,
  "stop_sequences": ["END"],
  "metadata": {"user_id": "u-2"},
  "stream": true
})";

TEST(TranslateRequest, AnthropicToOpenAI) {
  auto r = parseOk(anthropic(), kAnthropicConversation);
  auto body = obj(openAI().encodeRequest(r, "gpt-x"));
  EXPECT_EQ(body.at("model").as_string(), "gpt-x");
  EXPECT_EQ(body.at("max_completion_tokens").as_int64(), 500);
  EXPECT_EQ(body.at("temperature").as_double(), 0.7);
  EXPECT_FALSE(body.contains("top_k")) << "no OpenAI counterpart: dropped";
  EXPECT_EQ(body.at("stop"), json::parse(R"(["END"])"));
  EXPECT_EQ(body.at("user").as_string(), "u-2");
  EXPECT_TRUE(body.at("stream").as_bool());
  EXPECT_TRUE(body.at("stream_options").at("include_usage").as_bool());
  EXPECT_EQ(body.at("tool_choice").as_string(), "required");
  EXPECT_FALSE(body.at("parallel_tool_calls").as_bool());
  EXPECT_EQ(body.at("tools"), json::parse(R"([{"type":"function","function":{"name":"weather",
      "description":"Weather now","parameters":{"type":"object"}}}])"));

  const auto& messages = body.at("messages").as_array();
  ASSERT_EQ(messages.size(), 6u) << json::serialize(messages);
  EXPECT_EQ(messages[0], json::parse(R"({"role":"system","content":"Be brief."})"));
  EXPECT_EQ(messages[1], json::parse(R"({"role":"user","content":[{"type":"text","text":"Weather?"},
      {"type":"image_url","image_url":{"url":"data:image/jpeg;base64,BBBB"}}]})"));
  const auto& assistant = messages[2].as_object();
  EXPECT_EQ(assistant.at("role").as_string(), "assistant");
  EXPECT_EQ(assistant.at("content").as_string(), "Checking.");
  const auto& calls = assistant.at("tool_calls").as_array();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].at("id").as_string(), "toolu_1");
  EXPECT_EQ(calls[0].at("type").as_string(), "function");
  EXPECT_EQ(calls[0].at("function").at("name").as_string(), "weather");
  EXPECT_EQ(json::parse(calls[0].at("function").at("arguments").as_string()), json::parse(R"({"city":"Oslo"})"));
  EXPECT_EQ(calls[1].at("function").at("arguments").as_string(), "{}");
  EXPECT_EQ(messages[3], json::parse(R"({"role":"tool","tool_call_id":"toolu_1","content":"rain"})"));
  EXPECT_EQ(messages[4], json::parse(R"({"role":"tool","tool_call_id":"toolu_2","content":"Error: no clock"})"));
  EXPECT_EQ(messages[5], json::parse(R"({"role":"user","content":"Thanks."})"));
}

TEST(TranslateRequest, AnthropicToOpenAIToolChoiceMapping) {
  auto choice = [](const char* tc) {
    auto r = parseOk(anthropic(), std::string(R"({"model":"p","max_tokens":5,"messages":[{"role":"user","content":"x"}],
        "tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":)") +
                                      tc + "}");
    return obj(openAI().encodeRequest(r, "g"));
  };
  EXPECT_EQ(choice(R"({"type":"auto"})").at("tool_choice").as_string(), "auto");
  EXPECT_EQ(choice(R"({"type":"none"})").at("tool_choice").as_string(), "none");
  EXPECT_EQ(choice(R"({"type":"tool","name":"f"})").at("tool_choice"),
            json::parse(R"({"type":"function","function":{"name":"f"}})"));
  EXPECT_FALSE(choice(R"({"type":"auto"})").contains("parallel_tool_calls"));
}

TEST(TranslateRequest, AssistantWithOnlyToolCallsHasNullContent) {
  auto r = parseOk(anthropic(), R"({"model":"p","max_tokens":5,"messages":[{"role":"user","content":"x"},
      {"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{"a":1}}]},
      {"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"ok"}]}]})");
  auto messages = obj(openAI().encodeRequest(r, "g")).at("messages").as_array();
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_TRUE(messages[1].at("content").is_null());
  EXPECT_EQ(messages[2].at("role").as_string(), "tool");
}

TEST(TranslateRequest, NeutralToAnthropicKeepsFailedToolResults) {
  // A request without `raw` (built in code) is translated from the neutral
  // fields even for an Anthropic upstream; is_error must survive that path.
  auto r = parseOk(anthropic(), kAnthropicConversation);
  r.raw = {};
  auto body = obj(anthropic().encodeRequest(r, "c"));
  const auto& messages = body.at("messages").as_array();
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[2], json::parse(R"({"role":"user","content":[
      {"type":"tool_result","tool_use_id":"toolu_1","content":"rain"},
      {"type":"tool_result","tool_use_id":"toolu_2","content":"no clock","is_error":true},
      {"type":"text","text":"Thanks."}]})"));
  EXPECT_EQ(body.at("top_k").as_int64(), 5);
  EXPECT_EQ(body.at("max_tokens").as_int64(), 500);
  EXPECT_EQ(body.at("tool_choice"), json::parse(R"({"type":"any"})"));
}

// ---- there and back ------------------------------------------------------------

void expectSameConversation(const core::ChatRequest& a, const core::ChatRequest& b) {
  EXPECT_EQ(a.system, b.system);
  ASSERT_EQ(a.messages.size(), b.messages.size());
  for (size_t i = 0; i < a.messages.size(); ++i) {
    SCOPED_TRACE("message " + std::to_string(i));
    const auto& x = a.messages[i];
    const auto& y = b.messages[i];
    EXPECT_EQ(x.role, y.role);
    EXPECT_EQ(x.toolCallId, y.toolCallId);
    ASSERT_EQ(x.content.size(), y.content.size());
    for (size_t j = 0; j < x.content.size(); ++j) {
      EXPECT_EQ(x.content[j].kind, y.content[j].kind);
      EXPECT_EQ(x.content[j].text, y.content[j].text);
      EXPECT_EQ(x.content[j].imageUrl, y.content[j].imageUrl);
    }
    ASSERT_EQ(x.toolCalls.size(), y.toolCalls.size());
    for (size_t j = 0; j < x.toolCalls.size(); ++j) {
      EXPECT_EQ(x.toolCalls[j].id, y.toolCalls[j].id);
      EXPECT_EQ(x.toolCalls[j].name, y.toolCalls[j].name);
      EXPECT_EQ(json::parse(x.toolCalls[j].arguments), json::parse(y.toolCalls[j].arguments));
    }
  }
  ASSERT_EQ(a.tools.size(), b.tools.size());
  for (size_t i = 0; i < a.tools.size(); ++i) {
    EXPECT_EQ(a.tools[i].name, b.tools[i].name);
    EXPECT_EQ(a.tools[i].description, b.tools[i].description);
    EXPECT_EQ(a.tools[i].parameters, b.tools[i].parameters);
  }
  EXPECT_EQ(a.stop, b.stop);
  EXPECT_EQ(a.stream, b.stream);
  EXPECT_EQ(a.user, b.user);
  EXPECT_EQ(a.toolChoice.has_value(), b.toolChoice.has_value());
  if (a.toolChoice && b.toolChoice) {
    EXPECT_EQ(a.toolChoice->kind, b.toolChoice->kind);
    EXPECT_EQ(a.toolChoice->name, b.toolChoice->name);
  }
}

TEST(TranslateRequest, OpenAIThroughAnthropicAndBack) {
  auto original = parseOk(openAI(), R"({"model":"p","max_tokens":100,"messages":[
      {"role":"system","content":"S"},
      {"role":"user","content":"go"},
      {"role":"assistant","content":null,"tool_calls":[
         {"id":"c1","type":"function","function":{"name":"f","arguments":"{\"x\":[1,2]}"}},
         {"id":"c2","type":"function","function":{"name":"g","arguments":"{}"}}]},
      {"role":"tool","tool_call_id":"c1","content":"one"},
      {"role":"tool","tool_call_id":"c2","content":"two"},
      {"role":"assistant","content":"done"}],
      "tools":[{"type":"function","function":{"name":"f","description":"F","parameters":{"type":"object"}}}],
      "tool_choice":{"type":"function","function":{"name":"f"}},"stop":["X"],"user":"u","stream":true})");
  auto viaAnthropic = parseOk(anthropic(), anthropic().encodeRequest(original, "c"));
  expectSameConversation(original, viaAnthropic);
  EXPECT_EQ(viaAnthropic.maxTokens, 100);
  auto back = parseOk(openAI(), openAI().encodeRequest(viaAnthropic, "g"));
  expectSameConversation(original, back);
  EXPECT_EQ(back.maxTokens, 100);
  EXPECT_TRUE(back.includeUsage) << "a translated stream always asks for usage";
}

TEST(TranslateRequest, AnthropicThroughOpenAIAndBack) {
  auto original = parseOk(anthropic(), kAnthropicConversation);
  auto viaOpenAI = parseOk(openAI(), openAI().encodeRequest(original, "g"));
  // The failed tool result crosses as text with an "Error: " prefix; the rest is identical.
  ASSERT_EQ(viaOpenAI.messages.size(), original.messages.size());
  EXPECT_EQ(viaOpenAI.messages[3].content.at(0).text, "Error: no clock");
  auto adjusted = original;
  adjusted.messages[3].content.at(0).text = "Error: no clock";
  expectSameConversation(adjusted, viaOpenAI);
  EXPECT_EQ(viaOpenAI.maxTokens, 500);

  auto back = parseOk(anthropic(), anthropic().encodeRequest(viaOpenAI, "c"));
  expectSameConversation(adjusted, back);
  EXPECT_EQ(back.maxTokens, 500);
  EXPECT_FALSE(back.topK.has_value());
}

}  // namespace
}  // namespace arbitra::api::test
