// arbitra-loadgen: the HTTP/1.1 load generator behind bench/run.sh. A
// benchmark tool, not a test: it measures and prints, it never judges.
//
// Design: C keep-alive connections, each a coroutine with at most one request
// in flight, spread over --threads io_contexts (1 by default, so the generator
// costs one core). Two load shapes:
//
//   open loop  (--rate R > 0)  request k of connection c is *scheduled* at
//              start + (k*C + c)/R; its latency runs from that scheduled time,
//              not from when it was actually sent, so a slow answer that
//              delays the next send shows up as latency (no coordinated
//              omission, as in wrk2).
//   closed loop (--rate 0)     each connection sends again as soon as its
//              answer is complete: the maximum rate; latency from the send.
//
// Only requests scheduled inside the measured window (after --warmup, for
// --duration seconds) are counted. Output: one JSON line on stdout,
//   {"sent":..,"ok":..,"errors":..,"rps":..,"p50_us":..,"p90_us":..,
//    "p99_us":..,"max_us":..[, "ttfb_p50_us":..,"ttfb_p99_us":..],"ok_total":..}
// with ttfb (time to the first body byte) in --stream mode, where the
// chunked SSE answer is read to its end; ok_total counts every 2xx answer,
// warm-up included (for CPU per request).
//
// --hold N opens N idle keep-alive connections instead (each sends one GET of
// the --url, e.g. /healthz, and reads the answer), prints
// {"held":..,"errors":..} once they are all up, and keeps them open for
// --duration seconds: the memory check.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kUsage =
    "usage: arbitra-loadgen --url http://127.0.0.1:PORT/PATH [options]\n"
    "  --rate R          requests/s, open loop (0: closed loop, max rate; default 0)\n"
    "  --connections C   keep-alive connections (default 32)\n"
    "  --duration S      measured seconds (default 10)\n"
    "  --warmup S        seconds before measuring (default 2)\n"
    "  --body-file F     POST this body (default: GET, no body)\n"
    "  --header 'k: v'   extra request header (repeatable)\n"
    "  --stream          read a chunked SSE answer to its end; report time to first body byte\n"
    "  --threads N       I/O threads (default 1)\n"
    "  --hold N          open N idle connections (one GET of --url each, e.g. /healthz),\n"
    "                    hold them --duration s\n";

struct Options {
  std::string host;
  std::string port;
  std::string target = "/";
  double rate = 0;
  int connections = 32;
  double duration = 10;
  double warmup = 2;
  std::string body;
  bool hasBody = false;
  std::vector<std::pair<std::string, std::string>> headers;
  bool stream = false;
  int threads = 1;
  int hold = 0;
};

void parseUrl(const std::string& url, Options& options) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) throw std::invalid_argument("--url: only http:// URLs are supported");
  auto rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  options.target = slash == std::string::npos ? "/" : rest.substr(slash);
  auto colon = authority.rfind(':');
  if (colon == std::string::npos) {
    options.host = authority;
    options.port = "80";
  } else {
    options.host = authority.substr(0, colon);
    options.port = authority.substr(colon + 1);
  }
}

Options parseArgs(int argc, char** argv) {
  Options options;
  bool haveUrl = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (arg == "--url") {
      parseUrl(value(), options);
      haveUrl = true;
    } else if (arg == "--rate") options.rate = std::stod(value());
    else if (arg == "--connections") options.connections = std::stoi(value());
    else if (arg == "--duration") options.duration = std::stod(value());
    else if (arg == "--warmup") options.warmup = std::stod(value());
    else if (arg == "--body-file") {
      auto path = value();
      std::ifstream in(path, std::ios::binary);
      if (!in) throw std::invalid_argument("--body-file: cannot read " + path);
      std::ostringstream text;
      text << in.rdbuf();
      options.body = text.str();
      options.hasBody = true;
    } else if (arg == "--header") {
      auto line = value();
      auto colon = line.find(':');
      if (colon == std::string::npos) throw std::invalid_argument("--header: expected 'name: value'");
      auto v = line.substr(colon + 1);
      v.erase(0, v.find_first_not_of(' '));
      options.headers.emplace_back(line.substr(0, colon), v);
    } else if (arg == "--stream") options.stream = true;
    else if (arg == "--threads") options.threads = std::stoi(value());
    else if (arg == "--hold") options.hold = std::stoi(value());
    else throw std::invalid_argument("unknown argument '" + arg + "' (see --help)");
  }
  if (!haveUrl) throw std::invalid_argument("--url is required");
  if (options.connections < 1 || options.threads < 1 || options.duration <= 0 || options.warmup < 0 ||
      options.rate < 0 || options.hold < 0) {
    throw std::invalid_argument("--connections, --threads, --duration must be positive; --rate, --warmup, --hold >= 0");
  }
  return options;
}

// The request, serialized once and sent as is by every connection.
std::string buildRequest(const Options& options, const std::string& target, bool withBody) {
  std::string r = (withBody ? "POST " : "GET ") + target + " HTTP/1.1\r\n";
  r += "Host: " + options.host + ":" + options.port + "\r\n";
  bool haveType = false;
  for (const auto& [name, value] : options.headers) {
    r += name + ": " + value + "\r\n";
    if (beast::iequals(name, "content-type")) haveType = true;
  }
  if (withBody) {
    if (!haveType) r += "Content-Type: application/json\r\n";
    r += "Content-Length: " + std::to_string(options.body.size()) + "\r\n";
  }
  r += "\r\n";
  if (withBody) r += options.body;
  return r;
}

// Per-thread results, combined once at the end (no sharing while running).
struct Stats {
  uint64_t sent = 0;
  uint64_t ok = 0;
  uint64_t okAll = 0;  // warm-up and grace period included (CPU per request)
  uint64_t errors = 0;
  std::vector<uint32_t> latencyUs;
  std::vector<uint32_t> ttfbUs;
  std::string firstError;

  void error(const std::string& what) {
    ++errors;
    if (firstError.empty()) firstError = what;
  }
};

uint32_t micros(Clock::duration d) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  return static_cast<uint32_t>(std::clamp<int64_t>(us, 0, UINT32_MAX));
}

struct Plan {
  const Options& options;
  std::string request;
  tcp::endpoint endpoint;
  Clock::time_point start;        // schedule origin
  Clock::time_point windowStart;  // start + warmup
  Clock::time_point windowEnd;    // windowStart + duration
};

struct Answer {
  int status = 0;
  bool keepAlive = true;
  std::optional<Clock::time_point> firstBodyByte;
};

// Reads one response; the body is read to its end (chunked SSE included) and
// dropped. Records when the first body byte was parsed.
asio::awaitable<Answer> readAnswer(beast::tcp_stream& stream, beast::flat_buffer& buffer) {
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  Answer answer;
  while (!parser.is_done()) {
    co_await bhttp::async_read_some(stream, buffer, parser, asio::use_awaitable);
    if (!answer.firstBodyByte && !parser.get().body().empty()) answer.firstBodyByte = Clock::now();
  }
  answer.status = parser.get().result_int();
  answer.keepAlive = parser.get().keep_alive();
  co_return answer;
}

// One keep-alive connection's loop; reconnects after an error or a close.
asio::awaitable<void> connectionLoop(const Plan& plan, int index, Stats& stats) {
  const auto& options = plan.options;
  auto executor = co_await asio::this_coro::executor;
  const bool open = options.rate > 0;
  const auto interval = open ? std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(options.connections / options.rate))
                             : Clock::duration::zero();
  auto scheduled = plan.start + (open ? std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>(index / options.rate))
                                      : Clock::duration::zero());
  asio::steady_timer timer(executor);
  beast::flat_buffer buffer;
  std::unique_ptr<beast::tcp_stream> stream;
  bool failedNow = false;

  while (true) {
    if (open) {
      if (scheduled >= plan.windowEnd) break;
      if (scheduled > Clock::now()) {
        timer.expires_at(scheduled);
        co_await timer.async_wait(asio::use_awaitable);
      }
    } else if (Clock::now() >= plan.windowEnd) {
      break;
    }
    const auto sendAt = open ? scheduled : Clock::now();
    const bool measured = sendAt >= plan.windowStart && sendAt < plan.windowEnd;
    if (open) scheduled += interval;
    if (measured) ++stats.sent;
    try {
      if (!stream) {
        stream = std::make_unique<beast::tcp_stream>(executor);
        co_await stream->async_connect(plan.endpoint, asio::use_awaitable);
        stream->socket().set_option(tcp::no_delay(true));
        buffer.clear();
      }
      stream->expires_after(30s);
      co_await asio::async_write(*stream, asio::buffer(plan.request), asio::use_awaitable);
      auto answer = co_await readAnswer(*stream, buffer);
      stream->expires_never();
      const auto done = Clock::now();
      if (!answer.keepAlive) stream.reset();
      if (answer.status >= 200 && answer.status <= 299) ++stats.okAll;
      if (!measured) continue;
      if (answer.status < 200 || answer.status > 299) {
        stats.error("HTTP " + std::to_string(answer.status));
        continue;
      }
      ++stats.ok;
      stats.latencyUs.push_back(micros(done - sendAt));
      if (options.stream && answer.firstBodyByte) stats.ttfbUs.push_back(micros(*answer.firstBodyByte - sendAt));
    } catch (const boost::system::system_error& e) {
      stream.reset();
      if (measured) stats.error(e.code().message());
      failedNow = true;
    }
    // Do not spin on a refused connection in closed loop (no co_await in a catch).
    if (failedNow && !open) {
      failedNow = false;
      timer.expires_after(10ms);
      co_await timer.async_wait(asio::use_awaitable);
    }
  }
}

// --hold: connect, one GET /healthz, then stay idle until released.
asio::awaitable<void> holdOne(const Plan& plan, std::atomic<int>& held, std::atomic<int>& failed,
                              asio::steady_timer& release) {
  auto executor = co_await asio::this_coro::executor;
  beast::tcp_stream stream(executor);
  beast::flat_buffer buffer;
  try {
    stream.expires_after(10s);
    co_await stream.async_connect(plan.endpoint, asio::use_awaitable);
    co_await asio::async_write(stream, asio::buffer(plan.request), asio::use_awaitable);
    auto answer = co_await readAnswer(stream, buffer);
    stream.expires_never();
    if (answer.status != 200 || !answer.keepAlive) throw std::runtime_error("bad answer");
    ++held;
  } catch (const std::exception&) {
    ++failed;
    co_return;
  }
  boost::system::error_code ignored;
  co_await release.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
}

double percentile(std::vector<uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<size_t>(p / 100.0 * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(rank, sorted.size() - 1)];
}

void raiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

int runHold(Options& options, const tcp::endpoint& endpoint) {
  Plan plan{options, buildRequest(options, options.target, false), endpoint, {}, {}, {}};
  asio::io_context io(1);
  asio::steady_timer release(io, Clock::time_point::max());
  std::atomic<int> held{0}, failed{0};
  for (int i = 0; i < options.hold; ++i) {
    asio::co_spawn(io, holdOne(plan, held, failed, release), asio::detached);
  }
  // Report once every connection has answered, then hold for --duration.
  asio::steady_timer poll(io);
  std::function<void()> check = [&] {
    if (held + failed < options.hold) {
      poll.expires_after(20ms);
      poll.async_wait([&](auto) { check(); });
      return;
    }
    std::printf("{\"held\":%d,\"errors\":%d}\n", held.load(), failed.load());
    std::fflush(stdout);
    poll.expires_after(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.duration)));
    poll.async_wait([&](auto) { release.cancel(); });
  };
  check();
  io.run();
  return failed == 0 ? 0 : 1;
}

int runLoad(Options& options, const tcp::endpoint& endpoint) {
  Plan plan{options, buildRequest(options, options.target, options.hasBody), endpoint, {}, {}, {}};
  // A short lead so every thread is running before the first scheduled send.
  plan.start = Clock::now() + 50ms;
  plan.windowStart = plan.start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.warmup));
  plan.windowEnd = plan.windowStart + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.duration));

  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<Stats> stats(options.threads);
  for (int t = 0; t < options.threads; ++t) contexts.push_back(std::make_unique<asio::io_context>(1));
  for (int c = 0; c < options.connections; ++c) {
    int t = c % options.threads;
    asio::co_spawn(*contexts[t], connectionLoop(plan, c, stats[t]), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
  }
  // Answers still in flight after the window get a grace period, then go.
  auto deadline = plan.windowEnd + 5s;
  std::vector<std::thread> threads;
  for (int t = 0; t < options.threads; ++t) {
    threads.emplace_back([&, t] {
      contexts[t]->run_until(deadline);
      contexts[t]->stop();
    });
  }
  for (auto& thread : threads) thread.join();

  Stats all;
  for (auto& s : stats) {
    all.sent += s.sent;
    all.ok += s.ok;
    all.okAll += s.okAll;
    all.errors += s.errors;
    if (all.firstError.empty()) all.firstError = s.firstError;
    all.latencyUs.insert(all.latencyUs.end(), s.latencyUs.begin(), s.latencyUs.end());
    all.ttfbUs.insert(all.ttfbUs.end(), s.ttfbUs.begin(), s.ttfbUs.end());
  }
  std::sort(all.latencyUs.begin(), all.latencyUs.end());
  std::sort(all.ttfbUs.begin(), all.ttfbUs.end());
  auto& l = all.latencyUs;
  std::printf("{\"sent\":%" PRIu64 ",\"ok\":%" PRIu64 ",\"errors\":%" PRIu64
              ",\"rps\":%.1f,\"p50_us\":%.0f,\"p90_us\":%.0f,\"p99_us\":%.0f,\"max_us\":%.0f",
              all.sent, all.ok, all.errors, static_cast<double>(all.ok) / options.duration, percentile(l, 50),
              percentile(l, 90), percentile(l, 99), l.empty() ? 0.0 : l.back());
  if (options.stream) {
    std::printf(",\"ttfb_p50_us\":%.0f,\"ttfb_p99_us\":%.0f", percentile(all.ttfbUs, 50), percentile(all.ttfbUs, 99));
  }
  std::printf(",\"ok_total\":%" PRIu64, all.okAll);
  if (!all.firstError.empty()) {
    std::string escaped;
    for (char ch : all.firstError) {
      if (ch == '"' || ch == '\\') escaped += '\\';
      if (static_cast<unsigned char>(ch) >= 0x20) escaped += ch;
    }
    std::printf(",\"first_error\":\"%s\"", escaped.c_str());
  }
  std::printf("}\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Options options = parseArgs(argc, argv);
    raiseFileLimit();
    asio::io_context resolverContext;
    tcp::resolver resolver(resolverContext);
    auto results = resolver.resolve(options.host, options.port);
    if (results.empty()) throw std::runtime_error("cannot resolve " + options.host);
    tcp::endpoint endpoint = *results.begin();
    return options.hold > 0 ? runHold(options, endpoint) : runLoad(options, endpoint);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "arbitra-loadgen: %s\n", e.what());
    return 2;
  }
}
