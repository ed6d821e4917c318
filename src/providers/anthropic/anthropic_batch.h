// Anthropic's Message Batches (/v1/messages/batches): the BatchApi of the
// `anthropic` kind, and its codecs, exposed for the unit tests.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "providers/provider.h"

namespace arbitra::providers {

std::unique_ptr<BatchApi> makeAnthropicBatch(const config::ProviderConfig& config);

// The create body: {"requests": [{"custom_id", "params"}]}.
std::string anthropicBatchBody(const std::vector<BatchItem>& items);
// A message_batch object (create and retrieve answers).
core::Result<BatchStatus> parseAnthropicBatchStatus(const std::string& body);
// The results file: {"custom_id", "result": {"type": succeeded|errored|canceled|expired, ...}} lines.
core::Result<std::vector<BatchResult>> parseAnthropicBatchResults(const std::string& jsonl);

}  // namespace arbitra::providers
