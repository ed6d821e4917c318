// `openai` provider kind: Bearer auth, {base_url}/chat/completions and
// {base_url}/embeddings. Bodies go through the OpenAI codec. With `batch:
// true`, deferred requests use its Batch API (openai_batch.h).
#include "providers/openai/openai_provider.h"

#include "providers/openai/openai_batch.h"

#include <boost/json.hpp>

namespace arbitra::providers {
namespace {

std::string joinUrl(const std::string& base, const char* path) {
  if (!base.empty() && base.back() == '/') return base.substr(0, base.size() - 1) + path;
  return base + path;
}

class OpenAIProvider final : public Provider {
 public:
  explicit OpenAIProvider(config::ProviderConfig config)
      : Provider(std::move(config)),
        chatUrl_(joinUrl(config_.baseUrl, "/chat/completions")),
        chatHeaders_(std::make_shared<const std::string>(http::headerLines(baseHeaders()))) {
    if (config_.batch) batch_ = makeOpenAIBatch(config_);
  }
  core::WireFormat format() const override { return core::WireFormat::OpenAI; }
  const BatchApi* batch() const override { return batch_.get(); }

  http::ClientRequest chatRequest(const core::ChatRequest& request, const std::string& upstreamModel) const override {
    http::ClientRequest out;
    out.url = chatUrl_;
    out.fixedHeaders = chatHeaders_;
    if (request.stream) out.headers.push_back({"accept", "text/event-stream"});
    out.body = codec().encodeRequest(request, upstreamModel);
    return out;
  }

  bool supportsEmbeddings() const override { return true; }

  http::ClientRequest embeddingsRequest(const core::EmbeddingRequest& request,
                                        const std::string& upstreamModel) const override {
    http::ClientRequest out;
    out.url = joinUrl(config_.baseUrl, "/embeddings");
    out.headers = baseHeaders();
    boost::json::object body = request.raw;
    body["model"] = upstreamModel;
    out.body = boost::json::serialize(body);
    return out;
  }

 private:
  http::Headers baseHeaders() const { return openAIHeaders(config_, "application/json"); }

  std::unique_ptr<BatchApi> batch_;
  std::string chatUrl_;
  std::shared_ptr<const std::string> chatHeaders_;  // baseHeaders(), rendered once
};

}  // namespace

http::Headers openAIHeaders(const config::ProviderConfig& config, const std::string& contentType) {
  http::Headers out;
  if (!contentType.empty()) out.push_back({"content-type", contentType});
  if (!config.apiKey.empty()) out.push_back({"authorization", "Bearer " + config.apiKey});
  for (const auto& [name, value] : config.headers) out.push_back({name, value});
  return out;
}

std::unique_ptr<Provider> makeOpenAIProvider(const config::ProviderConfig& config) {
  return std::make_unique<OpenAIProvider>(config);
}

}  // namespace arbitra::providers
