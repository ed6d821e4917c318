// Config reload: SIGHUP or POST /admin/reload re-reads the config file the
// gateway started with, and new requests are served by the new config.
//
// Design: what a reload may change lives in one World (the priced config,
// the deployment table with its providers, the routing). The Reloader holds
// the current World in an atomic shared_ptr; each request takes one copy
// when it starts (one atomic load and a reference count) and serves on it to
// its end, so a reload never changes a request half-way. Everything else
// (keys, budgets and the ledger: Accounting; the cache; deferred jobs and
// batches; the HTTP client pools; the server) is long-lived and outside it.
//
// Guarantees:
//   - A reload parses and validates the whole file, builds the next World
//     (providers made, local models loaded, policies checked), and only then
//     swaps it in. Any error leaves the running World serving and is
//     reported as `file:line: what is wrong` (logged, and the admin answer).
//   - Providers whose settings are unchanged (kind local: and whose model
//     files are the same on disk) are shared with the next World, not made
//     again: a loaded model stays loaded. The others are released with the
//     previous World, when the last request that started on it ends; its
//     destructor runs on the reload thread (a model's unload never blocks an
//     I/O thread).
//   - Router state (estimates, breaker, 429 cool-down, RPM/TPM windows) goes
//     on for each deployment whose group, label and provider are unchanged.
//   - Settings that need a restart (server.*, ledger.*, cache.*, deferred.*:
//     they belong to the long-lived parts) keep their running values; the
//     ones that differ are named in the log and the admin answer.
//   - One reload at a time (they run on one thread, in order).
//
//   Reloader reloader(firstWorld, registry, catalog);
//   reloader.setLoader([path] { return config::loadConfigFile(path); });
//   reloader.reloadOnSignal(SIGHUP);
//   auto world = reloader.current();  // per request
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "gateway/deployments.h"
#include "gateway/route.h"
#include "http/server.h"
#include "providers/provider.h"

namespace arbitra::ledger {
class PriceCatalog;
}

namespace arbitra::gateway {

class Accounting;

// The reloadable part of the gateway: one config generation.
struct World {
  // Throws config::ConfigError (file:line) or std::exception; `previous`
  // (a reload) lends its unchanged providers and router state.
  World(config::Config pricedConfig, const providers::Registry& registry, const ledger::PriceCatalog& catalog,
        const World* previous = nullptr);

  config::Config priced;  // the config with catalog prices filled in
  DeploymentTable table;
  Routing routing;
  uint64_t generation = 1;
};

// What a reload did.
struct ReloadOutcome {
  bool ok = false;
  std::string error;                      // "file:line: what is wrong" when !ok
  uint64_t generation = 0;                // the World serving now
  std::vector<std::string> needsRestart;  // settings that differ but need a restart, e.g. "server.port"
  std::vector<std::string> kept;          // providers shared with the previous World (models stay loaded)
  std::vector<std::string> loaded;        // providers made anew (new, or changed)
  std::vector<std::string> released;      // providers of the previous World not kept: freed when its last request ends
  size_t routerStateCarried = 0;          // deployments whose router state went on
};

// The names of the restart-only settings in which `next` differs from
// `running`; `next` takes the running values of all of them.
std::vector<std::string> keepRestartOnly(const config::Config& running, config::Config& next);

class Reloader {
 public:
  // Re-reads the config file and applies the command line's overrides, as at
  // start-up. Throws config::ConfigError.
  using Loader = std::function<config::Config()>;

  // `first`: the config as the gateway started (catalog prices not yet filled in).
  // Throws as World does.
  Reloader(const config::Config& first, const providers::Registry& registry, const ledger::PriceCatalog& catalog);
  ~Reloader();

  // The World a request starting now is served by.
  std::shared_ptr<World> current() const { return current_.load(std::memory_order_acquire); }
  // Whether the current World serves from the built-in simulator.
  bool simulated() const { return simulated_.load(std::memory_order_relaxed); }
  void setLoader(Loader loader);
  // Reloads now, on the calling thread (serialised with the others). It may
  // load models: not from an I/O thread (use the admin route's way, serve()).
  ReloadOutcome reload();
  // Reloads on the reload thread when `signal` (SIGHUP) arrives.
  void reloadOnSignal(int signal);

  // POST /admin/reload: 200 with the outcome, 400 with the error (OpenAI
  // error body), behind the admin API's master key.
  http::Task<void> serve(const Accounting& accounting, http::Request& request, http::ResponseWriter& out);
  // arbitra_config_reloads_total{result}, arbitra_config_generation.
  std::string metricsText() const;

 private:
  struct Worker;
  std::shared_ptr<World> adopt(World* world);
  void waitForSignal();

  const providers::Registry& registry_;
  const ledger::PriceCatalog& catalog_;
  std::shared_ptr<Worker> worker_;  // the reload thread; retired Worlds are destroyed there
  std::atomic<std::shared_ptr<World>> current_;
  Loader loader_;
  std::atomic<bool> simulated_{false};
  std::atomic<int64_t> ok_{0};
  std::atomic<int64_t> failed_{0};
};

}  // namespace arbitra::gateway
