// fast_json's per-thread parser; see fast_json.h.
#include "api/fast_json.h"

namespace arbitra::api::fast_json {

std::string parseObject(std::string_view text, Object& out) {
  thread_local simdjson::dom::parser parser;
  Element root;
  // Copies into the parser's padded buffer (the input has no padding).
  if (auto error = parser.parse(text.data(), text.size(), true).get(root)) return simdjson::error_message(error);
  if (root.get_object().get(out) != simdjson::SUCCESS) return "expected a JSON object";
  return {};
}

}  // namespace arbitra::api::fast_json
