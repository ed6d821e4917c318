// Anthropic's Message Batches (see providers/batch.h for the steps): POST
// {base}/v1/messages/batches with {requests: [{custom_id, params}]} (params is
// a Messages API body), GET {base}/v1/messages/batches/{id} until
// processing_status is "ended", then GET its results_url: JSONL lines
// {custom_id, result: {type: succeeded, message} | {type: errored, error:
// {type: error, error: {type, message}}} | {type: canceled} | {type: expired}}.
// The results_url is followed only when it is on the provider's own origin
// (the key goes with it); otherwise the documented path is used.
#include "providers/anthropic/anthropic_batch.h"

#include "providers/anthropic/anthropic_provider.h"

#include <boost/json.hpp>

namespace arbitra::providers {
namespace {

namespace json = boost::json;


std::string batchesUrl(std::string base) {
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (base.size() >= 3 && base.compare(base.size() - 3, 3, "/v1") == 0) return base + "/messages/batches";
  return base + "/v1/messages/batches";
}

// "https://host:port" of a URL.
std::string origin(const std::string& url) {
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) return "";
  size_t path = url.find('/', scheme + 3);
  return url.substr(0, path);
}

std::string stringField(const json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  return value && value->is_string() ? std::string(value->as_string()) : std::string();
}

class AnthropicBatch final : public BatchApi {
 public:
  explicit AnthropicBatch(const config::ProviderConfig& config) : config_(config) {}

  std::optional<http::ClientRequest> uploadRequest(const std::vector<BatchItem>&) const override {
    return std::nullopt;
  }
  core::Result<std::string> parseUpload(const std::string&) const override { return std::string(); }

  http::ClientRequest createRequest(const std::vector<BatchItem>& items, const std::string&) const override {
    http::ClientRequest out;
    out.url = batchesUrl(config_.baseUrl);
    out.headers = headers(true);
    out.body = anthropicBatchBody(items);
    return out;
  }

  core::Result<BatchStatus> parseStatus(const std::string& body) const override {
    return parseAnthropicBatchStatus(body);
  }

  http::ClientRequest pollRequest(const std::string& batchId) const override {
    http::ClientRequest out;
    out.method = "GET";
    out.url = batchesUrl(config_.baseUrl) + "/" + batchId;
    out.headers = headers(false);
    return out;
  }

  std::vector<http::ClientRequest> resultRequests(const BatchStatus& status) const override {
    http::ClientRequest get;
    get.method = "GET";
    bool ours = !status.outputRef.empty() && origin(status.outputRef) == origin(config_.baseUrl);
    get.url = ours ? status.outputRef : batchesUrl(config_.baseUrl) + "/" + status.id + "/results";
    get.headers = headers(false);
    return {get};
  }

  core::Result<std::vector<BatchResult>> parseResults(const std::string& jsonl) const override {
    return parseAnthropicBatchResults(jsonl);
  }

 private:
  http::Headers headers(bool body) const { return anthropicHeaders(config_, body ? "application/json" : ""); }

  config::ProviderConfig config_;
};

}  // namespace

std::string anthropicBatchBody(const std::vector<BatchItem>& items) {
  const auto& codec = api::codecFor(core::WireFormat::Anthropic);
  json::array requests;
  for (const auto& item : items) {
    json::error_code ec;
    json::value params = json::parse(codec.encodeRequest(*item.request, item.upstreamModel), ec);
    if (params.is_object()) params.as_object().erase("stream");
    requests.push_back(json::object{{"custom_id", item.customId}, {"params", std::move(params)}});
  }
  return json::serialize(json::object{{"requests", std::move(requests)}});
}

core::Result<BatchStatus> parseAnthropicBatchStatus(const std::string& body) {
  json::error_code ec;
  auto parsed = json::parse(body, ec);
  if (ec || !parsed.is_object())
    return core::makeError(core::ErrorKind::UpstreamError, "message batch: invalid JSON answer");
  const auto& batch = parsed.as_object();
  BatchStatus status;
  status.id = stringField(batch, "id");
  status.upstreamStatus = stringField(batch, "processing_status");
  if (status.id.empty() || status.upstreamStatus.empty()) {
    return core::makeError(core::ErrorKind::UpstreamError, "message batch: the answer has no id or processing_status");
  }
  status.running = true;  // processing begins as soon as it is created
  status.outputRef = stringField(batch, "results_url");
  if (status.upstreamStatus == "ended") status.state = BatchStatus::State::Ended;
  return status;
}

core::Result<std::vector<BatchResult>> parseAnthropicBatchResults(const std::string& jsonl) {
  const auto& codec = api::codecFor(core::WireFormat::Anthropic);
  std::vector<BatchResult> out;
  for (const auto& [lineNumber, line] : jsonlLines(jsonl)) {
    json::error_code ec;
    auto parsed = json::parse(line, ec);
    const json::object* object = !ec && parsed.is_object() ? &parsed.as_object() : nullptr;
    const auto* result = object ? object->if_contains("result") : nullptr;
    if (!object || stringField(*object, "custom_id").empty() || !result || !result->is_object()) {
      return core::makeError(core::ErrorKind::UpstreamError,
                             "message batch results: line " + std::to_string(lineNumber) + " is not a result");
    }
    BatchResult item;
    item.customId = stringField(*object, "custom_id");
    const auto& r = result->as_object();
    std::string type = stringField(r, "type");
    if (type == "succeeded" && r.contains("message")) {
      item.status = 200;
      item.body = json::serialize(r.at("message"));
    } else if (type == "errored") {
      // error: {type: "error", error: {type, message}}: the body of a failed Messages call.
      const auto* error = r.if_contains("error");
      item.body = error ? json::serialize(*error) : "";
      item.error = codec.parseErrorMessage(item.body);
      std::string kind;
      if (error && error->is_object()) {
        if (const auto* inner = error->as_object().if_contains("error"); inner && inner->is_object()) {
          kind = stringField(inner->as_object(), "type");
        }
      }
      item.status = kind == "invalid_request_error" ? 400 : 502;
      if (item.error.empty()) item.error = "the request failed in the batch";
    } else {
      item.status = 502;
      item.error = "the request was " + (type.empty() ? std::string("not answered") : type) + " in the batch";
    }
    out.push_back(std::move(item));
  }
  return out;
}

std::unique_ptr<BatchApi> makeAnthropicBatch(const config::ProviderConfig& config) {
  return std::make_unique<AnthropicBatch>(config);
}

}  // namespace arbitra::providers
