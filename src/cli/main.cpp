// arbitra's command line: argument parsing and wiring only.
//
//   arbitra serve [--config FILE] [--host H] [--port N] [--threads N] [--ledger FILE | --no-ledger]
//                 [--allow-public] [--quiet]
//   arbitra keys create|list|revoke ...     (cli/ledger_commands.cpp)
//   arbitra report [--group-by day] ...     (cli/ledger_commands.cpp)
//   arbitra plan | replay | bench | quantize ... (their own --help)
//
// `serve` without --config detects providers from the environment; with none
// found it starts the provider simulator in process and serves from it, every
// response and log line labelled `simulated`, so a first curl works offline.
// With --config, SIGHUP (or POST /admin/reload) re-reads the file, with the
// same command-line overrides (gateway/reload.h).
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <thread>

#include "cli/ledger_commands.h"
#include "cli/engine_commands.h"
#include "cli/plan.h"
#include "cli/replay.h"
#include "config/config.h"
#include "core/log.h"
#include "gateway/gateway.h"
#include "gateway/reload.h"
#include "http/server.h"
#include "providers/provider.h"
#include "simulator.h"

namespace {

using namespace arbitra;

constexpr const char* kUsage =
    "usage: arbitra <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve     the gateway: OpenAI- and Anthropic-compatible HTTP API\n"
    "  plan      price every place a workload could run (arbitra plan --help)\n"
    "  keys      create, list and revoke virtual keys (arbitra keys --help)\n"
    "  report    spend, tokens, latency and savings from the ledger (arbitra report --help)\n"
    "  replay    replay a trace through the router offline (arbitra replay --help)\n"
    "  bench     measure a local GGUF model on this machine (arbitra bench --help)\n"
    "  quantize  GGUF -> 4/5/8-bit GGUF (arbitra quantize --help)\n"
    "  version   print the version\n"
    "\n"
    "serve options:\n"
    "  --config FILE    YAML config (default: providers from the environment,\n"
    "                   or the built-in simulator when none is found)\n"
    "  --host H         listen address (default 127.0.0.1)\n"
    "  --port N         listen port (default 8080; 0 picks a free one)\n"
    "  --threads N      I/O threads (default: one per core)\n"
    "  --ledger FILE    the ledger's SQLite file (default: ledger.path, or ./arbitra.db)\n"
    "  --no-ledger      keep no records (no keys, budgets or reports)\n"
    "  --allow-public   allow a non-loopback address with no client keys configured\n"
    "  --quiet          log warnings and errors only\n";

struct ServeArgs {
  std::string configFile;
  std::optional<std::string> host;
  std::optional<int> port;
  std::optional<int> threads;
  std::optional<std::string> ledger;
  bool noLedger = false;
  bool allowPublic = false;
  bool quiet = false;
};

bool isLoopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

int parseInt(const std::string& flag, const std::string& text, int min, int max) {
  char* end = nullptr;
  long value = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || value < min || value > max) {
    throw std::invalid_argument(flag + ": expected an integer in " + std::to_string(min) + ".." + std::to_string(max) +
                                ", got '" + text + "'");
  }
  return static_cast<int>(value);
}

ServeArgs parseServeArgs(int argc, char** argv) {
  ServeArgs args;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--config") args.configFile = value();
    else if (arg == "--host") args.host = value();
    else if (arg == "--port") args.port = parseInt(arg, value(), 0, 65535);
    else if (arg == "--threads") args.threads = parseInt(arg, value(), 1, 1024);
    else if (arg == "--allow-public") args.allowPublic = true;
    else if (arg == "--ledger") args.ledger = value();
    else if (arg == "--no-ledger") args.noLedger = true;
    else if (arg == "--quiet") args.quiet = true;
    else throw std::invalid_argument("unknown option '" + arg + "' for serve (see arbitra --help)");
  }
  return args;
}

// Adds the in-process simulator as two providers: its OpenAI side ("simulated")
// and its Anthropic side ("simulated-anthropic").
void addSimulatedProviders(config::Config& config, uint16_t port) {
  config::ProviderConfig openai;
  openai.name = "simulated";
  openai.kind = "openai";
  openai.baseUrl = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  openai.simulated = true;
  config::ProviderConfig anthropic = openai;
  anthropic.name = "simulated-anthropic";
  anthropic.kind = "anthropic";
  anthropic.baseUrl = "http://127.0.0.1:" + std::to_string(port);
  config.providers.push_back(openai);
  config.providers.push_back(anthropic);
}

// The command line's overrides, applied at start and to each reloaded file.
void applyServeArgs(const ServeArgs& args, config::Config& config) {
  if (args.host) config.server.host = *args.host;
  if (args.port) config.server.port = static_cast<uint16_t>(*args.port);
  if (args.threads) config.server.threads = *args.threads;
  if (args.allowPublic) config.server.allowPublicWithoutKeys = true;
  if (args.ledger) config.ledger.path = *args.ledger;
  if (args.noLedger) config.ledger.enabled = false;
}

int serve(int argc, char** argv) {
  ServeArgs args = parseServeArgs(argc, argv);
  if (args.quiet) core::setLogLevel(core::LogLevel::Warn);
  config::Config config = args.configFile.empty() ? config::configFromEnvironment()
                                                  : config::loadConfigFile(args.configFile);
  applyServeArgs(args, config);
  int threads = config.server.threads > 0 ? config.server.threads
                                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  std::unique_ptr<sim::Simulator> simulator;
  if (config.providers.empty()) {
    sim::SimOptions simOptions;
    simOptions.threads = 1;
    simulator = std::make_unique<sim::Simulator>(simOptions);
    simulator->start();
    simulator->runInBackground();
    addSimulatedProviders(config, simulator->port());
    core::log(core::LogLevel::Warn,
              "no provider configured or found in the environment (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...): "
              "serving from the built-in provider simulator (simulated)");
  }
  for (const auto& provider : config.providers) {
    // Names and URLs only: the key is never printed.
    core::log(core::LogLevel::Info, "provider " + provider.name + " kind=" + provider.kind + " base_url=" +
                                        provider.baseUrl + (provider.apiKeyEnv.empty() ? "" : " key=$" + provider.apiKeyEnv) +
                                        (provider.simulated ? " simulated" : ""));
  }

  providers::Registry registry;
  providers::registerBuiltins(registry);
  gateway::Gateway gateway(config, registry);
  if (!args.configFile.empty()) {
    // Runs on the reload thread; a file with no provider is served by the
    // simulator, as at start.
    gateway.setConfigLoader([&args, &simulator] {
      config::Config next = config::loadConfigFile(args.configFile);
      applyServeArgs(args, next);
      if (next.providers.empty()) {
        if (!simulator) throw config::ConfigError(args.configFile + ":1: no provider: the gateway started with "
                                                  "providers and the simulator is not running; restart to serve from it");
        addSimulatedProviders(next, simulator->port());
      }
      return next;
    });
  }
  gateway.reloadOnSignal(SIGHUP);
  if (!isLoopback(config.server.host) && !config.server.allowPublicWithoutKeys && !gateway.requiresKeys()) {
    throw std::invalid_argument("refusing to listen on " + config.server.host +
                                " with no client keys configured: anyone who can reach it could spend your "
                                "provider credit. Create a key (arbitra keys create) or pass --allow-public.");
  }

  http::ServerOptions options;
  options.host = config.server.host;
  options.port = config.server.port;
  options.threads = threads;
  options.maxHeaderBytes = config.server.maxHeaderBytes;
  options.maxBodyBytes = config.server.maxBodyBytes;
  options.readTimeoutMs = config.server.readTimeoutMs;
  options.keepAliveTimeoutMs = config.server.keepAliveTimeoutMs;
  if (gateway.simulated()) options.errorHeaders.push_back({"x-arbitra-simulated", "true"});
  http::Server server(
      options, [&gateway](http::Request& r, http::ResponseWriter& w) { return gateway.handle(r, w); },
      &gateway::Gateway::protocolErrorBody);
  server.start();
  std::printf("arbitra listening on http://%s:%u%s\n", options.host.c_str(), server.port(),
              gateway.simulated() ? " (simulated)" : "");
  std::fflush(stdout);
  server.stopOnSignals([] { core::log(core::LogLevel::Info, "shutting down"); });
  server.run();
  if (simulator) simulator->stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 ||
      std::strcmp(argv[1], "help") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  std::string command = argv[1];
  try {
    if (command == "serve") return serve(argc, argv);
    if (command == "plan") return cli::runPlan(argc, argv);
    if (command == "keys") return cli::runKeys(argc, argv);
    if (command == "report") return cli::runReport(argc, argv);
    if (command == "replay") return cli::runReplay(argc, argv);
    if (command == "bench") return cli::runBench(argc, argv);
    if (command == "quantize") return cli::runQuantize(argc, argv);
    if (command == "version" || command == "--version") {
      std::puts("arbitra 0.1.0");
      return 0;
    }
    std::fprintf(stderr, "arbitra: unknown command '%s'\n\n%s", command.c_str(), kUsage);
    return 2;
  } catch (const config::ConfigError& e) {
    std::fprintf(stderr, "arbitra: config error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "arbitra: %s\n", e.what());
    return 2;
  }
}
