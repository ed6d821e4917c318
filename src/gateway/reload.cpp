// Config reload (see reload.h): the World, the restart-only settings, the
// reload thread, and POST /admin/reload.
#include "gateway/reload.h"

#include <algorithm>
#include <mutex>
#include <thread>

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include "api/codec.h"
#include "core/log.h"
#include "gateway/accounting.h"
#include "gateway/admin.h"
#include "ledger/catalog.h"
#include "providers/local/local_provider.h"

namespace arbitra::gateway {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using http::Task;

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out.empty() ? "-" : out;
}

bool sameGroup(config::CacheGroupConfig a, config::CacheGroupConfig b) {
  return a.mode == b.mode && a.shared == b.shared && a.ttlSeconds == b.ttlSeconds &&
         a.maxTemperature == b.maxTemperature && a.threshold == b.threshold && a.delta == b.delta &&
         a.verifyFraction == b.verifyFraction && a.learn == b.learn && a.tools == b.tools;
}

bool sameGroups(const std::map<std::string, config::CacheGroupConfig>& a,
                const std::map<std::string, config::CacheGroupConfig>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const auto& x, const auto& y) { return x.first == y.first && sameGroup(x.second, y.second); });
}

}  // namespace

// ---- the World ---------------------------------------------------------------

World::World(config::Config pricedConfig, const providers::Registry& registry, const ledger::PriceCatalog& catalog,
             const World* previous)
    : priced(std::move(pricedConfig)),
      table(priced, registry, &catalog, previous ? &previous->table : nullptr),
      routing(priced, table, previous ? &previous->routing : nullptr),
      generation(previous ? previous->generation + 1 : 1) {
  const auto& cache = priced.cache;
  if (previous && cache.enabled && cache.embedder == "deployment" && !table.resolve(cache.embedderModel)) {
    throw config::ConfigError(priced.sourceFile + ":" + std::to_string(cache.line) + ": cache embedder model '" +
                              cache.embedderModel + "' is not a model this config serves");
  }
}

// ---- settings that need a restart ----------------------------------------------

std::vector<std::string> keepRestartOnly(const config::Config& running, config::Config& next) {
  std::vector<std::string> changed;
  auto check = [&](bool differs, const char* name) {
    if (differs) changed.emplace_back(name);
  };
  const auto &s = running.server, &t = next.server;
  check(s.host != t.host, "server.host");
  check(s.port != t.port, "server.port");
  check(s.threads != t.threads, "server.threads");
  check(s.maxHeaderBytes != t.maxHeaderBytes, "server.max_header_bytes");
  check(s.maxBodyBytes != t.maxBodyBytes, "server.max_body_bytes");
  check(s.readTimeoutMs != t.readTimeoutMs, "server.read_timeout_ms");
  check(s.keepAliveTimeoutMs != t.keepAliveTimeoutMs, "server.keep_alive_timeout_ms");
  const auto &l = running.ledger, &m = next.ledger;
  check(l.enabled != m.enabled, "ledger.enabled");
  check(l.path != m.path, "ledger.path");
  check(l.postgres != m.postgres, "ledger.postgres");
  check(l.commitIntervalMs != m.commitIntervalMs, "ledger.commit_interval_ms");
  check(l.retentionDays != m.retentionDays, "ledger.retention_days");
  check(l.pricesFile != m.pricesFile, "ledger.prices");
  check(l.masterKeyEnv != m.masterKeyEnv || l.masterKey != m.masterKey, "ledger.master_key");
  check(l.defaultMaxOutputTokens != m.defaultMaxOutputTokens, "ledger.default_max_output_tokens");
  const auto &c = running.cache, &d = next.cache;
  check(c.enabled != d.enabled, "cache");
  if (c.enabled && d.enabled) {
    check(c.maxBytes != d.maxBytes, "cache.max_bytes");
    check(c.snapshotPath != d.snapshotPath, "cache.snapshot");
    check(c.snapshotIntervalSeconds != d.snapshotIntervalSeconds, "cache.snapshot_interval_s");
    check(c.efSearch != d.efSearch, "cache.ef_search");
    check(c.embedder != d.embedder || c.embedderModel != d.embedderModel || c.wordVectors != d.wordVectors ||
              c.embedThreads != d.embedThreads || c.embedQueue != d.embedQueue,
          "cache.embedder");
    check(!sameGroup(c.defaults, d.defaults), "cache.default");
    check(!sameGroups(c.models, d.models), "cache.models");
  }
  const auto &e = running.deferred, &f = next.deferred;
  check(e.windowMs != f.windowMs || e.maxBatch != f.maxBatch || e.pollMs != f.pollMs, "deferred");
  next.server = running.server;
  next.ledger = running.ledger;
  next.cache = running.cache;
  next.deferred = running.deferred;
  return changed;
}

// ---- the reload thread ---------------------------------------------------------

// One thread with an io_context: reloads asked for by a signal or the admin
// route run here, and so do the destructors of retired Worlds.
struct Reloader::Worker {
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard = asio::make_work_guard(io);
  std::unique_ptr<asio::signal_set> signals;  // touched on the thread only (after start)
  std::atomic<bool> stopped{false};
  std::mutex reloading;  // one reload at a time, from any thread
  std::thread thread;

  Worker() : thread([this] { io.run(); }) {}
  ~Worker() {
    if (thread.joinable()) stop();  // the first World failed to build
  }

  void stop() {
    asio::post(io, [this] {
      if (signals) signals->cancel();
    });
    guard.reset();
    thread.join();  // runs what was posted, retired Worlds included
    stopped = true;
    signals.reset();
  }

  // A World whose last user is gone: destroyed here, off the I/O threads
  // (unloading a model joins its engine thread and frees its memory).
  void retire(World* world) {
    if (stopped) {
      delete world;
      return;
    }
    std::unique_ptr<World> owned(world);
    asio::post(io, [owned = std::move(owned)]() mutable { owned.reset(); });
  }
};

Reloader::Reloader(const config::Config& first, const providers::Registry& registry,
                   const ledger::PriceCatalog& catalog)
    : registry_(registry), catalog_(catalog), worker_(std::make_shared<Worker>()) {
  auto world = adopt(new World(ledger::withCatalogPrices(first, catalog), registry, catalog));
  simulated_ = world->table.simulated();
  current_.store(std::move(world));
}

Reloader::~Reloader() {
  current_.store(nullptr);
  worker_->stop();
}

std::shared_ptr<World> Reloader::adopt(World* world) {
  std::shared_ptr<Worker> worker = worker_;
  return std::shared_ptr<World>(world, [worker](World* w) { worker->retire(w); });
}

void Reloader::setLoader(Loader loader) {
  std::lock_guard lock(worker_->reloading);
  loader_ = std::move(loader);
}

ReloadOutcome Reloader::reload() {
  std::lock_guard lock(worker_->reloading);
  auto running = current();
  ReloadOutcome outcome;
  outcome.generation = running->generation;
  try {
    if (!loader_) {
      throw config::ConfigError(
          "config reload: the gateway was started without --config (providers from the environment); "
          "there is no file to re-read");
    }
    config::Config next = loader_();
    outcome.needsRestart = keepRestartOnly(running->priced, next);
    auto world = adopt(new World(ledger::withCatalogPrices(next, catalog_), registry_, catalog_, running.get()));
    for (const auto& provider : world->table.providers()) {
      bool shared = std::find(running->table.providers().begin(), running->table.providers().end(), provider) !=
                    running->table.providers().end();
      (shared ? outcome.kept : outcome.loaded).push_back(provider->config().name);
    }
    for (const auto& provider : running->table.providers()) {
      const auto& now = world->table.providers();
      if (std::find(now.begin(), now.end(), provider) == now.end()) outcome.released.push_back(provider->config().name);
    }
    outcome.routerStateCarried = world->routing.carriedDeployments();
    outcome.generation = world->generation;
    simulated_ = world->table.simulated();
    current_.store(std::move(world), std::memory_order_release);
    outcome.ok = true;
  } catch (const std::exception& e) {  // ConfigError: "file:line: what is wrong"
    outcome.error = e.what();
  }
  if (!outcome.ok) {
    failed_++;
    core::log(core::LogLevel::Error, "config reload failed, still serving generation " +
                                         std::to_string(outcome.generation) + ": " + outcome.error);
    return outcome;
  }
  ok_++;
  core::log(core::LogLevel::Info, "config reloaded: generation " + std::to_string(outcome.generation) +
                                      " providers kept=[" + joined(outcome.kept) + "] loaded=[" +
                                      joined(outcome.loaded) + "] released=[" + joined(outcome.released) +
                                      "] router_state_carried=" + std::to_string(outcome.routerStateCarried));
  if (!outcome.needsRestart.empty()) {
    core::log(core::LogLevel::Warn, "config reload: " + joined(outcome.needsRestart) +
                                        " changed but need a restart; the running values stay in effect");
  }
  return outcome;
}

void Reloader::reloadOnSignal(int signal) {
  // Registered now (before the server answers), so the signal's default
  // action (SIGHUP: terminate) is replaced at once.
  worker_->signals = std::make_unique<asio::signal_set>(worker_->io, signal);
  waitForSignal();
}

void Reloader::waitForSignal() {
  worker_->signals->async_wait([this](const boost::system::error_code& ec, int number) {
    if (ec) return;  // cancelled: shutting down
    core::log(core::LogLevel::Info, "config reload: signal " + std::to_string(number));
    reload();
    waitForSignal();
  });
}

// ---- POST /admin/reload ----------------------------------------------------------

Task<void> Reloader::serve(const Accounting& accounting, http::Request& request, http::ResponseWriter& out) {
  if (!co_await adminAllowed(accounting, request, out)) co_return;
  http::Headers headers = http::jsonHeaders();
  const auto& codec = api::codecFor(core::WireFormat::OpenAI);
  if (request.method != "POST") {
    auto error = core::makeError(core::ErrorKind::InvalidRequest, "/admin/reload accepts POST only");
    co_await out.send(405, std::move(headers), codec.encodeError(error));
    co_return;
  }
  // Off the I/O thread: building the next World may load models.
  auto work = [this]() -> Task<ReloadOutcome> { co_return reload(); };
  ReloadOutcome outcome = co_await asio::co_spawn(worker_->io, work, asio::use_awaitable);
  if (!outcome.ok) {
    auto error = core::makeError(core::ErrorKind::InvalidRequest, outcome.error);
    co_await out.send(400, std::move(headers), codec.encodeError(error));
    co_return;
  }
  json::object providers{{"kept", json::array(outcome.kept.begin(), outcome.kept.end())},
                         {"loaded", json::array(outcome.loaded.begin(), outcome.loaded.end())},
                         {"released", json::array(outcome.released.begin(), outcome.released.end())}};
  json::object body{{"object", "config.reload"},
                    {"status", "ok"},
                    {"generation", outcome.generation},
                    {"providers", std::move(providers)},
                    {"router_state_carried", outcome.routerStateCarried},
                    {"needs_restart", json::array(outcome.needsRestart.begin(), outcome.needsRestart.end())}};
  co_await out.send(200, std::move(headers), json::serialize(body));
}

std::string Reloader::metricsText() const {
  std::string out =
      "# HELP arbitra_config_reloads_total Config reloads (SIGHUP, POST /admin/reload) by result.\n"
      "# TYPE arbitra_config_reloads_total counter\n"
      "arbitra_config_reloads_total{result=\"ok\"} " + std::to_string(ok_.load()) + "\n" +
      "arbitra_config_reloads_total{result=\"error\"} " + std::to_string(failed_.load()) + "\n" +
      "# HELP arbitra_config_generation The config generation new requests are served by (1 at start).\n"
      "# TYPE arbitra_config_generation gauge\n"
      "arbitra_config_generation " + std::to_string(current()->generation) + "\n";
  auto loaded = providers::loadedLocalModels();
  out += "# HELP arbitra_local_model_loaded Local (kind local) models in memory, by provider.\n"
         "# TYPE arbitra_local_model_loaded gauge\n";
  for (const auto& [name, count] : loaded) {
    out += "arbitra_local_model_loaded{provider=\"" + name + "\"} " + std::to_string(count) + "\n";
  }
  return out;
}

}  // namespace arbitra::gateway
