// OpenAI Chat Completions <-> neutral types: request parsing (strict, every
// error names its field), request encoding (raw passthrough for OpenAI callers,
// translation from the neutral fields for Anthropic ones), whole answers and
// error bodies. The streaming half lives in openai_stream.cpp.
//
// Translation notes (neutral -> OpenAI body):
//   - the neutral system prompt becomes the first message, role "system";
//   - tool results become role "tool" messages; a failed one (Anthropic
//     is_error) has no OpenAI flag, so its text is prefixed "Error: ";
//   - the limit is sent as max_completion_tokens (max_tokens is refused by
//     OpenAI's reasoning models and deprecated for the rest);
//   - top_k has no OpenAI counterpart and is dropped;
//   - streaming always asks for stream_options.include_usage: the gateway
//     needs the counts whatever the caller asked for.
#include "api/openai_codec.h"

#include <algorithm>

#include <boost/json.hpp>

#include "api/json_scan.h"
#include "api/json_util.h"

namespace arbitra::api::openai {
namespace {

namespace json = boost::json;
using core::ContentPart;
using core::Message;
using core::Role;
using json_util::field;
using json_util::indexPath;
using json_util::invalid;
using json_util::joinPath;
using json_util::MaybeError;
using json_util::wrongType;

// Which content parts a role may carry.
struct PartRules {
  bool images = false;   // image_url parts (user messages)
  bool refusal = false;  // refusal parts (assistant messages), kept as text
};

// One content part: text and image_url become ContentParts; other known kinds
// (input_audio, file) are skipped here and survive only in `raw`.
MaybeError parsePart(const json::value& value, const std::string& path, PartRules rules,
                     std::vector<ContentPart>& out) {
  const json::object* part = value.if_object();
  if (part == nullptr) return wrongType(path, "a content part object", value);
  std::string type;
  if (auto e = json_util::readString(*part, "type", path, type, true)) return e;
  if (type == "text" || (type == "refusal" && rules.refusal)) {
    ContentPart text;
    if (auto e = json_util::readString(*part, type, path, text.text, true)) return e;
    out.push_back(std::move(text));
    return std::nullopt;
  }
  if (type == "image_url") {
    if (!rules.images) return invalid(joinPath(path, "type"), "image_url parts are only allowed in user messages");
    const json::value* source = field(*part, "image_url");
    std::string imagePath = joinPath(path, "image_url");
    if (source == nullptr) return invalid(imagePath, "required");
    ContentPart image;
    image.kind = ContentPart::Kind::Image;
    if (source->is_string()) {
      image.imageUrl = std::string(source->get_string());
    } else if (const json::object* object = source->if_object()) {
      if (auto e = json_util::readString(*object, "url", imagePath, image.imageUrl, true)) return e;
    } else {
      return wrongType(imagePath, "an object with a url", *source);
    }
    out.push_back(std::move(image));
    return std::nullopt;
  }
  if (type == "refusal") return invalid(joinPath(path, "type"), "refusal parts are only allowed in assistant messages");
  return std::nullopt;  // input_audio, file and future kinds: passthrough only
}

// `content`: a string or an array of parts. `required` refuses null/absent.
MaybeError parseContent(const json::object& message, const std::string& prefix, PartRules rules, bool required,
                        std::vector<ContentPart>& out) {
  std::string path = joinPath(prefix, "content");
  const json::value* content = field(message, "content");
  if (content == nullptr) {
    if (required) return invalid(path, "required");
    return std::nullopt;
  }
  if (content->is_string()) {
    ContentPart text;
    text.text = std::string(content->get_string());
    out.push_back(std::move(text));
    return std::nullopt;
  }
  const json::array* parts = content->if_array();
  if (parts == nullptr) return wrongType(path, "a string or an array", *content);
  for (size_t i = 0; i < parts->size(); ++i) {
    if (auto e = parsePart((*parts)[i], indexPath(path, i), rules, out)) return e;
  }
  return std::nullopt;
}

std::string joinText(const std::vector<ContentPart>& parts, std::string_view separator) {
  std::string out;
  bool first = true;
  for (const auto& part : parts) {
    if (part.kind != ContentPart::Kind::Text) continue;
    if (!first) out += separator;
    out += part.text;
    first = false;
  }
  return out;
}

MaybeError parseToolCalls(const json::object& message, const std::string& prefix, std::vector<core::ToolCall>& out) {
  const json::value* value = field(message, "tool_calls");
  if (value == nullptr) return std::nullopt;
  std::string path = joinPath(prefix, "tool_calls");
  const json::array* calls = value->if_array();
  if (calls == nullptr) return wrongType(path, "an array", *value);
  for (size_t i = 0; i < calls->size(); ++i) {
    std::string callPath = indexPath(path, i);
    const json::object* call = (*calls)[i].if_object();
    if (call == nullptr) return wrongType(callPath, "an object", (*calls)[i]);
    std::string type = "function";
    if (auto e = json_util::readString(*call, "type", callPath, type, false)) return e;
    if (type != "function") continue;  // custom tool calls: passthrough only
    core::ToolCall parsed;
    if (auto e = json_util::readString(*call, "id", callPath, parsed.id, true)) return e;
    std::string functionPath = joinPath(callPath, "function");
    const json::value* function = field(*call, "function");
    if (function == nullptr) return invalid(functionPath, "required");
    if (!function->is_object()) return wrongType(functionPath, "an object", *function);
    const auto& fn = function->get_object();
    if (auto e = json_util::readString(fn, "name", functionPath, parsed.name, true)) return e;
    if (auto e = json_util::readString(fn, "arguments", functionPath, parsed.arguments, false)) return e;
    out.push_back(std::move(parsed));
  }
  return std::nullopt;
}

// One message; system/developer text goes to `request.system`.
MaybeError parseMessage(const json::value& value, const std::string& path, core::ChatRequest& request) {
  const json::object* message = value.if_object();
  if (message == nullptr) return wrongType(path, "a message object", value);
  std::string role;
  if (auto e = json_util::readString(*message, "role", path, role, true)) return e;

  if (role == "system" || role == "developer") {
    std::vector<ContentPart> parts;
    if (auto e = parseContent(*message, path, {}, true, parts)) return e;
    if (!request.system.empty()) request.system += "\n";
    request.system += joinText(parts, "\n");
    return std::nullopt;
  }
  Message out;
  if (role == "user") {
    out.role = Role::User;
    if (auto e = parseContent(*message, path, {.images = true}, true, out.content)) return e;
  } else if (role == "assistant") {
    out.role = Role::Assistant;
    if (auto e = parseContent(*message, path, {.refusal = true}, false, out.content)) return e;
    if (auto e = parseToolCalls(*message, path, out.toolCalls)) return e;
  } else if (role == "tool") {
    out.role = Role::Tool;
    if (auto e = parseContent(*message, path, {}, true, out.content)) return e;
    if (auto e = json_util::readString(*message, "tool_call_id", path, out.toolCallId, true)) return e;
  } else {
    return invalid(joinPath(path, "role"), "expected one of system, developer, user, assistant, tool (got \"" +
                                               json_util::truncateUtf8(role, 40) + "\")");
  }
  request.messages.push_back(std::move(out));
  return std::nullopt;
}

MaybeError parseTools(const json::object& body, core::ChatRequest& request) {
  const json::value* value = field(body, "tools");
  if (value == nullptr) return std::nullopt;
  const json::array* tools = value->if_array();
  if (tools == nullptr) return wrongType("tools", "an array", *value);
  for (size_t i = 0; i < tools->size(); ++i) {
    std::string path = indexPath("tools", i);
    const json::object* tool = (*tools)[i].if_object();
    if (tool == nullptr) return wrongType(path, "a tool object", (*tools)[i]);
    std::string type;
    if (auto e = json_util::readString(*tool, "type", path, type, true)) return e;
    if (type != "function") continue;  // custom tools: passthrough only
    std::string functionPath = joinPath(path, "function");
    const json::value* function = field(*tool, "function");
    if (function == nullptr) return invalid(functionPath, "required");
    if (!function->is_object()) return wrongType(functionPath, "an object", *function);
    const auto& fn = function->get_object();
    core::Tool parsed;
    if (auto e = json_util::readString(fn, "name", functionPath, parsed.name, true)) return e;
    if (auto e = json_util::readString(fn, "description", functionPath, parsed.description, false)) return e;
    if (const json::value* parameters = field(fn, "parameters")) {
      if (!parameters->is_object()) return wrongType(joinPath(functionPath, "parameters"), "an object", *parameters);
      parsed.parameters = *parameters;
    }
    request.tools.push_back(std::move(parsed));
  }
  return std::nullopt;
}

MaybeError parseToolChoice(const json::object& body, core::ChatRequest& request) {
  const json::value* value = field(body, "tool_choice");
  if (value == nullptr) return std::nullopt;
  constexpr std::string_view kExpected = "\"auto\", \"none\", \"required\" or {\"type\":\"function\",...}";
  core::ToolChoice choice;
  if (value->is_string()) {
    std::string_view mode = value->get_string();
    if (mode == "auto") {
      choice.kind = core::ToolChoice::Kind::Auto;
    } else if (mode == "none") {
      choice.kind = core::ToolChoice::Kind::None;
    } else if (mode == "required") {
      choice.kind = core::ToolChoice::Kind::Required;
    } else {
      return invalid("tool_choice", "expected " + std::string(kExpected));
    }
    request.toolChoice = choice;
    return std::nullopt;
  }
  const json::object* object = value->if_object();
  if (object == nullptr) return wrongType("tool_choice", kExpected, *value);
  std::string type;
  if (auto e = json_util::readString(*object, "type", "tool_choice", type, true)) return e;
  if (type == "function") {
    const json::value* function = field(*object, "function");
    if (function == nullptr) return invalid("tool_choice.function", "required");
    if (!function->is_object()) return wrongType("tool_choice.function", "an object", *function);
    choice.kind = core::ToolChoice::Kind::Named;
    if (auto e = json_util::readString(function->get_object(), "name", "tool_choice.function", choice.name, true)) {
      return e;
    }
  } else if (type == "allowed_tools") {
    // The allowed subset has no neutral form; its mode does.
    std::string mode = "auto";
    if (const json::object* allowed = json_util::objectAt(*object, "allowed_tools")) {
      if (auto e = json_util::readString(*allowed, "mode", "tool_choice.allowed_tools", mode, false)) return e;
    }
    choice.kind = mode == "required" ? core::ToolChoice::Kind::Required : core::ToolChoice::Kind::Auto;
  } else {
    return invalid("tool_choice.type", "expected \"function\" or \"allowed_tools\"");
  }
  request.toolChoice = choice;
  return std::nullopt;
}

MaybeError parseStop(const json::object& body, core::ChatRequest& request) {
  const json::value* value = field(body, "stop");
  if (value == nullptr) return std::nullopt;
  if (value->is_string()) {
    request.stop.emplace_back(value->get_string());
    return std::nullopt;
  }
  const json::array* stops = value->if_array();
  if (stops == nullptr) return wrongType("stop", "a string or an array of strings", *value);
  for (size_t i = 0; i < stops->size(); ++i) {
    if (!(*stops)[i].is_string()) return wrongType(indexPath("stop", i), "a string", (*stops)[i]);
    request.stop.emplace_back((*stops)[i].get_string());
  }
  return std::nullopt;
}

MaybeError parseBody(const json::object& body, core::ChatRequest& request) {
  if (auto e = json_util::readString(body, "model", "", request.model, true)) return e;
  if (request.model.empty()) return invalid("model", "must not be empty");

  const json::value* messages = field(body, "messages");
  if (messages == nullptr) return invalid("messages", "required");
  if (!messages->is_array()) return wrongType("messages", "an array", *messages);
  if (messages->get_array().empty()) return invalid("messages", "must contain at least one message");
  for (size_t i = 0; i < messages->get_array().size(); ++i) {
    if (auto e = parseMessage(messages->get_array()[i], indexPath("messages", i), request)) return e;
  }

  if (auto e = parseTools(body, request)) return e;
  if (auto e = parseToolChoice(body, request)) return e;
  // max_completion_tokens supersedes the deprecated max_tokens when both are sent.
  if (auto e = json_util::readInt(body, "max_tokens", "", request.maxTokens, 1)) return e;
  if (auto e = json_util::readInt(body, "max_completion_tokens", "", request.maxTokens, 1)) return e;
  if (auto e = json_util::readNumber(body, "temperature", "", request.temperature)) return e;
  if (auto e = json_util::readNumber(body, "top_p", "", request.topP)) return e;
  if (auto e = parseStop(body, request)) return e;
  if (auto e = json_util::readBool(body, "stream", "", request.stream)) return e;
  if (const json::value* options = field(body, "stream_options")) {
    if (!options->is_object()) return wrongType("stream_options", "an object", *options);
    if (auto e = json_util::readBool(options->get_object(), "include_usage", "stream_options", request.includeUsage)) {
      return e;
    }
  }
  if (const json::value* format = field(body, "response_format")) {
    if (!format->is_object()) return wrongType("response_format", "an object", *format);
    request.responseFormat = *format;
  }
  if (auto e = json_util::readString(body, "user", "", request.user, false)) return e;
  std::optional<int64_t> n;
  if (auto e = json_util::readInt(body, "n", "", n, 1)) return e;
  return std::nullopt;
}

// ---- neutral -> OpenAI body --------------------------------------------------

// A string when the content is one text part, else an array of parts.
json::value encodeContent(const std::vector<ContentPart>& content, bool images) {
  if (content.size() == 1 && content.front().kind == ContentPart::Kind::Text) {
    return json::string(content.front().text);
  }
  json::array parts;
  for (const auto& part : content) {
    if (part.kind == ContentPart::Kind::Text) {
      parts.push_back(json::object{{"type", "text"}, {"text", part.text}});
    } else if (images) {
      parts.push_back(json::object{{"type", "image_url"}, {"image_url", json::object{{"url", part.imageUrl}}}});
    }
  }
  return parts;
}

json::object encodeMessage(const Message& message) {
  json::object out;
  switch (message.role) {
    case Role::User:
      out["role"] = "user";
      out["content"] = encodeContent(message.content, true);
      break;
    case Role::Assistant: {
      out["role"] = "assistant";
      bool hasText = false;
      for (const auto& part : message.content) hasText |= part.kind == ContentPart::Kind::Text;
      if (hasText || message.toolCalls.empty()) {
        out["content"] = encodeContent(message.content, false);
      } else {
        out["content"] = nullptr;
      }
      if (!message.toolCalls.empty()) {
        json::array calls;
        for (const auto& call : message.toolCalls) {
          calls.push_back(json::object{
              {"id", call.id},
              {"type", "function"},
              {"function",
               json::object{{"name", call.name}, {"arguments", call.arguments.empty() ? "{}" : call.arguments}}},
          });
        }
        out["tool_calls"] = std::move(calls);
      }
      break;
    }
    case Role::Tool: {
      out["role"] = "tool";
      out["tool_call_id"] = message.toolCallId;
      // Tool messages carry text only; an image in a tool result cannot travel.
      std::string text = joinText(message.content, "\n");
      if (message.toolError) text = "Error: " + text;
      out["content"] = std::move(text);
      break;
    }
  }
  return out;
}

json::value toolChoiceValue(const core::ToolChoice& choice) {
  switch (choice.kind) {
    case core::ToolChoice::Kind::Auto: return json::string("auto");
    case core::ToolChoice::Kind::None: return json::string("none");
    case core::ToolChoice::Kind::Required: return json::string("required");
    case core::ToolChoice::Kind::Named:
      return json::object{{"type", "function"}, {"function", json::object{{"name", choice.name}}}};
  }
  return json::string("auto");
}

json::object translateRequest(const core::ChatRequest& request, const std::string& upstreamModel) {
  json::object body;
  body["model"] = upstreamModel;
  json::array messages;
  if (!request.system.empty()) messages.push_back(json::object{{"role", "system"}, {"content", request.system}});
  for (const auto& message : request.messages) messages.push_back(encodeMessage(message));
  body["messages"] = std::move(messages);
  if (!request.tools.empty()) {
    json::array tools;
    for (const auto& tool : request.tools) {
      json::object function{{"name", tool.name}};
      if (!tool.description.empty()) function["description"] = tool.description;
      if (!tool.parameters.is_null()) function["parameters"] = tool.parameters;
      tools.push_back(json::object{{"type", "function"}, {"function", std::move(function)}});
    }
    body["tools"] = std::move(tools);
  }
  if (request.toolChoice) body["tool_choice"] = toolChoiceValue(*request.toolChoice);
  // Anthropic's disable_parallel_tool_use has a direct OpenAI counterpart.
  if (request.format == core::WireFormat::Anthropic && !request.tools.empty()) {
    if (const json::object* choice = json_util::objectAt(request.raw, "tool_choice")) {
      if (const json::value* disable = choice->if_contains("disable_parallel_tool_use");
          disable != nullptr && disable->is_bool() && disable->get_bool()) {
        body["parallel_tool_calls"] = false;
      }
    }
  }
  if (request.maxTokens) body["max_completion_tokens"] = *request.maxTokens;
  if (request.temperature) body["temperature"] = *request.temperature;
  if (request.topP) body["top_p"] = *request.topP;
  if (!request.stop.empty()) {
    json::array stop;
    for (const auto& s : request.stop) stop.push_back(json::string(s));
    body["stop"] = std::move(stop);
  }
  if (request.stream) {
    body["stream"] = true;
    body["stream_options"] = json::object{{"include_usage", true}};
  }
  if (!request.responseFormat.is_null()) body["response_format"] = request.responseFormat;
  if (!request.user.empty()) body["user"] = request.user;
  return body;
}

// ---- answers -----------------------------------------------------------------

core::Result<core::ChatResponse> parseAnswer(std::string_view body) {
  auto parsed = json_util::parseObject(body, core::ErrorKind::UpstreamError, "upstream answer");
  if (!parsed) return parsed.error();
  const json::object& answer = *parsed;
  if (field(answer, "error") != nullptr) {
    return core::makeError(core::ErrorKind::UpstreamError,
                           "upstream answered with an error: " + json_util::errorMessageFromBody(body));
  }
  const json::array* choices = json_util::arrayAt(answer, "choices");
  if (choices == nullptr)
    return core::makeError(core::ErrorKind::UpstreamError, "upstream answer has no choices array");
  core::ChatResponse response;
  response.id = json_util::stringAt(answer, "id");
  response.model = json_util::stringAt(answer, "model");
  response.created = json_util::intAt(answer, "created");
  // Only the first choice crosses formats; n > 1 is served by passthrough.
  const json::object* choice = nullptr;
  for (const auto& c : *choices) {
    const json::object* candidate = c.if_object();
    if (candidate == nullptr) continue;
    if (json_util::intAt(*candidate, "index") == 0) {
      choice = candidate;
      break;
    }
  }
  if (choice != nullptr) {
    if (const json::object* message = json_util::objectAt(*choice, "message")) {
      if (const json::value* content = message->if_contains("content")) {
        if (content->is_string()) {
          response.text = std::string(content->get_string());
        } else if (const json::array* parts = content->if_array()) {
          for (const auto& part : *parts) {
            if (const json::object* p = part.if_object()) response.text += json_util::stringAt(*p, "text");
          }
        }
      }
      if (response.text.empty()) response.text = json_util::stringAt(*message, "refusal");
      if (const json::array* calls = json_util::arrayAt(*message, "tool_calls")) {
        for (const auto& c : *calls) {
          const json::object* call = c.if_object();
          if (call == nullptr) continue;
          const json::object* function = json_util::objectAt(*call, "function");
          if (function == nullptr) continue;
          response.toolCalls.push_back(core::ToolCall{json_util::stringAt(*call, "id"),
                                                      json_util::stringAt(*function, "name"),
                                                      json_util::stringAt(*function, "arguments")});
        }
      }
    }
    response.finish = parseFinishReason(json_util::stringAt(*choice, "finish_reason"));
  }
  if (const json::object* usage = json_util::objectAt(answer, "usage")) response.usage = parseUsage(*usage);
  return response;
}

json::object encodeAnswer(const core::ChatResponse& response) {
  json::object message{{"role", "assistant"}};
  if (response.text.empty() && !response.toolCalls.empty()) {
    message["content"] = nullptr;
  } else {
    message["content"] = response.text;
  }
  message["refusal"] = nullptr;
  if (!response.toolCalls.empty()) {
    json::array calls;
    for (const auto& call : response.toolCalls) {
      calls.push_back(json::object{
          {"id", call.id.empty() ? json_util::generateId("call_") : call.id},
          {"type", "function"},
          {"function",
           json::object{{"name", call.name}, {"arguments", call.arguments.empty() ? "{}" : call.arguments}}},
      });
    }
    message["tool_calls"] = std::move(calls);
  }
  json::object choice{{"index", 0}, {"message", std::move(message)}, {"logprobs", nullptr}};
  choice["finish_reason"] = finishReasonName(response.finish);
  json::object body{
      {"id", response.id.empty() ? json_util::generateId("chatcmpl-") : response.id},
      {"object", "chat.completion"},
      {"created", response.created != 0 ? response.created : json_util::nowSeconds()},
      {"model", response.model},
      {"choices", json::array{std::move(choice)}},
  };
  if (response.usage) body["usage"] = encodeUsage(*response.usage);
  return body;
}

class OpenAICodec final : public Codec {
 public:
  core::WireFormat format() const override { return core::WireFormat::OpenAI; }

  core::Result<core::ChatRequest> parseRequest(std::string_view body) const override {
    auto parsed = json_util::parseObject(body, core::ErrorKind::InvalidRequest);
    if (!parsed) return parsed.error();
    core::ChatRequest request;
    request.format = core::WireFormat::OpenAI;
    if (auto e = parseBody(*parsed, request)) return *e;
    request.raw = std::move(*parsed);
    request.rawText.assign(body);
    return request;
  }

  std::string encodeRequest(const core::ChatRequest& request, const std::string& upstreamModel) const override {
    if (request.format != core::WireFormat::OpenAI || request.raw.empty()) {
      return json_util::serialize(translateRequest(request, upstreamModel));
    }
    json::value model(upstreamModel);
    if (!request.stream) {
      if (auto spliced = json_util::spliceWith(request.raw, request.rawText, {{"model", &model}})) {
        return std::move(*spliced);
      }
      return json_util::serializeWith(request.raw, {{"model", &model}});
    }
    // The gateway always needs usage; the caller's own wish stays in request.includeUsage.
    const json::object* given = json_util::objectAt(request.raw, "stream_options");
    json::value options(given != nullptr ? *given : json::object{});
    options.get_object()["include_usage"] = true;
    if (auto spliced =
            json_util::spliceWith(request.raw, request.rawText, {{"model", &model}, {"stream_options", &options}})) {
      return std::move(*spliced);
    }
    return json_util::serializeWith(request.raw, {{"model", &model}, {"stream_options", &options}});
  }

  core::Result<core::ChatResponse> parseResponse(std::string_view body) const override { return parseAnswer(body); }
  core::Result<std::optional<core::Usage>> parseResponseUsage(std::string_view body) const override {
    return fast_json::usageOfAnswer(body, &parseUsage);
  }

  std::string encodeResponse(const core::ChatResponse& response) const override {
    return json_util::serialize(encodeAnswer(response));
  }

  std::string encodeError(const core::Error& error) const override { return json_util::serialize(errorObject(error)); }

  std::string parseErrorMessage(std::string_view body) const override { return json_util::errorMessageFromBody(body); }

  std::unique_ptr<StreamDecoder> makeStreamDecoder() const override { return openai::makeStreamDecoder(); }

  std::unique_ptr<StreamEncoder> makeStreamEncoder(const core::ChatRequest& request) const override {
    return openai::makeStreamEncoder(request);
  }
};

}  // namespace

const Codec& codec() {
  static const OpenAICodec instance;
  return instance;
}

namespace {

// One reader for both JSON libraries: Boost.JSON where the whole answer is
// decoded, simdjson where only the usage of a passed-through answer is read.
// scanUsage() below reads the same fields from the text: change both together.
template <class Object>
core::Usage readUsage(const Object& usage) {
  using fast_json::intAt;
  using fast_json::objectAt;
  using json_util::intAt;
  using json_util::objectAt;
  core::Usage out;
  out.inputTokens = intAt(usage, "prompt_tokens");
  out.outputTokens = intAt(usage, "completion_tokens");
  if (auto details = objectAt(usage, "prompt_tokens_details")) {
    out.cachedReadTokens = intAt(*details, "cached_tokens");
    out.cacheWriteTokens = intAt(*details, "cache_write_tokens");
  }
  if (auto details = objectAt(usage, "completion_tokens_details")) {
    out.reasoningTokens = intAt(*details, "reasoning_tokens");
  }
  return out;
}

}  // namespace

core::Usage parseUsage(const json::object& usage) { return readUsage(usage); }
core::Usage parseUsage(const fast_json::Object& usage) { return readUsage(usage); }

namespace {

// A plain non-negative integer literal (what every usage count is), capped
// as intAt() caps it; false for anything else (null, a sign, a fraction,
// an exponent, a string), which parseUsage then reads by its own rules.
bool plainCount(std::string_view value, int64_t& out) {
  if (value.empty() || value.size() > 15) return false;
  int64_t n = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
  }
  out = std::min(n, json_util::kMaxUpstreamInt);
  return true;
}

}  // namespace

// The fields readUsage() reads, from the text: a reader that must agree
// with it (change both together).
std::optional<core::Usage> scanUsage(std::string_view usage) {
  core::Usage out;
  unsigned seen = 0;
  auto first = [&](unsigned bit) {  // a repeated key: parseUsage decides which one counts
    bool fresh = (seen & bit) == 0;
    seen |= bit;
    return fresh;
  };
  auto take = [&](unsigned bit, std::string_view value, int64_t& into) { return first(bit) && plainCount(value, into); };
  auto details = [&](std::string_view value, auto&& onMember) {
    if (value == "null") return true;
    return json_scan::forEachMember(value, [&](std::string_view key, size_t begin, size_t end) {
      return onMember(key, value.substr(begin, end - begin));
    }) != std::string_view::npos;
  };
  size_t close = json_scan::forEachMember(usage, [&](std::string_view key, size_t begin, size_t end) {
    std::string_view value = usage.substr(begin, end - begin);
    if (key == "prompt_tokens") return take(1, value, out.inputTokens);
    if (key == "completion_tokens") return take(2, value, out.outputTokens);
    if (key == "prompt_tokens_details") {
      return first(4) && details(value, [&](std::string_view k, std::string_view v) {
        if (k == "cached_tokens") return take(8, v, out.cachedReadTokens);
        if (k == "cache_write_tokens") return take(16, v, out.cacheWriteTokens);
        return k.find('\\') == std::string_view::npos;
      });
    }
    if (key == "completion_tokens_details") {
      return first(32) && details(value, [&](std::string_view k, std::string_view v) {
        if (k == "reasoning_tokens") return take(64, v, out.reasoningTokens);
        return k.find('\\') == std::string_view::npos;
      });
    }
    return key.find('\\') == std::string_view::npos;  // an escaped key might spell one of the above
  });
  if (close == std::string_view::npos) return std::nullopt;
  return out;
}

json::object encodeUsage(const core::Usage& usage) {
  json::object prompt{{"cached_tokens", usage.cachedReadTokens}};
  // Not an OpenAI field: OpenAI has no cache writes to report. Sent (as
  // OpenRouter does) only when an upstream reported some, so none is lost.
  if (usage.cacheWriteTokens > 0) prompt["cache_write_tokens"] = usage.cacheWriteTokens;
  return json::object{
      {"prompt_tokens", usage.inputTokens},
      {"completion_tokens", usage.outputTokens},
      {"total_tokens", usage.inputTokens + usage.outputTokens},
      {"prompt_tokens_details", std::move(prompt)},
      {"completion_tokens_details", json::object{{"reasoning_tokens", usage.reasoningTokens}}},
  };
}

core::FinishReason parseFinishReason(std::string_view reason) {
  if (reason == "stop") return core::FinishReason::Stop;
  if (reason == "length") return core::FinishReason::Length;
  if (reason == "tool_calls" || reason == "function_call") return core::FinishReason::ToolCalls;
  if (reason == "content_filter") return core::FinishReason::ContentFilter;
  return core::FinishReason::Unknown;
}

const char* finishReasonName(core::FinishReason reason) {
  switch (reason) {
    case core::FinishReason::Stop: return "stop";
    case core::FinishReason::Length: return "length";
    case core::FinishReason::ToolCalls: return "tool_calls";
    case core::FinishReason::ContentFilter: return "content_filter";
    case core::FinishReason::Unknown: return "stop";
  }
  return "stop";
}

json::object errorObject(const core::Error& error) {
  json::object inner{{"message", error.message.empty() ? std::string("unknown error") : error.message},
                     {"type", core::openAIErrorType(error.kind)}};
  if (error.param.empty()) {
    inner["param"] = nullptr;
  } else {
    inner["param"] = error.param;
  }
  switch (error.kind) {
    case core::ErrorKind::NotFound: inner["code"] = "model_not_found"; break;
    case core::ErrorKind::RateLimited: inner["code"] = "rate_limit_exceeded"; break;
    default: inner["code"] = nullptr; break;
  }
  return json::object{{"error", std::move(inner)}};
}

}  // namespace arbitra::api::openai
