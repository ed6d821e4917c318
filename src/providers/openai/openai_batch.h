// OpenAI's Batch API (/v1/files + /v1/batches): the BatchApi of the `openai`
// kind, and its codecs, exposed for the unit tests.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "providers/provider.h"

namespace arbitra::providers {

std::unique_ptr<BatchApi> makeOpenAIBatch(const config::ProviderConfig& config);

// The input file: one {custom_id, method, url, body} line per item.
std::string openAIBatchJsonl(const std::vector<BatchItem>& items);
// A Batch object (create and retrieve answers).
core::Result<BatchStatus> parseOpenAIBatchStatus(const std::string& body);
// An output or error file.
core::Result<std::vector<BatchResult>> parseOpenAIBatchResults(const std::string& jsonl);

}  // namespace arbitra::providers
