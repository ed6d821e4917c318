// The one interface every upstream kind implements, and the registry that
// builds them by kind name from config (Envoy-style named factories).
//
// A Provider knows its upstream's wire format, URL layout and authentication.
// It turns a neutral request into an http::ClientRequest and hands the bodies
// it gets back to its format's codec. It makes no routing decision and does no
// I/O: the gateway sends what it builds.
//
//   providers::Registry registry;
//   providers::registerBuiltins(registry);          // "openai", "anthropic"
//   auto provider = registry.create(providerConfig); // validated once at start
//   auto upstream = provider->chatRequest(request, "gpt-4o-mini");
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "api/codec.h"
#include "providers/batch.h"
#include "config/config.h"
#include "core/types.h"
#include "http/client.h"

namespace arbitra::providers {

class Provider {
 public:
  virtual ~Provider() = default;
  virtual core::WireFormat format() const = 0;
  // The codec for this upstream's bodies (answers, stream events, errors).
  const api::Codec& codec() const { return api::codecFor(format()); }
  // The upstream request for a chat call (streamed or not, per `request.stream`).
  virtual http::ClientRequest chatRequest(const core::ChatRequest& request,
                                          const std::string& upstreamModel) const = 0;
  // The upstream request for embeddings; nullopt-like empty url when unsupported.
  virtual bool supportsEmbeddings() const = 0;
  virtual http::ClientRequest embeddingsRequest(const core::EmbeddingRequest& request,
                                                const std::string& upstreamModel) const = 0;
  // Its batch API (batch.h); null unless the kind has one and config says `batch: true`.
  virtual const BatchApi* batch() const { return nullptr; }
  const config::ProviderConfig& config() const { return config_; }
  http::ClientOptions clientOptions() const;

 protected:
  explicit Provider(config::ProviderConfig config) : config_(std::move(config)) {}
  config::ProviderConfig config_;
};

using ProviderFactory = std::function<std::unique_ptr<Provider>(const config::ProviderConfig&)>;

class Registry {
 public:
  void add(const std::string& kind, ProviderFactory factory);
  // Throws std::invalid_argument naming the unknown kind.
  std::unique_ptr<Provider> create(const config::ProviderConfig& config) const;
  std::vector<std::string> kinds() const;

 private:
  std::map<std::string, ProviderFactory> factories_;
};

void registerBuiltins(Registry& registry);

}  // namespace arbitra::providers
