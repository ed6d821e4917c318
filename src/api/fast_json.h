// Read-only JSON for the per-event hot path (streamed chunks), on simdjson's
// DOM: a streamed answer is tens of small JSON events, and parsing each into
// a Boost.JSON value was most of the gateway's CPU on a streamed request
// (~8k instructions an event; simdjson is a few times cheaper). Everything
// that builds or edits JSON stays on Boost.JSON (json_util.h).
//
// One parser per thread, reused: an Element is valid until the next parse on
// the same thread, so read what you need and copy it out before returning.
// The accessors mirror json_util's: absent or mistyped fields read as empty.
//
//   fast_json::Object chunk;
//   if (auto error = fast_json::parseObject(data, chunk)) ...  // message
//   std::string_view id = fast_json::stringAt(chunk, "id");
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "core/error.h"
#include "core/types.h"

namespace arbitra::api::fast_json {

using Object = simdjson::dom::object;
using Array = simdjson::dom::array;
using Element = simdjson::dom::element;

// Parses `text` as one JSON object with this thread's parser. Returns an
// error message ("" on success).
std::string parseObject(std::string_view text, Object& out);

// The "usage" object of a whole answer, read with `read`, or std::nullopt when
// the answer has none. For answers passed through untouched: the gateway only
// needs their token counts. An answer that is not one JSON object is an
// UpstreamError.
core::Result<std::optional<core::Usage>> usageOfAnswer(std::string_view body, core::Usage (*read)(const Object&));

inline std::string_view stringAt(const Object& object, std::string_view key) {
  std::string_view value;
  if (object.at_key(key).get_string().get(value) != simdjson::SUCCESS) return {};
  return value;
}

// As json_util::intAt: a non-negative integer (an integral double or a uint64
// that fits counts; capped at json_util::kMaxUpstreamInt), else `fallback`.
int64_t intAt(const Object& object, std::string_view key, int64_t fallback = 0);

inline std::optional<Object> objectAt(const Object& object, std::string_view key) {
  Object value;
  if (object.at_key(key).get_object().get(value) != simdjson::SUCCESS) return std::nullopt;
  return value;
}

inline std::optional<Array> arrayAt(const Object& object, std::string_view key) {
  Array value;
  if (object.at_key(key).get_array().get(value) != simdjson::SUCCESS) return std::nullopt;
  return value;
}

inline bool has(const Object& object, std::string_view key) { return object.at_key(key).error() == simdjson::SUCCESS; }

}  // namespace arbitra::api::fast_json
