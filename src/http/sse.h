// Server-sent events: an incremental parser for upstream streams and the
// framing helper for our own. Pure code, no I/O, so it is fuzzed on its own.
//
// The parser follows the WHATWG event-stream rules that matter for LLM APIs:
// lines end in \n, \r\n or \r; "event:" names the event, "data:" lines join
// with \n; a blank line dispatches; ":" lines are comments; a BOM at the start
// is skipped. Bytes may arrive split anywhere, including inside a CRLF.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace arbitra::http {

struct SseEvent {
  std::string event;  // "" when the event had no event: line
  std::string data;
};

class SseParser {
 public:
  // Bounds one event's size; past it the parser reports an error (garbage upstream).
  explicit SseParser(size_t maxEventBytes = 8 * 1024 * 1024) : maxEventBytes_(maxEventBytes) {}

  // One event, viewed in the parser's own buffers or in the bytes passed to
  // next(): valid until the next call, while those bytes live.
  struct View {
    std::string_view event;
    std::string_view data;
  };
  enum class Step { Event, NeedMore, TooLarge };

  // Consumes `bytes` up to the end of the next complete event and returns
  // Event with `out` set (`bytes` then holds the rest), or NeedMore when
  // `bytes` is used up without completing one, or TooLarge when an event
  // grew past the bound (the parser is then unusable). The streamed relay's
  // loop: no event is copied or allocated, and a line that arrives whole is
  // read where it lies.
  Step next(std::string_view& bytes, View& out);

  // Consumes `bytes`, appending complete events to `out` (copies; for tests
  // and tools). Returns false if an event grew past the bound.
  bool feed(std::string_view bytes, std::vector<SseEvent>& out);

  // True when a partial event is buffered (the stream ended mid-event).
  bool hasPartial() const { return !line_.empty() || (!dispatched_ && (!data_.empty() || !event_.empty())); }

 private:
  // Applies one line; true when it is the blank line that dispatches an event.
  bool processLine(std::string_view line);
  // The common case at once: a whole event at the front of `bytes`.
  bool wholeEvent(std::string_view& bytes, View& out);

  size_t maxEventBytes_;
  std::string line_;  // a line split across reads, until its end arrives
  std::string event_;
  std::string data_;
  bool hasData_ = false;
  bool dispatched_ = false;  // event_ and data_ were handed out: clear them first
  bool sawCR_ = false;
  bool started_ = false;
  int bomLeft_ = 0;
};

// Appends one framed event: "event: NAME\n" (when named) and "data: DATA\n\n".
// `data` must not contain newlines (JSON on one line).
void appendSseEvent(std::string& out, std::string_view event, std::string_view data);

}  // namespace arbitra::http
