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

// Providers that answer in process (kind `local`: the edge engine) instead of
// over HTTP. The gateway asks Provider::inProcess() and, when it is set, takes
// neutral events from it and encodes them in the caller's format itself.
struct InProcessStats {
  int cachedTokens = 0;      // prompt tokens whose KV cache was reused
  int draftedTokens = 0;     // speculative decoding: proposed
  int acceptedTokens = 0;    //                       confirmed by the target
  int decodeSteps = 0;       // target steps that produced the output
  int64_t costPico = 0;      // machine cost attributed to this request (pico-dollars)
};

// One answer as it is generated. next() returns the following events (Start
// first, then TextDelta..., Finish, Usage) and an empty vector once done.
// Dropping the object before the end cancels the generation.
class ChatEvents {
 public:
  virtual ~ChatEvents() = default;
  virtual http::Task<core::Result<std::vector<core::StreamEvent>>> next() = 0;
  virtual InProcessStats stats() const = 0;  // final after the empty next()
};

struct EmbeddingAnswer {
  std::vector<std::vector<float>> vectors;
  int64_t promptTokens = 0;
};

class InProcess {
 public:
  virtual ~InProcess() = default;
  // Starts generating (refusals such as a full queue come back at once).
  virtual http::Task<core::Result<std::unique_ptr<ChatEvents>>> startChat(const core::ChatRequest& request,
                                                                          const std::string& upstreamModel) = 0;
  virtual http::Task<core::Result<EmbeddingAnswer>> embed(const core::EmbeddingRequest& request) = 0;
};

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
  // Set for providers that answer in process (no HTTP request is built).
  virtual InProcess* inProcess() const { return nullptr; }
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
