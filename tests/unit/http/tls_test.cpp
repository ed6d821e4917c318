// TLS on the upstream client against a real TLS server (`openssl s_server`)
// with a certificate made for the test: an untrusted certificate is refused,
// a trusted one (SSL_CERT_FILE) works, and a host name the certificate does
// not name is refused.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <thread>

#include <boost/asio.hpp>

#include "http/client.h"

namespace arbitra::http {
namespace {

namespace asio = boost::asio;

uint16_t freePort() {
  asio::io_context ioc;
  asio::ip::tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

class TlsServer {
 public:
  TlsServer() {
    dir_ = std::filesystem::temp_directory_path() / ("arbitra-tls-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
                          "-addext subjectAltName=DNS:localhost -keyout " + (dir_ / "key.pem").string() +
                          " -out " + (dir_ / "cert.pem").string() + " >/dev/null 2>&1";
    if (std::system(command.c_str()) != 0) throw std::runtime_error("openssl req failed");
    port_ = freePort();
    pid_ = ::fork();
    if (pid_ == 0) {
      std::string port = std::to_string(port_);
      std::string cert = (dir_ / "cert.pem").string();
      std::string key = (dir_ / "key.pem").string();
      ::freopen("/dev/null", "w", stdout);
      ::freopen("/dev/null", "w", stderr);
      ::execlp("openssl", "openssl", "s_server", "-accept", port.c_str(), "-cert", cert.c_str(), "-key", key.c_str(),
               "-www", "-quiet", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // Wait until it accepts.
    for (int i = 0; i < 100; ++i) {
      asio::io_context ioc;
      asio::ip::tcp::socket socket(ioc);
      boost::system::error_code ec;
      socket.connect({asio::ip::make_address("127.0.0.1"), port_}, ec);
      if (!ec) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error("openssl s_server did not start");
  }
  ~TlsServer() {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    std::filesystem::remove_all(dir_);
  }
  uint16_t port() const { return port_; }
  std::string certFile() const { return (dir_ / "cert.pem").string(); }

 private:
  std::filesystem::path dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

// Returns the status, or -1 and the error message.
std::pair<int, std::string> get(HttpClient& client, const std::string& url) {
  asio::io_context ioc;
  auto future = asio::co_spawn(
      ioc,
      [&]() -> Task<std::pair<int, std::string>> {
        ClientRequest request{"GET", url, {}, ""};
        ClientOptions options;
        options.connectMs = 3000;
        options.firstByteMs = 3000;
        auto response = co_await client.send(std::move(request), options);
        if (!response) co_return std::make_pair(-1, response.error().message);
        co_await (*response)->readAll(1 << 20);
        co_return std::make_pair((*response)->status, std::string());
      },
      asio::use_future);
  ioc.run();
  return future.get();
}

TEST(HttpClientTls, VerifiesCertificatesAndHostNames) {
  TlsServer server;
  std::string url = "https://localhost:" + std::to_string(server.port()) + "/";
  {
    ::unsetenv("SSL_CERT_FILE");
    HttpClient untrusting;
    auto [status, message] = get(untrusting, url);
    EXPECT_EQ(status, -1);
    EXPECT_NE(message.find("TLS handshake"), std::string::npos) << message;
  }
  ::setenv("SSL_CERT_FILE", server.certFile().c_str(), 1);
  {
    HttpClient trusting;
    auto [status, message] = get(trusting, url);
    EXPECT_EQ(status, 200) << message;
    // The certificate names "localhost" only: 127.0.0.1 must be refused.
    auto [mismatchStatus, mismatchMessage] = get(trusting, "https://127.0.0.1:" + std::to_string(server.port()) + "/");
    EXPECT_EQ(mismatchStatus, -1);
    EXPECT_NE(mismatchMessage.find("TLS handshake"), std::string::npos) << mismatchMessage;
  }
  ::unsetenv("SSL_CERT_FILE");
}

}  // namespace
}  // namespace arbitra::http
