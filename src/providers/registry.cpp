// The provider registry and the parts every provider shares.
#include <stdexcept>

#include "providers/anthropic/anthropic_provider.h"
#include "providers/local/local_provider.h"
#include "providers/openai/openai_provider.h"
#include "providers/provider.h"

namespace arbitra::providers {

http::ClientOptions Provider::clientOptions() const {
  http::ClientOptions options;
  options.connectMs = config_.timeouts.connectMs;
  options.firstByteMs = config_.timeouts.firstByteMs;
  options.idleMs = config_.timeouts.idleMs;
  options.totalMs = config_.timeouts.totalMs;
  options.proxy = config_.proxy;
  return options;
}

void Registry::add(const std::string& kind, ProviderFactory factory) { factories_[kind] = std::move(factory); }

std::unique_ptr<Provider> Registry::create(const config::ProviderConfig& config) const {
  auto it = factories_.find(config.kind);
  if (it == factories_.end()) {
    std::string known;
    for (const auto& [kind, factory] : factories_) known += (known.empty() ? "" : ", ") + kind;
    throw std::invalid_argument("unknown provider kind '" + config.kind + "' (known: " + known + ")");
  }
  return it->second(config);
}

std::vector<std::string> Registry::kinds() const {
  std::vector<std::string> kinds;
  for (const auto& [kind, factory] : factories_) kinds.push_back(kind);
  return kinds;
}

void registerBuiltins(Registry& registry) {
  registry.add("openai", [](const config::ProviderConfig& c) { return makeOpenAIProvider(c); });
  registry.add("anthropic", [](const config::ProviderConfig& c) { return makeAnthropicProvider(c); });
  registry.add("local", [](const config::ProviderConfig& c) { return makeLocalProvider(c); });
}

}  // namespace arbitra::providers
