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

}  // namespace

SseParser::Step SseParser::next(std::string_view& bytes, View& out) {
  if (dispatched_) {  // the last event's buffers keep their capacity
    event_.clear();
    data_.clear();
    hasData_ = false;
    dispatched_ = false;
  }
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
