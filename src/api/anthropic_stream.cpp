// Anthropic streaming: Messages SSE events <-> neutral StreamEvents.
//
// Decoder: message_start -> Start (id, model, input-side usage);
// content_block_start of a tool_use -> ToolStart, its toolIndex counting
// tool_use blocks only (0, 1, ...); text_delta -> TextDelta; input_json_delta
// -> ToolArgs; message_delta -> Finish then Usage, the output count from it and
// the input/cache counts from message_start unless message_delta carries its
// own (newer API versions do: cumulative totals); message_stop ends the
// stream; ping and unknown events are ignored; an `error` event is returned as
// an Error (Overloaded for overloaded_error). Garbage is an UpstreamError.
//
// Encoder: message_start (lazily, if no Start came), then content blocks with
// a running index: a text block opens on the first TextDelta and closes when a
// tool starts; each tool call is its own tool_use block fed by
// input_json_delta fragments. Finish and Usage are held back: finish() closes
// the open block and sends message_delta {stop_reason, usage} and
// message_stop, with end_turn when no Finish came. No ping is sent.
#include <map>

#include <boost/json.hpp>

#include "api/anthropic_codec.h"
#include "api/json_scan.h"
#include "api/json_util.h"

namespace arbitra::api::anthropic {
namespace {

namespace json = boost::json;
using core::StreamEvent;
using Kind = core::StreamEvent::Kind;

// Anthropic's own usage fields, kept apart until they are combined.
struct WireUsage {
  int64_t uncached = 0;
  int64_t cacheRead = 0;
  int64_t cacheWrite = 0;
  int64_t output = 0;

  core::Usage neutral() const {
    core::Usage usage;
    usage.inputTokens = uncached + cacheRead + cacheWrite;
    usage.cachedReadTokens = cacheRead;
    usage.cacheWriteTokens = cacheWrite;
    usage.outputTokens = output;
    return usage;
  }
};

// Overwrites the fields `usage` carries (absent or null ones keep their value).
void mergeUsage(const json::object& usage, WireUsage& into) {
  into.uncached = json_util::intAt(usage, "input_tokens", into.uncached);
  into.cacheRead = json_util::intAt(usage, "cache_read_input_tokens", into.cacheRead);
  into.cacheWrite = json_util::intAt(usage, "cache_creation_input_tokens", into.cacheWrite);
  into.output = json_util::intAt(usage, "output_tokens", into.output);
}

class AnthropicStreamDecoder final : public StreamDecoder {
 public:
  core::Result<std::vector<StreamEvent>> decode(std::string_view event, std::string_view data) override {
    std::vector<StreamEvent> out;
    if (finished_) return out;
    if (data.find_first_not_of(" \t\r\n") == std::string_view::npos) return out;  // e.g. a bare ping
    // The event's DOM lives on the stack: what is kept is copied out below.
    unsigned char arena[8 * 1024];
    json::monotonic_resource resource(arena, sizeof arena);
    auto parsed = json_util::parseObject(data, core::ErrorKind::UpstreamError, "stream event", &resource);
    if (!parsed) {
      parsed.error().message = "upstream sent a bad stream event: " + parsed.error().message;
      return parsed.error();
    }
    const json::object& body = *parsed;
    std::string type = json_util::stringAt(body, "type");
    if (type.empty()) type = std::string(event);

    if (type == "message_start") {
      onMessageStart(body, out);
    } else if (type == "content_block_start") {
      onBlockStart(body, out);
    } else if (type == "content_block_delta") {
      onBlockDelta(body, out);
    } else if (type == "message_delta") {
      onMessageDelta(body, out);
    } else if (type == "message_stop") {
      finished_ = true;
    } else if (type == "error") {
      return streamError(body);
    }
    // ping, content_block_stop and future events carry nothing for us.
    return out;
  }

  bool finished() const override { return finished_; }

  // A text delta, {"type":"content_block_delta","index":0,"delta":
  // {"type":"text_delta","text":"..."}}, or a ping: nothing else. Keys are
  // whitelisted (json_scan.h), so thinking, tool input, usage and events
  // this code does not know all go to decode().
  std::optional<Skim> skim(std::string_view event, std::string_view data) override {
    if (finished_) return std::nullopt;
    if (event == "ping") return Skim{};
    if (event != "content_block_delta" && !event.empty()) return std::nullopt;
    Skim skim;
    if (auto textBytes = shape_.match(data)) {
      skim.textBytes = *textBytes;
      skim.token = *textBytes > 0;
      return skim;
    }
    bool textDelta = false;
    int texts = 0;
    size_t open = 0;
    bool plain = json_scan::forEachKey(data, [&](std::string_view key, std::string_view value) {
      std::string_view text;
      if (key == "type") {
        if (!json_scan::stringValue(value, text)) return false;
        textDelta = textDelta || text == "text_delta";
        return text == "content_block_delta" || text == "text_delta";
      }
      if (key == "text") {
        if (!json_scan::stringValue(value, text)) return false;
        skim.textBytes += text.size();
        texts++;
        open = static_cast<size_t>(value.data() - data.data());
        return true;
      }
      return key == "index" || key == "delta";
    });
    if (!plain || !textDelta) return std::nullopt;
    if (texts == 1) shape_.learn(data, open);
    skim.token = skim.textBytes > 0;
    return skim;
  }

 private:
  struct Block {
    bool tool = false;
    int toolIndex = 0;
  };

  void onMessageStart(const json::object& body, std::vector<StreamEvent>& out) {
    const json::object* message = json_util::objectAt(body, "message");
    StreamEvent start;
    start.kind = Kind::Start;
    if (message != nullptr) {
      start.id = json_util::stringAt(*message, "id");
      start.model = json_util::stringAt(*message, "model");
      if (const json::object* usage = json_util::objectAt(*message, "usage")) mergeUsage(*usage, usage_);
    }
    start.usage = usage_.neutral();
    start.usage.outputTokens = 0;  // the input side only; output comes with message_delta
    out.push_back(std::move(start));
  }

  void onBlockStart(const json::object& body, std::vector<StreamEvent>& out) {
    int64_t index = json_util::intAt(body, "index", -1);
    const json::object* block = json_util::objectAt(body, "content_block");
    if (block == nullptr) return;
    std::string type = json_util::stringAt(*block, "type");
    if (type == "text") {
      blocks_[index] = Block{};
      std::string text = json_util::stringAt(*block, "text");
      if (!text.empty()) {
        StreamEvent e;
        e.kind = Kind::TextDelta;
        e.text = std::move(text);
        out.push_back(std::move(e));
      }
    } else if (type == "tool_use") {
      Block tool{true, nextTool_++};
      blocks_[index] = tool;
      StreamEvent e;
      e.kind = Kind::ToolStart;
      e.toolIndex = tool.toolIndex;
      e.toolId = json_util::stringAt(*block, "id");
      e.toolName = json_util::stringAt(*block, "name");
      out.push_back(std::move(e));
      // Streams send input {} and fill it with deltas; a complete input up front is sent whole.
      const json::object* input = json_util::objectAt(*block, "input");
      if (input != nullptr && !input->empty()) {
        StreamEvent args;
        args.kind = Kind::ToolArgs;
        args.toolIndex = tool.toolIndex;
        args.text = json_util::serialize(*input);
        out.push_back(std::move(args));
      }
    } else {
      blocks_.erase(index);  // thinking, server tool blocks: not relayed
    }
  }

  void onBlockDelta(const json::object& body, std::vector<StreamEvent>& out) {
    const json::object* delta = json_util::objectAt(body, "delta");
    if (delta == nullptr) return;
    std::string type = json_util::stringAt(*delta, "type");
    if (type == "text_delta") {
      std::string text = json_util::stringAt(*delta, "text");
      if (text.empty()) return;
      StreamEvent e;
      e.kind = Kind::TextDelta;
      e.text = std::move(text);
      out.push_back(std::move(e));
    } else if (type == "input_json_delta") {
      auto block = blocks_.find(json_util::intAt(body, "index", -1));
      if (block == blocks_.end() || !block->second.tool) return;
      std::string partial = json_util::stringAt(*delta, "partial_json");
      if (partial.empty()) return;
      StreamEvent e;
      e.kind = Kind::ToolArgs;
      e.toolIndex = block->second.toolIndex;
      e.text = std::move(partial);
      out.push_back(std::move(e));
    }
    // thinking_delta, signature_delta, citations_delta: not relayed.
  }

  void onMessageDelta(const json::object& body, std::vector<StreamEvent>& out) {
    if (const json::object* delta = json_util::objectAt(body, "delta")) {
      std::string reason = json_util::stringAt(*delta, "stop_reason");
      if (!reason.empty()) {
        StreamEvent e;
        e.kind = Kind::Finish;
        e.finish = parseStopReason(reason);
        out.push_back(std::move(e));
      }
    }
    if (const json::object* usage = json_util::objectAt(body, "usage")) {
      mergeUsage(*usage, usage_);
      StreamEvent e;
      e.kind = Kind::Usage;
      e.usage = usage_.neutral();
      out.push_back(std::move(e));
    }
  }

  core::Error streamError(const json::object& body) const {
    std::string type = "error";
    std::string message;
    if (const json::object* error = json_util::objectAt(body, "error")) {
      type = json_util::stringAt(*error, "type");
      message = json_util::stringAt(*error, "message");
    }
    auto kind = type == "overloaded_error" ? core::ErrorKind::Overloaded : core::ErrorKind::UpstreamError;
    std::string text = "upstream stream error";
    if (!type.empty()) text += " (" + json_util::truncateUtf8(type, 60) + ")";
    if (!message.empty()) text += ": " + json_util::truncateUtf8(message, 1000);
    return core::makeError(kind, std::move(text));
  }

  bool finished_ = false;
  int nextTool_ = 0;
  std::map<int64_t, Block> blocks_;  // wire block index -> what it holds
  json_scan::Shape shape_;  // the last skimmed text delta's bytes around its text (skim's cache)
  WireUsage usage_;
};

class AnthropicStreamEncoder final : public StreamEncoder {
 public:
  explicit AnthropicStreamEncoder(const core::ChatRequest& request)
      : id_(json_util::generateId("msg_")), model_(request.model) {}

  void encode(const StreamEvent& event, std::string& out) override {
    if (closed_) return;
    switch (event.kind) {
      case Kind::Start:
        if (!started_) {
          if (!event.id.empty()) id_ = event.id;
          startUsage_ = event.usage;
        }
        ensureStarted(out);
        break;
      case Kind::TextDelta:
        ensureStarted(out);
        if (event.text.empty()) break;
        if (!open_ || openTool_) {
          closeBlock(out);
          openBlock(out, json::object{{"type", "text"}, {"text", ""}}, false);
        }
        blockDelta(out, open_.value(), json::object{{"type", "text_delta"}, {"text", event.text}});
        break;
      case Kind::ToolStart:
        ensureStarted(out);
        startTool(out, event.toolIndex, event.toolId, event.toolName);
        break;
      case Kind::ToolArgs: {
        ensureStarted(out);
        if (event.text.empty()) break;
        auto found = toolBlocks_.find(event.toolIndex);
        int64_t index = found != toolBlocks_.end() ? found->second : startTool(out, event.toolIndex, "", "");
        // A fragment for an earlier tool (interleaved calls) goes to that
        // tool's block index; accumulating clients key deltas by index.
        blockDelta(out, index, json::object{{"type", "input_json_delta"}, {"partial_json", event.text}});
        break;
      }
      case Kind::Finish:
        ensureStarted(out);
        closeBlock(out);
        finish_ = event.finish;
        break;
      case Kind::Usage: usage_ = event.usage; break;
    }
  }

  void finish(std::string& out) override {
    if (closed_) return;
    ensureStarted(out);
    closeBlock(out);
    json::object delta{{"stop_reason", stopReasonName(finish_)}, {"stop_sequence", nullptr}};
    json::object usage = encodeUsage(usage_.value_or(startUsage_));
    // Output first, as the API orders it.
    json::object ordered{{"output_tokens", usage["output_tokens"]},
                         {"input_tokens", usage["input_tokens"]},
                         {"cache_creation_input_tokens", usage["cache_creation_input_tokens"]},
                         {"cache_read_input_tokens", usage["cache_read_input_tokens"]}};
    send(out, "message_delta",
         json::object{{"type", "message_delta"}, {"delta", std::move(delta)}, {"usage", std::move(ordered)}});
    send(out, "message_stop", json::object{{"type", "message_stop"}});
    closed_ = true;
  }

  void error(const core::Error& error, std::string& out) override {
    if (closed_) return;
    send(out, "error", errorObject(error));
    closed_ = true;
  }

 private:
  void send(std::string& out, std::string_view name, const json::object& body) {
    json_util::appendSse(out, name, json_util::serialize(body));
  }

  void ensureStarted(std::string& out) {
    if (started_) return;
    started_ = true;
    core::Usage input = startUsage_;
    input.outputTokens = 0;
    json::object message{
        {"id", id_},
        {"type", "message"},
        {"role", "assistant"},
        {"model", model_},
        {"content", json::array{}},
        {"stop_reason", nullptr},
        {"stop_sequence", nullptr},
        {"usage", encodeUsage(input)},
    };
    send(out, "message_start", json::object{{"type", "message_start"}, {"message", std::move(message)}});
  }

  void openBlock(std::string& out, json::object block, bool tool) {
    int64_t index = nextBlock_++;
    send(out, "content_block_start",
         json::object{{"type", "content_block_start"}, {"index", index}, {"content_block", std::move(block)}});
    open_ = index;
    openTool_ = tool;
  }

  void closeBlock(std::string& out) {
    if (!open_) return;
    send(out, "content_block_stop", json::object{{"type", "content_block_stop"}, {"index", *open_}});
    open_.reset();
    openTool_ = false;
  }

  void blockDelta(std::string& out, int64_t index, json::object delta) {
    send(out, "content_block_delta",
         json::object{{"type", "content_block_delta"}, {"index", index}, {"delta", std::move(delta)}});
  }

  // Opens a tool_use block for neutral tool `toolIndex`; returns its block index.
  int64_t startTool(std::string& out, int toolIndex, const std::string& id, const std::string& name) {
    closeBlock(out);
    openBlock(out,
              json::object{{"type", "tool_use"},
                           {"id", id.empty() ? json_util::generateId("toolu_") : id},
                           {"name", name},
                           {"input", json::object{}}},
              true);
    toolBlocks_[toolIndex] = *open_;
    return *open_;
  }

  std::string id_;
  std::string model_;
  bool started_ = false;
  bool closed_ = false;
  std::optional<int64_t> open_;  // the open content block's index
  bool openTool_ = false;
  int64_t nextBlock_ = 0;
  std::map<int, int64_t> toolBlocks_;  // neutral toolIndex -> block index
  core::FinishReason finish_ = core::FinishReason::Stop;
  core::Usage startUsage_;
  std::optional<core::Usage> usage_;
};

}  // namespace

std::unique_ptr<StreamDecoder> makeStreamDecoder() {
  return std::make_unique<AnthropicStreamDecoder>();
}

std::unique_ptr<StreamEncoder> makeStreamEncoder(const core::ChatRequest& request) {
  return std::make_unique<AnthropicStreamEncoder>(request);
}

}  // namespace arbitra::api::anthropic
