// Shared body of the codec fuzz targets: whatever the bytes, the codecs must
// not crash, and what they produce themselves must parse again.
//
// The bytes go to parseRequest of the target's format; a parsed request is
// encoded for BOTH formats and re-parsed (a same-format re-parse must succeed:
// it is the caller's own body with the model swapped). The bytes also go to
// both parseResponse (a parsed answer, re-encoded in both formats, must parse
// again), to parseErrorMessage, and line by line to both stream decoders,
// whose events feed both stream encoders.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/codec.h"

namespace arbitra::fuzz {

inline void exerciseStreams(std::string_view bytes, const core::ChatRequest& caller) {
  using core::WireFormat;
  for (WireFormat upstream : {WireFormat::OpenAI, WireFormat::Anthropic}) {
    auto decoder = api::codecFor(upstream).makeStreamDecoder();
    auto toOpenAI = api::codecFor(WireFormat::OpenAI).makeStreamEncoder(caller);
    auto toAnthropic = api::codecFor(WireFormat::Anthropic).makeStreamEncoder(caller);
    std::string out;
    std::string event;
    std::string_view rest = bytes;
    bool failed = false;
    while (!rest.empty() && !failed && !decoder->finished()) {
      size_t nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
      if (line.rfind("event: ", 0) == 0) {
        event = std::string(line.substr(7));
        continue;
      }
      if (line.rfind("data: ", 0) == 0) line.remove_prefix(6);
      auto decoded = decoder->decode(event, line);
      event.clear();
      if (!decoded) {
        toOpenAI->error(decoded.error(), out);
        toAnthropic->error(decoded.error(), out);
        failed = true;
        break;
      }
      for (const auto& e : *decoded) {
        toOpenAI->encode(e, out);
        toAnthropic->encode(e, out);
      }
      if (out.size() > (1u << 20)) out.clear();
    }
    toOpenAI->finish(out);
    toAnthropic->finish(out);
  }
}

inline void exerciseCodecs(core::WireFormat format, const uint8_t* data, size_t size) {
  using core::WireFormat;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const api::Codec& codec = api::codecFor(format);

  auto request = codec.parseRequest(bytes);
  core::ChatRequest caller;
  caller.format = format;
  caller.model = "caller-model";
  if (request) {
    caller = *request;
    for (WireFormat target : {WireFormat::OpenAI, WireFormat::Anthropic}) {
      const api::Codec& to = api::codecFor(target);
      std::string body = to.encodeRequest(*request, "upstream-model");
      auto again = to.parseRequest(body);
      if (target == format && !again) __builtin_trap();  // our own body with the model swapped
      if (again) {
        // And back again, through the other codec.
        const api::Codec& back =
            api::codecFor(target == WireFormat::OpenAI ? WireFormat::Anthropic : WireFormat::OpenAI);
        auto returned = back.parseRequest(back.encodeRequest(*again, "m"));
        (void)returned;
      }
    }
  } else if (request.error().message.empty() || request.error().kind != core::ErrorKind::InvalidRequest) {
    __builtin_trap();  // every refusal is a 400 with a message
  }

  for (WireFormat from : {WireFormat::OpenAI, WireFormat::Anthropic}) {
    const api::Codec& upstream = api::codecFor(from);
    auto response = upstream.parseResponse(bytes);
    if (response) {
      for (WireFormat to : {WireFormat::OpenAI, WireFormat::Anthropic}) {
        std::string body = api::codecFor(to).encodeResponse(*response);
        if (!api::codecFor(to).parseResponse(body)) __builtin_trap();
      }
    }
    (void)upstream.parseErrorMessage(bytes);
    (void)upstream.encodeError(core::makeError(core::ErrorKind::InvalidRequest, std::string(bytes.substr(0, 64))));
  }

  exerciseStreams(bytes, caller);
}

}  // namespace arbitra::fuzz
