// Serving a request from an in-process deployment (kind local): the provider
// yields neutral events; here they become the caller's answer, streamed or
// whole, in the caller's wire format. Kept out of gateway.cpp so the walk
// there stays one call per step.
//
// Guarantees: nothing is sent before the first events arrive, so a refusal
// (queue full, bad request) returns an Error and the next candidate may serve;
// after that, a failure ends the stream with an in-stream error event. When
// the caller leaves, the events object is dropped, which cancels generation.
#pragma once

#include <optional>

#include "gateway/exchange.h"
#include "http/server.h"
#include "providers/provider.h"

namespace arbitra::cache {
class AnswerBuilder;
}

namespace arbitra::gateway {

// `answer` (optional) collects the events for the semantic cache.
http::Task<std::optional<core::Error>> serveInProcess(const core::ChatRequest& request,
                                                      providers::InProcess& local,
                                                      const std::string& upstreamModel, http::Headers headers,
                                                      http::ResponseWriter& out, Exchange& exchange,
                                                      cache::AnswerBuilder* answer = nullptr);

// The OpenAI embeddings body for in-process vectors.
std::string encodeEmbeddings(const providers::EmbeddingAnswer& answer, const std::string& model, bool base64);

}  // namespace arbitra::gateway
