// The OpenAI Chat Completions codec, internal to api/: codecFor() hands it out,
// openai_stream.cpp implements its streaming half. Callers outside api/ use
// codec.h only.
//
// Wire reference: POST /v1/chat/completions (messages with roles system,
// developer, user, assistant, tool; tools of type "function"; SSE chunks of
// object "chat.completion.chunk" ending in "data: [DONE]").
#pragma once

#include <memory>

#include <boost/json/object.hpp>

#include "api/codec.h"
#include "api/fast_json.h"

namespace arbitra::api::openai {

const Codec& codec();

std::unique_ptr<StreamDecoder> makeStreamDecoder();
std::unique_ptr<StreamEncoder> makeStreamEncoder(const core::ChatRequest& request);

// Shared by the codec and the stream halves.
core::Usage parseUsage(const boost::json::object& usage);
core::Usage parseUsage(const fast_json::Object& usage);
// The same counts read from a usage object's text by a member walk, when
// every count is a plain integer and no field repeats; nullopt otherwise
// (then parseUsage decides). For the passthrough's skim of the usage chunk.
std::optional<core::Usage> scanUsage(std::string_view usage);
boost::json::object encodeUsage(const core::Usage& usage);
core::FinishReason parseFinishReason(std::string_view reason);
const char* finishReasonName(core::FinishReason reason);
// {"error":{"message","type","param","code"}}.
boost::json::object errorObject(const core::Error& error);

}  // namespace arbitra::api::openai
