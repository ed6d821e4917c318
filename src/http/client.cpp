// Beast/Asio implementation of http::HttpClient (see client.h for the contract).
//
// Idle connections live in a pool owned by the io_context their socket belongs
// to (an Asio service), keyed by (client, origin, proxy). The server runs one
// io_context per thread, so a pool is only touched by its own thread (no
// lock), a pooled connection is only reused where its socket can be used, and
// the pool is closed when its io_context shuts down, never after it is gone.
#include "http/client.h"

#include <chrono>
#include <deque>
#include <limits>
#include <atomic>
#include <sstream>
#include <thread>
#include <unordered_map>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>

namespace arbitra::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using core::ErrorKind;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
using Parser = bhttp::response_parser<bhttp::buffer_body>;

struct Target {
  bool tls = false;
  std::string host;
  std::string port;
  std::string pathAndQuery;
};

core::Result<Target> parseTarget(const std::string& url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return core::makeError(ErrorKind::Internal, "invalid upstream URL");
  Target t;
  auto scheme = parsed->scheme();
  if (scheme == "https") {
    t.tls = true;
  } else if (scheme != "http") {
    return core::makeError(ErrorKind::Internal, "upstream URL scheme must be http or https");
  }
  t.host = std::string(parsed->host_name().empty() ? parsed->encoded_host() : parsed->host_name());
  if (t.host.empty()) return core::makeError(ErrorKind::Internal, "upstream URL has no host");
  t.port = parsed->has_port() ? std::string(parsed->port()) : (t.tls ? "443" : "80");
  t.pathAndQuery = std::string(parsed->encoded_target());
  if (t.pathAndQuery.empty()) t.pathAndQuery = "/";
  return t;
}

core::Error timeoutError(const char* phase, int64_t ms) {
  return core::makeError(ErrorKind::UpstreamTimeout,
                         std::string("upstream ") + phase + " timed out after " + std::to_string(ms) + " ms");
}

core::Error ioError(const char* phase, const beast::error_code& ec) {
  if (ec == beast::error::timeout) return core::makeError(ErrorKind::UpstreamTimeout, std::string("upstream ") + phase + " timed out");
  return core::makeError(ErrorKind::UpstreamError, std::string("upstream ") + phase + " failed: " + ec.message());
}

// A connection to one origin, plain or TLS, behind one small interface.
class Connection {
 public:
  virtual ~Connection() {
    if (idleCount) --*idleCount;
  }
  virtual beast::tcp_stream& lowest() = 0;
  virtual Task<beast::error_code> write(bhttp::request<bhttp::string_body>& request) = 0;
  virtual Task<beast::error_code> readHeader(Parser& parser) = 0;
  virtual Task<std::tuple<beast::error_code, size_t>> readSome(Parser& parser) = 0;
  // Set while the connection sits in a pool: the client's count of idle ones.
  std::shared_ptr<std::atomic<size_t>> idleCount;
  void expiresAfter(int64_t ms) { lowest().expires_after(std::chrono::milliseconds(std::max<int64_t>(ms, 1))); }
  void expiresNever() { lowest().expires_never(); }
  beast::flat_buffer buffer;
};

template <typename Stream>
class StreamConnection final : public Connection {
 public:
  explicit StreamConnection(Stream stream) : stream_(std::move(stream)) {}
  beast::tcp_stream& lowest() override { return beast::get_lowest_layer(stream_); }
  Task<beast::error_code> write(bhttp::request<bhttp::string_body>& request) override {
    auto [ec, n] = co_await bhttp::async_write(stream_, request, kNoThrow);
    co_return ec;
  }
  Task<beast::error_code> readHeader(Parser& parser) override {
    auto [ec, n] = co_await bhttp::async_read_header(stream_, buffer, parser, kNoThrow);
    co_return ec;
  }
  Task<std::tuple<beast::error_code, size_t>> readSome(Parser& parser) override {
    co_return co_await bhttp::async_read_some(stream_, buffer, parser, kNoThrow);
  }

 private:
  Stream stream_;
};

// The idle connections of one io_context (see the file comment).
class IdlePool : public asio::execution_context::service {
 public:
  static asio::execution_context::id id;
  explicit IdlePool(asio::execution_context& context) : service(context) {}
  void shutdown() override { connections.clear(); }
  std::unordered_map<std::string, std::vector<std::unique_ptr<Connection>>> connections;
};
asio::execution_context::id IdlePool::id;

IdlePool& idlePoolOf(const asio::any_io_executor& executor) {
  return asio::use_service<IdlePool>(asio::query(executor, asio::execution::context));
}

std::atomic<uint64_t> gNextClientId{1};

}  // namespace

struct HttpClient::Impl : std::enable_shared_from_this<HttpClient::Impl> {
  explicit Impl(size_t maxIdle) : maxIdlePerOrigin(maxIdle), tls(ssl::context::tls_client) {
    tls.set_default_verify_paths();  // honours SSL_CERT_FILE / SSL_CERT_DIR
    tls.set_verify_mode(ssl::verify_peer);
  }

  std::string poolKey(const Target& t, const std::string& proxy) const {
    return std::to_string(clientId) + '|' + (t.tls ? "https://" : "http://") + t.host + ':' + t.port + '|' + proxy;
  }

  std::unique_ptr<Connection> take(const asio::any_io_executor& executor, const std::string& key) {
    auto& pool = idlePoolOf(executor).connections;
    auto it = pool.find(key);
    if (it == pool.end() || it->second.empty()) return nullptr;
    auto connection = std::move(it->second.back());
    it->second.pop_back();
    --*idleCount;
    connection->idleCount.reset();
    return connection;
  }

  void give(const std::string& key, std::unique_ptr<Connection> connection) {
    auto& pool = idlePoolOf(connection->lowest().get_executor()).connections[key];
    if (pool.size() >= maxIdlePerOrigin) return;  // dropping it closes it
    ++*idleCount;
    connection->idleCount = idleCount;
    pool.push_back(std::move(connection));
  }

  Task<core::Result<std::unique_ptr<Connection>>> connect(const Target& target, const ClientOptions& options);

  uint64_t clientId = gNextClientId.fetch_add(1);
  size_t maxIdlePerOrigin;
  ssl::context tls;
  std::shared_ptr<std::atomic<size_t>> idleCount = std::make_shared<std::atomic<size_t>>(0);
};

Task<core::Result<std::unique_ptr<Connection>>> HttpClient::Impl::connect(const Target& target,
                                                                          const ClientOptions& options) {
  auto executor = co_await asio::this_coro::executor;
  std::string host = target.host;
  std::string port = target.port;
  bool viaProxy = !options.proxy.empty();
  if (viaProxy) {
    auto proxy = parseTarget(options.proxy);
    if (!proxy) co_return core::makeError(ErrorKind::Internal, "invalid egress proxy URL");
    host = proxy->host;
    port = proxy->port;
  }
  beast::tcp_stream stream(executor);
  beast::error_code cec;
  // An IP literal needs no resolver: Asio's resolver runs getaddrinfo on a
  // helper thread, a thread hop and a lookup for every new connection.
  beast::error_code literalError;
  auto literal = asio::ip::make_address(host, literalError);
  if (!literalError) {
    tcp::endpoint direct(literal, static_cast<unsigned short>(std::stoi(port)));
    stream.expires_after(std::chrono::milliseconds(options.connectMs));
    std::tie(cec) = co_await stream.async_connect(direct, kNoThrow);
  } else {
    tcp::resolver resolver(executor);
    auto [rec, endpoints] = co_await resolver.async_resolve(host, port, kNoThrow);
    if (rec) co_return core::makeError(ErrorKind::UpstreamError, "cannot resolve upstream host " + host + ": " + rec.message());
    stream.expires_after(std::chrono::milliseconds(options.connectMs));
    std::tie(cec, std::ignore) = co_await stream.async_connect(endpoints, kNoThrow);
  }
  if (cec == beast::error::timeout) co_return timeoutError("connect", options.connectMs);
  if (cec) co_return core::makeError(ErrorKind::UpstreamError, "cannot connect to upstream " + host + ":" + port + ": " + cec.message());
  stream.socket().set_option(tcp::no_delay(true));

  if (viaProxy && target.tls) {  // tunnel through the proxy with CONNECT
    std::string authority = target.host + ":" + target.port;
    bhttp::request<bhttp::empty_body> connectRequest{bhttp::verb::connect, authority, 11};
    connectRequest.set(bhttp::field::host, authority);
    auto [wec, wn] = co_await bhttp::async_write(stream, connectRequest, kNoThrow);
    if (wec) co_return ioError("proxy CONNECT", wec);
    beast::flat_buffer proxyBuffer;
    bhttp::response_parser<bhttp::empty_body> proxyResponse;
    proxyResponse.skip(true);  // a 2xx answer to CONNECT has no body
    auto [hec, hn] = co_await bhttp::async_read_header(stream, proxyBuffer, proxyResponse, kNoThrow);
    if (hec) co_return ioError("proxy CONNECT", hec);
    if (proxyResponse.get().result_int() / 100 != 2) {
      co_return core::makeError(ErrorKind::UpstreamError, "egress proxy refused CONNECT with status " +
                                                              std::to_string(proxyResponse.get().result_int()));
    }
  }

  if (!target.tls) {
    stream.expires_never();
    co_return std::unique_ptr<Connection>(new StreamConnection<beast::tcp_stream>(std::move(stream)));
  }
  beast::ssl_stream<beast::tcp_stream> secure(std::move(stream), tls);
  if (!SSL_set_tlsext_host_name(secure.native_handle(), target.host.c_str())) {
    co_return core::makeError(ErrorKind::UpstreamError, "cannot set TLS server name for " + target.host);
  }
  secure.set_verify_callback(ssl::host_name_verification(target.host));
  auto [sec] = co_await secure.async_handshake(ssl::stream_base::client, kNoThrow);
  if (sec == beast::error::timeout) co_return timeoutError("TLS handshake", options.connectMs);
  if (sec) co_return core::makeError(ErrorKind::UpstreamError, "TLS handshake with " + target.host + " failed: " + sec.message());
  beast::get_lowest_layer(secure).expires_never();
  co_return std::unique_ptr<Connection>(new StreamConnection<beast::ssl_stream<beast::tcp_stream>>(std::move(secure)));
}

namespace {

class PooledResponse final : public ClientResponse {
 public:
  PooledResponse(std::shared_ptr<HttpClient::Impl> client, std::string key, std::unique_ptr<Connection> connection,
                 Clock::time_point deadline, const ClientOptions& options)
      : client_(std::move(client)), key_(std::move(key)), connection_(std::move(connection)),
        deadline_(deadline), idleMs_(options.idleMs), totalMs_(options.totalMs) {
    parser_.header_limit(64 * 1024);
    parser_.body_limit(std::numeric_limits<std::uint64_t>::max());
  }

  ~PooledResponse() override {
    // Only a connection whose response was read to the end can carry another.
    if (connection_ && parser_.is_done() && parser_.keep_alive() && !failed_) {
      connection_->expiresNever();
      client_->give(key_, std::move(connection_));
    }
  }

  Parser& parser() { return parser_; }
  Connection& connection() { return *connection_; }

  Task<core::Result<std::string>> read() override {
    if (parser_.is_done()) co_return std::string();
    if (failed_) co_return core::makeError(core::ErrorKind::UpstreamError, "upstream response already failed");
    char chunk[16 * 1024];
    for (;;) {
      auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
      if (remaining <= 0) {
        failed_ = true;
        co_return timeoutError("response", totalMs_);
      }
      bool idleBound = idleMs_ < remaining;
      connection_->expiresAfter(idleBound ? idleMs_ : remaining);
      parser_.get().body().data = chunk;
      parser_.get().body().size = sizeof(chunk);
      auto [ec, n] = co_await connection_->readSome(parser_);
      connection_->expiresNever();
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) {
        failed_ = true;
        if (ec == beast::error::timeout) {
          co_return idleBound ? timeoutError("stream (idle between chunks)", idleMs_) : timeoutError("response", totalMs_);
        }
        if (ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == bhttp::error::partial_message) {
          co_return core::makeError(core::ErrorKind::UpstreamError, "upstream closed the connection mid-response");
        }
        co_return ioError("read", ec);
      }
      size_t produced = sizeof(chunk) - parser_.get().body().size;
      if (produced > 0) co_return std::string(chunk, produced);
      if (parser_.is_done()) co_return std::string();
    }
  }

  Task<void> drain(int64_t maxWaitMs) override {
    idleMs_ = std::min(idleMs_, maxWaitMs);
    for (int pieces = 0; pieces < 64; ++pieces) {
      auto rest = co_await read();
      if (!rest || rest->empty()) co_return;
    }
    failed_ = true;  // still talking: not worth keeping
  }

  bool failed_ = false;

 private:
  std::shared_ptr<HttpClient::Impl> client_;
  std::string key_;
  std::unique_ptr<Connection> connection_;
  Parser parser_;
  Clock::time_point deadline_;
  int64_t idleMs_;
  int64_t totalMs_;
};

}  // namespace

Task<core::Result<std::string>> ClientResponse::readAll(size_t maxBytes) {
  std::string body;
  for (;;) {
    auto piece = co_await read();
    if (!piece) co_return piece.error();
    if (piece->empty()) co_return body;
    if (body.size() + piece->size() > maxBytes) {
      co_return core::makeError(core::ErrorKind::UpstreamError,
                                "upstream response larger than " + std::to_string(maxBytes) + " bytes");
    }
    body += *piece;
  }
}

HttpClient::HttpClient(size_t maxIdlePerOrigin) : impl_(std::make_shared<Impl>(maxIdlePerOrigin)) {}
HttpClient::~HttpClient() = default;

size_t HttpClient::idleConnections() const { return *impl_->idleCount; }

Task<core::Result<std::unique_ptr<ClientResponse>>> HttpClient::send(ClientRequest request,
                                                                     const ClientOptions& options) {
  auto target = parseTarget(request.url);
  if (!target) co_return target.error();
  auto deadline = Clock::now() + std::chrono::milliseconds(options.totalMs);
  auto key = impl_->poolKey(*target, options.proxy);
  auto executor = co_await asio::this_coro::executor;
  bool absoluteForm = !options.proxy.empty() && !target->tls;

  bhttp::request<bhttp::string_body> message{bhttp::string_to_verb(request.method),
                                             absoluteForm ? request.url : target->pathAndQuery, 11};
  bool defaultPort = target->port == (target->tls ? "443" : "80");
  message.set(bhttp::field::host, defaultPort ? target->host : target->host + ":" + target->port);
  for (auto& h : request.headers) message.set(h.name, h.value);
  message.body() = std::move(request.body);
  message.keep_alive(true);
  message.prepare_payload();

  // A pooled connection may have been closed by the upstream while idle: if it
  // fails before any response byte, send once more on a fresh connection.
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto connection = attempt == 0 ? impl_->take(executor, key) : nullptr;
    bool reused = connection != nullptr;
    if (!connection) {
      auto connected = co_await impl_->connect(*target, options);
      if (!connected) co_return connected.error();
      connection = std::move(*connected);
    }
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    bool firstByteBound = options.firstByteMs < remaining;
    connection->expiresAfter(firstByteBound ? options.firstByteMs : remaining);
    auto wec = co_await connection->write(message);
    if (wec) {
      if (reused && wec != beast::error::timeout) continue;
      co_return ioError("write", wec);
    }
    auto response = std::make_unique<PooledResponse>(impl_, key, std::move(connection), deadline, options);
    auto hec = co_await response->connection().readHeader(response->parser());
    response->connection().expiresNever();
    if (hec) {
      response->failed_ = true;
      if (hec == beast::error::timeout) {
        co_return firstByteBound ? timeoutError("first byte", options.firstByteMs) : timeoutError("response", options.totalMs);
      }
      bool stale = hec == bhttp::error::end_of_stream || hec == asio::error::eof || hec == asio::error::connection_reset;
      if (reused && stale && response->connection().buffer.size() == 0) continue;
      co_return ioError("response", hec);
    }
    auto& header = response->parser().get();
    response->status = static_cast<int>(header.result_int());
    for (const auto& field : header) {
      response->headers.push_back(Header{std::string(field.name_string()), std::string(field.value())});
    }
    co_return std::unique_ptr<ClientResponse>(std::move(response));
  }
  co_return core::makeError(ErrorKind::UpstreamError, "upstream closed the connection before answering");
}

}  // namespace arbitra::http
