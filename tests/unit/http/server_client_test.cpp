// The HTTP server and client against each other on loopback: round trips,
// chunk-by-chunk streaming, connection reuse, limits, timeouts, and a client
// disconnect cancelling the handler.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include <boost/asio.hpp>

#include "http/client.h"
#include "http/server.h"

namespace arbitra::http {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

const ClientOptions kDefaults{};

std::string errorBody(int status, const std::string& message, std::string_view) {
  return "{\"status\":" + std::to_string(status) + ",\"message\":\"" + message + "\"}";
}

Task<void> sleepMs(int ms) {
  asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(ms));
  co_await timer.async_wait(asio::use_awaitable);
}

// Writes `request` on a fresh connection and reads until the server closes it.
std::string rawExchange(uint16_t port, const std::string& request) {
  asio::io_context ioc;
  asio::ip::tcp::socket socket(ioc);
  socket.connect({asio::ip::make_address("127.0.0.1"), port});
  asio::write(socket, asio::buffer(request));
  std::string all;
  boost::system::error_code ec;
  char buf[4096];
  for (;;) {
    size_t n = socket.read_some(asio::buffer(buf), ec);
    if (ec) break;
    all.append(buf, n);
  }
  return all;
}

struct TestServer {
  std::atomic<int> cancelled{0};
  std::atomic<int> handled{0};
  std::unique_ptr<Server> server;

  explicit TestServer(ServerOptions options = {}) {
    server = std::make_unique<Server>(
        options, [this](Request& r, ResponseWriter& w) { return handle(r, w); }, errorBody);
    server->start();
    server->runInBackground();
  }
  ~TestServer() { server->stop(); }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(server->port()) + path; }

  Task<void> handle(Request& request, ResponseWriter& out) {
    handled++;
    if (request.path() == "/echo") {
      Headers echoed{{"x-method", request.method}, {"x-test", std::string(request.header("X-Test"))}};
      co_await out.send(200, std::move(echoed), request.body);
    } else if (request.method == "CONNECT") {
      co_await out.send(403, {}, "no tunnels here");  // playing a proxy that refuses
    } else if (request.target.rfind("http://", 0) == 0) {
      co_await out.send(200, {}, "proxied " + request.target);  // playing a forward proxy
    } else if (request.path() == "/stream") {
      Headers sse{{"content-type", "text/event-stream"}};
      co_await out.startStream(200, std::move(sse));
      for (int i = 0; i < 3; ++i) {
        co_await out.write("data: " + std::to_string(i) + "\n\n");
        co_await sleepMs(30);
      }
      co_await out.endStream();
    } else if (request.path() == "/burst") {  // three events back to back, a moment after the headers
      Headers sse{{"content-type", "text/event-stream"}};
      co_await out.startStream(200, std::move(sse));
      co_await sleepMs(50);
      for (int i = 0; i < 3; ++i) co_await out.write("data: " + std::to_string(i) + "\n\n");
      co_await out.endStream();
    } else if (request.path() == "/framed") {  // the first and last chunks given with the head and the end
      Headers sse{{"content-type", "text/event-stream"}};
      co_await out.startStream(200, std::move(sse), "data: a\n\n");
      co_await out.write("data: b\n\n");
      co_await out.endStream("data: c\n\n");
    } else if (request.path() == "/slow") {
      try {
        co_await sleepMs(3000);
      } catch (const std::exception&) {
        cancelled++;
        throw;
      }
      co_await out.send(200, {}, "late");
    } else {
      co_await out.send(404, {}, "none");
    }
  }
};

// Runs one client coroutine to completion on its own io_context.
template <typename T>
T runClient(std::function<Task<T>()> body) {
  asio::io_context ioc;
  auto future = asio::co_spawn(ioc, body(), asio::use_future);
  ioc.run();
  return future.get();
}

TEST(HttpServerClient, RoundTrip) {
  TestServer server;
  HttpClient client;
  auto [status, method, test, body] = runClient<std::tuple<int, std::string, std::string, std::string>>([&]() -> Task<std::tuple<int, std::string, std::string, std::string>> {
    ClientRequest request{"POST", server.url("/echo"), {{"x-test", "yes"}}, "hello body"};
    auto response = co_await client.send(std::move(request), kDefaults);
    EXPECT_TRUE(response.ok());
    auto all = co_await (*response)->readAll(1 << 20);
    co_return std::make_tuple((*response)->status, std::string((*response)->header("x-method")),
                              std::string((*response)->header("x-test")), *all);
  });
  EXPECT_EQ(status, 200);
  EXPECT_EQ(method, "POST");
  EXPECT_EQ(test, "yes");
  EXPECT_EQ(body, "hello body");
}

// GETs `url` and returns the pieces read() gives, waiting `waitMs` after the
// headers before the first read.
std::vector<std::string> readPieces(HttpClient& client, const std::string& url, int waitMs = 0) {
  return runClient<std::vector<std::string>>([&]() -> Task<std::vector<std::string>> {
    std::vector<std::string> out;
    ClientRequest request{"GET", url, {}, ""};
    auto response = co_await client.send(std::move(request), kDefaults);
    EXPECT_TRUE(response.ok());
    if (!response.ok()) co_return out;
    if (waitMs > 0) co_await sleepMs(waitMs);
    for (;;) {
      auto piece = co_await (*response)->read();
      EXPECT_TRUE(piece.ok());
      if (!piece.ok() || piece->empty()) break;
      out.push_back(*piece);
    }
    co_return out;
  });
}

TEST(HttpServerClient, StreamsChunksAsTheyArrive) {
  TestServer server;
  HttpClient client;
  auto pieces = readPieces(client, server.url("/stream"));
  // Three writes 30 ms apart arrive as three reads, in order.
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_EQ(pieces[0], "data: 0\n\n");
  EXPECT_EQ(pieces[2], "data: 2\n\n");
}

// Chunks that are already here come back in one read: a relay writes them
// to its caller at once instead of one write per chunk.
TEST(HttpServerClient, ChunksAlreadyReceivedComeBackInOneRead) {
  TestServer server;
  HttpClient client;
  auto pieces = readPieces(client, server.url("/burst"), 200);  // all three chunks arrive meanwhile
  ASSERT_EQ(pieces.size(), 1u);
  EXPECT_EQ(pieces[0], "data: 0\n\ndata: 1\n\ndata: 2\n\n");
}

TEST(HttpServerClient, ReusesPooledConnection) {
  TestServer server;
  HttpClient client;
  auto idle = runClient<std::vector<size_t>>([&]() -> Task<std::vector<size_t>> {
    std::vector<size_t> counts;
    for (int i = 0; i < 3; ++i) {
      ClientRequest request{"POST", server.url("/echo"), {}, "x"};
      auto response = co_await client.send(std::move(request), kDefaults);
      EXPECT_TRUE(response.ok());
      co_await (*response)->readAll(1024);
      response = core::makeError(core::ErrorKind::Internal, "drop");  // releases the connection
      counts.push_back(client.idleConnections());
    }
    co_return counts;
  });
  EXPECT_EQ(idle, (std::vector<size_t>{1, 1, 1}));
}

TEST(HttpServerClient, ResponseDroppedEarlyIsNotPooled) {
  TestServer server;
  HttpClient client;
  auto idle = runClient<size_t>([&]() -> Task<size_t> {
    {
      ClientRequest request{"GET", server.url("/stream"), {}, ""};
      auto response = co_await client.send(std::move(request), kDefaults);
      EXPECT_TRUE(response.ok());
      co_await (*response)->read();  // first piece only, then drop
    }
    co_return client.idleConnections();
  });
  EXPECT_EQ(idle, 0u);
}

TEST(HttpServerClient, FirstByteTimeout) {
  TestServer server;
  HttpClient client;
  auto error = runClient<core::Error>([&]() -> Task<core::Error> {
    ClientOptions options;
    options.firstByteMs = 100;
    ClientRequest request{"GET", server.url("/slow"), {}, ""};
    auto response = co_await client.send(std::move(request), options);
    EXPECT_FALSE(response.ok());
    co_return response.ok() ? core::Error{} : response.error();
  });
  EXPECT_EQ(error.kind, core::ErrorKind::UpstreamTimeout);
  EXPECT_NE(error.message.find("first byte"), std::string::npos) << error.message;
}

TEST(HttpServerClient, ConnectionRefused) {
  uint16_t port;
  {
    TestServer server;
    port = server.server->port();
  }
  HttpClient client;
  auto error = runClient<core::Error>([&]() -> Task<core::Error> {
    ClientRequest request{"GET", "http://127.0.0.1:" + std::to_string(port) + "/", {}, ""};
    auto response = co_await client.send(std::move(request), kDefaults);
    co_return response.ok() ? core::Error{} : response.error();
  });
  EXPECT_EQ(error.kind, core::ErrorKind::UpstreamError);
}

TEST(HttpClientProxy, PlainHttpGoesThroughTheProxyInAbsoluteForm) {
  TestServer proxy;
  HttpClient client;
  auto body = runClient<std::string>([&]() -> Task<std::string> {
    ClientOptions options;
    options.proxy = "http://127.0.0.1:" + std::to_string(proxy.server->port());
    ClientRequest request{"GET", "http://upstream.example:8000/v1/models", {}, ""};
    auto response = co_await client.send(std::move(request), options);
    EXPECT_TRUE(response.ok());
    auto all = co_await (*response)->readAll(1024);
    co_return all.ok() ? *all : std::string();
  });
  EXPECT_EQ(body, "proxied http://upstream.example:8000/v1/models");
}

TEST(HttpClientProxy, HttpsTunnelsWithConnectAndReportsARefusal) {
  TestServer proxy;
  HttpClient client;
  auto message = runClient<std::string>([&]() -> Task<std::string> {
    ClientOptions options;
    options.proxy = "http://127.0.0.1:" + std::to_string(proxy.server->port());
    ClientRequest request{"GET", "https://upstream.example/v1/models", {}, ""};
    auto response = co_await client.send(std::move(request), options);
    co_return response.ok() ? std::string("unexpected success") : response.error().message;
  });
  EXPECT_NE(message.find("refused CONNECT with status 403"), std::string::npos) << message;
}

TEST(HttpServer, RejectsOversizedBodyWith413) {
  ServerOptions options;
  options.maxBodyBytes = 16;
  TestServer server(options);
  HttpClient client;
  auto [status, body] = runClient<std::pair<int, std::string>>([&]() -> Task<std::pair<int, std::string>> {
    ClientRequest request{"POST", server.url("/echo"), {}, std::string(1000, 'x')};
    auto response = co_await client.send(std::move(request), kDefaults);
    EXPECT_TRUE(response.ok());
    auto all = co_await (*response)->readAll(1 << 20);
    co_return std::make_pair((*response)->status, all.ok() ? *all : std::string());
  });
  EXPECT_EQ(status, 413);
  EXPECT_NE(body.find("exceeds the limit of 16 bytes"), std::string::npos) << body;
  EXPECT_EQ(server.handled, 0);
}

TEST(HttpServer, ClientDisconnectCancelsHandler) {
  TestServer server;
  {
    asio::io_context ioc;
    asio::ip::tcp::socket socket(ioc);
    socket.connect({asio::ip::make_address("127.0.0.1"), server.server->port()});
    std::string request = "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n";
    asio::write(socket, asio::buffer(request));
    std::this_thread::sleep_for(100ms);
    socket.close();  // leave while the handler waits
  }
  for (int i = 0; i < 100 && server.cancelled == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(server.cancelled, 1);
}

TEST(HttpServer, AnswersPipelinedRequestsInOrder) {
  TestServer server;
  std::string requests =
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nfirst"
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nsecond"
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nthird";
  std::string all = rawExchange(server.server->port(), requests);
  auto first = all.find("first");
  auto second = all.find("second");
  auto third = all.find("third");
  ASSERT_NE(first, std::string::npos) << all;
  ASSERT_NE(second, std::string::npos) << all;
  ASSERT_NE(third, std::string::npos) << all;
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
}

// startStream(first) and endStream(last) frame their chunks like write():
// chunked under HTTP/1.1, raw under HTTP/1.0 (whose body ends at close).
TEST(HttpServer, FirstAndLastChunksAreFramedLikeTheOthers) {
  TestServer server;
  auto exchange = [&](const std::string& request) {
    std::string all = rawExchange(server.server->port(), request);
    auto body = all.find("\r\n\r\n");
    return body == std::string::npos ? all : all.substr(body + 4);
  };
  EXPECT_EQ(exchange("GET /framed HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
            "9\r\ndata: a\n\n\r\n9\r\ndata: b\n\n\r\n9\r\ndata: c\n\n\r\n0\r\n\r\n");
  EXPECT_EQ(exchange("GET /framed HTTP/1.0\r\nHost: x\r\n\r\n"), "data: a\n\ndata: b\n\ndata: c\n\n");
}

// A one-shot upstream on port 0: reads one bodyless request's head, then
// writes `pieces` one at a time with a pause between them (so the client's
// parser sees the response split across reads), then closes.
struct ScriptedUpstream {
  asio::io_context ioc;
  asio::ip::tcp::acceptor acceptor{ioc, {asio::ip::make_address("127.0.0.1"), 0}};
  std::thread thread;
  explicit ScriptedUpstream(std::vector<std::string> pieces) {
    thread = std::thread([this, pieces] {
      asio::ip::tcp::socket socket(ioc);
      acceptor.accept(socket);
      std::string head;
      char buf[1024];
      boost::system::error_code ec;
      while (head.find("\r\n\r\n") == std::string::npos && !ec)
        head.append(buf, socket.read_some(asio::buffer(buf), ec));
      for (const auto& piece : pieces) {
        asio::write(socket, asio::buffer(piece), ec);
        std::this_thread::sleep_for(5ms);
      }
      socket.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
      while (!ec) socket.read_some(asio::buffer(buf), ec);  // until the client closes
    });
  }
  ~ScriptedUpstream() { thread.join(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + "/x"; }
};

struct Received {
  int status = 0;
  Headers headers;
  std::string body;
  std::string error;
};

Received fetch(const std::string& url) {
  HttpClient client;
  return runClient<Received>([&]() -> Task<Received> {
    Received out;
    ClientRequest request{"GET", url, {}, ""};  // GCC 12: no braced temporaries inside co_await
    auto response = co_await client.send(std::move(request), kDefaults);
    if (!response) {
      out.error = response.error().message;
      co_return out;
    }
    out.status = (*response)->status;
    out.headers = (*response)->headers;
    auto body = co_await (*response)->readAll(1 << 20);
    if (body)
      out.body = *body;
    else
      out.error = body.error().message;
    co_return out;
  });
}

TEST(HttpClientResponse, HeadAndChunkedBodySplitAcrossReadsKeepEveryHeaderInOrder) {
  ScriptedUpstream upstream({"HTTP/1.1 201 Created\r\nX-Dup: a\r\nContent-", "Type: text/plain\r\nx-dup:   b c  \r\n",
                             "Retry-After: 7\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", "lo\r\n",
                             "6\r\n world\r\n0\r\n\r\n"});
  auto got = fetch(upstream.url());
  ASSERT_TRUE(got.error.empty()) << got.error;
  EXPECT_EQ(got.status, 201);
  EXPECT_EQ(got.body, "hello world");
  ASSERT_EQ(got.headers.size(), 5u);
  EXPECT_EQ(got.headers[0].name, "X-Dup");
  EXPECT_EQ(got.headers[0].value, "a");
  EXPECT_EQ(got.headers[1].name, "Content-Type");
  EXPECT_EQ(got.headers[2].name, "x-dup");
  EXPECT_EQ(got.headers[2].value, "b c") << "surrounding whitespace is not part of the value";
  EXPECT_EQ(findHeader(got.headers, "retry-after"), "7");
  EXPECT_EQ(findHeader(got.headers, "content-type"), "text/plain");
}

TEST(HttpClientResponse, ContentLengthBodyEndsAtItsLengthAndABodyEndsAtClose) {
  ScriptedUpstream sized({"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello", " world"});
  auto got = fetch(sized.url());
  EXPECT_EQ(got.body, "hello world") << got.error;
  ScriptedUpstream untilClose({"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall ", "of it"});
  auto closed = fetch(untilClose.url());
  EXPECT_EQ(closed.body, "all of it") << closed.error;
}

TEST(HttpClientResponse, MalformedHeadsAreUpstreamErrors) {
  for (std::string head : {"garbage\r\n\r\n", "HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
                           "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
                           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"}) {
    ScriptedUpstream upstream({head});
    auto got = fetch(upstream.url());
    EXPECT_NE(got.error.find("upstream"), std::string::npos) << head << " -> " << got.error;
    EXPECT_TRUE(got.body.empty()) << head;
  }
}

TEST(HttpClientRequest, FixedHeaderLinesGoOutWithTheOthersAndHeaderLinesDropsWhatWouldSplitARequest) {
  EXPECT_EQ(
      headerLines({{"x-ok", "1"}, {"bad\r\nname", "v"}, {"Host", "evil"}, {"x", "a\nb"}, {"content-length", "9"}}),
      "x-ok: 1\r\n");
  TestServer server;
  HttpClient client;
  auto echoed = runClient<std::string>([&]() -> Task<std::string> {
    ClientRequest request{"POST", server.url("/echo"), {{"x-other", "2"}}, "body"};
    request.fixedHeaders = std::make_shared<const std::string>(headerLines({{"X-Test", "fixed"}}));
    auto response = co_await client.send(std::move(request), kDefaults);
    if (!response) co_return response.error().message;
    co_return std::string((*response)->header("x-test"));
  });
  EXPECT_EQ(echoed, "fixed");
}

TEST(HttpServer, MalformedRequestGets400) {
  TestServer server;
  std::string all = rawExchange(server.server->port(), "BLAH / HTTP/9.9 nonsense\r\n\r\n");
  EXPECT_EQ(all.rfind("HTTP/1.1 400", 0), 0u) << all;
}

}  // namespace
}  // namespace arbitra::http
