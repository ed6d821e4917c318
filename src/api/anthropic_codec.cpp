// Anthropic Messages <-> neutral types: request parsing (strict, every error
// names its field), request encoding (raw passthrough for Anthropic callers,
// translation from the neutral fields for OpenAI ones), whole answers and
// error bodies. The streaming half lives in anthropic_stream.cpp.
//
// Shape differences the translation bridges:
//   - tool results are blocks inside a user message here, separate role
//     "tool" messages in the neutral form: a user message holding text and
//     tool_result blocks parses into several neutral messages, in order; on
//     the way back consecutive tool messages (and a user message right after
//     them) merge into ONE user message, tool_result blocks first as the API
//     requires;
//   - tool_use input is an object, neutral arguments are JSON text;
//     unparsable arguments travel as {"_raw": text};
//   - max_tokens is required here: 4096 when an OpenAI caller gave none;
//   - temperature is 0..1 here, 0..2 for OpenAI: clamped to 1;
//   - OpenAI's response_format has no Messages counterpart and is dropped;
//   - OpenAI's parallel_tool_calls:false becomes disable_parallel_tool_use.
#include "api/anthropic_codec.h"

#include <algorithm>

#include <boost/json.hpp>

#include "api/json_util.h"

namespace arbitra::api::anthropic {
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

constexpr int64_t kDefaultMaxTokens = 4096;

// ---- request parsing ---------------------------------------------------------

std::string blockType(const json::object& block) {
  return json_util::stringAt(block, "type");
}

// An image block's source -> a neutral image part. Sources other than base64
// and url (e.g. file ids) have no neutral form: `out` stays empty.
MaybeError parseImage(const json::object& block, const std::string& path, std::optional<ContentPart>& out) {
  std::string sourcePath = joinPath(path, "source");
  const json::value* value = field(block, "source");
  if (value == nullptr) return invalid(sourcePath, "required");
  const json::object* source = value->if_object();
  if (source == nullptr) return wrongType(sourcePath, "an object", *value);
  std::string type;
  if (auto e = json_util::readString(*source, "type", sourcePath, type, true)) return e;
  ContentPart image;
  image.kind = ContentPart::Kind::Image;
  if (type == "base64") {
    std::string mediaType;
    std::string data;
    if (auto e = json_util::readString(*source, "media_type", sourcePath, mediaType, true)) return e;
    if (auto e = json_util::readString(*source, "data", sourcePath, data, true)) return e;
    image.imageUrl = "data:" + mediaType + ";base64," + data;
  } else if (type == "url") {
    if (auto e = json_util::readString(*source, "url", sourcePath, image.imageUrl, true)) return e;
  } else {
    return std::nullopt;
  }
  out = std::move(image);
  return std::nullopt;
}

MaybeError parseText(const json::object& block, const std::string& path, std::vector<ContentPart>& out) {
  ContentPart text;
  if (auto e = json_util::readString(block, "text", path, text.text, true)) return e;
  out.push_back(std::move(text));
  return std::nullopt;
}

// A tool_result's content: a string, or text and image blocks.
MaybeError parseToolResultContent(const json::object& block, const std::string& path, Message& out) {
  std::string contentPath = joinPath(path, "content");
  const json::value* content = field(block, "content");
  if (content == nullptr) return std::nullopt;
  if (content->is_string()) {
    out.content.push_back(ContentPart{ContentPart::Kind::Text, std::string(content->get_string()), {}});
    return std::nullopt;
  }
  const json::array* blocks = content->if_array();
  if (blocks == nullptr) return wrongType(contentPath, "a string or an array of content blocks", *content);
  for (size_t i = 0; i < blocks->size(); ++i) {
    std::string itemPath = indexPath(contentPath, i);
    const json::object* item = (*blocks)[i].if_object();
    if (item == nullptr) return wrongType(itemPath, "a content block object", (*blocks)[i]);
    std::string type;
    if (auto e = json_util::readString(*item, "type", itemPath, type, true)) return e;
    if (type == "text") {
      if (auto e = parseText(*item, itemPath, out.content)) return e;
    } else if (type == "image") {
      std::optional<ContentPart> image;
      if (auto e = parseImage(*item, itemPath, image)) return e;
      if (image) out.content.push_back(std::move(*image));
    }
  }
  return std::nullopt;
}

// One message; a user message may become several neutral ones (text runs and
// tool results, in order).
MaybeError parseMessage(const json::value& value, const std::string& path, core::ChatRequest& request) {
  const json::object* message = value.if_object();
  if (message == nullptr) return wrongType(path, "a message object", value);
  std::string role;
  if (auto e = json_util::readString(*message, "role", path, role, true)) return e;
  bool assistant = role == "assistant";
  if (!assistant && role != "user") {
    return invalid(joinPath(path, "role"),
                   "expected \"user\" or \"assistant\" (got \"" + json_util::truncateUtf8(role, 40) + "\")");
  }
  std::string contentPath = joinPath(path, "content");
  const json::value* content = field(*message, "content");
  if (content == nullptr) return invalid(contentPath, "required");

  Message pending;
  pending.role = assistant ? Role::Assistant : Role::User;
  if (content->is_string()) {
    pending.content.push_back(ContentPart{ContentPart::Kind::Text, std::string(content->get_string()), {}});
    request.messages.push_back(std::move(pending));
    return std::nullopt;
  }
  const json::array* blocks = content->if_array();
  if (blocks == nullptr) return wrongType(contentPath, "a string or an array", *content);

  size_t emitted = 0;
  auto flush = [&] {
    if (pending.content.empty() && pending.toolCalls.empty()) return;
    request.messages.push_back(std::move(pending));
    pending = Message{};
    pending.role = assistant ? Role::Assistant : Role::User;
    ++emitted;
  };
  for (size_t i = 0; i < blocks->size(); ++i) {
    std::string blockPath = indexPath(contentPath, i);
    const json::object* block = (*blocks)[i].if_object();
    if (block == nullptr) return wrongType(blockPath, "a content block object", (*blocks)[i]);
    std::string type;
    if (auto e = json_util::readString(*block, "type", blockPath, type, true)) return e;
    if (type == "text") {
      if (auto e = parseText(*block, blockPath, pending.content)) return e;
    } else if (type == "image") {
      std::optional<ContentPart> image;
      if (auto e = parseImage(*block, blockPath, image)) return e;
      if (image) pending.content.push_back(std::move(*image));
    } else if (type == "tool_use") {
      if (!assistant)
        return invalid(joinPath(blockPath, "type"), "tool_use blocks are only allowed in assistant messages");
      core::ToolCall call;
      if (auto e = json_util::readString(*block, "id", blockPath, call.id, true)) return e;
      if (auto e = json_util::readString(*block, "name", blockPath, call.name, true)) return e;
      const json::value* input = field(*block, "input");
      if (input == nullptr) return invalid(joinPath(blockPath, "input"), "required");
      if (!input->is_object()) return wrongType(joinPath(blockPath, "input"), "an object", *input);
      call.arguments = json_util::serialize(*input);
      pending.toolCalls.push_back(std::move(call));
    } else if (type == "tool_result") {
      if (assistant)
        return invalid(joinPath(blockPath, "type"), "tool_result blocks are only allowed in user messages");
      Message result;
      result.role = Role::Tool;
      if (auto e = json_util::readString(*block, "tool_use_id", blockPath, result.toolCallId, true)) return e;
      if (auto e = parseToolResultContent(*block, blockPath, result)) return e;
      if (auto e = json_util::readBool(*block, "is_error", blockPath, result.toolError)) return e;
      flush();
      request.messages.push_back(std::move(result));
      ++emitted;
    }
    // thinking, redacted_thinking, document, server tool blocks...: no
    // neutral form; they reach Anthropic upstreams through `raw`.
  }
  flush();
  if (emitted == 0) request.messages.push_back(std::move(pending));  // keep the turn, even if empty
  return std::nullopt;
}

MaybeError parseSystem(const json::object& body, core::ChatRequest& request) {
  const json::value* system = field(body, "system");
  if (system == nullptr) return std::nullopt;
  if (system->is_string()) {
    request.system = std::string(system->get_string());
    return std::nullopt;
  }
  const json::array* blocks = system->if_array();
  if (blocks == nullptr) return wrongType("system", "a string or an array of text blocks", *system);
  for (size_t i = 0; i < blocks->size(); ++i) {
    std::string path = indexPath("system", i);
    const json::object* block = (*blocks)[i].if_object();
    if (block == nullptr) return wrongType(path, "a text block object", (*blocks)[i]);
    std::string type;
    if (auto e = json_util::readString(*block, "type", path, type, true)) return e;
    if (type != "text") return invalid(joinPath(path, "type"), "expected \"text\"");
    std::string text;
    if (auto e = json_util::readString(*block, "text", path, text, true)) return e;
    if (i > 0) request.system += "\n";
    request.system += text;
  }
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
    std::string type = "custom";
    if (auto e = json_util::readString(*tool, "type", path, type, false)) return e;
    if (type != "custom") continue;  // server tools (web_search_..., bash_...): passthrough only
    core::Tool parsed;
    if (auto e = json_util::readString(*tool, "name", path, parsed.name, true)) return e;
    if (auto e = json_util::readString(*tool, "description", path, parsed.description, false)) return e;
    const json::value* schema = field(*tool, "input_schema");
    if (schema == nullptr) return invalid(joinPath(path, "input_schema"), "required");
    if (!schema->is_object()) return wrongType(joinPath(path, "input_schema"), "an object", *schema);
    parsed.parameters = *schema;
    request.tools.push_back(std::move(parsed));
  }
  return std::nullopt;
}

MaybeError parseToolChoice(const json::object& body, core::ChatRequest& request) {
  const json::value* value = field(body, "tool_choice");
  if (value == nullptr) return std::nullopt;
  const json::object* object = value->if_object();
  if (object == nullptr) return wrongType("tool_choice", "an object", *value);
  std::string type;
  if (auto e = json_util::readString(*object, "type", "tool_choice", type, true)) return e;
  core::ToolChoice choice;
  if (type == "auto") {
    choice.kind = core::ToolChoice::Kind::Auto;
  } else if (type == "any") {
    choice.kind = core::ToolChoice::Kind::Required;
  } else if (type == "none") {
    choice.kind = core::ToolChoice::Kind::None;
  } else if (type == "tool") {
    choice.kind = core::ToolChoice::Kind::Named;
    if (auto e = json_util::readString(*object, "name", "tool_choice", choice.name, true)) return e;
  } else {
    return invalid("tool_choice.type", "expected \"auto\", \"any\", \"tool\" or \"none\"");
  }
  bool disableParallel = false;
  if (auto e = json_util::readBool(*object, "disable_parallel_tool_use", "tool_choice", disableParallel)) return e;
  request.toolChoice = choice;
  return std::nullopt;
}

MaybeError parseBody(const json::object& body, core::ChatRequest& request) {
  if (auto e = json_util::readString(body, "model", "", request.model, true)) return e;
  if (request.model.empty()) return invalid("model", "must not be empty");
  if (auto e = json_util::readInt(body, "max_tokens", "", request.maxTokens, 1)) return e;
  if (!request.maxTokens) return invalid("max_tokens", "required");

  const json::value* messages = field(body, "messages");
  if (messages == nullptr) return invalid("messages", "required");
  if (!messages->is_array()) return wrongType("messages", "an array", *messages);
  if (messages->get_array().empty()) return invalid("messages", "must contain at least one message");
  for (size_t i = 0; i < messages->get_array().size(); ++i) {
    if (auto e = parseMessage(messages->get_array()[i], indexPath("messages", i), request)) return e;
  }

  if (auto e = parseSystem(body, request)) return e;
  if (auto e = parseTools(body, request)) return e;
  if (auto e = parseToolChoice(body, request)) return e;
  if (auto e = json_util::readNumber(body, "temperature", "", request.temperature)) return e;
  if (auto e = json_util::readNumber(body, "top_p", "", request.topP)) return e;
  if (auto e = json_util::readInt(body, "top_k", "", request.topK, 0)) return e;
  if (const json::value* stops = field(body, "stop_sequences")) {
    if (!stops->is_array()) return wrongType("stop_sequences", "an array of strings", *stops);
    for (size_t i = 0; i < stops->get_array().size(); ++i) {
      const json::value& stop = stops->get_array()[i];
      if (!stop.is_string()) return wrongType(indexPath("stop_sequences", i), "a string", stop);
      request.stop.emplace_back(stop.get_string());
    }
  }
  if (auto e = json_util::readBool(body, "stream", "", request.stream)) return e;
  if (const json::value* metadata = field(body, "metadata")) {
    if (!metadata->is_object()) return wrongType("metadata", "an object", *metadata);
    if (auto e = json_util::readString(metadata->get_object(), "user_id", "metadata", request.user, false)) return e;
  }
  return std::nullopt;
}

// ---- neutral -> Anthropic body -----------------------------------------------

json::object imageBlock(const std::string& url) {
  if (auto data = json_util::parseDataUrl(url)) {
    return json::object{
        {"type", "image"},
        {"source", json::object{{"type", "base64"}, {"media_type", data->mediaType}, {"data", data->data}}}};
  }
  return json::object{{"type", "image"}, {"source", json::object{{"type", "url"}, {"url", url}}}};
}

// Text (non-empty: the API refuses empty text blocks) and image blocks.
json::array contentBlocks(const std::vector<ContentPart>& content) {
  json::array blocks;
  for (const auto& part : content) {
    if (part.kind == ContentPart::Kind::Image) {
      blocks.push_back(imageBlock(part.imageUrl));
    } else if (!part.text.empty()) {
      blocks.push_back(json::object{{"type", "text"}, {"text", part.text}});
    }
  }
  return blocks;
}

json::object toolResultBlock(const Message& message) {
  json::object block{{"type", "tool_result"}, {"tool_use_id", message.toolCallId}};
  if (message.content.size() == 1 && message.content.front().kind == ContentPart::Kind::Text) {
    block["content"] = message.content.front().text;
  } else if (!message.content.empty()) {
    block["content"] = contentBlocks(message.content);
  }
  if (message.toolError) block["is_error"] = true;
  return block;
}

json::array translateMessages(const std::vector<Message>& messages) {
  json::array out;
  // True while the last message in `out` is a user message of tool_result
  // blocks only: more results, then at most one user message, join it.
  bool openResults = false;
  for (const auto& message : messages) {
    switch (message.role) {
      case Role::Tool: {
        if (!openResults) {
          out.push_back(json::object{{"role", "user"}, {"content", json::array{}}});
          openResults = true;
        }
        out.back().get_object()["content"].get_array().push_back(toolResultBlock(message));
        break;
      }
      case Role::User: {
        json::array blocks = contentBlocks(message.content);
        if (openResults) {
          auto& content = out.back().get_object()["content"].get_array();
          for (auto& block : blocks) content.push_back(std::move(block));
          openResults = false;
          break;
        }
        json::object user{{"role", "user"}};
        if (blocks.empty()) {
          user["content"] = "";  // nothing sendable; let the upstream judge the empty turn
        } else {
          user["content"] = std::move(blocks);
        }
        out.push_back(std::move(user));
        break;
      }
      case Role::Assistant: {
        openResults = false;
        json::array blocks = contentBlocks(message.content);
        for (const auto& call : message.toolCalls) {
          blocks.push_back(json::object{{"type", "tool_use"},
                                        {"id", call.id.empty() ? json_util::generateId("toolu_") : call.id},
                                        {"name", call.name},
                                        {"input", json_util::argumentsToObject(call.arguments)}});
        }
        // An assistant turn with nothing in it is refused by the API; dropping
        // it lets the surrounding user turns merge, as the API itself does.
        if (blocks.empty()) break;
        out.push_back(json::object{{"role", "assistant"}, {"content", std::move(blocks)}});
        break;
      }
    }
  }
  return out;
}

json::object translateRequest(const core::ChatRequest& request, const std::string& upstreamModel) {
  json::object body;
  body["model"] = upstreamModel;
  body["max_tokens"] = request.maxTokens.value_or(kDefaultMaxTokens);
  if (!request.system.empty()) body["system"] = request.system;
  body["messages"] = translateMessages(request.messages);
  if (!request.tools.empty()) {
    json::array tools;
    for (const auto& tool : request.tools) {
      json::object out{{"name", tool.name}};
      if (!tool.description.empty()) out["description"] = tool.description;
      if (tool.parameters.is_object()) {
        out["input_schema"] = tool.parameters;
      } else {
        out["input_schema"] = json::object{{"type", "object"}, {"properties", json::object{}}};
      }
      tools.push_back(std::move(out));
    }
    body["tools"] = std::move(tools);
  }
  std::optional<json::object> choice;
  if (request.toolChoice) {
    switch (request.toolChoice->kind) {
      case core::ToolChoice::Kind::Auto: choice = json::object{{"type", "auto"}}; break;
      case core::ToolChoice::Kind::None: choice = json::object{{"type", "none"}}; break;
      case core::ToolChoice::Kind::Required: choice = json::object{{"type", "any"}}; break;
      case core::ToolChoice::Kind::Named:
        choice = json::object{{"type", "tool"}, {"name", request.toolChoice->name}};
        break;
    }
  }
  if (request.format == core::WireFormat::OpenAI && !request.tools.empty()) {
    const json::value* parallel = request.raw.if_contains("parallel_tool_calls");
    if (parallel != nullptr && parallel->is_bool() && !parallel->get_bool()) {
      if (!choice) choice = json::object{{"type", "auto"}};
      if (json_util::stringAt(*choice, "type") != "none") (*choice)["disable_parallel_tool_use"] = true;
    }
  }
  if (choice) body["tool_choice"] = std::move(*choice);
  if (request.temperature) body["temperature"] = std::clamp(*request.temperature, 0.0, 1.0);
  if (request.topP) body["top_p"] = *request.topP;
  if (request.topK) body["top_k"] = *request.topK;
  if (!request.stop.empty()) {
    json::array stops;
    for (const auto& stop : request.stop) stops.push_back(json::string(stop));
    body["stop_sequences"] = std::move(stops);
  }
  if (request.stream) body["stream"] = true;
  if (!request.user.empty()) body["metadata"] = json::object{{"user_id", request.user}};
  // request.responseFormat: no Messages counterpart (structured output there
  // goes through tools), so it is dropped.
  return body;
}

// ---- answers -----------------------------------------------------------------

core::Result<core::ChatResponse> parseAnswer(std::string_view body) {
  auto parsed = json_util::parseObject(body, core::ErrorKind::UpstreamError, "upstream answer");
  if (!parsed) return parsed.error();
  const json::object& answer = *parsed;
  if (json_util::stringAt(answer, "type") == "error") {
    return core::makeError(core::ErrorKind::UpstreamError,
                           "upstream answered with an error: " + json_util::errorMessageFromBody(body));
  }
  const json::array* content = json_util::arrayAt(answer, "content");
  if (content == nullptr)
    return core::makeError(core::ErrorKind::UpstreamError, "upstream answer has no content array");
  core::ChatResponse response;
  response.id = json_util::stringAt(answer, "id");
  response.model = json_util::stringAt(answer, "model");
  for (const auto& value : *content) {
    const json::object* block = value.if_object();
    if (block == nullptr) continue;
    std::string type = blockType(*block);
    if (type == "text") {
      response.text += json_util::stringAt(*block, "text");
    } else if (type == "tool_use") {
      core::ToolCall call{json_util::stringAt(*block, "id"), json_util::stringAt(*block, "name"), "{}"};
      if (const json::value* input = block->if_contains("input")) call.arguments = json_util::serialize(*input);
      response.toolCalls.push_back(std::move(call));
    }
  }
  response.finish = parseStopReason(json_util::stringAt(answer, "stop_reason"));
  if (const json::object* usage = json_util::objectAt(answer, "usage")) response.usage = parseUsage(*usage);
  return response;
}

json::object encodeAnswer(const core::ChatResponse& response) {
  json::array content;
  if (!response.text.empty()) content.push_back(json::object{{"type", "text"}, {"text", response.text}});
  for (const auto& call : response.toolCalls) {
    content.push_back(json::object{{"type", "tool_use"},
                                   {"id", call.id.empty() ? json_util::generateId("toolu_") : call.id},
                                   {"name", call.name},
                                   {"input", json_util::argumentsToObject(call.arguments)}});
  }
  return json::object{
      {"id", response.id.empty() ? json_util::generateId("msg_") : response.id},
      {"type", "message"},
      {"role", "assistant"},
      {"model", response.model},
      {"content", std::move(content)},
      {"stop_reason", stopReasonName(response.finish)},
      {"stop_sequence", nullptr},
      {"usage", encodeUsage(response.usage.value_or(core::Usage{}))},
  };
}

class AnthropicCodec final : public Codec {
 public:
  core::WireFormat format() const override { return core::WireFormat::Anthropic; }

  core::Result<core::ChatRequest> parseRequest(std::string_view body) const override {
    auto parsed = json_util::parseObject(body, core::ErrorKind::InvalidRequest);
    if (!parsed) return parsed.error();
    core::ChatRequest request;
    request.format = core::WireFormat::Anthropic;
    if (auto e = parseBody(*parsed, request)) return *e;
    request.raw = std::move(*parsed);
    request.rawText.assign(body);
    return request;
  }

  std::string encodeRequest(const core::ChatRequest& request, const std::string& upstreamModel) const override {
    if (request.format != core::WireFormat::Anthropic || request.raw.empty()) {
      return json_util::serialize(translateRequest(request, upstreamModel));
    }
    json::value model(upstreamModel);
    if (auto spliced = json_util::spliceWith(request.raw, request.rawText, {{"model", &model}})) {
      return std::move(*spliced);
    }
    return json_util::serializeWith(request.raw, {{"model", &model}});
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

  std::unique_ptr<StreamDecoder> makeStreamDecoder() const override { return anthropic::makeStreamDecoder(); }

  std::unique_ptr<StreamEncoder> makeStreamEncoder(const core::ChatRequest& request) const override {
    return anthropic::makeStreamEncoder(request);
  }
};

}  // namespace

const Codec& codec() {
  static const AnthropicCodec instance;
  return instance;
}

namespace {

// One reader for both JSON libraries: Boost.JSON where the whole answer is
// decoded, simdjson where only the usage of a passed-through answer is read.
template <class Object>
core::Usage readUsage(const Object& usage) {
  using fast_json::intAt;
  using json_util::intAt;
  core::Usage out;
  out.cachedReadTokens = intAt(usage, "cache_read_input_tokens");
  out.cacheWriteTokens = intAt(usage, "cache_creation_input_tokens");
  out.inputTokens = intAt(usage, "input_tokens") + out.cachedReadTokens + out.cacheWriteTokens;
  out.outputTokens = intAt(usage, "output_tokens");
  return out;
}

}  // namespace

core::Usage parseUsage(const json::object& usage) { return readUsage(usage); }
core::Usage parseUsage(const fast_json::Object& usage) { return readUsage(usage); }

json::object encodeUsage(const core::Usage& usage) {
  int64_t uncached = std::max<int64_t>(0, usage.inputTokens - usage.cachedReadTokens - usage.cacheWriteTokens);
  return json::object{
      {"input_tokens", uncached},
      {"cache_creation_input_tokens", usage.cacheWriteTokens},
      {"cache_read_input_tokens", usage.cachedReadTokens},
      {"output_tokens", usage.outputTokens},
  };
}

core::FinishReason parseStopReason(std::string_view reason) {
  if (reason == "end_turn" || reason == "stop_sequence" || reason == "pause_turn") return core::FinishReason::Stop;
  if (reason == "max_tokens" || reason == "model_context_window_exceeded") return core::FinishReason::Length;
  if (reason == "tool_use") return core::FinishReason::ToolCalls;
  if (reason == "refusal") return core::FinishReason::ContentFilter;
  return core::FinishReason::Unknown;
}

const char* stopReasonName(core::FinishReason reason) {
  switch (reason) {
    case core::FinishReason::Stop: return "end_turn";
    case core::FinishReason::Length: return "max_tokens";
    case core::FinishReason::ToolCalls: return "tool_use";
    case core::FinishReason::ContentFilter: return "refusal";
    case core::FinishReason::Unknown: return "end_turn";
  }
  return "end_turn";
}

json::object errorObject(const core::Error& error) {
  return json::object{
      {"type", "error"},
      {"error", json::object{{"type", core::anthropicErrorType(error.kind)},
                             {"message", error.message.empty() ? std::string("unknown error") : error.message}}},
  };
}

}  // namespace arbitra::api::anthropic
