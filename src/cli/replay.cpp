// `arbitra replay TRACE --config SCENARIO [--policies a,b,...]` and
// `arbitra replay --generate OUT --config SCENARIO [--requests N] [--duration-s S] [--seed N]`.
#include "cli/replay.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <string>
#include <vector>

#include "replay/replay.h"

namespace arbitra::cli {
namespace {

constexpr const char* kUsage =
    "usage: arbitra replay TRACE.jsonl --config SCENARIO.yaml [--policies cost,balanced,...]\n"
    "       arbitra replay --generate OUT.jsonl --config SCENARIO.yaml [--requests N] [--duration-s S] [--seed N]\n"
    "Replays a trace through the router against simulated providers on a virtual clock and prints\n"
    "cost, SLO attainment and failed requests per policy, next to the baselines (cheapest-list,\n"
    "round-robin, latency) and the oracle (cheapest that met the bar, in hindsight).\n";

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    if (comma > start) out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

}  // namespace

int runReplay(int argc, char** argv) {
  std::string trace, scenarioPath, generate;
  std::vector<std::string> policies = {"cost",     "balanced",      "latency",    "weighted",
                                       "priority", "cheapest-list", "round-robin"};
  replay::GenerateOptions options;
  try {
    for (int i = 2; i < argc; ++i) {
      std::string arg = argv[i];
      auto next = [&]() -> std::string {
        if (i + 1 >= argc) throw std::runtime_error(arg + " needs a value");
        return argv[++i];
      };
      if (arg == "--help" || arg == "-h") {
        std::fputs(kUsage, stdout);
        return 0;
      } else if (arg == "--config") {
        scenarioPath = next();
      } else if (arg == "--policies") {
        policies = split(next());
      } else if (arg == "--generate") {
        generate = next();
      } else if (arg == "--requests") {
        options.requests = std::stoll(next());
      } else if (arg == "--duration-s") {
        options.durationS = std::stod(next());
      } else if (arg == "--seed") {
        options.seed = std::stoull(next());
      } else if (!arg.empty() && arg[0] != '-' && trace.empty()) {
        trace = arg;
      } else {
        throw std::runtime_error("unknown argument '" + arg + "'");
      }
    }
    if (scenarioPath.empty() || (trace.empty() && generate.empty())) {
      std::fputs(kUsage, stderr);
      return 2;
    }
    auto scenario = replay::loadScenario(scenarioPath);
    if (!generate.empty()) {
      std::ofstream out(generate);
      if (!out) throw std::runtime_error(generate + ": cannot write");
      replay::generateTrace(scenario, options, out);
      std::printf("wrote %lld requests over %.0f s to %s\n", static_cast<long long>(options.requests),
                  options.durationS, generate.c_str());
      return 0;
    }
    auto requests = replay::loadTrace(trace);
    std::vector<replay::Result> results;
    auto started = std::chrono::steady_clock::now();
    for (const auto& policy : policies) results.push_back(replay::run(scenario, requests, policy));
    auto best = replay::oracle(scenario, requests);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::printf("%zu requests, %zu groups; replayed %zu policies in %.2f s (virtual clock)\n\n", requests.size(),
                scenario.groups.size(), policies.size(), seconds);
    std::fputs(replay::renderTable(results, best).c_str(), stdout);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "arbitra replay: %s\n", e.what());
    return 2;
  }
}

}  // namespace arbitra::cli
