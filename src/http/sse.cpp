// Incremental SSE parsing (see sse.h for the rules followed).
#include "http/sse.h"

#include <cstring>

namespace arbitra::http {

namespace {

// Where the line starting at `from` ends: the first CR or LF, or the end.
size_t lineEnd(std::string_view bytes, size_t from) {
  const char* begin = bytes.data() + from;
  size_t length = bytes.size() - from;
  const void* lf = std::memchr(begin, '\n', length);
  if (lf) length = static_cast<size_t>(static_cast<const char*>(lf) - begin);
  const void* cr = std::memchr(begin, '\r', length);
  if (cr) length = static_cast<size_t>(static_cast<const char*>(cr) - begin);
  return from + length;
}

// The value of the field line `name:value` that opens `bytes` at `at`, up
// to its \n (one leading space dropped, as the rules say); false when the
// line is not that field, is not whole, or holds a \r.
bool wholeField(std::string_view bytes, size_t at, std::string_view name, std::string_view& value, size_t& next) {
  if (bytes.size() - at <= name.size() || bytes.compare(at, name.size(), name) != 0 || bytes[at + name.size()] != ':') {
    return false;
  }
  size_t from = at + name.size() + 1;
  const void* lf = std::memchr(bytes.data() + from, '\n', bytes.size() - from);
  if (!lf) return false;
  size_t end = static_cast<size_t>(static_cast<const char*>(lf) - bytes.data());
  if (std::memchr(bytes.data() + from, '\r', end - from)) return false;
  if (from < end && bytes[from] == ' ') ++from;
  value = bytes.substr(from, end - from);
  next = end + 1;
  return true;
}

}  // namespace

// The usual event, whole in `bytes` with plain \n line ends: an optional
// "event:" line, one "data:" line, a blank line. Read where it lies, no
// copy; anything else (more lines, comments, \r, a split) is left to the
// general loop, which reads it the same way.
bool SseParser::wholeEvent(std::string_view& bytes, View& out) {
  if (!started_ || bomLeft_ > 0 || sawCR_ || !line_.empty() || hasData_ || !event_.empty()) return false;
  std::string_view name;
  std::string_view data;
  size_t at = 0;
  if (bytes.starts_with('e') && !wholeField(bytes, 0, "event", name, at)) return false;
  if (!wholeField(bytes, at, "data", data, at)) return false;
  if (at >= bytes.size() || bytes[at] != '\n' || data.size() > maxEventBytes_) return false;
  out = View{name, data};
  bytes.remove_prefix(at + 1);
  return true;
}

SseParser::Step SseParser::next(std::string_view& bytes, View& out) {
  if (dispatched_) {  // the last event's buffers keep their capacity
    event_.clear();
    data_.clear();
    hasData_ = false;
    dispatched_ = false;
  }
  if (wholeEvent(bytes, out)) return Step::Event;
  size_t i = 0;
  while (i < bytes.size()) {
    char c = bytes[i];
    if (!started_) {
      started_ = true;
      // A UTF-8 BOM (EF BB BF) may open the stream; drop it byte by byte.
      if (static_cast<unsigned char>(c) == 0xEF) { bomLeft_ = 2; ++i; continue; }
    }
    if (bomLeft_ > 0) { --bomLeft_; ++i; continue; }
    if (c == '\n' && sawCR_) {  // the \n of a \r\n pair: the line already ended
      sawCR_ = false;
      ++i;
      continue;
    }
    sawCR_ = false;
    if (c == '\r' || c == '\n') {
      sawCR_ = (c == '\r');
      ++i;
      bool dispatch = processLine(line_);
      line_.clear();
      if (dispatch) {
        bytes.remove_prefix(i);
        out = View{event_, data_};
        dispatched_ = true;
        return Step::Event;
      }
      continue;
    }
    // The rest of the line at once, not byte by byte. Two memchr() calls,
    // not find_first_of("\r\n"), which tests the set at every byte.
    size_t end = lineEnd(bytes, i);
    if (line_.empty() && end < bytes.size()) {  // the whole line is here: read it in place
      std::string_view line = bytes.substr(i, end - i);
      if (line.size() + data_.size() > maxEventBytes_) return Step::TooLarge;
      processLine(line);  // not blank, so it never dispatches
      sawCR_ = bytes[end] == '\r';
      i = end + 1;  // past its end of line, which is handled here
      continue;
    }
    line_.append(bytes.data() + i, end - i);
    if (line_.size() + data_.size() > maxEventBytes_) return Step::TooLarge;
    i = end;
  }
  bytes = {};
  return Step::NeedMore;
}

bool SseParser::feed(std::string_view bytes, std::vector<SseEvent>& out) {
  View event;
  for (;;) {
    switch (next(bytes, event)) {
      case Step::Event: out.push_back(SseEvent{std::string(event.event), std::string(event.data)}); break;
      case Step::NeedMore: return true;
      case Step::TooLarge: return false;
    }
  }
}

bool SseParser::processLine(std::string_view line) {
  if (line.empty()) {  // blank line: dispatch, or forget an event without data
    if (hasData_) return true;
    event_.clear();
    data_.clear();
    return false;
  }
  if (line[0] == ':') return false;  // comment
  std::string_view field = line;
  std::string_view value;
  if (auto colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (hasData_) data_.push_back('\n');
    data_.append(value);
    hasData_ = true;
  } else if (field == "event") {
    event_.assign(value);
  }
  // "id" and "retry" mean nothing for LLM streams; ignored.
  return false;
}

void appendSseEvent(std::string& out, std::string_view event, std::string_view data) {
  if (!event.empty()) {
    out.append("event: ");
    out.append(event);
    out.push_back('\n');
  }
  out.append("data: ");
  out.append(data);
  out.append("\n\n");
}

}  // namespace arbitra::http
