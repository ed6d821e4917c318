// `anthropic` provider kind: the Messages API.
#pragma once

#include <memory>

#include "providers/provider.h"

namespace arbitra::providers {
std::unique_ptr<Provider> makeAnthropicProvider(const config::ProviderConfig& config);
}
