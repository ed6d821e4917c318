// `anthropic` provider kind: x-api-key and anthropic-version headers,
// {base_url}/v1/messages (base_url as the Anthropic SDK takes it, without /v1;
// a trailing /v1 is tolerated). Bodies go through the Anthropic codec. With
// `batch: true`, deferred requests use Message Batches (anthropic_batch.h).
#include "providers/anthropic/anthropic_provider.h"

#include "providers/anthropic/anthropic_batch.h"

namespace arbitra::providers {
namespace {

constexpr const char* kAnthropicVersion = "2023-06-01";

std::string messagesUrl(std::string base) {
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (base.size() >= 3 && base.compare(base.size() - 3, 3, "/v1") == 0) return base + "/messages";
  return base + "/v1/messages";
}

class AnthropicProvider final : public Provider {
 public:
  explicit AnthropicProvider(config::ProviderConfig config) : Provider(std::move(config)) {
    if (config_.batch) batch_ = makeAnthropicBatch(config_);
  }
  core::WireFormat format() const override { return core::WireFormat::Anthropic; }
  const BatchApi* batch() const override { return batch_.get(); }

  http::ClientRequest chatRequest(const core::ChatRequest& request, const std::string& upstreamModel) const override {
    http::ClientRequest out;
    out.url = messagesUrl(config_.baseUrl);
    // A same-format caller's anthropic-beta header is forwarded by the gateway
    // through config headers or request passthrough; the version is ours.
    out.headers = anthropicHeaders(config_, "application/json", request.stream ? "text/event-stream" : "");
    out.body = codec().encodeRequest(request, upstreamModel);
    return out;
  }

  bool supportsEmbeddings() const override { return false; }
  http::ClientRequest embeddingsRequest(const core::EmbeddingRequest&, const std::string&) const override {
    return {};
  }

 private:
  std::unique_ptr<BatchApi> batch_;
};

}  // namespace

http::Headers anthropicHeaders(const config::ProviderConfig& config, const std::string& contentType,
                               const std::string& accept) {
  http::Headers out;
  if (!contentType.empty()) out.push_back({"content-type", contentType});
  out.push_back({"anthropic-version", kAnthropicVersion});
  if (!config.apiKey.empty()) out.push_back({"x-api-key", config.apiKey});
  if (!accept.empty()) out.push_back({"accept", accept});
  for (const auto& [name, value] : config.headers) out.push_back({name, value});
  return out;
}

std::unique_ptr<Provider> makeAnthropicProvider(const config::ProviderConfig& config) {
  return std::make_unique<AnthropicProvider>(config);
}

}  // namespace arbitra::providers
