// Stream encoders: the exact event sequence each format's clients expect, and
// whole cross-format streams (upstream events -> decoder -> the other
// format's encoder) with tool-call arguments arriving intact and in order.
#include <gtest/gtest.h>

#include <map>

#include "api_test_util.h"

namespace arbitra::api::test {
namespace {

using core::FinishReason;

std::string encodeAll(StreamEncoder& encoder, const std::vector<StreamEvent>& events, bool close = true) {
  std::string out;
  for (const auto& e : events) encoder.encode(e, out);
  if (close) encoder.finish(out);
  return out;
}

// ---- OpenAI encoder ------------------------------------------------------------

const json::object& delta(const SseEvent& e) {
  return e.json.at("choices").at(0).at("delta").as_object();
}
const json::value& finishReason(const SseEvent& e) {
  return e.json.at("choices").at(0).at("finish_reason");
}

TEST(OpenAIStreamEncoder, ExactChunkSequenceWithUsage) {
  auto encoder = openAI().makeStreamEncoder(callerRequest(WireFormat::OpenAI, "public-model", true));
  auto events = splitSse(encodeAll(*encoder, {
                                                 start("msg_up", "claude-upstream", makeUsage(10, 0)),
                                                 text("Hel"),
                                                 text("lo"),
                                                 toolStart(0, "toolu_a", "lookup"),
                                                 toolArgs(0, "{\"q\":"),
                                                 toolArgs(0, "\"x\"}"),
                                                 finish(FinishReason::ToolCalls),
                                                 usage(makeUsage(150, 40, 30, 20)),
                                             }));
  ASSERT_EQ(events.size(), 9u);
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(events[i].event, "") << "OpenAI chunks are unnamed";
    EXPECT_EQ(events[i].json.at("id").as_string(), "msg_up") << "one id for the whole stream";
    EXPECT_EQ(events[i].json.at("object").as_string(), "chat.completion.chunk");
    EXPECT_EQ(events[i].json.at("model").as_string(), "public-model") << "the caller's model is echoed";
    EXPECT_TRUE(events[i].json.at("created").is_int64());
  }
  EXPECT_EQ(delta(events[0]), json::parse(R"({"role":"assistant","content":""})"));
  EXPECT_TRUE(finishReason(events[0]).is_null());
  EXPECT_TRUE(events[0].json.at("usage").is_null());
  EXPECT_EQ(delta(events[1]), json::parse(R"({"content":"Hel"})"));
  EXPECT_EQ(delta(events[2]), json::parse(R"({"content":"lo"})"));
  EXPECT_EQ(delta(events[3]), json::parse(R"({"tool_calls":[{"index":0,"id":"toolu_a","type":"function",
      "function":{"name":"lookup","arguments":""}}]})"));
  EXPECT_EQ(delta(events[4]), json::parse(R"({"tool_calls":[{"index":0,"function":{"arguments":"{\"q\":"}}]})"));
  EXPECT_EQ(delta(events[5]), json::parse(R"({"tool_calls":[{"index":0,"function":{"arguments":"\"x\"}"}}]})"));
  EXPECT_EQ(delta(events[6]), json::object{});
  EXPECT_EQ(finishReason(events[6]).as_string(), "tool_calls");
  // The usage chunk: choices empty, neutral counts as OpenAI reports them.
  EXPECT_TRUE(events[7].json.at("choices").as_array().empty());
  EXPECT_EQ(events[7].json.at("usage").at("prompt_tokens").as_int64(), 150);
  EXPECT_EQ(events[7].json.at("usage").at("completion_tokens").as_int64(), 40);
  EXPECT_EQ(events[7].json.at("usage").at("total_tokens").as_int64(), 190);
  EXPECT_EQ(events[7].json.at("usage").at("prompt_tokens_details").at("cached_tokens").as_int64(), 30);
  EXPECT_EQ(events[8].data, "[DONE]");
}

TEST(OpenAIStreamEncoder, NoUsageChunkWithoutIncludeUsage) {
  auto encoder = openAI().makeStreamEncoder(callerRequest(WireFormat::OpenAI, "m", false));
  auto bytes = encodeAll(*encoder, {start("", "x"), text("hi"), finish(FinishReason::Stop), usage(makeUsage(5, 1))});
  auto events = splitSse(bytes);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(delta(events[0]).at("role").as_string(), "assistant");
  EXPECT_EQ(delta(events[1]).at("content").as_string(), "hi");
  EXPECT_EQ(finishReason(events[2]).as_string(), "stop");
  EXPECT_EQ(events[3].data, "[DONE]");
  EXPECT_EQ(bytes.find("usage"), std::string::npos);
  EXPECT_EQ(events[0].json.at("id").as_string().subview(0, 9), "chatcmpl-") << "generated when the upstream gave none";
}

TEST(OpenAIStreamEncoder, FinishWithoutFinishEventStillClosesProperly) {
  auto encoder = openAI().makeStreamEncoder(callerRequest(WireFormat::OpenAI, "m", true));
  auto events = splitSse(encodeAll(*encoder, {text("partial")}));  // no Start either
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(delta(events[0]).at("role").as_string(), "assistant");
  EXPECT_EQ(delta(events[1]).at("content").as_string(), "partial");
  EXPECT_EQ(finishReason(events[2]).as_string(), "stop");
  EXPECT_EQ(events[3].json.at("usage").at("prompt_tokens").as_int64(), 0);
  EXPECT_EQ(events[4].data, "[DONE]");
}

TEST(OpenAIStreamEncoder, UsageFromStartWhenNoUsageEvent) {
  auto encoder = openAI().makeStreamEncoder(callerRequest(WireFormat::OpenAI, "m", true));
  auto events = splitSse(encodeAll(*encoder, {start("i", "m", makeUsage(77, 0, 7)), finish(FinishReason::Stop)}));
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[2].json.at("usage").at("prompt_tokens").as_int64(), 77);
}

TEST(OpenAIStreamEncoder, ParallelToolCallsGetSequentialIndexes) {
  auto encoder = openAI().makeStreamEncoder(callerRequest(WireFormat::OpenAI, "m", false));
  auto events =
      splitSse(encodeAll(*encoder, {start("i", "m"), toolStart(0, "a", "f"), toolArgs(0, "{}"), toolStart(1, "", "g"),
                                    toolArgs(1, "{\"x\":1}"), finish(FinishReason::ToolCalls)}));
  ASSERT_EQ(events.size(), 7u);
  EXPECT_EQ(delta(events[3]).at("tool_calls").at(0).at("index").as_int64(), 1);
  EXPECT_EQ(delta(events[3]).at("tool_calls").at(0).at("id").as_string().subview(0, 5), "call_");
  EXPECT_EQ(delta(events[4]).at("tool_calls").at(0).at("index").as_int64(), 1);
}

TEST(OpenAIStreamEncoder, ErrorEvent) {
  auto encoder = openAI().makeStreamEncoder(callerRequest(WireFormat::OpenAI, "m", false));
  std::string out;
  encoder->encode(text("partial"), out);
  out.clear();
  encoder->error(core::makeError(core::ErrorKind::UpstreamError, "upstream died"), out);
  auto events = splitSse(out);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].json.at("error").at("message").as_string(), "upstream died");
  EXPECT_TRUE(events[0].json.at("error").as_object().contains("type"));
  // Nothing after an error, not even [DONE].
  out.clear();
  encoder->finish(out);
  EXPECT_EQ(out, "");
}

// ---- Anthropic encoder ---------------------------------------------------------

std::vector<std::string> names(const std::vector<SseEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) {
    out.push_back(e.event);
    EXPECT_EQ(e.json.at("type").as_string(), e.event) << "the data's type matches the event name";
  }
  return out;
}

TEST(AnthropicStreamEncoder, ExactEventSequence) {
  auto encoder = anthropic().makeStreamEncoder(callerRequest(WireFormat::Anthropic, "public-model", false));
  auto events = splitSse(encodeAll(*encoder, {
                                                 start("chatcmpl-up", "gpt-upstream", makeUsage(150, 0, 30, 20)),
                                                 text("Hel"),
                                                 text("lo"),
                                                 toolStart(0, "call_a", "lookup"),
                                                 toolArgs(0, "{\"q\":"),
                                                 toolArgs(0, "\"x\"}"),
                                                 finish(FinishReason::ToolCalls),
                                                 usage(makeUsage(150, 40, 30, 20)),
                                             }));
  EXPECT_EQ(names(events), (std::vector<std::string>{"message_start", "content_block_start", "content_block_delta",
                                                     "content_block_delta", "content_block_stop", "content_block_start",
                                                     "content_block_delta", "content_block_delta", "content_block_stop",
                                                     "message_delta", "message_stop"}));
  ASSERT_EQ(events.size(), 11u);
  EXPECT_EQ(events[0].json.at("message"), json::parse(R"({"id":"chatcmpl-up","type":"message","role":"assistant",
      "model":"public-model","content":[],"stop_reason":null,"stop_sequence":null,
      "usage":{"input_tokens":100,"cache_creation_input_tokens":20,"cache_read_input_tokens":30,"output_tokens":0}})"));
  EXPECT_EQ(events[1].json,
            json::parse(R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"));
  EXPECT_EQ(events[2].json,
            json::parse(R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}})"));
  EXPECT_EQ(events[3].json.at("delta").at("text").as_string(), "lo");
  EXPECT_EQ(events[4].json, json::parse(R"({"type":"content_block_stop","index":0})"));
  EXPECT_EQ(events[5].json, json::parse(R"({"type":"content_block_start","index":1,
      "content_block":{"type":"tool_use","id":"call_a","name":"lookup","input":{}}})"));
  EXPECT_EQ(events[6].json, json::parse(R"({"type":"content_block_delta","index":1,
      "delta":{"type":"input_json_delta","partial_json":"{\"q\":"}})"));
  EXPECT_EQ(events[7].json.at("delta").at("partial_json").as_string(), "\"x\"}");
  EXPECT_EQ(events[8].json, json::parse(R"({"type":"content_block_stop","index":1})"));
  EXPECT_EQ(events[9].json,
            json::parse(R"({"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},
      "usage":{"output_tokens":40,"input_tokens":100,"cache_creation_input_tokens":20,"cache_read_input_tokens":30}})"));
  EXPECT_EQ(events[10].json, json::parse(R"({"type":"message_stop"})"));
}

TEST(AnthropicStreamEncoder, TextAfterAToolOpensANewBlock) {
  auto encoder = anthropic().makeStreamEncoder(callerRequest(WireFormat::Anthropic, "m", false));
  auto events = splitSse(encodeAll(*encoder, {start("msg_x", "m"), toolStart(0, "t1", "f"), toolArgs(0, "{}"),
                                              toolStart(1, "t2", "g"), text("after"), finish(FinishReason::Stop)}));
  EXPECT_EQ(names(events), (std::vector<std::string>{"message_start", "content_block_start", "content_block_delta",
                                                     "content_block_stop", "content_block_start", "content_block_stop",
                                                     "content_block_start", "content_block_delta", "content_block_stop",
                                                     "message_delta", "message_stop"}));
  EXPECT_EQ(events[4].json.at("index").as_int64(), 1);
  EXPECT_EQ(events[4].json.at("content_block").at("id").as_string(), "t2");
  EXPECT_EQ(events[6].json.at("index").as_int64(), 2);
  EXPECT_EQ(events[6].json.at("content_block").at("type").as_string(), "text");
  EXPECT_EQ(events[9].json.at("delta").at("stop_reason").as_string(), "end_turn");
}

TEST(AnthropicStreamEncoder, FinishWithoutAnythingStillClosesProperly) {
  auto encoder = anthropic().makeStreamEncoder(callerRequest(WireFormat::Anthropic, "m", false));
  auto events = splitSse(encodeAll(*encoder, {text("cut")}));
  EXPECT_EQ(names(events), (std::vector<std::string>{"message_start", "content_block_start", "content_block_delta",
                                                     "content_block_stop", "message_delta", "message_stop"}));
  EXPECT_EQ(events[4].json.at("delta").at("stop_reason").as_string(), "end_turn");
  EXPECT_EQ(events[0].json.at("message").at("id").as_string().subview(0, 4), "msg_");

  auto empty = anthropic().makeStreamEncoder(callerRequest(WireFormat::Anthropic, "m", false));
  EXPECT_EQ(names(splitSse(encodeAll(*empty, {}))),
            (std::vector<std::string>{"message_start", "message_delta", "message_stop"}));
}

TEST(AnthropicStreamEncoder, StopReasonsMap) {
  std::pair<FinishReason, const char*> cases[] = {{FinishReason::Stop, "end_turn"},
                                                  {FinishReason::Length, "max_tokens"},
                                                  {FinishReason::ToolCalls, "tool_use"},
                                                  {FinishReason::ContentFilter, "refusal"}};
  for (auto [reason, name] : cases) {
    auto encoder = anthropic().makeStreamEncoder(callerRequest(WireFormat::Anthropic, "m", false));
    auto events = splitSse(encodeAll(*encoder, {start("i", "m"), text("x"), finish(reason)}));
    ASSERT_GE(events.size(), 2u);
    EXPECT_EQ(events[events.size() - 2].json.at("delta").at("stop_reason").as_string(), name);
  }
}

TEST(AnthropicStreamEncoder, ErrorEventAndNoMessageStopAfterIt) {
  auto encoder = anthropic().makeStreamEncoder(callerRequest(WireFormat::Anthropic, "m", false));
  std::string out;
  encoder->encode(start("i", "m"), out);
  encoder->encode(text("partial"), out);
  encoder->error(core::makeError(core::ErrorKind::Overloaded, "busy"), out);
  encoder->finish(out);
  auto events = splitSse(out);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[3].event, "error");
  EXPECT_EQ(events[3].json, json::parse(R"({"type":"error","error":{"type":"overloaded_error","message":"busy"}})"));
}

// ---- whole streams across formats ----------------------------------------------

struct Upstream {
  std::string event;
  std::string data;
};

std::string relay(const Codec& upstream, const Codec& caller, const core::ChatRequest& request,
                  const std::vector<Upstream>& events) {
  auto decoder = upstream.makeStreamDecoder();
  auto encoder = caller.makeStreamEncoder(request);
  std::string out;
  for (const auto& e : events) {
    auto decoded = decoder->decode(e.event, e.data);
    EXPECT_TRUE(decoded.ok()) << (decoded.ok() ? "" : decoded.error().message);
    if (!decoded.ok()) break;
    for (const auto& n : *decoded) encoder->encode(n, out);
  }
  EXPECT_TRUE(decoder->finished());
  encoder->finish(out);
  return out;
}

// What an OpenAI client reassembles from a stream.
struct OpenAIResult {
  std::string text;
  std::map<int64_t, std::pair<std::string, std::string>> tools;  // index -> (id + name, arguments)
  std::vector<std::string> argumentOrder;
  std::vector<std::string> finish;
  std::vector<json::value> usage;
  bool done = false;
};

OpenAIResult collectOpenAI(const std::string& bytes) {
  OpenAIResult out;
  for (const auto& e : splitSse(bytes)) {
    if (e.data == "[DONE]") {
      out.done = true;
      continue;
    }
    EXPECT_FALSE(out.done) << "nothing after [DONE]";
    if (e.json.as_object().contains("usage") && !e.json.at("usage").is_null()) out.usage.push_back(e.json.at("usage"));
    for (const auto& choice : e.json.at("choices").as_array()) {
      const auto& d = choice.at("delta").as_object();
      if (const auto* c = d.if_contains("content"); c && c->is_string()) out.text += c->as_string();
      if (const auto* calls = d.if_contains("tool_calls")) {
        for (const auto& call : calls->as_array()) {
          auto& entry = out.tools[call.at("index").as_int64()];
          if (const auto* id = call.as_object().if_contains("id")) entry.first += std::string(id->as_string()) + ":";
          const auto& fn = call.at("function").as_object();
          if (const auto* name = fn.if_contains("name")) entry.first += name->as_string();
          if (const auto* args = fn.if_contains("arguments"); args && !args->as_string().empty()) {
            entry.second += args->as_string();
            out.argumentOrder.emplace_back(args->as_string());
          }
        }
      }
      if (!choice.at("finish_reason").is_null()) out.finish.emplace_back(choice.at("finish_reason").as_string());
    }
  }
  return out;
}

TEST(CrossStream, AnthropicUpstreamToOpenAICaller) {
  std::vector<Upstream> upstream = {
      {"message_start",
       R"({"type":"message_start","message":{"id":"msg_9","type":"message","role":"assistant","model":"claude-up",
          "content":[],"stop_reason":null,"stop_sequence":null,
          "usage":{"input_tokens":12,"cache_read_input_tokens":200,"cache_creation_input_tokens":8,"output_tokens":1}}})"},
      {"ping", R"({"type":"ping"})"},
      {"content_block_start", R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"},
      {"content_block_delta",
       R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Let me "}})"},
      {"content_block_delta",
       R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"check."}})"},
      {"content_block_stop", R"({"type":"content_block_stop","index":0})"},
      {"content_block_start",
       R"({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"search","input":{}}})"},
      {"content_block_delta",
       R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}})"},
      {"content_block_delta",
       R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"query\": \"bo"}})"},
      {"content_block_delta",
       R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"ok\", \"limit\""}})"},
      {"content_block_delta",
       R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":": 3}"}})"},
      {"content_block_stop", R"({"type":"content_block_stop","index":1})"},
      {"content_block_start",
       R"({"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_2","name":"clock","input":{}}})"},
      {"content_block_delta",
       R"({"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"tz\":\"UTC\"}"}})"},
      {"content_block_stop", R"({"type":"content_block_stop","index":2})"},
      {"message_delta",
       R"({"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":31}})"},
      {"message_stop", R"({"type":"message_stop"})"},
  };
  auto result =
      collectOpenAI(relay(anthropic(), openAI(), callerRequest(WireFormat::OpenAI, "public", true), upstream));
  EXPECT_EQ(result.text, "Let me check.");
  ASSERT_EQ(result.tools.size(), 2u);
  EXPECT_EQ(result.tools[0].first, "toolu_1:search");
  EXPECT_EQ(result.tools[0].second, R"({"query": "book", "limit": 3})");
  EXPECT_EQ(json::parse(result.tools[0].second), json::parse(R"({"query":"book","limit":3})"));
  EXPECT_EQ(result.tools[1].first, "toolu_2:clock");
  EXPECT_EQ(result.tools[1].second, R"({"tz":"UTC"})");
  EXPECT_EQ(result.argumentOrder,
            (std::vector<std::string>{R"({"query": "bo)", R"(ok", "limit")", ": 3}", R"({"tz":"UTC"})"}));
  EXPECT_EQ(result.finish, std::vector<std::string>{"tool_calls"});
  ASSERT_EQ(result.usage.size(), 1u);
  EXPECT_EQ(result.usage[0].at("prompt_tokens").as_int64(), 220) << "12 uncached + 200 read + 8 written";
  EXPECT_EQ(result.usage[0].at("prompt_tokens_details").at("cached_tokens").as_int64(), 200);
  EXPECT_EQ(result.usage[0].at("completion_tokens").as_int64(), 31);
  EXPECT_EQ(result.usage[0].at("total_tokens").as_int64(), 251);
  EXPECT_TRUE(result.done);

  // Without include_usage: the same stream, no usage chunk.
  auto quiet =
      collectOpenAI(relay(anthropic(), openAI(), callerRequest(WireFormat::OpenAI, "public", false), upstream));
  EXPECT_TRUE(quiet.usage.empty());
  EXPECT_EQ(quiet.tools[0].second, result.tools[0].second);
}

// What an Anthropic client (e.g. the SDK's MessageStream) reassembles.
struct AnthropicResult {
  std::vector<std::string> shape;  // event names, repeats folded
  std::map<int64_t, json::object> blocks;
  std::map<int64_t, std::string> partialJson;
  json::object usage;
  std::string stopReason;
  std::string model;
};

AnthropicResult collectAnthropic(const std::string& bytes) {
  AnthropicResult out;
  std::optional<int64_t> open;
  for (const auto& e : splitSse(bytes)) {
    if (out.shape.empty() || out.shape.back() != e.event) out.shape.push_back(e.event);
    const auto& body = e.json.as_object();
    if (e.event == "message_start") {
      out.usage = body.at("message").at("usage").as_object();
      out.model = body.at("message").at("model").as_string();
    } else if (e.event == "content_block_start") {
      EXPECT_FALSE(open.has_value()) << "a block opened while another is open";
      open = body.at("index").as_int64();
      EXPECT_EQ(*open, static_cast<int64_t>(out.blocks.size())) << "block indexes run 0, 1, 2...";
      out.blocks[*open] = body.at("content_block").as_object();
    } else if (e.event == "content_block_delta") {
      int64_t index = body.at("index").as_int64();
      EXPECT_EQ(open, index) << "deltas go to the open block";
      const auto& d = body.at("delta").as_object();
      if (d.at("type").as_string() == "text_delta") {
        auto& text = out.blocks[index]["text"];
        text = std::string(text.as_string()) + std::string(d.at("text").as_string());
      } else {
        out.partialJson[index] += d.at("partial_json").as_string();
      }
    } else if (e.event == "content_block_stop") {
      EXPECT_EQ(open, body.at("index").as_int64());
      open.reset();
    } else if (e.event == "message_delta") {
      out.stopReason = body.at("delta").at("stop_reason").as_string();
      for (const auto& [key, value] : body.at("usage").as_object()) out.usage[key] = value;
    }
  }
  EXPECT_FALSE(open.has_value()) << "every block is closed";
  return out;
}

TEST(CrossStream, OpenAIUpstreamToAnthropicCaller) {
  const std::string head =
      R"({"id":"chatcmpl-7","object":"chat.completion.chunk","created":1,"model":"gpt-up","choices":[)";
  std::vector<Upstream> upstream = {
      {"", head + R"({"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})"},
      {"", head + R"({"index":0,"delta":{"content":"Sure"},"finish_reason":null}]})"},
      {"", head + R"({"index":0,"delta":{"content":", searching."},"finish_reason":null}]})"},
      {"",
       head +
           R"({"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_s","type":"function","function":{"name":"search","arguments":""}}]},"finish_reason":null}]})"},
      {"",
       head +
           R"({"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"que"}}]},"finish_reason":null}]})"},
      {"",
       head +
           R"({"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ry\":\"book\",\"li"}}]},"finish_reason":null}]})"},
      {"",
       head +
           R"({"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"mit\":3}"}}]},"finish_reason":null}]})"},
      {"",
       head +
           R"({"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_c","type":"function","function":{"name":"clock","arguments":"{}"}}]},"finish_reason":null}]})"},
      {"", head + R"({"index":0,"delta":{},"finish_reason":"tool_calls"}]})"},
      {"", R"({"id":"chatcmpl-7","object":"chat.completion.chunk","created":1,"model":"gpt-up","choices":[],
          "usage":{"prompt_tokens":300,"completion_tokens":25,"total_tokens":325,"prompt_tokens_details":{"cached_tokens":256},
          "completion_tokens_details":{"reasoning_tokens":0}}})"},
      {"", "[DONE]"},
  };
  auto request = callerRequest(WireFormat::Anthropic, "public", false);
  auto result = collectAnthropic(relay(openAI(), anthropic(), request, upstream));
  EXPECT_EQ(result.shape, (std::vector<std::string>{"message_start", "content_block_start", "content_block_delta",
                                                    "content_block_stop", "content_block_start", "content_block_delta",
                                                    "content_block_stop", "content_block_start", "content_block_delta",
                                                    "content_block_stop", "message_delta", "message_stop"}));
  EXPECT_EQ(result.model, "public");
  ASSERT_EQ(result.blocks.size(), 3u);
  EXPECT_EQ(result.blocks[0].at("text").as_string(), "Sure, searching.");
  EXPECT_EQ(result.blocks[1].at("type").as_string(), "tool_use");
  EXPECT_EQ(result.blocks[1].at("id").as_string(), "call_s");
  EXPECT_EQ(result.blocks[1].at("name").as_string(), "search");
  EXPECT_EQ(result.partialJson[1], R"({"query":"book","limit":3})");
  EXPECT_EQ(json::parse(result.partialJson[1]), json::parse(R"({"query":"book","limit":3})"));
  EXPECT_EQ(result.blocks[2].at("name").as_string(), "clock");
  EXPECT_EQ(result.partialJson[2], "{}");
  EXPECT_EQ(result.stopReason, "tool_use");
  // 300 prompt tokens of which 256 cached: Anthropic counts 44 uncached + 256 read.
  EXPECT_EQ(result.usage.at("input_tokens").as_int64(), 44);
  EXPECT_EQ(result.usage.at("cache_read_input_tokens").as_int64(), 256);
  EXPECT_EQ(result.usage.at("cache_creation_input_tokens").as_int64(), 0);
  EXPECT_EQ(result.usage.at("output_tokens").as_int64(), 25);
}

TEST(CrossStream, InterleavedOpenAIToolCallsReachTheRightAnthropicBlocks) {
  // Some OpenAI upstreams announce every call first and then interleave the
  // argument fragments. Anthropic blocks cannot reopen, so a fragment for an
  // earlier call is sent at that call's block index (clients accumulate deltas
  // by index, as the official SDKs do); every block is still opened once,
  // closed once, and each input assembles intact.
  const std::string head = R"({"id":"c","model":"m","choices":[{"index":0,"delta":{"tool_calls":[)";
  const std::string tail = R"(]},"finish_reason":null}]})";
  std::vector<Upstream> upstream = {
      {"", head + R"({"index":0,"id":"call_a","type":"function","function":{"name":"search","arguments":""}})" + tail},
      {"", head + R"({"index":1,"id":"call_b","type":"function","function":{"name":"lookup","arguments":""}})" + tail},
      {"", head + R"({"index":0,"function":{"arguments":"{\"query\":"}})" + tail},
      {"", head + R"({"index":1,"function":{"arguments":"{\"word\":"}})" + tail},
      {"", head + R"({"index":0,"function":{"arguments":"\"alpha\"}"}})" + tail},
      {"", head + R"({"index":1,"function":{"arguments":"\"beta\"}"}})" + tail},
      {"", R"({"id":"c","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]})"},
      {"", "[DONE]"},
  };
  auto events = splitSse(relay(openAI(), anthropic(), callerRequest(WireFormat::Anthropic, "p", false), upstream));
  std::map<int64_t, std::string> input;
  std::map<int64_t, int> starts, stops;
  for (const auto& e : events) {
    const auto& body = e.json.as_object();
    if (e.event == "content_block_start") starts[body.at("index").as_int64()]++;
    if (e.event == "content_block_stop") stops[body.at("index").as_int64()]++;
    if (e.event == "content_block_delta") {
      input[body.at("index").as_int64()] += body.at("delta").at("partial_json").as_string();
    }
  }
  EXPECT_EQ(starts, (std::map<int64_t, int>{{0, 1}, {1, 1}}));
  EXPECT_EQ(stops, (std::map<int64_t, int>{{0, 1}, {1, 1}}));
  EXPECT_EQ(input[0], R"({"query":"alpha"})");
  EXPECT_EQ(input[1], R"({"word":"beta"})");
  EXPECT_EQ(events.at(events.size() - 2).json.at("delta").at("stop_reason").as_string(), "tool_use");
}

TEST(CrossStream, AnthropicUpstreamToAnthropicEncoderRoundTripsUsage) {
  // Decoding Anthropic and re-encoding Anthropic must reproduce the wire usage.
  std::vector<Upstream> upstream = {
      {"message_start",
       R"({"type":"message_start","message":{"id":"msg_1","model":"c","usage":{"input_tokens":5,"cache_read_input_tokens":40,"cache_creation_input_tokens":3,"output_tokens":1}}})"},
      {"content_block_start", R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"},
      {"content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}})"},
      {"content_block_stop", R"({"type":"content_block_stop","index":0})"},
      {"message_delta", R"({"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":9}})"},
      {"message_stop", R"({"type":"message_stop"})"},
  };
  auto result =
      collectAnthropic(relay(anthropic(), anthropic(), callerRequest(WireFormat::Anthropic, "p", false), upstream));
  EXPECT_EQ(result.usage.at("input_tokens").as_int64(), 5);
  EXPECT_EQ(result.usage.at("cache_read_input_tokens").as_int64(), 40);
  EXPECT_EQ(result.usage.at("cache_creation_input_tokens").as_int64(), 3);
  EXPECT_EQ(result.usage.at("output_tokens").as_int64(), 9);
  EXPECT_EQ(result.stopReason, "max_tokens");
}

TEST(CrossStream, FinishReasonsSurviveBothWays) {
  std::pair<const char*, const char*> pairs[] = {
      {"stop", "end_turn"}, {"length", "max_tokens"}, {"tool_calls", "tool_use"}, {"content_filter", "refusal"}};
  for (auto [openai, anthropicName] : pairs) {
    SCOPED_TRACE(openai);
    std::vector<Upstream> fromOpenAI = {
        {"", std::string(R"({"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":")") +
                 openai + "\"}]}"},
        {"", "[DONE]"}};
    EXPECT_EQ(
        collectAnthropic(relay(openAI(), anthropic(), callerRequest(WireFormat::Anthropic, "p", false), fromOpenAI))
            .stopReason,
        anthropicName);
    std::vector<Upstream> fromAnthropic = {
        {"message_start",
         R"({"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":1,"output_tokens":1}}})"},
        {"message_delta", std::string(R"({"type":"message_delta","delta":{"stop_reason":")") + anthropicName +
                              R"("},"usage":{"output_tokens":2}})"},
        {"message_stop", R"({"type":"message_stop"})"}};
    EXPECT_EQ(collectOpenAI(relay(anthropic(), openAI(), callerRequest(WireFormat::OpenAI, "p", false), fromAnthropic))
                  .finish,
              std::vector<std::string>{openai});
  }
}

}  // namespace
}  // namespace arbitra::api::test
