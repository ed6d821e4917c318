// What makes two chat requests "the same" for the cache, as digests.
//
// exact key     SHA-256 over a canonical, length-prefixed encoding of: the
//               scope (tenant unless the group is shared), the model group,
//               the system prompt, every message (role, text and image parts,
//               tool calls, tool results), the tools and tool choice,
//               response_format, and the sampling parameters that change the
//               output (max_tokens, temperature, top_p, top_k, stop, and raw
//               fields such as seed, n, penalties, logit_bias, reasoning
//               effort, thinking). Wire format, stream and include_usage are
//               left out: an answer is stored in neutral form and replayed in
//               either format, streamed or not.
// namespace     the same encoding of everything except the final user turn's
//               text (plus a marker): two requests can only be matched by
//               meaning when their whole context is byte-for-byte the same.
// query         the final user turn's text, the only part matched by meaning.
//
// Guarantees: a request whose final message is not a user turn made only of
// text (images, or a trailing assistant/tool message) has no namespace and is
// never served semantically; neither is one carrying tool results unless the
// group allows it (`tools: true`). Pure functions; no I/O.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

#include "core/types.h"

namespace arbitra::cache {

struct Digest {
  std::array<uint8_t, 32> bytes{};
  bool operator==(const Digest&) const = default;
  uint64_t prefix() const {
    uint64_t out;
    std::memcpy(&out, bytes.data(), sizeof out);
    return out;
  }
  std::string hex() const;
};

struct DigestHash {
  size_t operator()(const Digest& d) const { return static_cast<size_t>(d.prefix()); }
};

Digest sha256(std::string_view data);

struct Scope {
  std::string tenant;  // key id; ignored when `shared`
  std::string group;   // the public model name the caller asked for
  bool shared = false;
};

struct RequestKeys {
  Digest exact;
  std::optional<Digest> ns;      // semantic namespace; nullopt: not servable by meaning
  std::string query;             // the final user turn's text
  bool hasToolResults = false;
  const char* notSemantic = "";  // why ns is empty, for logs and tests
};

// `allowToolResults`: requests with tool results may still get a namespace.
RequestKeys keysFor(const core::ChatRequest& request, const Scope& scope, bool allowToolResults);

}  // namespace arbitra::cache
