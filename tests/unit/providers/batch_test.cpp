// Batch API codecs: the OpenAI JSONL input file and multipart upload, the
// Anthropic create body, both batch objects, and both result files
// (successes, per-request errors, whole-batch failures, garbage).
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "providers/anthropic/anthropic_batch.h"
#include "providers/openai/openai_batch.h"
#include "providers/provider.h"

namespace arbitra::providers {
namespace {

namespace json = boost::json;

config::ProviderConfig providerConfig(const std::string& kind, const std::string& baseUrl, bool batch = true) {
  config::ProviderConfig c;
  c.name = "p";
  c.kind = kind;
  c.baseUrl = baseUrl;
  c.apiKey = "sk-secret";
  c.batch = batch;
  return c;
}

core::ChatRequest request(const std::string& text) {
  core::ChatRequest r;
  r.format = core::WireFormat::OpenAI;
  r.model = "public";
  r.maxTokens = 32;
  core::Message m;
  m.role = core::Role::User;
  m.content.push_back({core::ContentPart::Kind::Text, text, ""});
  r.messages.push_back(m);
  r.raw = json::parse(R"({"model":"public","max_tokens":32,"messages":[{"role":"user","content":")" + text + R"("}]})")
              .as_object();
  return r;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

TEST(Batch, OnlyWithBatchTrue) {
  Registry registry;
  registerBuiltins(registry);
  EXPECT_EQ(registry.create(providerConfig("openai", "http://h/v1", false))->batch(), nullptr);
  EXPECT_EQ(registry.create(providerConfig("anthropic", "http://h", false))->batch(), nullptr);
  EXPECT_NE(registry.create(providerConfig("openai", "http://h/v1"))->batch(), nullptr);
  EXPECT_NE(registry.create(providerConfig("anthropic", "http://h"))->batch(), nullptr);
}

TEST(Batch, OpenAIJsonlHasOneChatCompletionsLinePerRequest) {
  auto a = request("first"), b = request("second");
  std::vector<BatchItem> items{{"arbitra-0", &a, "gpt-up"}, {"arbitra-1", &b, "gpt-up"}};
  auto file = lines(openAIBatchJsonl(items));
  ASSERT_EQ(file.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    auto line = json::parse(file[i]).as_object();
    EXPECT_EQ(line.at("custom_id").as_string(), "arbitra-" + std::to_string(i));
    EXPECT_EQ(line.at("method").as_string(), "POST");
    EXPECT_EQ(line.at("url").as_string(), "/v1/chat/completions");
    EXPECT_EQ(line.at("body").at("model").as_string(), "gpt-up");
    EXPECT_EQ(line.at("body").at("messages").at(0).at("content").as_string(), i == 0 ? "first" : "second");
  }
}

TEST(Batch, OpenAIStepsBuildTheDocumentedRequests) {
  Registry registry;
  registerBuiltins(registry);
  auto provider = registry.create(providerConfig("openai", "https://api.example.com/v1/"));
  const BatchApi& api = *provider->batch();
  auto a = request("hi");
  std::vector<BatchItem> items{{"arbitra-0", &a, "m"}};
  auto upload = api.uploadRequest(items);
  ASSERT_TRUE(upload);
  EXPECT_EQ(upload->url, "https://api.example.com/v1/files");
  EXPECT_EQ(http::findHeader(upload->headers, "authorization"), "Bearer sk-secret");
  auto type = std::string(http::findHeader(upload->headers, "content-type"));
  ASSERT_TRUE(type.starts_with("multipart/form-data; boundary="));
  std::string boundary = type.substr(type.find('=') + 1);
  EXPECT_NE(upload->body.find("name=\"purpose\"\r\n\r\nbatch\r\n"), std::string::npos);
  EXPECT_NE(upload->body.find("name=\"file\"; filename="), std::string::npos);
  EXPECT_NE(upload->body.find(openAIBatchJsonl(items)), std::string::npos);
  EXPECT_TRUE(upload->body.ends_with("--" + boundary + "--\r\n"));

  auto fileId = api.parseUpload(R"({"id":"file-abc","object":"file","purpose":"batch"})");
  ASSERT_TRUE(fileId);
  EXPECT_EQ(*fileId, "file-abc");
  EXPECT_FALSE(api.parseUpload(R"({"object":"file"})"));

  auto create = api.createRequest(items, *fileId);
  EXPECT_EQ(create.url, "https://api.example.com/v1/batches");
  auto body = json::parse(create.body).as_object();
  EXPECT_EQ(body.at("input_file_id").as_string(), "file-abc");
  EXPECT_EQ(body.at("endpoint").as_string(), "/v1/chat/completions");
  EXPECT_EQ(body.at("completion_window").as_string(), "24h");

  auto poll = api.pollRequest("batch_1");
  EXPECT_EQ(poll.method, "GET");
  EXPECT_EQ(poll.url, "https://api.example.com/v1/batches/batch_1");

  BatchStatus ended;
  ended.outputRef = "file-out";
  ended.errorRef = "file-err";
  auto downloads = api.resultRequests(ended);
  ASSERT_EQ(downloads.size(), 2u);
  EXPECT_EQ(downloads[0].url, "https://api.example.com/v1/files/file-out/content");
  EXPECT_EQ(downloads[1].url, "https://api.example.com/v1/files/file-err/content");
  EXPECT_EQ(downloads[1].method, "GET");
}

TEST(Batch, OpenAIBatchObjectStates) {
  auto validating =
      parseOpenAIBatchStatus(R"({"id":"batch_1","object":"batch","status":"validating","output_file_id":null})");
  ASSERT_TRUE(validating);
  EXPECT_EQ(validating->state, BatchStatus::State::Pending);
  EXPECT_FALSE(validating->running);
  auto running = parseOpenAIBatchStatus(R"({"id":"batch_1","status":"in_progress"})");
  EXPECT_TRUE(running->running);
  EXPECT_EQ(running->state, BatchStatus::State::Pending);
  auto done = parseOpenAIBatchStatus(
      R"({"id":"batch_1","status":"completed","output_file_id":"file-o","error_file_id":"file-e","errors":null})");
  EXPECT_EQ(done->state, BatchStatus::State::Ended);
  EXPECT_EQ(done->outputRef, "file-o");
  EXPECT_EQ(done->errorRef, "file-e");
  auto failed = parseOpenAIBatchStatus(
      R"({"id":"batch_1","status":"failed","errors":{"object":"list","data":[{"code":"invalid_model","message":"no such model","line":1}]}})");
  EXPECT_EQ(failed->state, BatchStatus::State::Failed);
  EXPECT_EQ(failed->error, "batch batch_1 failed: invalid_model no such model");
  EXPECT_EQ(parseOpenAIBatchStatus(R"({"id":"b","status":"expired"})")->state, BatchStatus::State::Failed);
  EXPECT_EQ(parseOpenAIBatchStatus(R"({"id":"b","status":"expired","output_file_id":"f"})")->state,
            BatchStatus::State::Ended);
  EXPECT_FALSE(parseOpenAIBatchStatus("not json"));
  EXPECT_FALSE(parseOpenAIBatchStatus(R"({"status":"completed"})"));
}

TEST(Batch, OpenAIResultsSuccessesAndErrors) {
  std::string file =
      R"({"id":"batch_req_1","custom_id":"arbitra-1","response":{"status_code":200,"request_id":"r1","body":{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}},"error":null})"
      "\n"
      R"({"id":"batch_req_2","custom_id":"arbitra-0","response":{"status_code":400,"request_id":"r2","body":{"error":{"message":"bad max_tokens","type":"invalid_request_error"}}},"error":null})"
      "\n"
      R"({"id":"batch_req_3","custom_id":"arbitra-2","response":null,"error":{"code":"batch_expired","message":"not run in time"}})"
      "\n\n";
  auto results = parseOpenAIBatchResults(file);
  ASSERT_TRUE(results) << results.error().message;
  ASSERT_EQ(results->size(), 3u);
  EXPECT_EQ((*results)[0].customId, "arbitra-1");
  EXPECT_EQ((*results)[0].status, 200);
  EXPECT_EQ(json::parse((*results)[0].body).at("usage").at("prompt_tokens").as_int64(), 3);
  EXPECT_EQ((*results)[1].status, 400);
  EXPECT_EQ((*results)[1].error, "bad max_tokens");
  EXPECT_EQ((*results)[2].status, 502);
  EXPECT_EQ((*results)[2].error, "batch_expired: not run in time");
  auto garbage = parseOpenAIBatchResults("{\"custom_id\":\"a\"}\n{not json\n");
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().message, "batch results: line 2 is not a result");
}

TEST(Batch, AnthropicCreateBodyAndSteps) {
  Registry registry;
  registerBuiltins(registry);
  auto provider = registry.create(providerConfig("anthropic", "https://api.anthropic.com/v1"));
  const BatchApi& api = *provider->batch();
  auto a = request("one"), b = request("two");
  a.stream = true;  // never streamed inside a batch
  std::vector<BatchItem> items{{"arbitra-0", &a, "claude-x"}, {"arbitra-1", &b, "claude-x"}};
  EXPECT_FALSE(api.uploadRequest(items));
  auto create = api.createRequest(items, "");
  EXPECT_EQ(create.url, "https://api.anthropic.com/v1/messages/batches");
  EXPECT_EQ(http::findHeader(create.headers, "x-api-key"), "sk-secret");
  EXPECT_EQ(http::findHeader(create.headers, "anthropic-version"), "2023-06-01");
  auto body = json::parse(create.body).as_object();
  auto& requests = body.at("requests").as_array();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].at("custom_id").as_string(), "arbitra-1");
  const auto& params = requests[1].at("params").as_object();
  EXPECT_EQ(params.at("model").as_string(), "claude-x");
  EXPECT_EQ(params.at("max_tokens").as_int64(), 32);
  EXPECT_EQ(params.at("messages").at(0).at("role").as_string(), "user");
  EXPECT_FALSE(requests[0].at("params").as_object().contains("stream"));

  EXPECT_EQ(api.pollRequest("msgbatch_1").url, "https://api.anthropic.com/v1/messages/batches/msgbatch_1");
  BatchStatus ended;
  ended.id = "msgbatch_1";
  ended.outputRef = "https://api.anthropic.com/v1/messages/batches/msgbatch_1/results";
  EXPECT_EQ(api.resultRequests(ended).at(0).url, ended.outputRef);
  // A results_url on another origin is not followed with our key.
  ended.outputRef = "https://elsewhere.example/steal";
  EXPECT_EQ(api.resultRequests(ended).at(0).url, "https://api.anthropic.com/v1/messages/batches/msgbatch_1/results");
}

TEST(Batch, AnthropicBatchObjectAndResults) {
  auto running = parseAnthropicBatchStatus(
      R"({"id":"msgbatch_1","type":"message_batch","processing_status":"in_progress","results_url":null})");
  ASSERT_TRUE(running);
  EXPECT_EQ(running->state, BatchStatus::State::Pending);
  auto ended = parseAnthropicBatchStatus(
      R"({"id":"msgbatch_1","type":"message_batch","processing_status":"ended","results_url":"https://h/v1/messages/batches/msgbatch_1/results"})");
  EXPECT_EQ(ended->state, BatchStatus::State::Ended);
  EXPECT_EQ(ended->outputRef, "https://h/v1/messages/batches/msgbatch_1/results");
  EXPECT_FALSE(parseAnthropicBatchStatus(R"({"id":"x"})"));

  std::string file =
      R"({"custom_id":"arbitra-0","result":{"type":"succeeded","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"hello"}],"stop_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":1}}}})"
      "\n"
      R"({"custom_id":"arbitra-1","result":{"type":"errored","error":{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: too large"}}}})"
      "\n"
      R"({"custom_id":"arbitra-2","result":{"type":"expired"}})"
      "\n";
  auto results = parseAnthropicBatchResults(file);
  ASSERT_TRUE(results) << results.error().message;
  ASSERT_EQ(results->size(), 3u);
  EXPECT_EQ((*results)[0].status, 200);
  EXPECT_EQ(json::parse((*results)[0].body).at("usage").at("input_tokens").as_int64(), 5);
  EXPECT_EQ((*results)[1].status, 400);
  EXPECT_EQ((*results)[1].error, "max_tokens: too large");
  EXPECT_EQ((*results)[2].status, 502);
  EXPECT_EQ((*results)[2].error, "the request was expired in the batch");
  EXPECT_FALSE(parseAnthropicBatchResults(R"({"custom_id":"a","result":"nope"})"));
}

}  // namespace
}  // namespace arbitra::providers
