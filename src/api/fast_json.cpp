// fast_json's per-thread parser; see fast_json.h.
#include "api/fast_json.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "api/json_util.h"

namespace arbitra::api::fast_json {

std::string parseObject(std::string_view text, Object& out) {
  thread_local simdjson::dom::parser parser;
  Element root;
  // Copies into the parser's padded buffer (the input has no padding).
  if (auto error = parser.parse(text.data(), text.size(), true).get(root)) return simdjson::error_message(error);
  if (root.get_object().get(out) != simdjson::SUCCESS) return "expected a JSON object";
  return {};
}

namespace {

// json_util::asInt's rules on a simdjson element.
std::optional<int64_t> asInt(const Element& value) {
  switch (value.type()) {
    case simdjson::dom::element_type::INT64: return int64_t(value);
    case simdjson::dom::element_type::UINT64: {
      uint64_t u = uint64_t(value);
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
      return static_cast<int64_t>(u);
    }
    case simdjson::dom::element_type::DOUBLE: {
      double d = double(value);
      if (!std::isfinite(d) || d != std::floor(d) || d >= 9223372036854775808.0 || d < -9223372036854775808.0) {
        return std::nullopt;
      }
      return static_cast<int64_t>(d);
    }
    default: return std::nullopt;
  }
}

}  // namespace

int64_t intAt(const Object& object, std::string_view key, int64_t fallback) {
  Element value;
  if (object.at_key(key).get(value) != simdjson::SUCCESS) return fallback;
  auto number = asInt(value);
  if (!number || *number < 0) return fallback;
  return std::min(*number, json_util::kMaxUpstreamInt);
}

core::Result<std::optional<core::Usage>> usageOfAnswer(std::string_view body, core::Usage (*read)(const Object&)) {
  Object answer;
  if (auto error = parseObject(body, answer); !error.empty()) {
    return core::makeError(core::ErrorKind::UpstreamError, "invalid answer: " + error);
  }
  auto usage = objectAt(answer, "usage");
  if (!usage) return std::optional<core::Usage>();
  return std::optional<core::Usage>(read(*usage));
}

}  // namespace arbitra::api::fast_json
