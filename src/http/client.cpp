// Beast/Asio implementation of http::HttpClient (see client.h for the contract).
//
// Idle connections live in a pool owned by the io_context their socket belongs
// to (an Asio service), keyed by (client, origin, proxy). The server runs one
// io_context per thread, so a pool is only touched by its own thread (no
// lock), a pooled connection is only reused where its socket can be used, and
// the pool is closed when its io_context shuts down, never after it is gone.
#include "http/client.h"

#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <limits>
#include <optional>
#include <sstream>
#include <thread>
#include <unordered_map>

#include <array>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

#include "http/deadline.h"
#include "http/header_text.h"
#include "http/write_now.h"

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

// Beast's HTTP/1 response parser (status line, Content-Length, chunked,
// keep-alive, limits) without its field container: each header goes straight
// into `headers` (Beast's basic_fields cost ~2k instructions a response, and
// copying out of it as much again), the body into the buffer the reader sets
// (`into`, `room`), as buffer_body did: what does not fit waits, with
// need_buffer, for the next read.
class ResponseParser final : public bhttp::basic_parser<false> {
 public:
  int status = 0;
  Headers headers;
  char* into = nullptr;
  size_t room = 0;

 private:
  void on_request_impl(bhttp::verb, beast::string_view, beast::string_view, int, beast::error_code&) override {}
  void on_response_impl(int code, beast::string_view, int, beast::error_code&) override { status = code; }
  void on_field_impl(bhttp::field, beast::string_view name, beast::string_view value, beast::error_code&) override {
    headers.push_back(Header{std::string(name), std::string(value)});
  }
  void on_header_impl(beast::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, beast::error_code&) override {}
  size_t on_body_impl(beast::string_view body, beast::error_code& ec) override { return take(body, ec); }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, beast::error_code& ec) override {
    return take(body, ec);
  }
  void on_finish_impl(beast::error_code&) override {}

  size_t take(beast::string_view body, beast::error_code& ec) {
    if (into == nullptr) {
      ec = bhttp::error::need_buffer;
      return 0;
    }
    size_t n = std::min(room, body.size());
    if (n > 0) std::memcpy(into, body.data(), n);
    into += n;
    room -= n;
    if (n < body.size()) ec = bhttp::error::need_buffer;
    return n;
  }
};
using Parser = ResponseParser;

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

// A connection to one origin, plain or TLS, behind one small interface. Its
// deadline cancels the socket's I/O when a phase's time is up (deadline.h).
//
// write() and readSome() are not coroutines: they hand back the operation
// for the caller to await (or, for a write the socket took at once,
// nothing), so that these awaits, the most frequent on the request path,
// cost no coroutine frame of their own.
class Connection {
 public:
  explicit Connection(const asio::any_io_executor& executor)
      : deadline(executor, [this] {
          beast::error_code ec;
          lowest().cancel(ec);
        }) {}
  virtual ~Connection() {
    if (idleCount) --*idleCount;
  }
  virtual tcp::socket& lowest() = 0;
  // Starts writing all of `pieces`: the plain kind tries at once, without
  // the event loop. Returns what is left to await, or nothing when the
  // write is over (then `ec` says how it went).
  virtual std::optional<Task<beast::error_code>> write(std::array<asio::const_buffer, 2> pieces,
                                                       beast::error_code& ec) = 0;
  virtual Task<std::tuple<beast::error_code, size_t>> readSome(asio::mutable_buffer into) = 0;
  // Set while the connection sits in a pool: the client's count of idle ones.
  std::shared_ptr<std::atomic<size_t>> idleCount;
  void expiresAfter(int64_t ms) { deadline.after(std::chrono::milliseconds(std::max<int64_t>(ms, 1))); }
  void expiresNever() { deadline.clear(); }
  // operation_aborted because the deadline passed reads as a timeout.
  beast::error_code timedOut(beast::error_code ec) const {
    if (deadline.expired() && (ec == asio::error::operation_aborted || !ec)) return beast::error::timeout;
    return ec;
  }
  detail::Deadline deadline;
  beast::flat_buffer buffer;
};

class PlainConnection final : public Connection {
 public:
  explicit PlainConnection(tcp::socket socket) : Connection(socket.get_executor()), socket_(std::move(socket)) {
    beast::error_code ignored;
    socket_.non_blocking(true, ignored);
  }
  tcp::socket& lowest() override { return socket_; }
  std::optional<Task<beast::error_code>> write(std::array<asio::const_buffer, 2> pieces,
                                               beast::error_code& ec) override {
    return detail::writeStart(socket_, pieces, ec);
  }
  Task<std::tuple<beast::error_code, size_t>> readSome(asio::mutable_buffer into) override {
    return socket_.async_read_some(into, kNoThrow);
  }

 private:
  tcp::socket socket_;
};

class TlsConnection final : public Connection {
 public:
  explicit TlsConnection(std::unique_ptr<ssl::stream<tcp::socket>> stream)
      : Connection(stream->get_executor()), stream_(std::move(stream)) {}
  tcp::socket& lowest() override { return stream_->next_layer(); }
  std::optional<Task<beast::error_code>> write(std::array<asio::const_buffer, 2> pieces,
                                               beast::error_code& ec) override {
    ec = {};
    return writeAll(pieces);
  }
  Task<std::tuple<beast::error_code, size_t>> readSome(asio::mutable_buffer into) override {
    return stream_->async_read_some(into, kNoThrow);
  }

 private:
  Task<beast::error_code> writeAll(std::array<asio::const_buffer, 2> pieces) {
    auto [ec, n] = co_await asio::async_write(*stream_, pieces, kNoThrow);
    co_return ec;
  }

  std::unique_ptr<ssl::stream<tcp::socket>> stream_;  // not movable once handshaken
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
  tcp::socket socket(executor);
  // One deadline for the connect, the proxy's CONNECT and the TLS handshake.
  detail::Deadline connectDeadline(executor, [&socket] {
    beast::error_code ignored;
    socket.cancel(ignored);
  });
  auto timedOut = [&connectDeadline](beast::error_code ec) {
    return connectDeadline.expired() && (!ec || ec == asio::error::operation_aborted) ? beast::error_code(beast::error::timeout)
                                                                                       : ec;
  };
  beast::error_code cec;
  // An IP literal needs no resolver: Asio's resolver runs getaddrinfo on a
  // helper thread, a thread hop and a lookup for every new connection.
  beast::error_code literalError;
  auto literal = asio::ip::make_address(host, literalError);
  if (!literalError) {
    tcp::endpoint direct(literal, static_cast<unsigned short>(std::stoi(port)));
    connectDeadline.after(std::chrono::milliseconds(options.connectMs));
    std::tie(cec) = co_await socket.async_connect(direct, kNoThrow);
  } else {
    tcp::resolver resolver(executor);
    auto [rec, endpoints] = co_await resolver.async_resolve(host, port, kNoThrow);
    if (rec) co_return core::makeError(ErrorKind::UpstreamError, "cannot resolve upstream host " + host + ": " + rec.message());
    connectDeadline.after(std::chrono::milliseconds(options.connectMs));
    std::tie(cec, std::ignore) = co_await asio::async_connect(socket, endpoints, kNoThrow);
  }
  cec = timedOut(cec);
  if (cec == beast::error::timeout) co_return timeoutError("connect", options.connectMs);
  if (cec) co_return core::makeError(ErrorKind::UpstreamError, "cannot connect to upstream " + host + ":" + port + ": " + cec.message());
  socket.set_option(tcp::no_delay(true));

  if (viaProxy && target.tls) {  // tunnel through the proxy with CONNECT
    std::string authority = target.host + ":" + target.port;
    bhttp::request<bhttp::empty_body> connectRequest{bhttp::verb::connect, authority, 11};
    connectRequest.set(bhttp::field::host, authority);
    auto [wec, wn] = co_await bhttp::async_write(socket, connectRequest, kNoThrow);
    if (wec) co_return ioError("proxy CONNECT", timedOut(wec));
    beast::flat_buffer proxyBuffer;
    bhttp::response_parser<bhttp::empty_body> proxyResponse;
    proxyResponse.skip(true);  // a 2xx answer to CONNECT has no body
    auto [hec, hn] = co_await bhttp::async_read_header(socket, proxyBuffer, proxyResponse, kNoThrow);
    if (hec) co_return ioError("proxy CONNECT", timedOut(hec));
    if (proxyResponse.get().result_int() / 100 != 2) {
      co_return core::makeError(ErrorKind::UpstreamError, "egress proxy refused CONNECT with status " +
                                                              std::to_string(proxyResponse.get().result_int()));
    }
  }

  if (!target.tls) co_return std::unique_ptr<Connection>(new PlainConnection(std::move(socket)));
  auto secure = std::make_unique<ssl::stream<tcp::socket>>(std::move(socket), tls);
  if (!SSL_set_tlsext_host_name(secure->native_handle(), target.host.c_str())) {
    co_return core::makeError(ErrorKind::UpstreamError, "cannot set TLS server name for " + target.host);
  }
  secure->set_verify_callback(ssl::host_name_verification(target.host));
  // The handshake runs on the moved socket: point the deadline at it.
  detail::Deadline handshakeDeadline(executor, [stream = secure.get()] {
    beast::error_code ignored;
    stream->next_layer().cancel(ignored);
  });
  handshakeDeadline.after(std::chrono::milliseconds(options.connectMs));
  auto [sec] = co_await secure->async_handshake(ssl::stream_base::client, kNoThrow);
  if (handshakeDeadline.expired()) co_return timeoutError("TLS handshake", options.connectMs);
  if (sec) co_return core::makeError(ErrorKind::UpstreamError, "TLS handshake with " + target.host + " failed: " + sec.message());
  co_return std::unique_ptr<Connection>(new TlsConnection(std::move(secure)));
}

namespace {

// A response read from a pooled connection. The Beast parser is fed by hand
// from the connection's buffer (what a composed Beast read would do, without
// its operation objects): the body lands in `chunk_`, or straight in the
// string that readAll() returns.
class PooledResponse final : public ClientResponse {
 public:
  PooledResponse(std::shared_ptr<HttpClient::Impl> client, const std::string& key, std::unique_ptr<Connection> connection,
                 Clock::time_point deadline, const ClientOptions& options)
      : client_(std::move(client)), key_(key), connection_(std::move(connection)),
        deadline_(deadline), idleMs_(options.idleMs), totalMs_(options.totalMs) {
    parser_.header_limit(64 * 1024);
    parser_.body_limit(std::numeric_limits<std::uint64_t>::max());
    parser_.headers.reserve(12);
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

  // Reads until the header is in. The caller set the first-byte deadline.
  Task<beast::error_code> readHeader() {
    auto& buffer = connection_->buffer;
    for (;;) {
      if (buffer.size() > 0) {
        beast::error_code ec;
        size_t used = parser_.put(buffer.data(), ec);
        buffer.consume(used);
        if (ec != bhttp::error::need_more) {
          if (ec) co_return ec;
          if (parser_.is_header_done()) {
            // From here on one put() parses every chunk the buffer holds,
            // not one element per call (the head had to stop the parser).
            parser_.eager(true);
            co_return ec;
          }
          if (used > 0 && buffer.size() > 0) continue;
        }
      }
      auto ec = co_await fill();
      if (ec) co_return ec;
    }
  }

  Task<core::Result<std::string>> read() override {
    char chunk[16 * 1024];
    auto piece = co_await readInto(chunk, sizeof chunk);
    if (!piece) co_return piece.error();
    co_return std::string(chunk, *piece);
  }

  Task<core::Result<std::string>> readAll(size_t maxBytes) override {
    std::string body;
    auto tooLarge = [maxBytes] {
      return core::makeError(core::ErrorKind::UpstreamError,
                             "upstream response larger than " + std::to_string(maxBytes) + " bytes");
    };
    // With a Content-Length the body is parsed straight into its string;
    // otherwise (chunked, or until close) piece by piece through a buffer on
    // the stack. Never resize() ahead of the data: that zero-fills.
    if (auto length = parser_.content_length(); length && !parser_.chunked()) {
      if (*length > maxBytes) co_return tooLarge();
      body.resize(static_cast<size_t>(*length));
      size_t filled = 0;
      while (filled < body.size()) {
        auto piece = co_await readInto(body.data() + filled, body.size() - filled);
        if (!piece) co_return piece.error();
        if (*piece == 0) break;
        filled += *piece;
      }
      body.resize(filled);
      co_return body;
    }
    char chunk[16 * 1024];
    for (;;) {
      auto piece = co_await readInto(chunk, sizeof chunk);
      if (!piece) co_return piece.error();
      if (*piece == 0) co_return body;
      if (body.size() + *piece > maxBytes) co_return tooLarge();
      body.append(chunk, *piece);
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
  // Reads more bytes into the connection's buffer, within the phase's deadline.
  Task<beast::error_code> fill() {
    auto& buffer = connection_->buffer;
    if (connection_->deadline.expired()) co_return beast::error::timeout;
    auto [ec, n] = co_await connection_->readSome(buffer.prepare(16 * 1024));
    ec = connection_->timedOut(ec);
    if (ec == asio::error::eof) {
      if (parser_.got_some()) {
        beast::error_code eofError;
        parser_.put_eof(eofError);  // a body that ends at close is complete here
        co_return eofError;
      }
      co_return bhttp::error::end_of_stream;
    }
    if (!ec) buffer.commit(n);
    co_return ec;
  }

  // Up to `size` body bytes into `into`; 0 once the body is complete. Takes
  // everything already received (across chunk boundaries) before it waits
  // on the socket: a stream whose events arrived together is relayed in one
  // write, not one per chunk.
  Task<core::Result<size_t>> readInto(char* into, size_t size) {
    if (parser_.is_done()) co_return size_t{0};
    if (failed_) co_return core::makeError(core::ErrorKind::UpstreamError, "upstream response already failed");
    auto& buffer = connection_->buffer;
    size_t filled = 0;
    for (;;) {
      beast::error_code ec;
      bool needMore = buffer.size() == 0;
      if (!needMore) {
        // put() parses as far as the buffer and `into` allow (the parser is
        // eager after the head); read only when it asks for more.
        size_t room = size - filled;
        parser_.into = into + filled;
        parser_.room = room;
        size_t used = parser_.put(buffer.data(), ec);
        buffer.consume(used);
        filled += room - parser_.room;
        if (ec == bhttp::error::need_more) needMore = true;
        if (ec == bhttp::error::need_buffer || ec == bhttp::error::need_more) ec = {};
      }
      if (!ec) {
        bool stop = needMore || buffer.size() == 0 || filled == size || parser_.is_done();
        if (filled > 0 && stop) co_return filled;
        if (parser_.is_done()) co_return size_t{0};
        if (!needMore && buffer.size() > 0) continue;
        auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
        if (remaining <= 0) {
          failed_ = true;
          co_return timeoutError("response", totalMs_);
        }
        bool idleBound = idleMs_ < remaining;
        connection_->expiresAfter(idleBound ? idleMs_ : remaining);
        ec = co_await fill();
        connection_->expiresNever();
        if (!ec) continue;
        if (parser_.is_done()) co_return size_t{0};  // ended by the close
        failed_ = true;
        if (ec == beast::error::timeout) {
          co_return idleBound ? timeoutError("stream (idle between chunks)", idleMs_)
                              : timeoutError("response", totalMs_);
        }
      }
      failed_ = true;
      if (ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == bhttp::error::partial_message) {
        co_return core::makeError(core::ErrorKind::UpstreamError, "upstream closed the connection mid-response");
      }
      co_return ioError("read", ec);
    }
  }

  std::shared_ptr<HttpClient::Impl> client_;
  std::string key_;
  std::unique_ptr<Connection> connection_;
  Parser parser_;
  Clock::time_point deadline_;
  int64_t idleMs_;
  int64_t totalMs_;
};

void appendHeaderLines(std::string& out, const Headers& headers) {
  for (const auto& h : headers) {
    if (h.name.empty() || detail::splitsALine(h.name) || detail::splitsALine(h.value)) continue;
    if (beast::iequals(h.name, "host") || beast::iequals(h.name, "content-length") ||
        beast::iequals(h.name, "transfer-encoding") || beast::iequals(h.name, "connection")) {
      continue;
    }
    out += h.name;
    out += ": ";
    out += h.value;
    out += "\r\n";
  }
}

// The request line and headers, by hand: Host, then the caller's headers
// (one carrying CR, LF or NUL would split the request: it is dropped), then
// the framing. The body goes out as a second buffer.
std::string requestHead(const ClientRequest& request, const Target& target, bool absoluteForm) {
  std::string head;
  head.reserve(256 + request.url.size());
  head += request.method;
  head += ' ';
  head += absoluteForm ? request.url : target.pathAndQuery;
  head += " HTTP/1.1\r\nHost: ";
  head += target.host;
  if (target.port != (target.tls ? "443" : "80")) {
    head += ':';
    head += target.port;
  }
  head += "\r\n";
  bool bodyless = request.body.empty() && (request.method == "GET" || request.method == "HEAD" || request.method == "DELETE");
  if (request.fixedHeaders) head += *request.fixedHeaders;
  appendHeaderLines(head, request.headers);
  if (!bodyless) {
    head += "Content-Length: ";
    head += std::to_string(request.body.size());
    head += "\r\n";
  }
  head += "\r\n";
  return head;
}

// URL -> parsed target, per thread: provider URLs are few and repeat on
// every request, so each is parsed once.
core::Result<Target> cachedTarget(const std::string& url) {
  thread_local std::unordered_map<std::string, core::Result<Target>> parsed;
  auto it = parsed.find(url);
  if (it != parsed.end()) return it->second;
  auto target = parseTarget(url);
  if (parsed.size() < 1024) parsed.emplace(url, target);  // a bound: URLs come from config
  return target;
}

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

std::string headerLines(const Headers& headers) {
  std::string out;
  appendHeaderLines(out, headers);
  return out;
}

HttpClient::HttpClient(size_t maxIdlePerOrigin) : impl_(std::make_shared<Impl>(maxIdlePerOrigin)) {}
HttpClient::~HttpClient() = default;

size_t HttpClient::idleConnections() const { return *impl_->idleCount; }

Task<core::Result<std::unique_ptr<ClientResponse>>> HttpClient::send(ClientRequest request,
                                                                     const ClientOptions& options) {
  auto target = cachedTarget(request.url);
  if (!target) co_return target.error();
  auto deadline = Clock::now() + std::chrono::milliseconds(options.totalMs);
  auto key = impl_->poolKey(*target, options.proxy);
  auto executor = co_await asio::this_coro::executor;
  bool absoluteForm = !options.proxy.empty() && !target->tls;
  std::string head = requestHead(request, *target, absoluteForm);
  std::array<asio::const_buffer, 2> pieces{asio::buffer(head), asio::buffer(request.body)};

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
    beast::error_code wec;
    if (auto rest = connection->write(pieces, wec)) wec = co_await std::move(*rest);
    wec = connection->timedOut(wec);
    if (wec) {
      connection->expiresNever();
      if (reused && wec != beast::error::timeout) continue;
      co_return ioError("write", wec);
    }
    auto response = std::make_unique<PooledResponse>(impl_, key, std::move(connection), deadline, options);
    auto hec = co_await response->readHeader();
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
    response->status = response->parser().status;
    response->headers = std::move(response->parser().headers);
    co_return std::unique_ptr<ClientResponse>(std::move(response));
  }
  co_return core::makeError(ErrorKind::UpstreamError, "upstream closed the connection before answering");
}

}  // namespace arbitra::http
