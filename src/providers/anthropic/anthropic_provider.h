// `anthropic` provider kind: the Messages API.
#pragma once

#include <memory>

#include "providers/provider.h"

namespace arbitra::providers {
std::unique_ptr<Provider> makeAnthropicProvider(const config::ProviderConfig& config);
// The headers every request to an Anthropic upstream carries (messages and
// batches): content-type when `contentType` is not empty, the API version,
// the key; then `accept` when given, then the config's extra headers.
http::Headers anthropicHeaders(const config::ProviderConfig& config, const std::string& contentType,
                               const std::string& accept = "");
}
