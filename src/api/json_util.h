// Shared helpers for the wire codecs: strict JSON parsing with errors that
// name the offending field, lenient readers for upstream answers, SSE framing,
// ids and a few conversions both formats need.
//
// Contract: nothing here throws on bad input (only std::bad_alloc can escape).
// Strict readers return std::nullopt on success and an InvalidRequest Error
// whose message starts with the field's path ("messages[2].content: ...") and
// whose `param` is that path; a JSON null counts as "absent" for optional
// fields, as the SDKs send null for unset options.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/error.h"
#include "core/types.h"

namespace arbitra::api::json_util {

namespace json = boost::json;

using MaybeError = std::optional<core::Error>;

// Nesting bound for every parse: deep enough for real JSON Schemas, shallow
// enough that recursive destruction and serialization stay cheap.
inline constexpr unsigned kMaxDepth = 128;

// Parses `body` as one JSON object. A syntax error gives `kind` with
// "invalid JSON at byte N: ..."; a non-object gives "... must be a JSON object".
// The object's values are allocated from `storage` (default: the heap); a
// caller that reads the object and drops it passes a stack arena
// (json::monotonic_resource), as the stream decoders do for every event.
core::Result<json::object> parseObject(std::string_view body, core::ErrorKind kind,
                                       std::string_view what = "request body", json::storage_ptr storage = {});

// Parses any JSON value; std::nullopt when `text` is not exactly one value.
std::optional<json::value> parseValue(std::string_view text);

// ---- paths and errors ------------------------------------------------------

// "messages" + "content" -> "messages.content"; "" + "model" -> "model".
std::string joinPath(std::string_view prefix, std::string_view key);
// "messages" + 2 -> "messages[2]".
std::string indexPath(std::string_view prefix, size_t index);
// InvalidRequest "path: what", param = path.
core::Error invalid(const std::string& path, std::string_view what);
// "a string", "a number", "an array", ... for "got ..." in messages.
const char* describe(const json::value& value);
// InvalidRequest "path: expected EXPECTED (got a number)".
core::Error wrongType(const std::string& path, std::string_view expected, const json::value& got);

// ---- strict readers (caller requests) --------------------------------------

// The field's value, or nullptr when it is missing or JSON null.
const json::value* field(const json::object& object, std::string_view key);

MaybeError readString(const json::object& object, std::string_view key, std::string_view prefix, std::string& out,
                      bool required);
MaybeError readBool(const json::object& object, std::string_view key, std::string_view prefix, bool& out);
// An integer >= `min` (2 and 2.0 are both accepted, 2.5 is not).
MaybeError readInt(const json::object& object, std::string_view key, std::string_view prefix,
                   std::optional<int64_t>& out, int64_t min);
MaybeError readNumber(const json::object& object, std::string_view key, std::string_view prefix,
                      std::optional<double>& out);

// ---- lenient readers (upstream answers) ------------------------------------

const json::object* objectAt(const json::object& object, std::string_view key);
const json::array* arrayAt(const json::object& object, std::string_view key);
std::string stringAt(const json::object& object, std::string_view key);
// Upper bound for integers read from upstream answers (token counts, indexes,
// timestamps): far above any real value, low enough that sums of a few never
// overflow int64.
inline constexpr int64_t kMaxUpstreamInt = int64_t{1} << 50;

// A non-negative integer field (capped at kMaxUpstreamInt), or `fallback` when
// missing, null, negative or not an integer.
int64_t intAt(const json::object& object, std::string_view key, int64_t fallback = 0);
// An integer-valued number as int64 (doubles with a fraction and out-of-range
// values are refused).
std::optional<int64_t> asInt(const json::value& value);

// ---- conversions -----------------------------------------------------------

// Tool-call arguments (JSON text) as the object Anthropic wants: "" -> {},
// an object -> itself, anything else (bad JSON, arrays, scalars) -> {"_raw": text}.
json::object argumentsToObject(std::string_view arguments);

// "data:image/png;base64,AAAA" -> {"image/png", "AAAA"}; nullopt for other URLs.
struct DataUrl {
  std::string mediaType;
  std::string data;
};
std::optional<DataUrl> parseDataUrl(std::string_view url);

// At most `maxBytes` bytes of `text`, never cutting a UTF-8 sequence in half.
std::string truncateUtf8(std::string_view text, size_t maxBytes);

// An upstream error body's message: error.message (both formats put it there),
// a bare string `error`, or else at most 200 bytes of the body itself.
std::string errorMessageFromBody(std::string_view body);

// A JSON-text rendering that cannot throw on exotic values.
std::string serialize(const json::value& value);
std::string serialize(const json::object& object);

// One key's value replaced (or, when `object` lacks the key, added at the end).
struct Override {
  std::string_view key;
  const json::value* value;
};
// Serializes `object` with `overrides` applied, without copying `object`: a
// same-format upstream gets the caller's body with its model swapped, and a
// deep copy of that body was most of the cost of encoding it.
std::string serializeWith(const json::object& object, std::initializer_list<Override> overrides);

// serializeWith's answer, spliced into the caller's text instead of
// re-serialized: `text` must be the JSON that `object` was parsed from, so
// only its top-level members are walked and each override's value is
// replaced (or added before the closing brace); the rest goes out byte for
// byte. nullopt when the text is not a shape the splice handles safely (a
// top-level key that is escaped or repeated, more than 64 of them, a member
// count other than `object`'s, as after an erase): use serializeWith then.
std::optional<std::string> spliceWith(const json::object& object, std::string_view text,
                                      std::initializer_list<Override> overrides);

// ---- ids, time and SSE -----------------------------------------------------

// `prefix` + 24 random alphanumerics ("chatcmpl-", "msg_", "call_", "toolu_").
std::string generateId(std::string_view prefix);
int64_t nowSeconds();

// Appends "event: NAME\n" (when named) and "data: DATA\n\n". `data` must be
// single-line (serialized JSON always is).
void appendSse(std::string& out, std::string_view event, std::string_view data);

}  // namespace arbitra::api::json_util
