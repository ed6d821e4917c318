// Provider-neutral chat types: the one shape every request and response takes
// between the wire codecs (api/) and the upstream adapters (providers/).
//
// Design: plain structs, no I/O, no Beast/Asio. A request parsed from either wire
// format lands here; an upstream of either format is encoded from here. The
// original JSON body is kept (`raw`) so that a same-format upstream receives the
// caller's body untouched, unknown fields included.
//
// Token accounting follows OpenAI's convention, stated once here so every codec
// maps to it:
//   inputTokens   = every prompt token, including cache reads and cache writes
//   outputTokens  = every generated token, including reasoning tokens
// Anthropic reports input_tokens without cache reads/writes; its codec adds them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace arbitra::core {

enum class WireFormat { OpenAI, Anthropic };

const char* toString(WireFormat format);

enum class Role { User, Assistant, Tool };

// A function call the assistant asked for. `arguments` is JSON text, exactly as
// the model produced it (OpenAI keeps it a string; Anthropic an object).
struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments;
};

struct ContentPart {
  enum class Kind { Text, Image };
  Kind kind = Kind::Text;
  std::string text;      // Kind::Text
  std::string imageUrl;  // Kind::Image: http(s) URL or data: URL (base64)
};

struct Message {
  Role role = Role::User;
  std::vector<ContentPart> content;
  std::vector<ToolCall> toolCalls;  // Role::Assistant
  std::string toolCallId;           // Role::Tool: which call this answers
  bool toolError = false;           // Role::Tool: the tool reported failure
};

struct Tool {
  std::string name;
  std::string description;
  boost::json::value parameters;  // JSON Schema object
};

// Neutral tool choice: "auto", "none", "required" (any tool), or a named tool.
struct ToolChoice {
  enum class Kind { Auto, None, Required, Named };
  Kind kind = Kind::Auto;
  std::string name;  // Kind::Named
};

struct ChatRequest {
  WireFormat format = WireFormat::OpenAI;  // the caller's wire format
  std::string model;                       // public model name as asked
  std::string system;                      // system prompt(s), joined by "\n"
  std::vector<Message> messages;
  std::vector<Tool> tools;
  std::optional<ToolChoice> toolChoice;
  std::optional<int64_t> maxTokens;
  std::optional<double> temperature;
  std::optional<double> topP;
  std::optional<int64_t> topK;  // Anthropic only; dropped for OpenAI upstreams
  std::vector<std::string> stop;
  bool stream = false;
  bool includeUsage = false;          // OpenAI stream_options.include_usage
  boost::json::value responseFormat;  // OpenAI response_format, null if absent
  std::string user;                   // end-user id (OpenAI user / Anthropic metadata.user_id)
  boost::json::object raw;            // the caller's body, untouched
  // The caller's body as sent, while `raw` is unedited: a same-format
  // upstream body is spliced from it (json_util::spliceWith). Whatever edits
  // `raw` clears it.
  std::string rawText;
};

enum class FinishReason { Stop, Length, ToolCalls, ContentFilter, Unknown };

struct Usage {
  int64_t inputTokens = 0;       // all prompt tokens (see file comment)
  int64_t outputTokens = 0;      // all generated tokens, reasoning included
  int64_t cachedReadTokens = 0;  // part of inputTokens served from the provider's cache
  int64_t cacheWriteTokens = 0;  // part of inputTokens written to the provider's cache
  int64_t reasoningTokens = 0;   // part of outputTokens spent reasoning
  bool operator==(const Usage&) const = default;
};

struct ChatResponse {
  std::string id;
  std::string model;
  std::string text;
  std::vector<ToolCall> toolCalls;
  FinishReason finish = FinishReason::Unknown;
  std::optional<Usage> usage;  // absent when the upstream did not report it
  int64_t created = 0;         // unix seconds
};

// One step of a streamed answer, in neutral form. Decoders turn upstream SSE
// events into these; encoders turn these into the caller's SSE events.
struct StreamEvent {
  enum class Kind {
    Start,      // id, model, usage (Anthropic reports input tokens up front)
    TextDelta,  // text
    ToolStart,  // toolIndex, toolId, toolName
    ToolArgs,   // toolIndex, text (a fragment of the arguments' JSON text)
    Finish,     // finish
    Usage,      // usage (final counts)
  };
  Kind kind = Kind::TextDelta;
  std::string id;
  std::string model;
  std::string text;
  int toolIndex = 0;
  std::string toolId;
  std::string toolName;
  FinishReason finish = FinishReason::Unknown;
  Usage usage;
};

struct EmbeddingRequest {
  std::string model;
  std::vector<std::string> inputs;
  boost::json::object raw;
};

}  // namespace arbitra::core
