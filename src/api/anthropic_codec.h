// The Anthropic Messages codec, internal to api/: codecFor() hands it out,
// anthropic_stream.cpp implements its streaming half. Callers outside api/
// use codec.h only.
//
// Wire reference: POST /v1/messages (system apart from the messages; content
// blocks text, image, tool_use, tool_result; SSE events message_start,
// content_block_start/delta/stop, message_delta, message_stop, ping, error).
//
// Usage: Anthropic's input_tokens EXCLUDES cache reads and writes, the neutral
// inputTokens includes them (core/types.h); parseUsage adds, encodeUsage subtracts.
#pragma once

#include <memory>

#include <boost/json/object.hpp>

#include "api/codec.h"
#include "api/fast_json.h"

namespace arbitra::api::anthropic {

const Codec& codec();

std::unique_ptr<StreamDecoder> makeStreamDecoder();
std::unique_ptr<StreamEncoder> makeStreamEncoder(const core::ChatRequest& request);

// Shared by the codec and the stream halves.
core::Usage parseUsage(const boost::json::object& usage);
core::Usage parseUsage(const fast_json::Object& usage);
// {input_tokens (cache excluded), output_tokens, cache_creation_input_tokens,
// cache_read_input_tokens}.
boost::json::object encodeUsage(const core::Usage& usage);
core::FinishReason parseStopReason(std::string_view reason);
const char* stopReasonName(core::FinishReason reason);
// {"type":"error","error":{"type","message"}}.
boost::json::object errorObject(const core::Error& error);

}  // namespace arbitra::api::anthropic
