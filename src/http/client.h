// The upstream HTTP/1.1 client: pooled keep-alive connections per origin, TLS
// with certificate and host-name verification and SNI, timeouts for each phase,
// and an optional HTTP proxy (CONNECT for https, absolute-form for http).
//
// Design: send() returns as soon as the response headers are in; the body is
// then pulled chunk by chunk with ClientResponse::read(), so streamed answers
// are relayed as they arrive. A connection goes back to its pool only when its
// response was read to the end and both sides allow keep-alive; a response
// dropped early (the caller left, an error) closes its connection, which is
// what tells the upstream to stop generating.
//
//   HttpClient client;
//   auto response = co_await client.send({.url = base + "/chat/completions", ...}, timeouts);
//   if (!response) ...;                         // core::Error: 502/504 kinds
//   while (auto chunk = co_await (*response)->read(); chunk && !chunk->empty()) ...
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/error.h"
#include "http/types.h"

namespace arbitra::http {

struct ClientRequest {
  std::string method = "POST";
  std::string url;  // absolute http:// or https:// URL
  Headers headers;
  std::string body;
  // More headers, already rendered by headerLines(): a provider's fixed ones
  // (authorization, content-type...), rendered once instead of per request.
  std::shared_ptr<const std::string> fixedHeaders;
};

// `headers` as request header lines ("name: value\r\n" each), without what
// the client never sends from a caller: a header whose name or value would
// split a line (CR, LF, NUL), and the ones it writes itself (Host,
// Content-Length, Transfer-Encoding, Connection).
std::string headerLines(const Headers& headers);

struct ClientOptions {
  int64_t connectMs = 5'000;
  int64_t firstByteMs = 120'000;
  int64_t idleMs = 60'000;
  int64_t totalMs = 600'000;
  std::string proxy;  // "" or http://host:port
};

class ClientResponse {
 public:
  virtual ~ClientResponse() = default;
  int status = 0;
  Headers headers;
  std::string_view header(std::string_view name) const { return findHeader(headers, name); }
  // The next piece of the body; "" once the body is complete. Errors are
  // UpstreamError (reset, garbage) or UpstreamTimeout (idle or total deadline).
  virtual Task<core::Result<std::string>> read() = 0;
  // The rest of the body, refusing more than `maxBytes` (UpstreamError).
  virtual Task<core::Result<std::string>> readAll(size_t maxBytes);
  // Reads what is left of the body (the chunked terminator after a stream's
  // last event, typically) waiting at most `maxWaitMs` between pieces, so the
  // connection can go back to the pool; on timeout it is closed instead.
  virtual Task<void> drain(int64_t maxWaitMs) = 0;
};

class HttpClient {
 public:
  // `maxIdlePerOrigin`: idle keep-alive connections kept per origin.
  explicit HttpClient(size_t maxIdlePerOrigin = 64);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `request` and waits for the response headers. Runs on the calling
  // coroutine's executor. Errors: UpstreamError (cannot connect, TLS failure,
  // reset, malformed response) or UpstreamTimeout.
  Task<core::Result<std::unique_ptr<ClientResponse>>> send(ClientRequest request, const ClientOptions& options);

  // Connections currently idle in the pools (for tests and metrics).
  size_t idleConnections() const;

  struct Impl;  // public so the response type in client.cpp can hold it

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace arbitra::http
