// Beast/Asio implementation of http::Server (see server.h for the contract).
#include "http/server.h"

#include <atomic>
#include <list>
#include <mutex>
#include <chrono>
#include <optional>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include <array>
#include <charconv>
#include <cstring>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "http/deadline.h"
#include "http/header_text.h"
#include "http/write_now.h"

namespace arbitra::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr auto kWriteTimeout = std::chrono::seconds(60);

class Connection;

// Beast's HTTP/1 request parser (request line, framing, limits, keep-alive)
// without its field container and string body: the request line, each
// header and the body go straight into a Request (Beast's basic_fields and
// the copy out of it were ~2.5k instructions a request).
class RequestParser final : public bhttp::basic_parser<true> {
 public:
  RequestParser() { request.headers.reserve(16); }
  Request request;
  int version = 11;
  bool expectsContinue = false;  // an "Expect: 100-continue" header was seen

 private:
  void on_request_impl(bhttp::verb, beast::string_view method, beast::string_view target, int httpVersion,
                       beast::error_code&) override {
    request.method.assign(method.data(), method.size());
    request.target.assign(target.data(), target.size());
    version = httpVersion;
  }
  void on_response_impl(int, beast::string_view, int, beast::error_code&) override {}
  void on_field_impl(bhttp::field name, beast::string_view nameString, beast::string_view value,
                     beast::error_code&) override {
    if (name == bhttp::field::expect && beast::iequals(value, "100-continue")) expectsContinue = true;
    request.headers.push_back(Header{std::string(nameString), std::string(value)});
  }
  void on_header_impl(beast::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, beast::error_code&) override {
    if (length) request.body.reserve(static_cast<size_t>(*length));  // within body_limit(), checked before
  }
  size_t on_body_impl(beast::string_view body, beast::error_code&) override {
    request.body.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, beast::error_code&) override {
    request.body.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(beast::error_code&) override {}
};

// What a graceful shutdown needs to see across connections: whether we are
// draining, how many exchanges are in flight, and the live connections (so
// idle keep-alive ones can be closed at once). Guarded by `mutex` where noted.
struct DrainState {
  std::atomic<bool> draining{false};
  std::atomic<int> busy{0};
  std::mutex mutex;                                  // guards `connections`
  std::list<std::weak_ptr<Connection>> connections;  // live ones
};

// One client connection: reads requests in order, answers each through the
// ResponseWriter interface it implements, and watches for the client leaving.
//
// Reading: one read is outstanding on the socket at a time, into `incoming_`,
// and what it brings is appended to `buffer_`, which only this coroutine's
// synchronous code touches (parsing consumes from it). While a handler runs
// the same read keeps going: EOF or an error there means the client left,
// which cancels the handler (a terminal cancellation of this connection's
// coroutine: its pending upstream I/O fails with operation_aborted); bytes
// are kept (pipelining). When the handler is done, that read is simply left
// pending for the next request: no cancel, no new read.
//
// Writing: a response is written at once when the socket takes it (it
// usually does), and only the rest goes through an asynchronous write, so an
// answer costs one system call and no trip through the event loop.
class Connection : public ResponseWriter, public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, const ServerOptions& options, const Handler& handler,
             const ErrorBody& errorBody, DrainState& drain)
      : socket_(std::move(socket)),
        deadline_(socket_.get_executor(), [this] { cancelIo(); }),
        options_(options), handler_(handler), errorBody_(errorBody), drain_(drain) {}

  // Called on this connection's own thread when the server starts draining:
  // an idle keep-alive connection is closed now; a busy one closes after its
  // current answer (which goes out with "Connection: close").
  void closeIfIdle() {
    if (busy_) return;
    cancelIo();
  }

  // The slot the connection's coroutine is spawned with (see the class comment).
  asio::cancellation_slot cancellationSlot() { return cancelHandler_.slot(); }

  // At shutdown, once the threads have stopped: a coroutine parked in
  // moreBytes() waits in `waiter_`, not in an Asio queue, so the io_context
  // would not destroy it (and the frame and the connection would keep each
  // other alive). Destroying the handler unwinds the coroutine.
  void dropWaiter() { waiter_.reset(); }

  Task<void> run() {
    {
      std::lock_guard lock(drain_.mutex);
      registration_ = drain_.connections.insert(drain_.connections.end(), weak_from_this());
    }
    co_await serve();
    std::lock_guard lock(drain_.mutex);
    drain_.connections.erase(registration_);
  }

  Task<void> serve() {
    beast::error_code ignored;
    socket_.non_blocking(true, ignored);
    auto endpoint = socket_.remote_endpoint(ignored);
    remote_ = ignored ? std::string() : endpoint.address().to_string();
    for (bool first = true;; first = false) {
      if (drain_.draining || !co_await waitForRequestStart(first)) break;
      BusyMark busy(*this);
      // The parser consumes the header as it parses; keep the target for
      // errors raised before it is done (413, 431), so they come in the right format.
      std::string peekedTarget = bufferedTarget();
      started_ = ended_ = false;  // a new exchange, whatever the last one did
      RequestParser parser;
      parser.header_limit(static_cast<uint32_t>(options_.maxHeaderBytes));
      parser.body_limit(static_cast<uint64_t>(options_.maxBodyBytes));
      parser.eager(true);
      auto ec = co_await readRequest(parser);
      if (ec) {
        std::string target = parser.is_header_done() ? parser.request.target : peekedTarget;
        co_await answerReadError(ec, target);
        break;
      }
      Request request = std::move(parser.request);
      request.remoteAddress = remote_;
      version_ = parser.version;
      keepAlive_ = parser.keep_alive();

      if (drain_.draining) keepAlive_ = false;
      handlerRunning_ = true;
      // The read that sees the client leave starts once the handler first
      // waits (on its upstream): its first try, almost always empty, is then
      // not a system call on the way to the upstream request. A handler that
      // answers without waiting never needs it.
      asio::post(socket_.get_executor(), [self = shared_from_this()] {
        if (self->handlerRunning_) self->watchClient();
      });
      co_await runHandler(request);
      handlerRunning_ = false;
      if (gone_) co_await asio::this_coro::reset_cancellation_state();
      if (gone_ || !keepAlive_ || (started_ && !ended_) || drain_.draining) break;
    }
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    socket_.close(ec);
  }

  Task<bool> send(int status, Headers headers, std::string body) override {
    if (gone_ || started_) co_return false;
    std::string head = statusAndHeaders(status, headers);
    head += "Content-Length: ";
    head += std::to_string(body.size());
    head += "\r\n\r\n";
    started_ = true;
    std::array<asio::const_buffer, 2> pieces{asio::buffer(head), asio::buffer(body)};
    if (auto rest = startWrite(pieces)) endWrite(co_await std::move(*rest));
    ended_ = true;
    co_return !gone_;
  }

  using ResponseWriter::endStream;
  using ResponseWriter::startStream;

  Task<bool> startStream(int status, Headers headers, std::string_view first) override {
    if (gone_ || started_) co_return false;
    if (version_ < 11) keepAlive_ = false;  // HTTP/1.0: no chunking, the body ends at close
    std::string head = statusAndHeaders(status, headers);
    if (version_ >= 11) head += "Transfer-Encoding: chunked\r\n";
    head += "\r\n";
    started_ = true;
    if (!first.empty() && version_ >= 11) appendChunkSize(head, first.size());
    std::string_view after = !first.empty() && version_ >= 11 ? kCrLf : std::string_view();
    std::array<asio::const_buffer, 3> pieces{asio::buffer(head), asio::buffer(first), asio::buffer(after)};
    if (auto rest = startWrite(pieces)) endWrite(co_await std::move(*rest));
    co_return !gone_;
  }

  Task<bool> write(std::string_view data) override {
    if (gone_ || !started_ || ended_) co_return false;
    if (data.empty()) co_return true;
    if (version_ >= 11) {
      std::string size;
      appendChunkSize(size, data.size());
      std::array<asio::const_buffer, 3> pieces{asio::buffer(size), asio::buffer(data), asio::buffer(kCrLf)};
      if (auto rest = startWrite(pieces)) endWrite(co_await std::move(*rest));
    } else {
      std::array<asio::const_buffer, 1> pieces{asio::buffer(data)};
      if (auto rest = startWrite(pieces)) endWrite(co_await std::move(*rest));
    }
    co_return !gone_;
  }

  Task<bool> endStream(std::string_view last) override {
    if (gone_ || !started_ || ended_) co_return false;
    ended_ = true;
    if (version_ < 11) {
      if (last.empty()) co_return true;
      std::array<asio::const_buffer, 1> pieces{asio::buffer(last)};
      if (auto rest = startWrite(pieces)) endWrite(co_await std::move(*rest));
      co_return !gone_;
    }
    std::string size;
    if (!last.empty()) appendChunkSize(size, last.size());
    std::string_view end = last.empty() ? kLastChunk : kCrLfLastChunk;
    std::array<asio::const_buffer, 3> pieces{asio::buffer(size), asio::buffer(last), asio::buffer(end)};
    if (auto rest = startWrite(pieces)) endWrite(co_await std::move(*rest));
    co_return !gone_;
  }

  void abort() override {
    gone_ = true;
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

  bool clientGone() const override { return gone_; }
  asio::any_io_executor executor() { return socket_.get_executor(); }
  bool started() const override { return started_; }

 private:
  static constexpr std::string_view kCrLf = "\r\n";
  static constexpr std::string_view kLastChunk = "0\r\n\r\n";
  static constexpr std::string_view kCrLfLastChunk = "\r\n0\r\n\r\n";  // a chunk's end, then the last chunk

  // "1a2b\r\n": a chunk's size line.
  static void appendChunkSize(std::string& out, size_t size) {
    char line[24];
    auto end = std::to_chars(line, line + sizeof line - 2, size, 16).ptr;
    *end++ = '\r';
    *end++ = '\n';
    out.append(line, end);
  }
  static constexpr size_t kReadSize = 16 * 1024;

  void cancelIo() {
    beast::error_code ec;
    socket_.cancel(ec);
  }

  // The status line, Server, the handler's headers and Connection, each
  // ending in CRLF (the caller adds the framing header and the blank line).
  // A header whose name or value carries CR, LF or NUL (say, a model name
  // echoed from a request) would split the response: it is dropped, never
  // written. Framing headers are the server's alone.
  std::string statusAndHeaders(int status, const Headers& headers) const {
    auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
    size_t size = 64 + options_.serverName.size();
    for (const auto& h : headers) size += h.name.size() + h.value.size() + 4;
    std::string head;
    head.reserve(size);
    head += version_ >= 11 ? "HTTP/1.1 " : "HTTP/1.0 ";
    head += std::to_string(status);
    head += ' ';
    head.append(reason.data(), reason.size());
    head += "\r\nServer: ";
    head += options_.serverName;
    head += kCrLf;
    for (const auto& h : headers) {
      if (h.name.empty() || detail::splitsALine(h.name) || detail::splitsALine(h.value) || isFraming(h.name)) continue;
      head += h.name;
      head += ": ";
      head += h.value;
      head += kCrLf;
    }
    if (!keepAlive_ && version_ >= 11) head += "Connection: close\r\n";
    if (keepAlive_ && version_ < 11) head += "Connection: keep-alive\r\n";
    return head;
  }

  static bool isFraming(std::string_view name) {
    switch (name.size()) {
      case 10: return beast::iequals(name, "connection");
      case 14: return beast::iequals(name, "content-length");
      case 17: return beast::iequals(name, "transfer-encoding");
      default: return false;
    }
  }

  // Writes `pieces` (write_now.h): at once when the socket takes them all,
  // which is nearly always, and then the caller awaits nothing; else returns
  // the rest's write, under the write timeout, for the caller to await and
  // hand to endWrite(). Not a coroutine, which spares every answer a frame:
  //   if (auto rest = startWrite(pieces)) endWrite(co_await std::move(*rest));
  // Sets gone_ on failure.
  template <size_t N>
  std::optional<Task<beast::error_code>> startWrite(std::array<asio::const_buffer, N> pieces) {
    beast::error_code ec;
    auto rest = detail::writeStart(socket_, pieces, ec);
    if (ec) gone_ = true;
    if (rest) deadline_.after(kWriteTimeout);
    return rest;
  }
  void endWrite(beast::error_code ec) {
    deadline_.clear();
    if (ec) gone_ = true;
  }

  // Starts the one outstanding read, unless it is already pending.
  void startRead() {
    if (readPending_ || !socket_.is_open()) return;
    readPending_ = true;
    socket_.async_read_some(asio::buffer(incoming_),
                            [self = shared_from_this()](const beast::error_code& ec, size_t n) { self->onRead(ec, n); });
  }

  void onRead(const beast::error_code& ec, size_t n) {
    readPending_ = false;
    if (!ec) {
      auto space = buffer_.prepare(n);
      std::memcpy(space.data(), incoming_.data(), n);
      buffer_.commit(n);
    }
    if (waiter_) {
      auto waiter = std::move(waiter_);
      waiter->complete(ec);
      return;
    }
    if (!handlerRunning_) return;  // kept for the next request's read
    if (ec) {
      // EOF, a reset, or the write deadline cancelling a stuck client.
      gone_ = true;
      cancelHandler_.emit(asio::cancellation_type::terminal);
      return;
    }
    watchClient();
  }

  // While a handler runs: keep a read pending, to see the client leave (and
  // buffer what it pipelines, up to the limits).
  void watchClient() {
    if (buffer_.size() >= static_cast<size_t>(options_.maxHeaderBytes + options_.maxBodyBytes)) return;
    startRead();
  }

  // Waits for the outstanding read (starting it if needed) to bring bytes
  // into buffer_, or fail. operation_aborted with deadline_.expired() is a timeout.
  Task<beast::error_code> moreBytes() {
    startRead();
    if (!readPending_) co_return asio::error::bad_descriptor;  // closed (abort)
    auto park = [this](auto handler) { waiter_ = std::make_unique<WaiterOf<decltype(handler)>>(std::move(handler)); };
    NoThrowToken token = kNoThrow;
    auto [ec] = co_await asio::async_initiate<NoThrowToken, void(beast::error_code)>(park, token);
    co_return ec;
  }

  // Parses a whole request from what is buffered and what arrives, within
  // the header and body limits and the read timeout. Answers an
  // "Expect: 100-continue" once the header is in (RFC 9110 10.1.1: curl
  // waits for it before sending a large body).
  Task<beast::error_code> readRequest(RequestParser& parser) {
    beast::error_code ec;
    bool headerSeen = false;
    auto readEnd = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.readTimeoutMs);
    deadline_.after(std::chrono::milliseconds(options_.readTimeoutMs));
    for (;;) {
      if (buffer_.size() > 0) {
        size_t used = parser.put(buffer_.data(), ec);
        buffer_.consume(used);
        if (ec == bhttp::error::need_more) ec = {};
        if (ec || parser.is_done()) break;
        if (used > 0 && buffer_.size() > 0) continue;
      }
      if (parser.is_header_done() && !headerSeen) {
        headerSeen = true;
        if (parser.version >= 11 && parser.expectsContinue) {
          std::array<asio::const_buffer, 1> pieces{asio::buffer(kContinue)};
          if (auto rest = startWrite(pieces)) endWrite(co_await std::move(*rest));
          if (gone_) {
            ec = asio::error::connection_reset;
            break;
          }
          // A write's rest used the deadline for itself: the read's is back.
          deadline_.after(std::chrono::duration_cast<std::chrono::milliseconds>(readEnd - std::chrono::steady_clock::now()));
        }
      }
      if (deadline_.expired()) {
        ec = beast::error::timeout;
        break;
      }
      auto rec = co_await moreBytes();
      if (rec) {
        if (deadline_.expired()) {
          ec = beast::error::timeout;
        } else if (rec == asio::error::eof) {
          ec = parser.got_some() ? bhttp::error::partial_message : bhttp::error::end_of_stream;
        } else {
          ec = rec;
        }
        break;
      }
    }
    deadline_.clear();
    co_return ec;
  }

  // Reads and discards what the client is still sending, until it pauses for
  // `idle` (or the bounds are hit). Used before refusing an oversized body: a
  // client still uploading when we close would see a reset, not our answer
  // (and SDKs retry resets, uploading the whole body again).
  Task<void> discardInput(std::chrono::milliseconds idle, std::chrono::seconds total, size_t maxBytes) {
    auto end = std::chrono::steady_clock::now() + total;
    size_t discarded = buffer_.size();
    buffer_.consume(buffer_.size());
    while (discarded < maxBytes && std::chrono::steady_clock::now() < end) {
      deadline_.after(idle);
      auto ec = co_await moreBytes();
      deadline_.clear();
      if (ec) break;  // the client paused (the deadline), closed or reset
      discarded += buffer_.size();
      buffer_.consume(buffer_.size());
    }
  }

  // After answering an error we close; stop sending first and let the
  // client's last bytes drain (bounded) so the close does not reset the answer.
  Task<void> lingerBeforeClose() {
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    co_await discardInput(std::chrono::milliseconds(500), std::chrono::seconds(2), 1024 * 1024);
  }

  // Waits (up to the keep-alive timeout) until the next request's first byte is
  // buffered. False when the client closed or stayed idle too long.
  Task<bool> waitForRequestStart(bool first) {
    if (buffer_.size() > 0) co_return true;
    auto limit = first ? options_.readTimeoutMs : options_.keepAliveTimeoutMs;
    deadline_.after(std::chrono::milliseconds(limit));
    auto ec = co_await moreBytes();
    deadline_.clear();
    co_return !ec && buffer_.size() > 0;
  }

  Task<void> runHandler(Request& request) {
    try {
      co_await handler_(request, *this);
    } catch (const std::exception& e) {
      if (!gone_) std::fprintf(stderr, "arbitra: handler failed: %s\n", e.what());
    }
    if (gone_) co_return;
    if (!started_) {
      Headers headers = jsonHeaders();
      for (const auto& h : options_.errorHeaders) headers.push_back(h);
      co_await send(500, std::move(headers), errorBody_(500, "internal error", request.target));
    } else if (!ended_) {
      co_await endStream();
    }
  }

  // The request target from the request line still in the buffer, for
  // requests refused before the parser took their header (too large, say).
  std::string bufferedTarget() const {
    std::string_view data(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    auto lineEnd = data.find("\r\n");
    std::string_view line = data.substr(0, lineEnd == std::string_view::npos ? std::min<size_t>(data.size(), 8192) : lineEnd);
    auto first = line.find(' ');
    if (first == std::string_view::npos) return {};
    auto second = line.find(' ', first + 1);
    return std::string(line.substr(first + 1, second == std::string_view::npos ? std::string_view::npos : second - first - 1));
  }

  Task<void> answerReadError(const beast::error_code& ec, const std::string& target) {
    int status = 0;
    std::string message;
    if (ec == bhttp::error::body_limit) {
      status = 413;
      message = "request body exceeds the limit of " + std::to_string(options_.maxBodyBytes) + " bytes";
    } else if (ec == bhttp::error::header_limit) {
      status = 431;
      message = "request headers exceed the limit of " + std::to_string(options_.maxHeaderBytes) + " bytes";
    } else if (ec == beast::error::timeout) {
      status = 408;
      message = "request not received within " + std::to_string(options_.readTimeoutMs) + " ms";
    } else if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
               ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
      status = 400;
      message = "malformed HTTP request: " + ec.message();
    } else {
      co_return;  // the client closed or reset: nobody to answer
    }
    keepAlive_ = false;
    Headers closing{{"content-type", "application/json"}};
    for (const auto& h : options_.errorHeaders) closing.push_back(h);
    if (status == 413) {
      co_await discardInput(std::chrono::milliseconds(200), std::chrono::seconds(10), 256 * 1024 * 1024);
    }
    co_await send(status, std::move(closing), errorBody_(status, message, target));
    if (!gone_) co_await lingerBeforeClose();
  }

  // Counts this connection as busy from a request's first byte to its answer.
  struct BusyMark {
    explicit BusyMark(Connection& c) : connection(c) {
      connection.busy_ = true;
      connection.drain_.busy++;
    }
    ~BusyMark() {
      connection.busy_ = false;
      connection.drain_.busy--;
    }
    Connection& connection;
  };

  static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
  using NoThrowToken = std::decay_t<decltype(kNoThrow)>;

  tcp::socket socket_;
  detail::Deadline deadline_;
  beast::flat_buffer buffer_;
  std::array<char, kReadSize> incoming_;
  // The coroutine parked in moreBytes(), if any (Boost 1.81's
  // any_completion_handler cannot be moved, hence this small eraser).
  struct Waiter {
    virtual ~Waiter() = default;
    virtual void complete(const beast::error_code& ec) = 0;
  };
  template <typename Handler>
  struct WaiterOf final : Waiter {
    explicit WaiterOf(Handler h) : handler(std::move(h)) {}
    void complete(const beast::error_code& ec) override { std::move(handler)(ec); }
    Handler handler;
  };
  std::unique_ptr<Waiter> waiter_;
  asio::cancellation_signal cancelHandler_;
  const ServerOptions& options_;
  const Handler& handler_;
  const ErrorBody& errorBody_;
  DrainState& drain_;
  std::list<std::weak_ptr<Connection>>::iterator registration_;
  bool busy_ = false;
  bool readPending_ = false;
  bool handlerRunning_ = false;
  std::string remote_;
  unsigned version_ = 11;
  bool keepAlive_ = true;
  bool started_ = false;
  bool ended_ = false;
  bool gone_ = false;
};

Task<void> serveConnection(std::shared_ptr<Connection> connection) { co_await connection->run(); }

}  // namespace

std::string_view Request::path() const {
  std::string_view t(target);
  return t.substr(0, t.find('?'));
}

// One io_context per thread, each run by exactly one thread: a connection and
// every upstream connection it uses live on one thread, so nothing a request
// touches needs a lock or a strand (the upstream pools are per thread too).
struct Server::Impl {
  ServerOptions options;
  Handler handler;
  ErrorBody errorBody;
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<asio::signal_set> signals;
  std::vector<std::thread> threads;
  std::atomic<uint16_t> port{0};
  size_t nextContext = 0;
  DrainState drain;

  // Graceful stop, on context 0: stop accepting, close idle connections, let
  // the busy ones finish their answers (up to `grace`), then stop the threads.
  void beginDrain(std::chrono::milliseconds grace) {
    if (drain.draining.exchange(true)) return;
    beast::error_code ec;
    acceptor->close(ec);
    std::vector<std::shared_ptr<Connection>> live;
    {
      std::lock_guard lock(drain.mutex);
      for (auto& weak : drain.connections) {
        if (auto c = weak.lock()) live.push_back(std::move(c));
      }
    }
    for (auto& c : live) {
      auto executor = c->executor();
      asio::post(executor, [c] { c->closeIfIdle(); });
    }
    asio::co_spawn(*contexts[0], waitForIdle(std::chrono::steady_clock::now() + grace), asio::detached);
  }

  Task<void> waitForIdle(std::chrono::steady_clock::time_point deadline) {
    asio::steady_timer timer(*contexts[0]);
    while (drain.busy > 0 && std::chrono::steady_clock::now() < deadline) {
      timer.expires_after(std::chrono::milliseconds(20));
      co_await timer.async_wait(kNoThrow);
    }
    stopNow();
  }

  void stopNow() {
    beast::error_code ec;
    if (acceptor) acceptor->close(ec);
    if (signals) signals->cancel(ec);
    for (auto& context : contexts) context->stop();
  }

  Task<void> acceptLoop() {
    for (;;) {
      auto& context = *contexts[nextContext++ % contexts.size()];
      auto [ec, socket] = co_await acceptor->async_accept(context.get_executor(), kNoThrow);
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) co_return;
      if (ec) continue;  // e.g. EMFILE: keep serving the connections we have
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      auto connection = std::make_shared<Connection>(std::move(socket), options, handler, errorBody, drain);
      auto slot = connection->cancellationSlot();
      asio::co_spawn(context, serveConnection(std::move(connection)), asio::bind_cancellation_slot(slot, asio::detached));
    }
  }

  void joinThreads() {
    for (auto& t : threads) {
      if (t.joinable()) t.join();
    }
    threads.clear();
  }
};

Server::Server(ServerOptions options, Handler handler, ErrorBody errorBody) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->handler = std::move(handler);
  impl_->errorBody = std::move(errorBody);
  int count = std::max(1, impl_->options.threads);
  for (int i = 0; i < count; ++i) impl_->contexts.push_back(std::make_unique<asio::io_context>(1));
  impl_->acceptor = std::make_unique<tcp::acceptor>(*impl_->contexts[0]);
  impl_->signals = std::make_unique<asio::signal_set>(*impl_->contexts[0]);
}

Server::~Server() {
  stop();
  impl_->joinThreads();
  std::vector<std::shared_ptr<Connection>> live;
  {
    std::lock_guard lock(impl_->drain.mutex);
    for (auto& weak : impl_->drain.connections) {
      if (auto c = weak.lock()) live.push_back(std::move(c));
    }
  }
  for (auto& c : live) c->dropWaiter();
  live.clear();
  // Connections hold references into impl_: destroy them (with their
  // io_contexts) before the handler they call.
  impl_->signals.reset();
  impl_->acceptor.reset();
  impl_->contexts.clear();
}

void Server::start() {
  beast::error_code ec;
  auto address = asio::ip::make_address(impl_->options.host, ec);
  if (ec) throw std::runtime_error("invalid listen address '" + impl_->options.host + "'");
  tcp::endpoint endpoint{address, impl_->options.port};
  auto& acceptor = *impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error("cannot listen on " + impl_->options.host + ":" +
                             std::to_string(impl_->options.port) + ": " + ec.message());
  }
  impl_->port = acceptor.local_endpoint().port();
  asio::co_spawn(*impl_->contexts[0], impl_->acceptLoop(), asio::detached);
}

uint16_t Server::port() const { return impl_->port; }

void Server::run() {
  for (size_t i = 1; i < impl_->contexts.size(); ++i) {
    impl_->threads.emplace_back([context = impl_->contexts[i].get()] {
      auto guard = asio::make_work_guard(*context);
      context->run();
    });
  }
  impl_->contexts[0]->run();
  impl_->joinThreads();
}

void Server::runInBackground() {
  for (auto& context : impl_->contexts) {
    impl_->threads.emplace_back([context = context.get()] {
      auto guard = asio::make_work_guard(*context);
      context->run();
    });
  }
}

void Server::stop() {
  if (impl_->contexts.empty()) return;
  asio::post(*impl_->contexts[0], [impl = impl_.get()] { impl->stopNow(); });
}

void Server::drainAndStop(std::chrono::milliseconds grace) {
  if (impl_->contexts.empty()) return;
  asio::post(*impl_->contexts[0], [impl = impl_.get(), grace] { impl->beginDrain(grace); });
}

void Server::stopOnSignals(std::function<void()> onSignal) {
  impl_->signals->add(SIGINT);
  impl_->signals->add(SIGTERM);
  impl_->signals->async_wait([this, onSignal = std::move(onSignal)](const beast::error_code& ec, int) {
    if (ec) return;
    if (onSignal) onSignal();
    drainAndStop(std::chrono::milliseconds(impl_->options.shutdownGraceMs));
    // A second signal stops at once.
    impl_->signals->async_wait([this](const beast::error_code& again, int) {
      if (!again) stop();
    });
  });
}

}  // namespace arbitra::http
