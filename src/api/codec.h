// Wire codecs: OpenAI Chat Completions and Anthropic Messages <-> core types.
//
// One Codec per wire format, used in both directions: the gateway parses the
// caller's body and encodes the answer with the caller's codec; a provider
// encodes the upstream body and parses the upstream answer with the upstream's
// codec. Pure functions over strings and core types: no I/O, no Beast.
//
// Streaming: a StreamDecoder turns one upstream SSE event (name + data) into
// neutral StreamEvents; a StreamEncoder turns neutral StreamEvents into the
// caller's SSE bytes ("event: ...\ndata: ...\n\n"). Both keep the small state
// the formats need (open content blocks, tool indexes, whether usage was seen).
//
//   auto& codec = api::codecFor(core::WireFormat::Anthropic);
//   auto request = codec.parseRequest(body);          // Result<ChatRequest>
//   std::string upstreamBody = api::codecFor(OpenAI).encodeRequest(*request);
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/types.h"

namespace arbitra::api {

class StreamDecoder {
 public:
  virtual ~StreamDecoder() = default;
  // Feeds one SSE event. `event` is the SSE event name ("" when absent), `data`
  // its data. Returns the neutral events it produced, or an error for garbage.
  virtual core::Result<std::vector<core::StreamEvent>> decode(std::string_view event,
                                                              std::string_view data) = 0;
  // True once the upstream signalled the end of the stream ([DONE] or message_stop).
  virtual bool finished() const = 0;

  // The passthrough fast path: an event that goes to a same-format caller
  // untouched needs no neutral copy, only what the gateway records (the
  // first token's time, an output-size estimate, usage). skim() reads that
  // from the raw bytes of an event whose shape the codec knows to carry
  // nothing else the gateway records; anything else (tool calls, errors,
  // the end, shapes it does not know) returns nullopt and must go through
  // decode(). A skimmed event counts as decoded for the decoder's own
  // state. Never wrong, only sometimes unable: the default is always unable.
  struct Skim {
    bool token = false;     // the event carries output text
    size_t textBytes = 0;   // its size as sent (escaped): for the estimate only
    // Set when the event is nothing but usage (decode() would give one
    // Usage event, with these counts).
    std::optional<core::Usage> usageOnly;
  };
  virtual std::optional<Skim> skim(std::string_view event, std::string_view data) {
    (void)event;
    (void)data;
    return std::nullopt;
  }
};

class StreamEncoder {
 public:
  virtual ~StreamEncoder() = default;
  // Appends the caller-format SSE bytes for `event` to `out`.
  virtual void encode(const core::StreamEvent& event, std::string& out) = 0;
  // Appends whatever closes the stream (open blocks, final usage chunk when
  // asked for, "data: [DONE]" or message_stop). Called once, after the last event.
  virtual void finish(std::string& out) = 0;
  // Appends an in-stream error event (after headers were sent, status is fixed).
  virtual void error(const core::Error& error, std::string& out) = 0;
};

class Codec {
 public:
  virtual ~Codec() = default;
  virtual core::WireFormat format() const = 0;

  // Caller side: body -> neutral request (400-kind errors naming the field).
  virtual core::Result<core::ChatRequest> parseRequest(std::string_view body) const = 0;
  // Upstream side: neutral request -> body for this format, with `upstreamModel`
  // as the model. Same-format requests pass `raw` through with only the model
  // (and stream usage options) changed; cross-format ones are translated.
  virtual std::string encodeRequest(const core::ChatRequest& request,
                                    const std::string& upstreamModel) const = 0;
  // Upstream side: a non-streamed answer body -> neutral response.
  virtual core::Result<core::ChatResponse> parseResponse(std::string_view body) const = 0;
  // Upstream side: only the usage of a non-streamed answer, for answers that
  // pass through to a same-format caller untouched. Cheaper than
  // parseResponse (a stack-backed parse, no neutral copy); an error when the
  // body is not a JSON object, nullopt when it reports no usage.
  virtual core::Result<std::optional<core::Usage>> parseResponseUsage(std::string_view body) const = 0;
  // Caller side: neutral response -> body in this format.
  virtual std::string encodeResponse(const core::ChatResponse& response) const = 0;
  // Caller side: an error body in this format.
  virtual std::string encodeError(const core::Error& error) const = 0;
  // Upstream side: an upstream error body -> a message (best effort, never throws).
  virtual std::string parseErrorMessage(std::string_view body) const = 0;

  virtual std::unique_ptr<StreamDecoder> makeStreamDecoder() const = 0;
  // `request` is the caller's: the encoder honours include_usage and echoes the model.
  virtual std::unique_ptr<StreamEncoder> makeStreamEncoder(const core::ChatRequest& request) const = 0;
};

const Codec& codecFor(core::WireFormat format);

}  // namespace arbitra::api
