// The HTTP/1.1 server: accepts connections, parses requests within limits, and
// hands each one to a Handler with a ResponseWriter. Knows nothing about LLMs.
//
// Design: Asio coroutines on N threads, one io_context per thread; each
// connection stays on the thread that accepted it, so its reads and writes
// never race and per-thread state (upstream pools) needs no lock. Requests on a connection are
// handled one after another (pipelining-safe: a pipelined request waits in the
// read buffer until the previous response is written). While a handler runs,
// the server keeps reading the socket: if the client closes it, the handler is
// cancelled (its pending upstream I/O fails with operation_aborted), which is
// how a client disconnect cancels the upstream request.
//
// Limits: header bytes (431), body bytes (413), a deadline for reading a whole
// request (408, slow clients), an idle keep-alive timeout.
//
//   http::Server server({.host = "127.0.0.1", .port = 0, .threads = 2}, handler, errorBody);
//   server.start();                      // binds; server.port() is now known
//   server.run();                        // blocks until stop()
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "http/types.h"

namespace arbitra::http {

struct Request {
  std::string method;
  std::string target;  // path and query, as sent
  Headers headers;
  std::string body;
  std::string remoteAddress;

  std::string_view header(std::string_view name) const { return findHeader(headers, name); }
  std::string_view path() const;  // target without the query
};

// How a handler answers. Every call returns false once the client is gone;
// the handler should then stop (and drop its upstream work).
class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;
  // A whole response with Content-Length.
  virtual Task<bool> send(int status, Headers headers, std::string body) = 0;
  // Starts a chunked response (the status and headers are final from here on),
  // with `first` as its first chunk when not empty: one write for both.
  virtual Task<bool> startStream(int status, Headers headers, std::string_view first) = 0;
  Task<bool> startStream(int status, Headers headers) { return startStream(status, std::move(headers), {}); }
  // One chunk of a started stream; written to the socket before returning.
  virtual Task<bool> write(std::string_view data) = 0;
  // Ends a started stream (the terminating zero-length chunk), after `last`
  // as its last chunk when not empty: one write for both.
  virtual Task<bool> endStream(std::string_view last) = 0;
  Task<bool> endStream() { return endStream({}); }
  // Drops the connection without finishing the response (the simulator uses
  // it to play an upstream that dies mid-stream).
  virtual void abort() = 0;
  virtual bool clientGone() const = 0;
  virtual bool started() const = 0;
};

using Handler = std::function<Task<void>(Request&, ResponseWriter&)>;
// Builds the body for a protocol-level error (bad request line, too large...),
// so that the caller gets it in the wire format its path implies.
using ErrorBody = std::function<std::string(int status, const std::string& message,
                                            std::string_view target)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: an ephemeral port
  int threads = 1;
  int64_t maxHeaderBytes = 16 * 1024;
  int64_t maxBodyBytes = 32 * 1024 * 1024;
  int64_t readTimeoutMs = 30'000;
  int64_t keepAliveTimeoutMs = 75'000;
  std::string serverName = "arbitra";
  Headers errorHeaders;  // added to the server's own error responses (413, 431, 408, 400, 500)
  int64_t shutdownGraceMs = 30'000;  // on SIGTERM: how long answers in flight may take to finish
};

class Server {
 public:
  Server(ServerOptions options, Handler handler, ErrorBody errorBody);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens; throws std::runtime_error with a clear message on failure.
  void start();
  uint16_t port() const;
  // Runs the I/O threads until stop(); the calling thread is one of them.
  void run();
  // Runs the I/O threads in the background (for tests and the in-process simulator).
  void runInBackground();
  // Stops accepting and ends run() at once; safe from any thread.
  void stop();
  // Graceful stop: stops accepting, closes idle keep-alive connections, lets
  // answers in flight finish (sent with "Connection: close") for up to
  // `grace`, then ends run(). Safe from any thread.
  void drainAndStop(std::chrono::milliseconds grace);
  // On SIGINT/SIGTERM: `onSignal`, then drainAndStop(shutdownGraceMs); a
  // second signal stops at once.
  void stopOnSignals(std::function<void()> onSignal = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace arbitra::http
