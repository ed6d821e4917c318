// A replayed answer streams with the same chunk shape as a live one, in both
// wire formats: the bytes of a live translated stream and of its replay from
// the cache are identical once ids and timestamps are masked.
#include <gtest/gtest.h>

#include <regex>

#include "api/codec.h"
#include "cache/cache.h"

namespace arbitra::cache {
namespace {

std::vector<core::StreamEvent> liveEvents(bool withTool) {
  using Kind = core::StreamEvent::Kind;
  std::vector<core::StreamEvent> events;
  core::StreamEvent start;
  start.kind = Kind::Start;
  start.id = "live-id";
  start.usage.inputTokens = 12;
  events.push_back(start);
  for (const char* word : {"The", " reset", " link", " is", " in", " settings."}) {
    core::StreamEvent e;
    e.kind = Kind::TextDelta;
    e.text = word;
    events.push_back(e);
  }
  if (withTool) {
    core::StreamEvent t;
    t.kind = Kind::ToolStart;
    t.toolId = "call_1";
    t.toolName = "open_settings";
    events.push_back(t);
    core::StreamEvent a;
    a.kind = Kind::ToolArgs;
    a.text = "{\"page\":\"security\"}";
    events.push_back(a);
  }
  core::StreamEvent finish;
  finish.kind = Kind::Finish;
  finish.finish = withTool ? core::FinishReason::ToolCalls : core::FinishReason::Stop;
  events.push_back(finish);
  core::StreamEvent usage;
  usage.kind = Kind::Usage;
  usage.usage = core::Usage{12, 7, 0, 0, 0};
  events.push_back(usage);
  return events;
}

std::string encode(core::WireFormat format, const std::vector<core::StreamEvent>& events, bool includeUsage) {
  core::ChatRequest request;
  request.format = format;
  request.model = "fast";
  request.stream = true;
  request.includeUsage = includeUsage;
  auto encoder = api::codecFor(format).makeStreamEncoder(request);
  std::string out;
  for (const auto& e : events) encoder->encode(e, out);
  encoder->finish(out);
  return out;
}

std::string masked(std::string sse) {
  sse = std::regex_replace(sse, std::regex("\"id\":\"(chatcmpl|msg)[^\"]*\""), "\"id\":\"ID\"");
  sse = std::regex_replace(sse, std::regex("\"id\":\"live-id\""), "\"id\":\"ID\"");
  sse = std::regex_replace(sse, std::regex("\"created\":[0-9]+"), "\"created\":0");
  return sse;
}

class ReplayTest : public ::testing::TestWithParam<std::tuple<core::WireFormat, bool>> {};

TEST_P(ReplayTest, ReplayBytesMatchTheLiveChunkFormat) {
  auto [format, withTool] = GetParam();
  auto events = liveEvents(withTool);
  AnswerBuilder builder;
  for (const auto& e : events) builder.add(e);
  ASSERT_TRUE(builder.complete());
  StoredAnswer stored = builder.take();
  EXPECT_EQ(stored.text, "The reset link is in settings.");
  for (bool includeUsage : {false, true}) {
    std::string live = encode(format, events, includeUsage);
    std::string replay = encode(format, replayEvents(stored, "msg_replay", "fast"), includeUsage);
    EXPECT_EQ(masked(replay), masked(live)) << "include_usage=" << includeUsage;
  }
  // And the replay decodes back to the stored answer.
  auto decoder = api::codecFor(format).makeStreamDecoder();
  std::string replay = encode(format, replayEvents(stored, "msg_replay", "fast"), true);
  AnswerBuilder back;
  size_t at = 0;
  while ((at = replay.find("data: ", at)) != std::string::npos) {
    size_t end = replay.find("\n\n", at);
    size_t eventAt = replay.rfind("event: ", at);
    std::string name;
    if (eventAt != std::string::npos && replay.find("\n\n", eventAt) == end) {
      name = replay.substr(eventAt + 7, replay.find('\n', eventAt) - eventAt - 7);
    }
    auto decoded = decoder->decode(name, replay.substr(at + 6, end - at - 6));
    ASSERT_TRUE(decoded) << decoded.error().message;
    for (const auto& e : *decoded) back.add(e);
    at = end;
  }
  auto again = back.take();
  EXPECT_EQ(again.text, stored.text);
  ASSERT_EQ(again.toolCalls.size(), stored.toolCalls.size());
  if (withTool) EXPECT_EQ(again.toolCalls[0].arguments, stored.toolCalls[0].arguments);
  EXPECT_EQ(again.usage->outputTokens, 7);
}

INSTANTIATE_TEST_SUITE_P(Formats, ReplayTest,
                         ::testing::Combine(::testing::Values(core::WireFormat::OpenAI, core::WireFormat::Anthropic),
                                            ::testing::Bool()));

}  // namespace
}  // namespace arbitra::cache
