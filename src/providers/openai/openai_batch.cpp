// OpenAI's Batch API (see providers/batch.h for the steps): the requests as a
// JSONL file ({custom_id, method: POST, url: /v1/chat/completions, body} a
// line) uploaded to {base}/files with purpose=batch, a batch created on it
// with a 24h completion window, polled at {base}/batches/{id}, and its output
// and error files read from {base}/files/{id}/content. Lines of those files
// are {id, custom_id, response: {status_code, request_id, body} | null,
// error: {code, message} | null}.
#include "providers/openai/openai_batch.h"

#include "providers/openai/openai_provider.h"

#include <boost/json.hpp>

namespace arbitra::providers {
namespace {

namespace json = boost::json;

// JSON never contains a raw CR LF, so this cannot occur inside the file part.
constexpr const char* kBoundary = "arbitra-batch-7f3c9e1d";

std::string joinUrl(const std::string& base, const std::string& path) {
  if (!base.empty() && base.back() == '/') return base.substr(0, base.size() - 1) + path;
  return base + path;
}

std::string stringField(const json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  return value && value->is_string() ? std::string(value->as_string()) : std::string();
}

class OpenAIBatch final : public BatchApi {
 public:
  explicit OpenAIBatch(const config::ProviderConfig& config) : config_(config) {}

  std::optional<http::ClientRequest> uploadRequest(const std::vector<BatchItem>& items) const override {
    http::ClientRequest out;
    out.url = joinUrl(config_.baseUrl, "/files");
    out.headers = headers(std::string("multipart/form-data; boundary=") + kBoundary);
    std::string body;
    body += std::string("--") + kBoundary + "\r\n";
    body += "Content-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n";
    body += std::string("--") + kBoundary + "\r\n";
    body += "Content-Disposition: form-data; name=\"file\"; filename=\"arbitra-batch.jsonl\"\r\n";
    body += "Content-Type: application/jsonl\r\n\r\n";
    body += openAIBatchJsonl(items);
    body += std::string("\r\n--") + kBoundary + "--\r\n";
    out.body = std::move(body);
    return out;
  }

  core::Result<std::string> parseUpload(const std::string& body) const override {
    json::error_code ec;
    auto parsed = json::parse(body, ec);
    if (ec || !parsed.is_object())
      return core::makeError(core::ErrorKind::UpstreamError, "file upload: invalid JSON answer");
    std::string id = stringField(parsed.as_object(), "id");
    if (id.empty()) return core::makeError(core::ErrorKind::UpstreamError, "file upload: the answer has no file id");
    return id;
  }

  http::ClientRequest createRequest(const std::vector<BatchItem>&, const std::string& fileId) const override {
    http::ClientRequest out;
    out.url = joinUrl(config_.baseUrl, "/batches");
    out.headers = headers("application/json");
    out.body = json::serialize(
        json::object{{"input_file_id", fileId}, {"endpoint", "/v1/chat/completions"}, {"completion_window", "24h"}});
    return out;
  }

  core::Result<BatchStatus> parseStatus(const std::string& body) const override { return parseOpenAIBatchStatus(body); }

  http::ClientRequest pollRequest(const std::string& batchId) const override {
    http::ClientRequest out;
    out.method = "GET";
    out.url = joinUrl(config_.baseUrl, "/batches/" + batchId);
    out.headers = headers("");
    return out;
  }

  std::vector<http::ClientRequest> resultRequests(const BatchStatus& status) const override {
    std::vector<http::ClientRequest> out;
    for (const auto& file : {status.outputRef, status.errorRef}) {
      if (file.empty()) continue;
      http::ClientRequest get;
      get.method = "GET";
      get.url = joinUrl(config_.baseUrl, "/files/" + file + "/content");
      get.headers = headers("");
      out.push_back(std::move(get));
    }
    return out;
  }

  core::Result<std::vector<BatchResult>> parseResults(const std::string& jsonl) const override {
    return parseOpenAIBatchResults(jsonl);
  }

 private:
  http::Headers headers(const std::string& contentType) const { return openAIHeaders(config_, contentType); }

  config::ProviderConfig config_;
};

}  // namespace

std::string openAIBatchJsonl(const std::vector<BatchItem>& items) {
  const auto& codec = api::codecFor(core::WireFormat::OpenAI);
  std::string out;
  for (const auto& item : items) {
    json::error_code ec;
    json::value body = json::parse(codec.encodeRequest(*item.request, item.upstreamModel), ec);
    json::object line{{"custom_id", item.customId}, {"method", "POST"}, {"url", "/v1/chat/completions"}};
    line["body"] = std::move(body);
    out += json::serialize(line);
    out += '\n';
  }
  return out;
}

core::Result<BatchStatus> parseOpenAIBatchStatus(const std::string& body) {
  json::error_code ec;
  auto parsed = json::parse(body, ec);
  if (ec || !parsed.is_object()) return core::makeError(core::ErrorKind::UpstreamError, "batch: invalid JSON answer");
  const auto& batch = parsed.as_object();
  BatchStatus status;
  status.id = stringField(batch, "id");
  status.upstreamStatus = stringField(batch, "status");
  if (status.id.empty() || status.upstreamStatus.empty()) {
    return core::makeError(core::ErrorKind::UpstreamError, "batch: the answer has no id or status");
  }
  status.outputRef = stringField(batch, "output_file_id");
  status.errorRef = stringField(batch, "error_file_id");
  const std::string& s = status.upstreamStatus;
  status.running = s != "validating";
  if (s == "completed") {
    status.state = BatchStatus::State::Ended;
  } else if (s == "failed" || s == "expired" || s == "cancelled" || s == "cancelling") {
    status.state = BatchStatus::State::Failed;
    status.error = "batch " + status.id + " " + s;
    // errors: {object: list, data: [{code, message, param, line}]}
    if (const auto* errors = batch.if_contains("errors"); errors && errors->is_object()) {
      if (const auto* data = errors->as_object().if_contains("data"); data && data->is_array()) {
        for (const auto& e : data->as_array()) {
          if (!e.is_object()) continue;
          std::string code = stringField(e.as_object(), "code");
          std::string message = stringField(e.as_object(), "message");
          status.error += (status.error.find(": ") == std::string::npos ? ": " : "; ") +
                          (code.empty() ? message : code + " " + message);
        }
      }
    }
    // An expired batch still has output for the requests that finished.
    if (s == "expired" && (!status.outputRef.empty() || !status.errorRef.empty()))
      status.state = BatchStatus::State::Ended;
  }
  return status;
}

core::Result<std::vector<BatchResult>> parseOpenAIBatchResults(const std::string& jsonl) {
  std::vector<BatchResult> out;
  for (const auto& [lineNumber, line] : jsonlLines(jsonl)) {
    json::error_code ec;
    auto parsed = json::parse(line, ec);
    if (ec || !parsed.is_object() || stringField(parsed.as_object(), "custom_id").empty()) {
      return core::makeError(core::ErrorKind::UpstreamError,
                             "batch results: line " + std::to_string(lineNumber) + " is not a result");
    }
    const auto& object = parsed.as_object();
    BatchResult result;
    result.customId = stringField(object, "custom_id");
    const auto* response = object.if_contains("response");
    if (response && response->is_object()) {
      const auto* code = response->as_object().if_contains("status_code");
      result.status = code && code->is_int64() ? static_cast<int>(code->as_int64()) : 0;
      if (const auto* body = response->as_object().if_contains("body")) result.body = json::serialize(*body);
    }
    const auto* error = object.if_contains("error");
    if (error && error->is_object()) {
      std::string code = stringField(error->as_object(), "code");
      std::string message = stringField(error->as_object(), "message");
      result.error = code.empty() ? message : code + ": " + message;
      if (result.status / 100 == 2) result.status = 0;
    }
    if (result.status / 100 != 2) {
      if (result.status == 0) result.status = 502;
      if (result.error.empty()) {
        result.error = api::codecFor(core::WireFormat::OpenAI).parseErrorMessage(result.body);
      }
      if (result.error.empty())
        result.error = "the request failed in the batch (status " + std::to_string(result.status) + ")";
    }
    out.push_back(std::move(result));
  }
  return out;
}

std::unique_ptr<BatchApi> makeOpenAIBatch(const config::ProviderConfig& config) {
  return std::make_unique<OpenAIBatch>(config);
}

}  // namespace arbitra::providers
