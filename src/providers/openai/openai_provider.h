// `openai` provider kind: any OpenAI-compatible base URL (OpenAI, Together,
// Groq, Fireworks, DeepInfra, vLLM, llama.cpp's server, Ollama).
#pragma once

#include <memory>

#include "providers/provider.h"

namespace arbitra::providers {
std::unique_ptr<Provider> makeOpenAIProvider(const config::ProviderConfig& config);
}
