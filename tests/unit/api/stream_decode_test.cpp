// Stream decoders, fed one upstream SSE event at a time: what each OpenAI
// chunk and each Anthropic event turns into, usage combination, errors and
// garbage.
#include <gtest/gtest.h>

#include "api_test_util.h"

namespace arbitra::api::test {
namespace {

using core::FinishReason;
using Kind = core::StreamEvent::Kind;

std::vector<StreamEvent> decodeOk(StreamDecoder& decoder, std::string_view event, std::string_view data) {
  auto decoded = decoder.decode(event, data);
  EXPECT_TRUE(decoded.ok()) << (decoded.ok() ? "" : decoded.error().message) << "\ndata: " << data;
  if (!decoded.ok()) return {};
  return std::move(*decoded);
}

// ---- OpenAI ------------------------------------------------------------------

// skim(), the passthrough fast path: it answers for text deltas, the first
// chunk and a finish (nothing a passthrough records but text), never for
// tools, refusals, errors or usage that comes with anything more (a chunk
// that is only usage: the next test), and then agrees with decode() on
// whether the event carries output text.
TEST(OpenAIStreamDecoder, SkimAnswersForEventsWithoutUsageOrToolsAndAgreesWithDecode) {
  auto decoder = openAI().makeStreamDecoder();
  const std::string head =
      R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[)";
  const std::string first = head + R"({"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})";
  auto opened = decoder->skim("", first);
  ASSERT_TRUE(opened) << "the first chunk carries only the role";
  EXPECT_FALSE(opened->token);
  EXPECT_EQ(opened->textBytes, 0u);

  struct Case {
    std::string data;
    bool skimmed;
    bool token;
    size_t bytes;
  };
  const std::vector<Case> cases = {
      {head + R"({"index":0,"delta":{"content":"Hel"},"finish_reason":null}]})", true, true, 3},
      {head + R"({"index":0,"delta":{"content" : "a \"quoted\" word"},"logprobs":null,"finish_reason":null}],"usage":null})",
       true, true, 17},
      {head + R"({"index":0,"delta":{"content":""},"finish_reason":null}]})", true, false, 0},
      {head + R"({"index":0,"delta":{},"finish_reason":null}]})", true, false, 0},
      {head + R"({"index":0,"delta":{"content":null,"reasoning_content":"hmm"},"finish_reason":null}]})", true, false, 0},
      {head + R"({"index":0,"delta":{"content":"says \"usage\": 3"},"finish_reason":null}]})", true, true, 17},
      {head + R"({"index":0,"delta":{},"finish_reason":"stop"}]})", true, false, 0},
      // Everything below needs decode().
      {head + R"({"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":2}})",
       false, false, 0},
      {head + R"({"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":""}}]}}]})",
       false, false, 0},
      {head + R"({"index":0,"delta":{"refusal":"no"},"finish_reason":null}]})", false, false, 0},
      {head + R"({"index":0,"delta":{"content":"x"},"logprobs":{"content":[{"token":"x"}]}}]})", false, false, 0},
      {head + R"({"index":0,"delta":{"content":"a\\"},"finish_reason":null}]})", true, true, 3},
      {R"({"error":{"message":"overloaded"}})", false, false, 0},
      {R"({"choices":[{"index":0,"logprobs":{"content":[]},"delta":{"content":"x"}}]})", false, false, 0},
      {"not json", false, false, 0},
      {R"({"choices":[{"delta":{"content":"unterminated}]})", false, false, 0},
  };
  for (const auto& c : cases) {
    auto skim = decoder->skim("", c.data);
    ASSERT_EQ(skim.has_value(), c.skimmed) << c.data;
    if (!skim) continue;
    EXPECT_EQ(skim->token, c.token) << c.data;
    EXPECT_EQ(skim->textBytes, c.bytes) << c.data;
    // decode() of the same chunk: text, a finish or nothing; never a start
    // (the skimmed first chunk started the stream), usage or tools.
    auto events = decodeOk(*decoder, "", c.data);
    bool text = false;
    for (const auto& e : events) {
      EXPECT_TRUE(e.kind == Kind::TextDelta || e.kind == Kind::Finish) << c.data;
      text = text || (e.kind == Kind::TextDelta && !e.text.empty());
    }
    EXPECT_EQ(text, c.token) << c.data;
  }
  decodeOk(*decoder, "", "[DONE]");
  EXPECT_FALSE(decoder->skim("", head + R"({"index":0,"delta":{"content":"late"}}]})")) << "after [DONE]";
}

// The include_usage chunk is skimmed too, when every count is a plain
// integer: its usage must be exactly what decode() reads from it. Any other
// shape is left to decode().
TEST(OpenAIStreamDecoder, SkimReadsAUsageOnlyChunkExactlyAsDecodeDoes) {
  const std::string head = R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o",)";
  const std::string first = head + R"("choices":[{"index":0,"delta":{"role":"assistant","content":""}}]})";
  struct Case {
    std::string data;
    bool skimmed;
  };
  const std::vector<Case> cases = {
      {head + R"("choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}})", true},
      {head + R"("system_fingerprint":null,"choices":[ ],"usage":{"prompt_tokens":1200,"completion_tokens":300,)"
              R"("total_tokens":1500,"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0,"cache_write_tokens":64},)"
              R"("completion_tokens_details":{"reasoning_tokens":128,"audio_tokens":0}}})",
       true},
      {head + R"("choices":[],"usage":{"prompt_tokens":9,"completion_tokens":4,"prompt_tokens_details":null,)"
              R"("completion_tokens_details":null}})",
       true},
      {R"({"usage":{"prompt_tokens":3,"completion_tokens":0}})", true},
      // Left to decode(): counts that are not plain integers, more than usage, repeats, escapes.
      {head + R"("choices":[],"usage":{"prompt_tokens":5.0,"completion_tokens":2}})", false},
      {head + R"("choices":[],"usage":{"prompt_tokens":-5,"completion_tokens":2}})", false},
      {head + R"("choices":[],"usage":{"prompt_tokens":"5","completion_tokens":2}})", false},
      {head + R"("choices":[],"usage":{"prompt_tokens":1e3,"completion_tokens":2}})", false},
      {head + R"("choices":[],"usage":{"prompt_tokens":12345678901234567,"completion_tokens":2}})", false},
      {head + R"("choices":[],"usage":{"prompt_tokens":5,"prompt_tokens":6}})", false},
      {head + R"("choices":[],"usage":{"prompt_tokens":5},"usage":{"prompt_tokens":6}})", false},
      {head + R"("choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"prompt_tokens_details":[]}})", false},
      {head + R"("choices":[],"usage":{"pr\u006fmpt_tokens":5}})", false},
      {head + R"("choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}],)"
              R"("usage":{"prompt_tokens":5,"completion_tokens":2}})",
       false},
      {head + R"("choices":[],"usage":{"prompt_tokens":5},"error":{"message":"late"}})", false},
  };
  for (const auto& c : cases) {
    auto skimmer = openAI().makeStreamDecoder();
    auto decoder = openAI().makeStreamDecoder();
    ASSERT_TRUE(skimmer->skim("", first));
    decodeOk(*decoder, "", first);
    auto skim = skimmer->skim("", c.data);
    ASSERT_EQ(skim.has_value(), c.skimmed) << c.data;
    auto decoded = decoder->decode("", c.data);
    if (!skim) continue;
    ASSERT_TRUE(skim->usageOnly) << c.data;
    EXPECT_FALSE(skim->token);
    ASSERT_TRUE(decoded.ok()) << c.data;
    ASSERT_EQ(decoded->size(), 1u) << c.data;
    EXPECT_EQ((*decoded)[0].kind, Kind::Usage);
    EXPECT_EQ((*decoded)[0].usage, *skim->usageOnly) << c.data;
  }
  // The counts themselves, for the chunk with every detail.
  auto skimmer = openAI().makeStreamDecoder();
  ASSERT_TRUE(skimmer->skim("", first));
  auto usage = skimmer->skim("", cases[1].data)->usageOnly;
  ASSERT_TRUE(usage);
  EXPECT_EQ(usage->inputTokens, 1200);
  EXPECT_EQ(usage->outputTokens, 300);
  EXPECT_EQ(usage->cachedReadTokens, 1024);
  EXPECT_EQ(usage->cacheWriteTokens, 64);
  EXPECT_EQ(usage->reasoningTokens, 128);
  // Before the first chunk, usage goes through decode() (it would also start the stream).
  auto fresh = openAI().makeStreamDecoder();
  EXPECT_FALSE(fresh->skim("", cases[0].data));
}

TEST(OpenAIStreamDecoder, SkimOfARepeatedShapeAgreesWithAFullScan) {
  // skim() remembers the bytes around the last text delta's text and answers
  // events of the same shape without scanning them. Every answer must equal
  // a full scan's: `fresh` is a new decoder per event, so it never has a shape.
  auto decoder = openAI().makeStreamDecoder();
  const std::string head =
      R"({"id":"chatcmpl-9","object":"chat.completion.chunk","created":7,"model":"m","choices":[{"index":0,"delta":{"content":")";
  const std::string tail = R"("},"logprobs":null,"finish_reason":null}],"usage":null})";
  decodeOk(*decoder, "", head + tail);
  const std::vector<std::string> events = {
      head + "Hello" + tail,                     // learns the shape
      head + " world" + tail,                    // same shape
      head + R"(a \"quote\" and a \\)" + tail,  // escapes inside the text
      head + tail,                               // empty text
      // Starts and ends like the shape, but the text closes early: these are
      // other documents (a tool call, a finish) and must go to decode().
      head + R"(x","tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":""}}],"content":"y)" + tail,
      head + R"(x"},"finish_reason":"stop"},{"index":1,"delta":{"content":"y)" + tail,
      head + R"(an escaped closing quote \)" + tail,
      head + "z" + R"("},"logprobs":null,"finish_reason":"length"}],"usage":null})",
      head + "after" + tail,
  };
  for (const auto& data : events) {
    auto fresh = openAI().makeStreamDecoder();
    decodeOk(*fresh, "", head + tail);
    auto expected = fresh->skim("", data);
    auto got = decoder->skim("", data);
    ASSERT_EQ(got.has_value(), expected.has_value()) << data;
    if (!got) continue;
    EXPECT_EQ(got->textBytes, expected->textBytes) << data;
    EXPECT_EQ(got->token, expected->token) << data;
  }
  EXPECT_EQ(decoder->skim("", events[2])->textBytes, 20u);
  EXPECT_FALSE(decoder->skim("", events[6])) << "the text never closes";
  EXPECT_FALSE(decoder->skim("", events[4])) << "a tool call hidden behind the shape's prefix";
  EXPECT_EQ(decoder->skim("", events[5])->textBytes, 2u) << "a finish and a second choice behind the shape's prefix";
}

TEST(OpenAIStreamDecoder, ChunkByChunk) {
  auto decoder = openAI().makeStreamDecoder();
  const std::string head =
      R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[)";

  auto events =
      decodeOk(*decoder, "", head + R"({"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::Start);
  EXPECT_EQ(events[0].id, "chatcmpl-1");
  EXPECT_EQ(events[0].model, "gpt-4o");

  events = decodeOk(*decoder, "", head + R"({"index":0,"delta":{"content":"Hel"},"finish_reason":null}]})");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::TextDelta);
  EXPECT_EQ(events[0].text, "Hel");

  events =
      decodeOk(*decoder, "", head + R"({"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function",
      "function":{"name":"lookup","arguments":""}}]},"finish_reason":null}]})");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::ToolStart);
  EXPECT_EQ(events[0].toolIndex, 0);
  EXPECT_EQ(events[0].toolId, "call_a");
  EXPECT_EQ(events[0].toolName, "lookup");

  events = decodeOk(
      *decoder, "",
      head +
          R"({"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"q\":"}}]},"finish_reason":null}]})");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::ToolArgs);
  EXPECT_EQ(events[0].toolIndex, 0);
  EXPECT_EQ(events[0].text, R"({"q":)");

  // A second call at index 1, header and first fragment in one chunk.
  events =
      decodeOk(*decoder, "", head + R"({"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function",
      "function":{"name":"clock","arguments":"{}"}}]},"finish_reason":null}]})");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, Kind::ToolStart);
  EXPECT_EQ(events[0].toolIndex, 1);
  EXPECT_EQ(events[0].toolId, "call_b");
  EXPECT_EQ(events[1].kind, Kind::ToolArgs);
  EXPECT_EQ(events[1].toolIndex, 1);
  EXPECT_EQ(events[1].text, "{}");

  events = decodeOk(
      *decoder, "",
      head +
          R"({"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"x\"}"}}]},"finish_reason":null}]})");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].toolIndex, 0);
  EXPECT_EQ(events[0].text, R"("x"})");

  events = decodeOk(*decoder, "", head + R"({"index":0,"delta":{},"finish_reason":"tool_calls"}]})");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::Finish);
  EXPECT_EQ(events[0].finish, FinishReason::ToolCalls);

  events = decodeOk(*decoder, "",
                    R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[],
      "usage":{"prompt_tokens":50,"completion_tokens":9,"total_tokens":59,"prompt_tokens_details":{"cached_tokens":32},
      "completion_tokens_details":{"reasoning_tokens":4}}})");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::Usage);
  EXPECT_EQ(events[0].usage, makeUsage(50, 9, 32, 0, 4));

  EXPECT_FALSE(decoder->finished());
  events = decodeOk(*decoder, "", "[DONE]");
  EXPECT_TRUE(events.empty());
  EXPECT_TRUE(decoder->finished());
}

TEST(OpenAIStreamDecoder, ContentAndFinishInOneChunkAndOtherChoicesIgnored) {
  auto decoder = openAI().makeStreamDecoder();
  auto events = decodeOk(*decoder, "", R"({"id":"c","model":"m","choices":[
      {"index":1,"delta":{"content":"other choice"},"finish_reason":null},
      {"index":0,"delta":{"content":"end."},"finish_reason":"length"}],
      "usage":{"prompt_tokens":3,"completion_tokens":2}})");
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].kind, Kind::Start);
  EXPECT_EQ(events[1].kind, Kind::TextDelta);
  EXPECT_EQ(events[1].text, "end.");
  EXPECT_EQ(events[2].kind, Kind::Finish);
  EXPECT_EQ(events[2].finish, FinishReason::Length);
  EXPECT_EQ(events[3].kind, Kind::Usage);
  EXPECT_EQ(events[3].usage.inputTokens, 3);
}

TEST(OpenAIStreamDecoder, NullUsageAndKeepAlivesProduceNothing) {
  auto decoder = openAI().makeStreamDecoder();
  decodeOk(*decoder, "", R"({"id":"c","model":"m","choices":[{"index":0,"delta":{"role":"assistant"}}]})");
  EXPECT_TRUE(
      decodeOk(*decoder, "", R"({"id":"c","model":"m","choices":[{"index":0,"delta":{}}],"usage":null})").empty());
  EXPECT_TRUE(decodeOk(*decoder, "", "").empty());
  EXPECT_TRUE(decodeOk(*decoder, "", "  [DONE]  ").empty());
  EXPECT_TRUE(decoder->finished());
}

TEST(OpenAIStreamDecoder, ReusedIndexWithNewIdIsANewCall) {
  auto decoder = openAI().makeStreamDecoder();
  decodeOk(*decoder, "", R"({"id":"c","model":"m","choices":[]})");
  auto a = decodeOk(
      *decoder, "",
      R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"x","function":{"name":"f","arguments":"{}"}}]}}]})");
  auto b = decodeOk(
      *decoder, "",
      R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"y","function":{"name":"g","arguments":"{}"}}]}}]})");
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].kind, Kind::ToolStart);
  EXPECT_EQ(b[0].toolId, "y");
  EXPECT_EQ(b[0].toolIndex, 1);
  EXPECT_EQ(b[1].toolIndex, 1);
}

TEST(OpenAIStreamDecoder, GarbageAndErrorChunksAreErrors) {
  auto decoder = openAI().makeStreamDecoder();
  auto garbage = decoder->decode("", R"({"choices": [{"delta": {"content": tru)");
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error().kind, core::ErrorKind::UpstreamError);
  EXPECT_FALSE(decoder->decode("", "[1,2]").ok());
  auto error = decoder->decode("", R"({"error":{"message":"model overloaded","type":"server_error"}})");
  ASSERT_FALSE(error.ok());
  EXPECT_NE(error.error().message.find("model overloaded"), std::string::npos);
}

// ---- Anthropic ---------------------------------------------------------------

TEST(AnthropicStreamDecoder, EventByEvent) {
  auto decoder = anthropic().makeStreamDecoder();
  auto events = decodeOk(*decoder, "message_start", R"({"type":"message_start","message":{"id":"msg_1","type":"message",
      "role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,
      "usage":{"input_tokens":10,"cache_read_input_tokens":100,"cache_creation_input_tokens":5,"output_tokens":1}}})");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::Start);
  EXPECT_EQ(events[0].id, "msg_1");
  EXPECT_EQ(events[0].model, "claude-x");
  EXPECT_EQ(events[0].usage, makeUsage(115, 0, 100, 5));

  EXPECT_TRUE(decodeOk(*decoder, "ping", R"({"type":"ping"})").empty());

  events = decodeOk(*decoder, "content_block_start",
                    R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})");
  EXPECT_TRUE(events.empty());
  events = decodeOk(*decoder, "content_block_delta",
                    R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}})");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::TextDelta);
  EXPECT_EQ(events[0].text, "Hi");
  EXPECT_TRUE(decodeOk(*decoder, "content_block_stop", R"({"type":"content_block_stop","index":0})").empty());

  // Tool blocks at content indexes 1 and 2 are tools 0 and 1.
  events = decodeOk(*decoder, "content_block_start", R"({"type":"content_block_start","index":1,
      "content_block":{"type":"tool_use","id":"toolu_a","name":"lookup","input":{}}})");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::ToolStart);
  EXPECT_EQ(events[0].toolIndex, 0);
  EXPECT_EQ(events[0].toolId, "toolu_a");
  EXPECT_EQ(events[0].toolName, "lookup");
  events =
      decodeOk(*decoder, "content_block_delta",
               R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}})");
  EXPECT_TRUE(events.empty());
  events = decodeOk(
      *decoder, "content_block_delta",
      R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"q\": \"x\"}"}})");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::ToolArgs);
  EXPECT_EQ(events[0].toolIndex, 0);
  EXPECT_EQ(events[0].text, R"({"q": "x"})");
  decodeOk(*decoder, "content_block_stop", R"({"type":"content_block_stop","index":1})");
  events = decodeOk(*decoder, "content_block_start", R"({"type":"content_block_start","index":2,
      "content_block":{"type":"tool_use","id":"toolu_b","name":"clock","input":{}}})");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].toolIndex, 1);
  events =
      decodeOk(*decoder, "content_block_delta",
               R"({"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{}"}})");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].toolIndex, 1);

  events = decodeOk(*decoder, "message_delta",
                    R"({"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},
      "usage":{"output_tokens":42}})");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, Kind::Finish);
  EXPECT_EQ(events[0].finish, FinishReason::ToolCalls);
  EXPECT_EQ(events[1].kind, Kind::Usage);
  // Input side from message_start (10 + 100 + 5), output from message_delta.
  EXPECT_EQ(events[1].usage, makeUsage(115, 42, 100, 5));

  EXPECT_FALSE(decoder->finished());
  EXPECT_TRUE(decodeOk(*decoder, "message_stop", R"({"type":"message_stop"})").empty());
  EXPECT_TRUE(decoder->finished());
}

TEST(AnthropicStreamDecoder, MessageDeltaInputTokensOverrideMessageStart) {
  auto decoder = anthropic().makeStreamDecoder();
  decodeOk(*decoder, "message_start",
           R"({"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":0,"output_tokens":0}}})");
  auto events = decodeOk(*decoder, "message_delta", R"({"type":"message_delta","delta":{"stop_reason":"max_tokens"},
      "usage":{"output_tokens":7,"input_tokens":20,"cache_read_input_tokens":30,"cache_creation_input_tokens":null}})");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].finish, FinishReason::Length);
  EXPECT_EQ(events[1].usage, makeUsage(50, 7, 30, 0));
}

TEST(AnthropicStreamDecoder, EventNameUsedWhenDataHasNoType) {
  auto decoder = anthropic().makeStreamDecoder();
  auto events = decodeOk(*decoder, "message_start", R"({"message":{"id":"m","model":"c"}})");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::Start);
}

TEST(AnthropicStreamDecoder, ErrorEvents) {
  auto decoder = anthropic().makeStreamDecoder();
  auto overloaded =
      decoder->decode("error", R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})");
  ASSERT_FALSE(overloaded.ok());
  EXPECT_EQ(overloaded.error().kind, core::ErrorKind::Overloaded);
  EXPECT_NE(overloaded.error().message.find("Overloaded"), std::string::npos);
  auto api = decoder->decode("error", R"({"type":"error","error":{"type":"api_error","message":"Internal"}})");
  ASSERT_FALSE(api.ok());
  EXPECT_EQ(api.error().kind, core::ErrorKind::UpstreamError);
  auto garbage = decoder->decode("content_block_delta",
                                 R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":tru)");
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error().kind, core::ErrorKind::UpstreamError);
}

TEST(AnthropicStreamDecoder, ThinkingAndUnknownEventsAreIgnored) {
  auto decoder = anthropic().makeStreamDecoder();
  decodeOk(*decoder, "message_start", R"({"type":"message_start","message":{"id":"m","model":"c"}})");
  EXPECT_TRUE(decodeOk(*decoder, "content_block_start",
                       R"({"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}})")
                  .empty());
  EXPECT_TRUE(decodeOk(*decoder, "content_block_delta",
                       R"({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hm"}})")
                  .empty());
  EXPECT_TRUE(
      decodeOk(*decoder, "content_block_delta",
               R"({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{"}})")
          .empty());
  EXPECT_TRUE(decodeOk(*decoder, "future_event", R"({"type":"future_event"})").empty());
  // A tool block after the thinking block is still tool 0.
  auto events = decodeOk(
      *decoder, "content_block_start",
      R"({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"t","name":"f","input":{}}})");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].toolIndex, 0);
}

// skim() for Anthropic: text deltas and pings only, whitelisted keys.
TEST(AnthropicStreamDecoder, SkimAnswersOnlyForTextDeltasAndPings) {
  auto decoder = anthropic().makeStreamDecoder();
  struct Case {
    std::string event;
    std::string data;
    bool skimmed;
    bool token;
    size_t bytes;
  };
  const std::vector<Case> cases = {
      {"content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi \"you\""}})",
       true, true, 10},
      {"content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":""}})", true,
       false, 0},
      {"ping", R"({"type": "ping"})", true, false, 0},
      {"content_block_delta",
       R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}})", false,
       false, 0},
      {"content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hm"}})",
       false, false, 0},
      {"message_delta", R"({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":5}})", false,
       false, 0},
      {"message_stop", R"({"type":"message_stop"})", false, false, 0},
      {"error", R"({"type":"error","error":{"type":"overloaded_error","message":"busy"}})", false, false, 0},
      {"content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x","citations":[]}})",
       false, false, 0},
      {"content_block_delta", "not json", false, false, 0},
  };
  for (const auto& c : cases) {
    auto skim = decoder->skim(c.event, c.data);
    ASSERT_EQ(skim.has_value(), c.skimmed) << c.data;
    if (!skim) continue;
    EXPECT_EQ(skim->token, c.token) << c.data;
    EXPECT_EQ(skim->textBytes, c.bytes) << c.data;
    auto events = decodeOk(*decoder, c.event, c.data);
    bool text = false;
    for (const auto& e : events) {
      EXPECT_EQ(e.kind, Kind::TextDelta) << c.data;
      text = text || !e.text.empty();
    }
    EXPECT_EQ(text, c.token) << c.data;
  }
}

}  // namespace
}  // namespace arbitra::api::test
