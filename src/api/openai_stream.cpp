// OpenAI streaming: chunks of object "chat.completion.chunk" <-> neutral
// StreamEvents.
//
// Decoder: each `data:` chunk is one JSON object; the first yields Start (id,
// model), choice 0's delta yields TextDelta / ToolStart / ToolArgs, its
// finish_reason Finish, a `usage` object Usage (the include_usage chunk has
// empty choices), and "[DONE]" ends the stream. Anything that is not JSON is
// an UpstreamError, never a crash.
//
// Encoder: one chunk per event, all with the same id/created/model (the
// caller's model name). The first chunk's delta carries role "assistant"; a
// tool call is a header chunk (index, id, type, name, empty arguments) then
// argument fragments in order; Usage is held back and, when the caller asked
// for include_usage, sent at finish() as the choices:[] chunk before [DONE].
#include <algorithm>
#include <map>

#include <boost/json.hpp>

#include "api/fast_json.h"
#include "api/json_scan.h"
#include "api/json_util.h"
#include "api/openai_codec.h"

namespace arbitra::api::openai {
namespace {

namespace json = boost::json;
using core::StreamEvent;
using Kind = core::StreamEvent::Kind;

// The usage of a chunk that is nothing but usage: the include_usage chunk,
// {"id":..,"choices":[],"usage":{...}}. nullopt for anything else.
std::optional<core::Usage> usageOnlyChunk(std::string_view data) {
  std::optional<core::Usage> usage;
  bool seen = false;
  size_t close = json_scan::forEachMember(data, [&](std::string_view key, size_t begin, size_t end) {
    std::string_view value = data.substr(begin, end - begin);
    if (key == "usage") {
      if (seen) return false;
      seen = true;
      usage = scanUsage(value);
      return usage.has_value();
    }
    if (key == "choices") return value.front() == '[' && json_scan::skipSpace(value, 1) == value.size() - 1;
    return key != "error" && key.find('\\') == std::string_view::npos;
  });
  if (close == std::string_view::npos) return std::nullopt;
  return usage;
}

// Bound on tool indexes taken from the wire, so a hostile index cannot make
// the encoders build huge tables.
constexpr int64_t kMaxToolIndex = 1024;

class OpenAIStreamDecoder final : public StreamDecoder {
 public:
  core::Result<std::vector<StreamEvent>> decode(std::string_view event, std::string_view data) override {
    std::vector<StreamEvent> out;
    if (finished_) return out;
    size_t begin = data.find_first_not_of(" \t\r\n");
    if (begin == std::string_view::npos) return out;  // keep-alive or comment-only event
    size_t end = data.find_last_not_of(" \t\r\n");
    data = data.substr(begin, end - begin + 1);
    if (data == "[DONE]") {
      finished_ = true;
      return out;
    }
    // simdjson (fast_json.h): the DOM is this thread's parser's until the
    // next parse; what is kept is copied out below.
    fast_json::Object chunk;
    if (std::string problem = fast_json::parseObject(data, chunk); !problem.empty()) {
      return core::makeError(core::ErrorKind::UpstreamError, "upstream sent a bad stream chunk: invalid JSON: " + problem);
    }
    if (fast_json::has(chunk, "error")) {
      return core::makeError(core::ErrorKind::UpstreamError,
                             "upstream stream error: " + json_util::errorMessageFromBody(data));
    }
    if (!started_) {
      started_ = true;
      StreamEvent start;
      start.kind = Kind::Start;
      start.id = fast_json::stringAt(chunk, "id");
      start.model = fast_json::stringAt(chunk, "model");
      out.push_back(std::move(start));
    }
    if (auto choices = fast_json::arrayAt(chunk, "choices")) {
      for (fast_json::Element value : *choices) {
        fast_json::Object choice;
        // Only choice 0 crosses formats; n > 1 is served by passthrough.
        if (value.get_object().get(choice) != simdjson::SUCCESS || fast_json::intAt(choice, "index") != 0) continue;
        decodeChoice(choice, out);
      }
    }
    if (auto usage = fast_json::objectAt(chunk, "usage")) {
      // Read by the same code as a non-streamed answer's.
      StreamEvent e;
      e.kind = Kind::Usage;
      e.usage = parseUsage(*usage);
      out.push_back(std::move(e));
    }
    return out;
  }

  bool finished() const override { return finished_; }

  // A text delta: {"id":..,"choices":[{"index":0,"delta":{"content":"..."},
  // "finish_reason":null}],...}; also the first chunk (the role, empty
  // content) and a finish (finish_reason a string, empty delta), which a
  // passthrough does not record. One pass over the chunk's keys
  // (json_scan.h): any key that needs decode() (usage that is not null,
  // tool calls, refusal, error) or a content that is neither a string nor
  // null ends the skim.
  std::optional<Skim> skim(std::string_view event, std::string_view data) override {
    (void)event;
    if (finished_) return std::nullopt;
    Skim skim;
    if (auto textBytes = shape_.match(data)) {
      skim.textBytes = *textBytes;
      skim.token = *textBytes > 0;
      return skim;
    }
    int texts = 0;
    size_t open = 0;
    bool finish = false;
    bool usage = false;
    bool plain = json_scan::forEachKey(data, [&](std::string_view key, std::string_view value) {
      bool isNull = value.starts_with("null");
      if (key == "content") {
        std::string_view text;
        if (isNull) return true;
        if (!json_scan::stringValue(value, text)) return false;  // e.g. logprobs' content array
        skim.textBytes += text.size();
        texts++;
        open = static_cast<size_t>(value.data() - data.data());
        return true;
      }
      if (key == "usage") {
        usage = !isNull;
        return isNull;
      }
      if (key == "finish_reason") {
        finish = finish || value.starts_with('"');
        return isNull || value.starts_with('"');
      }
      return key != "tool_calls" && key != "function_call" && key != "refusal" && key != "error";
    });
    if (!plain) {
      if (!usage || !started_) return std::nullopt;
      skim = Skim{};
      skim.usageOnly = usageOnlyChunk(data);
      if (!skim.usageOnly) return std::nullopt;
      return skim;
    }
    started_ = true;
    finishSeen_ = finishSeen_ || finish;
    if (texts == 1) shape_.learn(data, open);
    skim.token = skim.textBytes > 0;
    return skim;
  }

 private:
  struct ToolSlot {
    int index = 0;  // the neutral toolIndex
    std::string id;
  };

  void decodeChoice(const fast_json::Object& choice, std::vector<StreamEvent>& out) {
    if (auto delta = fast_json::objectAt(choice, "delta")) {
      for (const char* key : {"content", "refusal"}) {
        std::string_view text = fast_json::stringAt(*delta, key);
        if (text.empty()) continue;
        StreamEvent e;
        e.kind = Kind::TextDelta;
        e.text = text;
        out.push_back(std::move(e));
      }
      if (auto calls = fast_json::arrayAt(*delta, "tool_calls")) {
        size_t position = 0;
        for (fast_json::Element value : *calls) {
          fast_json::Object call;
          if (value.get_object().get(call) == simdjson::SUCCESS) decodeToolCall(call, position, out);
          ++position;
        }
      }
    }
    std::string finish(fast_json::stringAt(choice, "finish_reason"));
    if (!finish.empty() && !finishSeen_) {
      finishSeen_ = true;
      StreamEvent e;
      e.kind = Kind::Finish;
      e.finish = parseFinishReason(finish);
      out.push_back(std::move(e));
    }
  }

  void decodeToolCall(const fast_json::Object& call, size_t position, std::vector<StreamEvent>& out) {
    int64_t wireIndex = fast_json::intAt(call, "index", static_cast<int64_t>(position));
    if (wireIndex > kMaxToolIndex) wireIndex = static_cast<int64_t>(position);
    std::string id(fast_json::stringAt(call, "id"));
    std::string name;
    std::string arguments;
    if (auto function = fast_json::objectAt(call, "function")) {
      name = fast_json::stringAt(*function, "name");
      arguments = fast_json::stringAt(*function, "arguments");
    }
    auto slot = slots_.find(wireIndex);
    // Some OpenAI-compatible servers reuse index 0 for every call; a new id
    // at a used index is a new call.
    bool newCall = slot == slots_.end() || (!id.empty() && !slot->second.id.empty() && id != slot->second.id);
    if (newCall) {
      if (id.empty() && name.empty() && arguments.empty()) return;
      int neutral = slot == slots_.end() && !usedNeutral(static_cast<int>(wireIndex)) ? static_cast<int>(wireIndex)
                                                                                      : nextNeutral();
      slots_[wireIndex] = ToolSlot{neutral, id};
      StreamEvent start;
      start.kind = Kind::ToolStart;
      start.toolIndex = neutral;
      start.toolId = id;
      start.toolName = name;
      out.push_back(std::move(start));
      slot = slots_.find(wireIndex);
    } else if (slot->second.id.empty() && !id.empty()) {
      slot->second.id = id;
    }
    if (!arguments.empty()) {
      StreamEvent args;
      args.kind = Kind::ToolArgs;
      args.toolIndex = slot->second.index;
      args.text = std::move(arguments);
      out.push_back(std::move(args));
    }
  }

  bool usedNeutral(int index) const {
    for (const auto& [wire, slot] : slots_) {
      if (slot.index == index) return true;
    }
    return false;
  }

  int nextNeutral() const {
    int next = 0;
    for (const auto& [wire, slot] : slots_) next = std::max(next, slot.index + 1);
    return next;
  }

  bool started_ = false;
  bool finished_ = false;
  bool finishSeen_ = false;
  std::map<int64_t, ToolSlot> slots_;  // wire index -> neutral slot
  json_scan::Shape shape_;             // the last skimmed text delta's bytes around its text (skim's cache)
};

class OpenAIStreamEncoder final : public StreamEncoder {
 public:
  explicit OpenAIStreamEncoder(const core::ChatRequest& request)
      : id_(json_util::generateId("chatcmpl-")),
        model_(request.model),
        created_(json_util::nowSeconds()),
        includeUsage_(request.includeUsage) {}

  void encode(const StreamEvent& event, std::string& out) override {
    if (closed_) return;
    switch (event.kind) {
      case Kind::Start:
        if (!roleSent_ && !event.id.empty()) id_ = event.id;
        startUsage_ = event.usage;
        ensureRole(out);
        break;
      case Kind::TextDelta:
        ensureRole(out);
        if (!event.text.empty()) chunk(out, json::object{{"content", event.text}}, nullptr);
        break;
      case Kind::ToolStart:
        ensureRole(out);
        startTool(out, event.toolIndex, event.toolId, event.toolName);
        break;
      case Kind::ToolArgs: {
        ensureRole(out);
        if (event.text.empty()) break;
        auto found = tools_.find(event.toolIndex);
        int index = found != tools_.end() ? found->second : startTool(out, event.toolIndex, "", "");
        json::object function{{"arguments", event.text}};
        json::object call{{"index", index}, {"function", std::move(function)}};
        chunk(out, json::object{{"tool_calls", json::array{std::move(call)}}}, nullptr);
        break;
      }
      case Kind::Finish:
        ensureRole(out);
        if (finished_) break;
        finished_ = true;
        chunk(out, json::object{}, finishReasonName(event.finish));
        break;
      case Kind::Usage: usage_ = event.usage; break;
    }
  }

  void finish(std::string& out) override {
    if (closed_) return;
    ensureRole(out);
    if (!finished_) {
      finished_ = true;
      chunk(out, json::object{}, finishReasonName(core::FinishReason::Stop));
    }
    if (includeUsage_) {
      json::object body = header();
      body["choices"] = json::array{};
      body["usage"] = encodeUsage(usage_ ? *usage_ : startUsage_);
      json_util::appendSse(out, "", json_util::serialize(body));
    }
    json_util::appendSse(out, "", "[DONE]");
    closed_ = true;
  }

  void error(const core::Error& error, std::string& out) override {
    if (closed_) return;
    json_util::appendSse(out, "", json_util::serialize(errorObject(error)));
    closed_ = true;
  }

 private:
  json::object header() const {
    return json::object{{"id", id_}, {"object", "chat.completion.chunk"}, {"created", created_}, {"model", model_}};
  }

  void chunk(std::string& out, json::object delta, const char* finishReason) {
    json::object choice{{"index", 0}, {"delta", std::move(delta)}, {"logprobs", nullptr}};
    if (finishReason != nullptr) {
      choice["finish_reason"] = finishReason;
    } else {
      choice["finish_reason"] = nullptr;
    }
    json::object body = header();
    body["choices"] = json::array{std::move(choice)};
    if (includeUsage_) body["usage"] = nullptr;  // as OpenAI does: null on every chunk but the last
    json_util::appendSse(out, "", json_util::serialize(body));
  }

  void ensureRole(std::string& out) {
    if (roleSent_) return;
    roleSent_ = true;
    chunk(out, json::object{{"role", "assistant"}, {"content", ""}}, nullptr);
  }

  // Opens tool call `neutralIndex` as the next OpenAI index; returns that index.
  int startTool(std::string& out, int neutralIndex, const std::string& id, const std::string& name) {
    int index = static_cast<int>(tools_.size());
    tools_[neutralIndex] = index;
    json::object function{{"name", name}, {"arguments", ""}};
    json::object call{{"index", index},
                      {"id", id.empty() ? json_util::generateId("call_") : id},
                      {"type", "function"},
                      {"function", std::move(function)}};
    chunk(out, json::object{{"tool_calls", json::array{std::move(call)}}}, nullptr);
    return index;
  }

  std::string id_;
  std::string model_;
  int64_t created_;
  bool includeUsage_;
  bool roleSent_ = false;
  bool finished_ = false;
  bool closed_ = false;
  std::map<int, int> tools_;  // neutral toolIndex -> OpenAI tool_calls index
  core::Usage startUsage_;
  std::optional<core::Usage> usage_;
};

}  // namespace

std::unique_ptr<StreamDecoder> makeStreamDecoder() {
  return std::make_unique<OpenAIStreamDecoder>();
}

std::unique_ptr<StreamEncoder> makeStreamEncoder(const core::ChatRequest& request) {
  return std::make_unique<OpenAIStreamEncoder>(request);
}

}  // namespace arbitra::api::openai
