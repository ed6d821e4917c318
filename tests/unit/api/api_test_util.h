// Helpers shared by the api/ unit tests: parse JSON bodies, split SSE output
// into events (the tests link api/ alone, so no http::SseParser), and build
// neutral stream events tersely.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "api/codec.h"

namespace arbitra::api::test {

namespace json = boost::json;
using core::StreamEvent;
using core::WireFormat;

inline const Codec& openAI() {
  return codecFor(WireFormat::OpenAI);
}
inline const Codec& anthropic() {
  return codecFor(WireFormat::Anthropic);
}

inline json::object obj(std::string_view text) {
  return json::parse(text).as_object();
}

// Parses or fails the test with the codec's message.
inline core::ChatRequest parseOk(const Codec& codec, std::string_view body) {
  auto parsed = codec.parseRequest(body);
  EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error().message) << "\nbody: " << body;
  if (!parsed.ok()) return {};
  return std::move(*parsed);
}

struct SseEvent {
  std::string event;  // "" when unnamed
  std::string data;
  json::value json;  // null when data is not JSON (e.g. [DONE])
};

// Splits "event: X\ndata: Y\n\n" framing as our encoders write it; fails the
// test on anything else (so a framing bug shows up here).
inline std::vector<SseEvent> splitSse(std::string_view bytes) {
  std::vector<SseEvent> out;
  while (!bytes.empty()) {
    size_t end = bytes.find("\n\n");
    EXPECT_NE(end, std::string_view::npos) << "unterminated SSE event: " << bytes;
    if (end == std::string_view::npos) break;
    std::string_view frame = bytes.substr(0, end);
    bytes.remove_prefix(end + 2);
    SseEvent event;
    while (!frame.empty()) {
      size_t nl = frame.find('\n');
      std::string_view line = frame.substr(0, nl);
      frame = nl == std::string_view::npos ? std::string_view{} : frame.substr(nl + 1);
      if (line.rfind("event: ", 0) == 0) {
        event.event = std::string(line.substr(7));
      } else if (line.rfind("data: ", 0) == 0) {
        event.data = std::string(line.substr(6));
      } else {
        ADD_FAILURE() << "unexpected SSE line: " << line;
      }
    }
    boost::system::error_code ec;
    json::value parsed = json::parse(event.data, ec);
    if (!ec) event.json = std::move(parsed);
    out.push_back(std::move(event));
  }
  return out;
}

inline StreamEvent start(std::string id, std::string model, core::Usage usage = {}) {
  StreamEvent e;
  e.kind = StreamEvent::Kind::Start;
  e.id = std::move(id);
  e.model = std::move(model);
  e.usage = usage;
  return e;
}

inline StreamEvent text(std::string t) {
  StreamEvent e;
  e.kind = StreamEvent::Kind::TextDelta;
  e.text = std::move(t);
  return e;
}

inline StreamEvent toolStart(int index, std::string id, std::string name) {
  StreamEvent e;
  e.kind = StreamEvent::Kind::ToolStart;
  e.toolIndex = index;
  e.toolId = std::move(id);
  e.toolName = std::move(name);
  return e;
}

inline StreamEvent toolArgs(int index, std::string fragment) {
  StreamEvent e;
  e.kind = StreamEvent::Kind::ToolArgs;
  e.toolIndex = index;
  e.text = std::move(fragment);
  return e;
}

inline StreamEvent finish(core::FinishReason reason) {
  StreamEvent e;
  e.kind = StreamEvent::Kind::Finish;
  e.finish = reason;
  return e;
}

inline StreamEvent usage(core::Usage u) {
  StreamEvent e;
  e.kind = StreamEvent::Kind::Usage;
  e.usage = u;
  return e;
}

inline core::Usage makeUsage(int64_t input, int64_t output, int64_t cacheRead = 0, int64_t cacheWrite = 0,
                             int64_t reasoning = 0) {
  core::Usage u;
  u.inputTokens = input;
  u.outputTokens = output;
  u.cachedReadTokens = cacheRead;
  u.cacheWriteTokens = cacheWrite;
  u.reasoningTokens = reasoning;
  return u;
}

// The request an encoder is made for: only model and includeUsage matter.
inline core::ChatRequest callerRequest(WireFormat format, std::string model, bool includeUsage) {
  core::ChatRequest r;
  r.format = format;
  r.model = std::move(model);
  r.stream = true;
  r.includeUsage = includeUsage;
  return r;
}

}  // namespace arbitra::api::test
