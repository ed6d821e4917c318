// `openai` provider kind: any OpenAI-compatible base URL (OpenAI, Together,
// Groq, Fireworks, DeepInfra, vLLM, llama.cpp's server, Ollama).
#pragma once

#include <memory>

#include "providers/provider.h"

namespace arbitra::providers {
std::unique_ptr<Provider> makeOpenAIProvider(const config::ProviderConfig& config);
// The headers every request to an OpenAI-compatible upstream carries (chat,
// embeddings, files, batches): content-type when not empty, Bearer key, the
// config's extra headers.
http::Headers openAIHeaders(const config::ProviderConfig& config, const std::string& contentType);
}
