// SSE parsing: events split at every byte boundary, CRLF and CR endings,
// comments, multi-line data, the BOM, and the size bound.
#include <gtest/gtest.h>

#include "http/sse.h"

namespace arbitra::http {
namespace {

std::vector<SseEvent> parseAll(std::string_view text) {
  SseParser parser;
  std::vector<SseEvent> events;
  EXPECT_TRUE(parser.feed(text, events));
  return events;
}

// `text` cut in two at every byte gives the events `whole` (read in one piece).
void expectSameEventsWhateverTheSplit(std::string_view text, const std::vector<SseEvent>& whole) {
  for (size_t cut = 1; cut < text.size(); ++cut) {
    SseParser parser;
    std::vector<SseEvent> events;
    ASSERT_TRUE(parser.feed(text.substr(0, cut), events));
    ASSERT_TRUE(parser.feed(text.substr(cut), events));
    ASSERT_EQ(events.size(), whole.size()) << "split at " << cut;
    for (size_t i = 0; i < events.size(); ++i) {
      EXPECT_EQ(events[i].event, whole[i].event) << "split at " << cut;
      EXPECT_EQ(events[i].data, whole[i].data) << "split at " << cut;
    }
  }
}

TEST(SseParser, ParsesNamedAndUnnamedEvents) {
  auto events = parseAll("event: message_start\ndata: {\"a\":1}\n\ndata: [DONE]\n\n");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event, "message_start");
  EXPECT_EQ(events[0].data, "{\"a\":1}");
  EXPECT_EQ(events[1].event, "");
  EXPECT_EQ(events[1].data, "[DONE]");
}

TEST(SseParser, SameEventsWhateverTheSplit) {
  const std::string text = "event: a\r\ndata: one\r\ndata: two\r\n\r\n: comment\n\ndata:three\r\rdata: 4\n\n";
  auto whole = parseAll(text);
  ASSERT_EQ(whole.size(), 3u);
  EXPECT_EQ(whole[0].data, "one\ntwo");
  EXPECT_EQ(whole[1].data, "three");
  EXPECT_EQ(whole[2].data, "4");
  expectSameEventsWhateverTheSplit(text, whole);
}

TEST(SseParser, ByteByByte) {
  const std::string text = "event: x\ndata: hello\n\n";
  SseParser parser;
  std::vector<SseEvent> events;
  for (char c : text) ASSERT_TRUE(parser.feed(std::string_view(&c, 1), events));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "hello");
  EXPECT_FALSE(parser.hasPartial());
}

TEST(SseParser, SkipsLeadingBom) {
  auto events = parseAll("\xEF\xBB\xBF" "data: x\n\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "x");
}

TEST(SseParser, EventWithoutDataIsNotDispatched) {
  auto events = parseAll("event: ping\n\n");
  EXPECT_TRUE(events.empty());
}

TEST(SseParser, ReportsPartialEventAtEnd) {
  SseParser parser;
  std::vector<SseEvent> events;
  ASSERT_TRUE(parser.feed("data: {\"half\":", events));
  EXPECT_TRUE(events.empty());
  EXPECT_TRUE(parser.hasPartial());
}

TEST(SseParser, NextHandsOutOneEventAtATimeAndKeepsTheRest) {
  SseParser parser;
  std::string_view bytes = "event: a\ndata: 1\n\ndata: 2\r\ndata: 3\r\n\r\ndata: par";
  SseParser::View event;
  ASSERT_EQ(parser.next(bytes, event), SseParser::Step::Event);
  EXPECT_EQ(event.event, "a");
  EXPECT_EQ(event.data, "1");
  EXPECT_EQ(bytes, "data: 2\r\ndata: 3\r\n\r\ndata: par");
  ASSERT_EQ(parser.next(bytes, event), SseParser::Step::Event);
  EXPECT_EQ(event.event, "") << "the event name does not leak into the next event";
  EXPECT_EQ(event.data, "2\n3");
  EXPECT_FALSE(parser.hasPartial());
  ASSERT_EQ(parser.next(bytes, event), SseParser::Step::NeedMore);
  EXPECT_TRUE(bytes.empty());
  EXPECT_TRUE(parser.hasPartial());
  std::string_view more = "tial\n\n";
  ASSERT_EQ(parser.next(more, event), SseParser::Step::Event);
  EXPECT_EQ(event.data, "partial");
  // The \n of a CRLF split across reads is not a blank line.
  std::string_view crlf1 = "data: x\r";
  std::string_view crlf2 = "\ndata: y\n\n";
  ASSERT_EQ(parser.next(crlf1, event), SseParser::Step::NeedMore);
  ASSERT_EQ(parser.next(crlf2, event), SseParser::Step::Event);
  EXPECT_EQ(event.data, "x\ny");
}

// A whole event with plain \n line ends is read where it lies (no copy);
// every other form goes through the general loop. Both read the same events.
TEST(SseParser, WholeEventsAreReadInPlaceAndAgreeWithTheGeneralLoop) {
  const std::string text =
      "data: first\n\n"  // the stream's first event always takes the general loop
      "data: {\"a\":1}\n\n"
      "event: message_delta\ndata: {\"b\":2}\n\n"
      "data:no-space\n\n"
      "data:  two spaces\n\n"
      "data: \n\n"
      "event: ping\n\n"
      "data: one\ndata: two\n\n"
      ": comment\n\n"
      "eventual: unknown field\ndata: z\n\n"
      "data: with\rcr\n\n"
      "event: named\r\ndata: crlf\r\n\r\n"
      "data: last\n\n";
  std::vector<SseEvent> whole;
  SseParser parser;
  std::string_view bytes = text;
  SseParser::View event;
  std::vector<bool> inPlace;
  while (parser.next(bytes, event) == SseParser::Step::Event) {
    inPlace.push_back(event.data.data() >= text.data() && event.data.data() < text.data() + text.size());
    whole.push_back(SseEvent{std::string(event.event), std::string(event.data)});
  }
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"", "first"}, {"", "{\"a\":1}"}, {"message_delta", "{\"b\":2}"}, {"", "no-space"}, {"", " two spaces"},
      {"", ""},      {"", "one\ntwo"},  {"", "z"},          {"", "with"}, {"named", "crlf"}, {"", "last"}};
  ASSERT_EQ(whole.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(whole[i].event, expected[i].first) << i;
    EXPECT_EQ(whole[i].data, expected[i].second) << i;
  }
  // The first event, and each one that follows a form the general loop
  // read in the same call (or after a \r\n), is a copy; the rest are views.
  const std::vector<bool> expectedInPlace = {false, true, true, true, true, true, false, false, false, false, false};
  EXPECT_EQ(inPlace, expectedInPlace);
  expectSameEventsWhateverTheSplit(text, whole);
}

TEST(SseParser, RefusesOversizedEvent) {
  SseParser parser(64);
  std::vector<SseEvent> events;
  EXPECT_FALSE(parser.feed("data: " + std::string(100, 'x'), events));
}

TEST(SseFraming, AppendsNamedAndUnnamed) {
  std::string out;
  appendSseEvent(out, "message_stop", "{}");
  appendSseEvent(out, "", "[DONE]");
  EXPECT_EQ(out, "event: message_stop\ndata: {}\n\ndata: [DONE]\n\n");
}

}  // namespace
}  // namespace arbitra::http
