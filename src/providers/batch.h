// A provider's batch API: many chat requests submitted as one job, answered
// hours later at a discount (OpenAI's Batch API and Anthropic's Message
// Batches both bill half the synchronous price; see README).
//
// Design: like Provider, a BatchApi only builds requests and parses answers;
// it does no I/O, so the wire shapes are unit-tested without a network. The
// gateway's batcher (src/gateway/batcher.h) drives the steps:
//
//   1. upload  (OpenAI only) POST {base}/files, multipart, purpose=batch, the
//              JSONL of requests -> a file id           uploadRequest / parseUpload
//   2. create  OpenAI: POST {base}/batches {input_file_id, endpoint
//              /v1/chat/completions, completion_window 24h}; Anthropic: POST
//              /v1/messages/batches {requests: [{custom_id, params}]}
//                                                       createRequest / parseStatus
//   3. poll    GET the batch until it has ended        pollRequest / parseStatus
//   4. results OpenAI: GET {base}/files/{output_file_id}/content and the
//              error file; Anthropic: GET results_url   resultRequests / parseResults
//
// Each request is tagged with a custom_id; results come back in any order and
// are matched by it. A result's body is the upstream's own answer (a
// chat.completion or a message), for the gateway to relay or translate.
//
// Wire shapes checked against (read 2026-11-29): OpenAI's OpenAPI spec 2.3.0
// as generated into docs.rs/openai-struct (BatchRequestOutput: custom_id,
// response {status_code, request_id, body}, error) and openai-python
// types/batch.py (Batch: status validating|failed|in_progress|finalizing|
// completed|expired|cancelling|cancelled, output_file_id, error_file_id,
// errors.data); Anthropic's API reference at platform.claude.com (Retrieve a
// Message Batch: processing_status, request_counts, results_url; results:
// .jsonl lines by custom_id, result.type succeeded|errored|canceled|expired).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/types.h"
#include "http/client.h"

namespace arbitra::providers {

// One request in a batch.
struct BatchItem {
  std::string customId;  // unique within the batch
  const core::ChatRequest* request = nullptr;
  std::string upstreamModel;
};

// Where a batch stands, from the create or poll answer.
struct BatchStatus {
  enum class State { Pending, Ended, Failed };
  State state = State::Pending;
  std::string id;
  std::string upstreamStatus;  // the provider's own word: validating, in_progress, ended, ...
  bool running = false;        // accepted and being processed (not validating any more)
  std::string outputRef;       // OpenAI output_file_id / Anthropic results_url
  std::string errorRef;        // OpenAI error_file_id
  std::string error;           // why it failed (State::Failed)
};

// One request's outcome.
struct BatchResult {
  std::string customId;
  int status = 0;     // HTTP status the request would have had (200 on success)
  std::string body;   // success: the answer as the upstream's codec has it; else an error body
  std::string error;  // failures: a readable message
};

class BatchApi {
 public:
  virtual ~BatchApi() = default;
  // Step 1: nullopt when the kind needs no upload (Anthropic).
  virtual std::optional<http::ClientRequest> uploadRequest(const std::vector<BatchItem>& items) const = 0;
  virtual core::Result<std::string> parseUpload(const std::string& body) const = 0;
  // Step 2: `fileId` from step 1 ("" when there was none).
  virtual http::ClientRequest createRequest(const std::vector<BatchItem>& items, const std::string& fileId) const = 0;
  // Steps 2 and 3: the batch object.
  virtual core::Result<BatchStatus> parseStatus(const std::string& body) const = 0;
  virtual http::ClientRequest pollRequest(const std::string& batchId) const = 0;
  // Step 4: the downloads for an ended batch (one or two).
  virtual std::vector<http::ClientRequest> resultRequests(const BatchStatus& status) const = 0;
  // One downloaded JSONL file; lines that do not parse are an error.
  virtual core::Result<std::vector<BatchResult>> parseResults(const std::string& jsonl) const = 0;
};

// The non-blank lines of a downloaded JSONL file, numbered from 1 as in the
// file (for errors), for the kinds' parseResults().
struct JsonlLine {
  int number;
  std::string_view text;
};
inline std::vector<JsonlLine> jsonlLines(std::string_view jsonl) {
  std::vector<JsonlLine> lines;
  int number = 0;
  for (size_t start = 0; start < jsonl.size();) {
    size_t end = jsonl.find('\n', start);
    if (end == std::string_view::npos) end = jsonl.size();
    std::string_view line = jsonl.substr(start, end - start);
    start = end + 1;
    number++;
    if (line.find_first_not_of(" \t\r") != std::string_view::npos) lines.push_back({number, line});
  }
  return lines;
}

}  // namespace arbitra::providers
