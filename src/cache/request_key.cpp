// Canonical encoding of a chat request and its digests (see request_key.h).
// Each field is written as a one-byte tag, a length and the bytes, so no two
// different requests can encode to the same string.
#include "cache/request_key.h"

#include <openssl/evp.h>

#include <boost/json/serialize.hpp>

namespace arbitra::cache {
namespace {

// Raw request fields (either format) that change what the model answers.
constexpr const char* kOutputFields[] = {
    "seed", "n", "presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs",
    "reasoning_effort", "verbosity", "thinking", "parallel_tool_calls", "modalities", "audio",
    "prediction", "web_search_options", "min_p", "repetition_penalty",
};

class Writer {
 public:
  void field(char tag, std::string_view bytes) {
    out_ += tag;
    uint64_t size = bytes.size();
    out_.append(reinterpret_cast<const char*>(&size), sizeof size);
    out_.append(bytes);
  }
  void number(char tag, double value) { field(tag, std::string_view(reinterpret_cast<const char*>(&value), sizeof value)); }
  void integer(char tag, int64_t value) { field(tag, std::string_view(reinterpret_cast<const char*>(&value), sizeof value)); }
  std::string& text() { return out_; }

 private:
  std::string out_;
};

void writeMessage(Writer& w, const core::Message& m) {
  w.integer('r', static_cast<int64_t>(m.role));
  for (const auto& part : m.content) {
    if (part.kind == core::ContentPart::Kind::Text) {
      w.field('t', part.text);
    } else {
      w.field('i', part.imageUrl);
    }
  }
  for (const auto& call : m.toolCalls) {
    w.field('c', call.id);
    w.field('n', call.name);
    w.field('a', call.arguments);
  }
  if (!m.toolCallId.empty()) w.field('o', m.toolCallId);
  if (m.toolError) w.integer('e', 1);
  w.field('.', "");
}

// Everything but the messages: scope, group, system, tools, parameters.
void writeContext(Writer& w, const core::ChatRequest& r, const Scope& scope) {
  w.field('S', scope.shared ? std::string_view("*shared*") : std::string_view(scope.tenant));
  w.field('G', scope.group);
  w.field('Y', r.system);
  for (const auto& tool : r.tools) {
    w.field('T', tool.name);
    w.field('D', tool.description);
    w.field('P', boost::json::serialize(tool.parameters));
  }
  if (r.toolChoice) {
    w.integer('C', static_cast<int64_t>(r.toolChoice->kind));
    w.field('c', r.toolChoice->name);
  }
  if (r.maxTokens) w.integer('M', *r.maxTokens);
  if (r.temperature) w.number('t', *r.temperature);
  if (r.topP) w.number('p', *r.topP);
  if (r.topK) w.integer('k', *r.topK);
  for (const auto& stop : r.stop) w.field('s', stop);
  if (!r.responseFormat.is_null()) w.field('F', boost::json::serialize(r.responseFormat));
  for (const char* name : kOutputFields) {
    if (const auto* value = r.raw.if_contains(name)) {
      w.field('x', name);
      w.field('v', boost::json::serialize(*value));
    }
  }
  w.field('|', "");
}

bool textOnly(const core::Message& m) {
  if (m.content.empty() || !m.toolCalls.empty()) return false;
  for (const auto& part : m.content) {
    if (part.kind != core::ContentPart::Kind::Text) return false;
  }
  return true;
}

}  // namespace

std::string Digest::hex() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

Digest sha256(std::string_view data) {
  Digest d;
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), d.bytes.data(), &size, EVP_sha256(), nullptr);
  return d;
}

RequestKeys keysFor(const core::ChatRequest& request, const Scope& scope, bool allowToolResults) {
  RequestKeys keys;
  Writer w;
  writeContext(w, request, scope);
  for (const auto& m : request.messages) {
    if (m.role == core::Role::Tool) keys.hasToolResults = true;
  }
  const size_t contextSize = w.text().size();
  for (size_t i = 0; i + 1 < request.messages.size(); ++i) writeMessage(w, request.messages[i]);
  const size_t prefixSize = w.text().size();
  if (!request.messages.empty()) writeMessage(w, request.messages.back());
  keys.exact = sha256(w.text());
  (void)contextSize;

  if (request.messages.empty()) {
    keys.notSemantic = "no messages";
    return keys;
  }
  const auto& last = request.messages.back();
  if (last.role != core::Role::User || !textOnly(last)) {
    keys.notSemantic = "the final message is not a text-only user turn";
    return keys;
  }
  if (keys.hasToolResults && !allowToolResults) {
    keys.notSemantic = "the request carries tool results";
    return keys;
  }
  for (const auto& part : last.content) {
    if (!keys.query.empty()) keys.query += '\n';
    keys.query += part.text;
  }
  std::string ns = w.text().substr(0, prefixSize);
  ns += "\x01semantic-namespace";
  keys.ns = sha256(ns);
  return keys;
}

}  // namespace arbitra::cache
