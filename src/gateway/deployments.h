// The deployment table: which upstreams can serve a public model name.
//
// Built from config at start, and again on each config reload (reload.h):
// then a provider whose settings are unchanged (and, for kind local, whose
// model files are the same on disk) is taken over from the previous table,
// shared, not made again, so a loaded model stays loaded. A name resolves, in order, to: its entry
// under `models:` (deployments in the order written: the first is preferred,
// the rest are fallbacks); a "<provider>/<upstream id>" name for a configured
// provider (LiteLLM style, "openai/gpt-4o-mini"); or, when serving from the
// simulator, the simulator (names starting "claude" get its Anthropic side).
// Anything else is NotFound, listing the names that would work.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/error.h"
#include "providers/provider.h"

namespace arbitra::ledger {
class PriceCatalog;
}

namespace arbitra::gateway {

struct Deployment {
  const providers::Provider* provider = nullptr;
  std::string upstreamModel;
  config::Price price;
  int64_t contextWindow = 0;
  std::string label;  // "provider/upstream-model", for headers and logs
};

class DeploymentTable {
 public:
  // Throws std::invalid_argument for an unknown provider kind. Deployments
  // without a configured price take their catalog row's (when `catalog` has one).
  // With `previous` (a reload), unchanged providers are shared with it, and a
  // provider that cannot be made throws config::ConfigError naming its line.
  DeploymentTable(const config::Config& config, const providers::Registry& registry,
                  const ledger::PriceCatalog* catalog = nullptr, const DeploymentTable* previous = nullptr);

  // The candidates for `model`, best first; NotFound when none.
  core::Result<std::vector<Deployment>> resolve(const std::string& model) const;
  // Public names for /v1/models: configured models, then simulator examples.
  std::vector<std::string> publicModels() const;
  bool simulated() const { return simulated_; }
  const std::vector<std::shared_ptr<providers::Provider>>& providers() const { return providers_; }
  // The provider named `name`, shared; null when none.
  std::shared_ptr<providers::Provider> provider(const std::string& name) const;

 private:
  const providers::Provider* findProvider(const std::string& name) const;
  config::Price priceOf(const providers::Provider& provider, const std::string& upstreamModel) const;

  std::shared_ptr<providers::Provider> reuse(const config::ProviderConfig& config, const std::string& files) const;

  std::vector<std::shared_ptr<providers::Provider>> providers_;
  std::vector<std::string> files_;  // per provider: its model files' size and time (kind local), else ""

  std::vector<config::ModelConfig> models_;
  bool prefixRouting_ = true;
  bool simulated_ = false;
  const ledger::PriceCatalog* catalog_ = nullptr;
};

}  // namespace arbitra::gateway
