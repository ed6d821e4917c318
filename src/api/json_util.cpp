// Shared codec helpers; see json_util.h for the contracts.
#include "api/json_util.h"

#include "api/json_scan.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <limits>
#include <random>

#include <boost/json/serialize.hpp>
#include <boost/json/serializer.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/stream_parser.hpp>

namespace arbitra::api::json_util {

namespace {

// One parser per thread, reused: a parser keeps its working buffers between
// texts, so parsing costs no allocation beyond the values it produces.
json::stream_parser& reusableParser() {
  thread_local json::stream_parser parser({}, [] {
    json::parse_options options;
    options.max_depth = kMaxDepth;
    return options;
  }());
  return parser;
}

}  // namespace

core::Result<json::object> parseObject(std::string_view body, core::ErrorKind kind, std::string_view what,
                                       json::storage_ptr storage) {
  size_t start = body.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) {
    return core::makeError(kind, "invalid JSON: " + std::string(what) + " is empty");
  }
  auto& parser = reusableParser();
  parser.reset(std::move(storage));
  boost::system::error_code ec;
  size_t consumed = parser.write(body.data(), body.size(), ec);
  if (!ec) parser.finish(ec);
  json::value value = ec ? json::value() : parser.release();
  parser.reset();  // nothing in the reused parser may outlive the caller's storage
  if (ec) {
    std::string message = "invalid JSON";
    if (consumed < body.size()) message += " at byte " + std::to_string(consumed);
    message += ": " + ec.message();
    return core::makeError(kind, std::move(message));
  }
  if (!value.is_object()) {
    return core::makeError(kind, std::string(what) + " must be a JSON object, got " + describe(value));
  }
  return std::move(value.get_object());
}

std::optional<json::value> parseValue(std::string_view text) {
  auto& parser = reusableParser();
  parser.reset();
  boost::system::error_code ec;
  parser.write(text.data(), text.size(), ec);
  if (!ec) parser.finish(ec);
  if (ec) return std::nullopt;
  return parser.release();
}

// ---- paths and errors ------------------------------------------------------

std::string joinPath(std::string_view prefix, std::string_view key) {
  if (prefix.empty()) return std::string(key);
  std::string out(prefix);
  out += '.';
  out += key;
  return out;
}

std::string indexPath(std::string_view prefix, size_t index) {
  std::string out(prefix);
  out += '[';
  out += std::to_string(index);
  out += ']';
  return out;
}

core::Error invalid(const std::string& path, std::string_view what) {
  return core::makeError(core::ErrorKind::InvalidRequest, path + ": " + std::string(what), path);
}

const char* describe(const json::value& value) {
  switch (value.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_: return "a number";
    case json::kind::string: return "a string";
    case json::kind::array: return "an array";
    case json::kind::object: return "an object";
  }
  return "a value";
}

core::Error wrongType(const std::string& path, std::string_view expected, const json::value& got) {
  return invalid(path, "expected " + std::string(expected) + " (got " + describe(got) + ")");
}

// ---- strict readers --------------------------------------------------------

const json::value* field(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr || value->is_null()) return nullptr;
  return value;
}

MaybeError readString(const json::object& object, std::string_view key, std::string_view prefix, std::string& out,
                      bool required) {
  const json::value* value = field(object, key);
  if (value == nullptr) {
    if (required) return invalid(joinPath(prefix, key), "required");
    return std::nullopt;
  }
  if (!value->is_string()) return wrongType(joinPath(prefix, key), "a string", *value);
  out.assign(value->get_string().data(), value->get_string().size());
  return std::nullopt;
}

MaybeError readBool(const json::object& object, std::string_view key, std::string_view prefix, bool& out) {
  const json::value* value = field(object, key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_bool()) return wrongType(joinPath(prefix, key), "a boolean", *value);
  out = value->get_bool();
  return std::nullopt;
}

std::optional<int64_t> asInt(const json::value& value) {
  if (value.is_int64()) return value.get_int64();
  if (value.is_uint64()) {
    uint64_t u = value.get_uint64();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (value.is_double()) {
    double d = value.get_double();
    // 2^63 is exactly representable; anything at or past it does not fit.
    if (!std::isfinite(d) || d != std::floor(d) || d >= 9223372036854775808.0 || d < -9223372036854775808.0) {
      return std::nullopt;
    }
    return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

MaybeError readInt(const json::object& object, std::string_view key, std::string_view prefix,
                   std::optional<int64_t>& out, int64_t min) {
  const json::value* value = field(object, key);
  if (value == nullptr) return std::nullopt;
  auto number = asInt(*value);
  if (!number) return wrongType(joinPath(prefix, key), "an integer", *value);
  if (*number < min) {
    return invalid(joinPath(prefix, key), "must be at least " + std::to_string(min));
  }
  out = *number;
  return std::nullopt;
}

MaybeError readNumber(const json::object& object, std::string_view key, std::string_view prefix,
                      std::optional<double>& out) {
  const json::value* value = field(object, key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_number()) return wrongType(joinPath(prefix, key), "a number", *value);
  out = value->to_number<double>();
  return std::nullopt;
}

// ---- lenient readers -------------------------------------------------------

const json::object* objectAt(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value == nullptr ? nullptr : value->if_object();
}

const json::array* arrayAt(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value == nullptr ? nullptr : value->if_array();
}

std::string stringAt(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr || !value->is_string()) return {};
  return std::string(value->get_string());
}

int64_t intAt(const json::object& object, std::string_view key, int64_t fallback) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr) return fallback;
  auto number = asInt(*value);
  if (!number || *number < 0) return fallback;
  return std::min(*number, kMaxUpstreamInt);
}

// ---- conversions -----------------------------------------------------------

json::object argumentsToObject(std::string_view arguments) {
  if (arguments.find_first_not_of(" \t\r\n") == std::string_view::npos) return {};
  auto parsed = parseValue(arguments);
  if (parsed && parsed->is_object()) return std::move(parsed->get_object());
  json::object wrapped;
  wrapped["_raw"] = json::string(arguments);
  return wrapped;
}

std::optional<DataUrl> parseDataUrl(std::string_view url) {
  constexpr std::string_view kScheme = "data:";
  constexpr std::string_view kBase64 = ";base64";
  if (url.size() < kScheme.size() || url.substr(0, kScheme.size()) != kScheme) return std::nullopt;
  size_t comma = url.find(',');
  if (comma == std::string_view::npos) return std::nullopt;
  std::string_view meta = url.substr(kScheme.size(), comma - kScheme.size());
  if (meta.size() < kBase64.size() || meta.substr(meta.size() - kBase64.size()) != kBase64) return std::nullopt;
  DataUrl out;
  out.mediaType = std::string(meta.substr(0, meta.size() - kBase64.size()));
  out.data = std::string(url.substr(comma + 1));
  return out;
}

std::string truncateUtf8(std::string_view text, size_t maxBytes) {
  if (text.size() <= maxBytes) return std::string(text);
  size_t cut = maxBytes;
  // Step back over continuation bytes (10xxxxxx) so the cut lands on a lead byte.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut));
}

std::string errorMessageFromBody(std::string_view body) {
  constexpr size_t kMaxCopy = 200;
  if (auto parsed = parseValue(body); parsed && parsed->is_object()) {
    if (const json::value* error = parsed->get_object().if_contains("error")) {
      if (error->is_string() && !error->get_string().empty()) return truncateUtf8(error->get_string(), 1000);
      if (const json::object* object = error->if_object()) {
        std::string message = stringAt(*object, "message");
        if (!message.empty()) return truncateUtf8(message, 1000);
      }
    }
    std::string message = stringAt(parsed->get_object(), "message");
    if (!message.empty()) return truncateUtf8(message, 1000);
  }
  size_t start = body.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) return "(empty body)";
  return truncateUtf8(body.substr(start), kMaxCopy);
}

std::string serialize(const json::value& value) {
  return json::serialize(value);
}
std::string serialize(const json::object& object) {
  return json::serialize(object);
}

namespace {

// `serializer` has been reset to what is to be written.
void drainInto(std::string& out, json::serializer& serializer) {
  char buffer[512];
  while (!serializer.done()) {
    std::string_view part = serializer.read(buffer, sizeof buffer);
    out.append(part.data(), part.size());
  }
}

}  // namespace

std::string serializeWith(const json::object& object, std::initializer_list<Override> overrides) {
  std::string out;
  out.reserve(256);
  json::serializer serializer;
  bool first = true;
  auto member = [&](std::string_view key, const json::value& value) {
    out.push_back(first ? '{' : ',');
    first = false;
    serializer.reset(json::string_view(key.data(), key.size()));
    drainInto(out, serializer);
    out.push_back(':');
    serializer.reset(&value);
    drainInto(out, serializer);
  };
  for (const auto& entry : object) {
    const json::value* value = &entry.value();
    for (const Override& override : overrides) {
      if (override.key == std::string_view(entry.key())) value = override.value;
    }
    member(entry.key(), *value);
  }
  for (const Override& override : overrides) {
    if (!object.contains(override.key)) member(override.key, *override.value);
  }
  if (first) out.push_back('{');
  out.push_back('}');
  return out;
}

namespace {

// A value as JSON text: a plain string is quoted by hand (the model name, on
// every request), anything else through Boost.JSON.
void appendValue(std::string& out, const json::value& value) {
  if (value.is_string()) {
    const auto& s = value.get_string();
    bool plain = std::all_of(s.begin(), s.end(),
                             [](char c) { return c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20; });
    if (plain) {
      out += '"';
      out.append(s.data(), s.size());
      out += '"';
      return;
    }
  }
  out += json::serialize(value);
}

}  // namespace

std::optional<std::string> spliceWith(const json::object& object, std::string_view text,
                                      std::initializer_list<Override> overrides) {
  constexpr size_t npos = std::string_view::npos;
  constexpr size_t kMaxKeys = 64;
  std::array<std::string_view, kMaxKeys> keys;
  size_t keyCount = 0;
  struct Span {
    size_t begin = npos, end = npos;
    const Override* override = nullptr;
  };
  std::array<Span, 4> spans;
  if (overrides.size() > spans.size()) return std::nullopt;
  size_t close = json_scan::forEachMember(text, [&](std::string_view key, size_t begin, size_t end) {
    if (key.find('\\') != npos || keyCount == kMaxKeys) return false;
    for (size_t k = 0; k < keyCount; ++k) {
      if (keys[k] == key) return false;  // repeated: let the parsed object decide which one counts
    }
    keys[keyCount++] = key;
    size_t i = 0;
    for (const Override& override : overrides) {
      if (override.key == key) spans[i] = {begin, end, &override};
      ++i;
    }
    return true;
  });
  if (close == npos) return std::nullopt;
  if (keyCount != object.size()) return std::nullopt;  // `raw` was edited since
  std::sort(spans.begin(), spans.begin() + overrides.size(),
            [](const Span& a, const Span& b) { return a.begin < b.begin; });  // the absent (npos) last
  std::string out;
  out.reserve(text.size() + 64);
  size_t copied = 0;
  for (size_t i = 0; i < overrides.size() && spans[i].begin != npos; ++i) {
    out.append(text.substr(copied, spans[i].begin - copied));
    appendValue(out, *spans[i].override->value);
    copied = spans[i].end;
  }
  out.append(text.substr(copied, close - copied));
  bool members = keyCount > 0;
  for (const Override& override : overrides) {
    bool present =
        std::any_of(keys.begin(), keys.begin() + keyCount, [&](std::string_view k) { return k == override.key; });
    if (present) continue;
    if (members) out += ',';
    members = true;
    out += '"';
    out += override.key;  // our own constant keys: nothing to escape
    out += "\":";
    appendValue(out, *override.value);
  }
  out.append(text.substr(close));
  return out;
}

// ---- ids, time and SSE -----------------------------------------------------

std::string generateId(std::string_view prefix) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<size_t> pick(0, sizeof(kAlphabet) - 2);
  std::string out(prefix);
  for (int i = 0; i < 24; ++i) out += kAlphabet[pick(rng)];
  return out;
}

int64_t nowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void appendSse(std::string& out, std::string_view event, std::string_view data) {
  if (!event.empty()) {
    out += "event: ";
    out += event;
    out += '\n';
  }
  out += "data: ";
  out += data;
  out += "\n\n";
}

}  // namespace arbitra::api::json_util
