// A forward scan over one JSON object's keys, without building anything:
// for the streamed passthrough's skim() (codec.h), which only needs to know
// whether a chunk is a plain text delta and how long its text is, and for
// the same-format upstream body's splice (json_util::spliceWith), which
// walks the top-level members (forEachMember).
//
// It relies on one property of JSON: inside a string value a quote is always
// escaped, so a string followed by a colon is a key, wherever it sits. It
// does not validate the document (a skim that cannot decide falls back to
// the full parse); it only promises never to read out of bounds.
//
//   bool ok = json_scan::forEachKey(data, [&](std::string_view key, std::string_view value) {
//     return key != "error";   // value: the text from the value's first byte on
//   });
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace arbitra::api::json_scan {

inline std::string_view trimmed(std::string_view text) {
  size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  return text.substr(begin, text.find_last_not_of(" \t\r\n") - begin + 1);
}

// The index of the quote closing the string that opens at `open`, or npos.
inline size_t stringEnd(std::string_view data, size_t open) {
  size_t at = open + 1;
  for (;;) {
    at = data.find('"', at);
    if (at == std::string_view::npos) return at;
    size_t backslashes = 0;
    while (data[at - 1 - backslashes] == '\\') ++backslashes;
    if (backslashes % 2 == 0) return at;
    ++at;
  }
}

// The raw (escaped) contents of the string value at the start of `value`,
// or nullopt-like false when it is not a complete string.
inline bool stringValue(std::string_view value, std::string_view& contents) {
  if (value.empty() || value.front() != '"') return false;
  size_t end = stringEnd(value, 0);
  if (end == std::string_view::npos) return false;
  contents = value.substr(1, end - 1);
  return true;
}

// Calls onKey(key, value) for every key of `object` (nested ones too), in
// order; `value` runs from the value's first byte to the end of the text.
// Stops and returns false when onKey does, or when the text is not an
// object or a string never closes.
template <class OnKey>
bool forEachKey(std::string_view object, OnKey&& onKey) {
  object = trimmed(object);
  if (object.size() < 2 || object.front() != '{' || object.back() != '}') return false;
  size_t at = 0;
  while ((at = object.find('"', at)) != std::string_view::npos) {
    size_t close = stringEnd(object, at);
    if (close == std::string_view::npos) return false;
    std::string_view key = object.substr(at + 1, close - at - 1);
    at = close + 1;
    size_t colon = object.find_first_not_of(" \t\r\n", at);
    if (colon == std::string_view::npos || object[colon] != ':') continue;  // a value, not a key
    size_t value = object.find_first_not_of(" \t\r\n", colon + 1);
    if (value == std::string_view::npos) return false;
    if (!onKey(key, object.substr(value))) return false;
    if (object[value] == '"') {  // skip a string value whole: its text is not keys
      size_t end = stringEnd(object, value);
      if (end == std::string_view::npos) return false;
      at = end + 1;
    }
  }
  return true;
}

inline bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

inline size_t skipSpace(std::string_view text, size_t at) {
  while (at < text.size() && isSpace(text[at])) ++at;
  return at;
}

// One past the end of the JSON value that starts at `at` (a string, an
// object or array by its brackets, a scalar up to the next delimiter), or
// npos when a string or bracket never closes. Scalars are not checked.
inline size_t valueEnd(std::string_view text, size_t at) {
  constexpr size_t npos = std::string_view::npos;
  char first = text[at];
  if (first == '"') {
    size_t close = stringEnd(text, at);
    return close == npos ? npos : close + 1;
  }
  if (first == '{' || first == '[') {
    size_t depth = 0;
    for (size_t i = at; i < text.size(); ++i) {
      char c = text[i];
      if (c == '"') {  // a string is skipped whole (memchr): its brackets do not count
        i = stringEnd(text, i);
        if (i == npos) return npos;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if ((c == '}' || c == ']') && --depth == 0) {
        return i + 1;
      }
    }
    return npos;
  }
  size_t i = at;
  while (i < text.size() && text[i] != ',' && text[i] != '}' && text[i] != ']' && !isSpace(text[i])) ++i;
  return i;
}

// The top-level members of the object `text`, in order: onMember(key,
// valueBegin, valueEnd) with the raw (escaped) key and the value's byte
// range. Returns the offset of the object's closing brace, or npos when the
// text is not one object (anything but whitespace after it), a string or
// bracket never closes, or onMember returns false. Only the members' layout
// is checked, not what is inside their values.
template <class OnMember>
size_t forEachMember(std::string_view text, OnMember&& onMember) {
  constexpr size_t npos = std::string_view::npos;
  size_t at = skipSpace(text, 0);
  if (at >= text.size() || text[at] != '{') return npos;
  at = skipSpace(text, at + 1);
  if (at >= text.size()) return npos;
  size_t close = text[at] == '}' ? at : npos;
  while (close == npos) {
    if (text[at] != '"') return npos;
    size_t keyEnd = stringEnd(text, at);
    if (keyEnd == npos) return npos;
    std::string_view key = text.substr(at + 1, keyEnd - at - 1);
    at = skipSpace(text, keyEnd + 1);
    if (at >= text.size() || text[at] != ':') return npos;
    at = skipSpace(text, at + 1);
    if (at >= text.size()) return npos;
    size_t end = valueEnd(text, at);
    if (end == npos || end == at) return npos;
    if (!onMember(key, at, end)) return npos;
    at = skipSpace(text, end);
    if (at >= text.size()) return npos;
    if (text[at] == '}') {
      close = at;
    } else if (text[at] == ',') {
      at = skipSpace(text, at + 1);
      if (at >= text.size()) return npos;
    } else {
      return npos;
    }
  }
  return skipSpace(text, close + 1) == text.size() ? close : npos;
}

// The bytes around one string value of an event that a full scan accepted:
// consecutive text deltas of one stream differ only in their text ("id",
// "model", "created" and the rest repeat), so an event made of the same
// prefix, one complete string, and the same suffix has the same keys and
// values as the accepted one except that string, and needs no scan. Any
// other event (a new field, a different id, whitespace) does not match and
// is scanned as before.
class Shape {
 public:
  // Remembers `data` around the string value whose opening quote is at
  // `open` (`data` is an event the caller's full scan accepted).
  void learn(std::string_view data, size_t open) {
    size_t close = stringEnd(data, open);
    if (close == std::string_view::npos) return;
    prefix_.assign(data.substr(0, open + 1));
    suffix_.assign(data.substr(close));
  }

  // The raw size of the string value when `data` matches the learned shape.
  std::optional<size_t> match(std::string_view data) const {
    if (prefix_.empty() || data.size() < prefix_.size() + suffix_.size()) return std::nullopt;
    if (!data.starts_with(prefix_) || !data.ends_with(suffix_)) return std::nullopt;
    size_t close = stringEnd(data, prefix_.size() - 1);
    if (close != data.size() - suffix_.size()) return std::nullopt;  // the string must end where the suffix begins
    return close - prefix_.size();
  }

 private:
  std::string prefix_;  // up to and including the string's opening quote
  std::string suffix_;  // from its closing quote on
};

}  // namespace arbitra::api::json_scan
