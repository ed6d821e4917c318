// Public model name -> candidate deployments (see deployments.h).
#include "gateway/deployments.h"

#include <filesystem>

#include "core/log.h"
#include "ledger/catalog.h"

namespace arbitra::gateway {
namespace {

// A local provider's model and draft files as size and modification time:
// the same settings over a replaced file are a changed deployment.
std::string fileStamps(const config::ProviderConfig& config) {
  if (config.kind != "local") return "";
  std::string out;
  for (const auto* path : {&config.local.model, &config.local.draft}) {
    std::error_code ec;
    auto size = std::filesystem::file_size(*path, ec);
    auto time = std::filesystem::last_write_time(*path, ec);
    out += *path + ":" + std::to_string(ec ? 0 : size) + ":" +
           std::to_string(ec ? 0 : time.time_since_epoch().count()) + ";";
  }
  return out;
}

bool sameSettings(config::ProviderConfig a, config::ProviderConfig b) {
  a.line = b.line = 0;
  return a == b;
}

}  // namespace

DeploymentTable::DeploymentTable(const config::Config& config, const providers::Registry& registry,
                                 const ledger::PriceCatalog* catalog, const DeploymentTable* previous)
    : models_(config.models), prefixRouting_(config.prefixRouting), catalog_(catalog) {
  for (const auto& provider : config.providers) {
    std::string files = fileStamps(provider);
    std::shared_ptr<providers::Provider> made = previous ? previous->reuse(provider, files) : nullptr;
    if (!made && previous) {
      try {
        made = registry.create(provider);
      } catch (const std::exception& e) {  // at start-up the message goes out as it is
        throw config::ConfigError(config.sourceFile + ":" + std::to_string(provider.line) + ": " + e.what());
      }
    }
    if (!made) made = registry.create(provider);
    providers_.push_back(std::move(made));
    files_.push_back(std::move(files));
    if (provider.simulated) simulated_ = true;
  }
  for (auto& model : models_) {
    for (auto& d : model.deployments) {
      const auto* provider = findProvider(d.provider);
      if (!provider || d.price.known) continue;
      d.price = priceOf(*provider, d.upstreamModel);
      if (!d.price.known) {
        core::log(core::LogLevel::Warn, config.sourceFile + ":" + std::to_string(d.line) + ": deployment " +
                                            d.provider + "/" + d.upstreamModel +
                                            " has no price (none in the config, none in the catalog): its records "
                                            "are flagged price_missing; add price: { input, output }");
      }
    }
  }
}

config::Price DeploymentTable::priceOf(const providers::Provider& provider, const std::string& upstreamModel) const {
  if (!catalog_) return {};
  config::DeploymentConfig deployment;
  deployment.provider = provider.config().name;
  deployment.upstreamModel = upstreamModel;
  return ledger::priceFor(deployment, provider.config(), *catalog_);
}

std::shared_ptr<providers::Provider> DeploymentTable::reuse(const config::ProviderConfig& config,
                                                           const std::string& files) const {
  for (size_t i = 0; i < providers_.size(); ++i) {
    if (sameSettings(providers_[i]->config(), config) && files_[i] == files) return providers_[i];
  }
  return nullptr;
}

std::shared_ptr<providers::Provider> DeploymentTable::provider(const std::string& name) const {
  for (const auto& provider : providers_) {
    if (provider->config().name == name) return provider;
  }
  return nullptr;
}

const providers::Provider* DeploymentTable::findProvider(const std::string& name) const {
  for (const auto& provider : providers_) {
    if (provider->config().name == name) return provider.get();
  }
  return nullptr;
}

core::Result<std::vector<Deployment>> DeploymentTable::resolve(const std::string& model) const {
  std::vector<Deployment> candidates;
  for (const auto& entry : models_) {
    if (entry.name != model) continue;
    for (const auto& d : entry.deployments) {
      const auto* provider = findProvider(d.provider);
      if (!provider) continue;  // config validation rejects this; belt and braces
      candidates.push_back(Deployment{provider, d.upstreamModel, d.price, d.contextWindow,
                                      d.provider + "/" + d.upstreamModel});
    }
    return candidates;
  }
  if (auto slash = model.find('/'); prefixRouting_ && slash != std::string::npos && slash + 1 < model.size()) {
    std::string providerName = model.substr(0, slash);
    std::string upstream = model.substr(slash + 1);
    const auto* provider = findProvider(providerName);
    if (!provider && simulated_) {  // "openai/x" and "anthropic/x" work offline too
      provider = findProvider(providerName == "anthropic" ? "simulated-anthropic" : "simulated");
    }
    if (provider) {
      candidates.push_back(Deployment{provider, upstream, priceOf(*provider, upstream), 0,
                                      provider->config().name + "/" + upstream});
      return candidates;
    }
  }
  if (simulated_) {
    bool claude = model.rfind("claude", 0) == 0;
    const auto* provider = findProvider(claude ? "simulated-anthropic" : "simulated");
    if (provider) {
      candidates.push_back(Deployment{provider, model, priceOf(*provider, model), 0,
                                      provider->config().name + "/" + model});
      return candidates;
    }
  }
  std::string known;
  for (const auto& name : publicModels()) known += (known.empty() ? "" : ", ") + name;
  std::string prefixes;
  if (prefixRouting_) {
    for (const auto& provider : providers_) prefixes += (prefixes.empty() ? "" : ", ") + provider->config().name + "/<model>";
  }
  std::string message = "model '" + model + "' not found. Known models: " + (known.empty() ? "(none)" : known);
  if (!prefixes.empty()) message += "; or address a provider directly: " + prefixes;
  return core::makeError(core::ErrorKind::NotFound, message, "model");
}

std::vector<std::string> DeploymentTable::publicModels() const {
  std::vector<std::string> names;
  for (const auto& entry : models_) names.push_back(entry.name);
  if (simulated_ && names.empty()) names = {"gpt-4o-mini", "claude-3-5-haiku-latest"};
  return names;
}

}  // namespace arbitra::gateway
