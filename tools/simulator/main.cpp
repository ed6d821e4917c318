// arbitra-sim: the provider simulator as its own process, for tests, benchmarks
// and demos. Flags set the "*" model's behaviour; --config gives per-model ones.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "simulator.h"

namespace {

void usage() {
  std::puts(
      "usage: arbitra-sim [--host H] [--port N] [--threads N] [--seed N] [--config FILE]\n"
      "                   [--ttft-ms N] [--tokens-per-second X] [--output-tokens N]\n"
      "                   [--error-rate X] [--rate-limit-rate X] [--cached-fraction X]\n"
      "                   [--reasoning-tokens N] [--batch-delay-ms N]\n"
      "Speaks OpenAI (/v1/chat/completions, /v1/embeddings, /v1/files, /v1/batches) and\n"
      "Anthropic (/v1/messages, /v1/messages/batches).\n"
      "Prints 'arbitra-sim listening on http://H:PORT' once ready. GET /sim/stats: billed totals.");
}

}  // namespace

int main(int argc, char** argv) {
  using arbitra::sim::ModelBehavior;
  arbitra::sim::SimOptions options;
  ModelBehavior fallback;
  bool fallbackSet = false;
  std::string configPath;
  try {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      auto next = [&]() -> std::string {
        if (i + 1 >= argc) throw std::runtime_error(arg + " needs a value");
        return argv[++i];
      };
      if (arg == "--help" || arg == "-h") { usage(); return 0; }
      else if (arg == "--host") options.host = next();
      else if (arg == "--port") options.port = static_cast<uint16_t>(std::stoi(next()));
      else if (arg == "--threads") options.threads = std::stoi(next());
      else if (arg == "--seed") options.seed = std::stoull(next());
      else if (arg == "--config") configPath = next();
      else if (arg == "--batch-delay-ms") options.batchDelayMs = std::stoll(next());
      else if (arg == "--ttft-ms") { fallback.ttftMs = std::stoll(next()); fallbackSet = true; }
      else if (arg == "--tokens-per-second") { fallback.tokensPerSecond = std::stod(next()); fallbackSet = true; }
      else if (arg == "--output-tokens") { fallback.outputTokens = std::stoll(next()); fallbackSet = true; }
      else if (arg == "--error-rate") { fallback.errorRate = std::stod(next()); fallbackSet = true; }
      else if (arg == "--rate-limit-rate") { fallback.rateLimitRate = std::stod(next()); fallbackSet = true; }
      else if (arg == "--cached-fraction") { fallback.cachedFraction = std::stod(next()); fallbackSet = true; }
      else if (arg == "--reasoning-tokens") { fallback.reasoningTokens = std::stoll(next()); fallbackSet = true; }
      else throw std::runtime_error("unknown argument '" + arg + "' (see --help)");
    }
    if (!configPath.empty()) {
      auto fromFile = arbitra::sim::loadSimOptions(configPath);
      options.models = std::move(fromFile.models);
      options.seed = fromFile.seed;
      if (fromFile.batchDelayMs > 0) options.batchDelayMs = fromFile.batchDelayMs;
      if (fromFile.threads > 1) options.threads = fromFile.threads;
    }
    if (fallbackSet) options.models.push_back(fallback);
    arbitra::sim::Simulator simulator(options);
    simulator.start();
    std::printf("arbitra-sim listening on http://%s:%u\n", options.host.c_str(), simulator.port());
    std::fflush(stdout);
    simulator.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "arbitra-sim: %s\n", e.what());
    return 2;
  }
  return 0;
}
