// The gateway: the HTTP routes and the walk each chat request takes.
//
//   POST /v1/chat/completions   OpenAI format in
//   POST /v1/messages           Anthropic format in
//   POST /v1/embeddings         OpenAI format, OpenAI-compatible upstreams
//   GET  /v1/models             OpenAI list (Anthropic shape with anthropic-version)
//   GET  /healthz, /readyz
//   GET  /metrics
//   /admin/...                  admin API (admin.h); POST /admin/reload (reload.h)
//
// A chat request's walk (gateway.cpp, one function per step):
//   parse (caller's codec) -> resolve deployments -> for each candidate:
//   build upstream request (provider) -> send (http client) -> on failure
//   before the first byte, next candidate -> relay the answer, translated to
//   the caller's format when the upstream speaks the other one -> log.
//
// Every response carries x-arbitra-request-id, x-arbitra-deployment and
// x-arbitra-provider; answers from the simulator carry x-arbitra-simulated.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "config/config.h"
#include "http/client.h"
#include "http/server.h"
#include "providers/provider.h"

namespace arbitra::gateway {

struct ReloadOutcome;

class Gateway {
 public:
  // Throws std::invalid_argument when a provider kind is unknown.
  Gateway(const config::Config& config, const providers::Registry& registry);
  ~Gateway();

  http::Task<void> handle(http::Request& request, http::ResponseWriter& out);
  // An error body for protocol-level failures, in the format the path implies.
  static std::string protocolErrorBody(int status, const std::string& message, std::string_view target);
  bool simulated() const;
  // True when virtual keys exist: every request must present one.
  bool requiresKeys() const;
  // The cache's Prometheus lines (arbitra_cache_*), for /metrics; "" when off.
  std::string cacheMetricsText() const;

  // Config reload (reload.h). `loader` re-reads the config file as at start
  // (throws config::ConfigError); without one a reload is refused.
  void setConfigLoader(std::function<config::Config()> loader);
  // Reloads when `signal` (SIGHUP) arrives; call before the server starts.
  void reloadOnSignal(int signal);
  // Reloads now (blocking: it may load models; not from an I/O thread).
  ReloadOutcome reload();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace arbitra::gateway
