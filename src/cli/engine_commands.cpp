// `arbitra quantize` and `arbitra bench` (see engine_commands.h).
//
//   arbitra quantize IN.gguf OUT.gguf --type q4_k_m|q4_0|q5_k_m|q8_0|... [--threads N]
//   arbitra bench MODEL.gguf [--draft D.gguf | --ngram] [--parallel N] [--threads N]
//                 [--prompt-tokens N] [--tokens N] [--cost-per-hour 0.35]
//                 [--hardware ID --model-id ID] [--json]
#include "cli/engine_commands.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <stdexcept>
#include <string>

#include <boost/json.hpp>

#include "config/config.h"
#include "engine/bench.h"
#include "engine/quantize.h"

namespace arbitra::cli {
namespace {

namespace json = boost::json;

std::string mib(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

int intArg(const std::string& flag, const std::string& text, int min, int max) {
  char* end = nullptr;
  long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end || v < min || v > max) {
    throw std::invalid_argument(flag + ": expected an integer in " + std::to_string(min) + ".." + std::to_string(max) +
                                ", got '" + text + "'");
  }
  return static_cast<int>(v);
}

std::string money(int64_t micros) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "$%lld.%06lld", static_cast<long long>(micros / 1000000),
                static_cast<long long>(micros % 1000000));
  return buf;
}

}  // namespace

int runQuantize(int argc, char** argv) {
  engine::QuantizeOptions options;
  std::vector<std::string> positional;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--type") options.type = value();
    else if (arg == "--threads") options.threads = intArg(arg, value(), 0, 1024);
    else if (arg == "--help" || arg == "-h") {
      std::printf("usage: arbitra quantize IN.gguf OUT.gguf --type TYPE [--threads N]\ntypes:");
      for (const auto& t : engine::quantizeTypes()) std::printf(" %s", t.c_str());
      std::printf("\n");
      return 0;
    } else if (!arg.empty() && arg[0] == '-') throw std::invalid_argument("unknown option '" + arg + "' for quantize");
    else positional.push_back(arg);
  }
  if (positional.size() != 2) throw std::invalid_argument("quantize needs IN.gguf and OUT.gguf (arbitra quantize --help)");
  options.input = positional[0];
  options.output = positional[1];
  const bool tty = ::isatty(STDERR_FILENO);
  auto progress = [tty](int done, int total, const std::string& tensor) {
    const int width = 30;
    int filled = total > 0 ? done * width / total : 0;
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(width, '.');
    std::fprintf(stderr, "%s[%s] %4d/%-4d %-40.40s%s", tty ? "\r" : "", bar.c_str(), done, total, tensor.c_str(),
                 tty ? "" : "\n");
    std::fflush(stderr);
  };
  auto result = engine::quantize(options, progress);
  if (tty) std::fprintf(stderr, "\n");
  if (!result) {
    std::fprintf(stderr, "arbitra quantize: %s\n", result.error().message.c_str());
    return 1;
  }
  std::printf("%s -> %s (%s): %s -> %s (%.1f%%) in %.1f s\n", options.input.c_str(), options.output.c_str(),
              options.type.c_str(), mib(result->inputBytes).c_str(), mib(result->outputBytes).c_str(),
              100.0 * static_cast<double>(result->outputBytes) / static_cast<double>(result->inputBytes),
              result->seconds);
  return 0;
}

int runBench(int argc, char** argv) {
  engine::BenchOptions options;
  bool asJson = false;
  // Defaults that `arbitra plan --measured` finds in data/planner/: this
  // project's 2-vCPU machine, and the model's general.name (the generated
  // test models' names are catalog rows).
  std::string hardware = "cpu-2vcpu-avx2", modelId;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--draft") options.draftPath = value();
    else if (arg == "--ngram") options.ngram = true;
    else if (arg == "--parallel") options.parallel = intArg(arg, value(), 1, 64);
    else if (arg == "--threads") options.threads = intArg(arg, value(), 0, 1024);
    else if (arg == "--prompt-tokens") options.promptTokens = intArg(arg, value(), 8, 32768);
    else if (arg == "--tokens") options.generateTokens = intArg(arg, value(), 1, 32768);
    else if (arg == "--cost-per-hour") {
      auto micros = config::parseMicroDollars(value());
      if (!micros) throw std::invalid_argument("--cost-per-hour: expected dollars, e.g. 0.35");
      options.costPerHourMicros = *micros;
    } else if (arg == "--hardware") hardware = value();
    else if (arg == "--model-id") modelId = value();
    else if (arg == "--json") asJson = true;
    else if (arg == "--help" || arg == "-h") {
      std::printf("usage: arbitra bench MODEL.gguf [--draft D.gguf | --ngram] [--parallel N] [--threads N]\n"
                  "                     [--prompt-tokens N] [--tokens N] [--cost-per-hour DOLLARS]\n"
                  "                     [--hardware ID] [--model-id ID] [--json]\n");
      return 0;
    } else if (!arg.empty() && arg[0] == '-') throw std::invalid_argument("unknown option '" + arg + "' for bench");
    else if (options.modelPath.empty()) options.modelPath = arg;
    else throw std::invalid_argument("bench takes one model file");
  }
  if (options.modelPath.empty()) throw std::invalid_argument("bench needs MODEL.gguf (arbitra bench --help)");
  auto report = engine::runBench(options, [asJson](const std::string& step) {
    if (!asJson) std::fprintf(stderr, "bench: %s\n", step.c_str());
  });
  if (!report) {
    std::fprintf(stderr, "arbitra bench: %s\n", report.error().message.c_str());
    return 1;
  }
  const auto& r = *report;
  std::string quant = engine::formatId(r.model.description);
  if (asJson) {
    if (modelId.empty()) modelId = r.model.name;
    char date[16];
    std::time_t now = std::time(nullptr);
    std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
    json::array results, levels;
    for (const auto& l : r.levels) {
      results.push_back(json::object{{"hardware", hardware}, {"model", modelId}, {"quant", quant}, {"batch", l.streams},
                                     {"decode_tokens_per_s", l.decodeTokensPerSecond},
                                     {"prefill_tokens_per_s", r.prefillTokensPerSecond},
                                     {"source", std::string("arbitra bench, ") + date}});
      levels.push_back(json::object{{"streams", l.streams}, {"aggregate_tokens_per_s", l.aggregateTokensPerSecond},
                                    {"per_stream_tokens_per_s", l.perStreamTokensPerSecond},
                                    {"decode_tokens_per_s", l.decodeTokensPerSecond},
                                    {"mean_ttft_ms", l.meanFirstTokenMs}, {"output_tokens", l.outputTokens},
                                    {"seconds", l.seconds}, {"drafted", l.drafted}, {"accepted", l.accepted},
                                    {"usd_micros_per_million_tokens", l.microsPerMillionTokens}});
    }
    json::object out{{"results", std::move(results)},
                     {"model", json::object{{"file", options.modelPath}, {"description", r.model.description},
                                            {"parameters", r.model.parameters}, {"size_bytes", r.model.sizeBytes}}},
                     {"speculation", r.speculation}, {"threads", r.threads},
                     {"generate_tokens", options.generateTokens},
                     {"prefill", json::object{{"tokens", r.prefillTokens}, {"tokens_per_s", r.prefillTokensPerSecond},
                                              {"ttft_ms", r.prefillFirstTokenMs}}},
                     {"levels", std::move(levels)}, {"peak_rss_bytes", r.peakRssBytes},
                     {"cost_per_hour_usd_micros", options.costPerHourMicros}};
    std::printf("%s\n", json::serialize(out).c_str());
    return 0;
  }
  std::printf("model      %s (%s, %.2fB params, %s)\n", options.modelPath.c_str(), r.model.description.c_str(),
              static_cast<double>(r.model.parameters) / 1e9, mib(r.model.sizeBytes).c_str());
  std::printf("threads    %d   speculation %s   load %.1f s   peak RSS %s\n", r.threads, r.speculation.c_str(),
              r.loadSeconds, mib(r.peakRssBytes).c_str());
  std::printf("prefill    %d tokens: %.1f tokens/s, time to first token %.0f ms\n\n", r.prefillTokens,
              r.prefillTokensPerSecond, r.prefillFirstTokenMs);
  std::printf("| streams | aggregate tok/s | per stream tok/s | decode tok/s | mean TTFT ms | accepted/drafted |%s\n",
              options.costPerHourMicros ? " $/M tokens |" : "");
  std::printf("|---:|---:|---:|---:|---:|---:|%s\n", options.costPerHourMicros ? "---:|" : "");
  for (const auto& l : r.levels) {
    char accept[48] = "-";
    if (l.drafted > 0) {
      std::snprintf(accept, sizeof accept, "%lld/%lld (%.0f%%)", static_cast<long long>(l.accepted),
                    static_cast<long long>(l.drafted), 100.0 * static_cast<double>(l.accepted) / static_cast<double>(l.drafted));
    }
    std::printf("| %d | %.1f | %.1f | %.1f | %.0f | %s |%s\n", l.streams, l.aggregateTokensPerSecond,
                l.perStreamTokensPerSecond, l.decodeTokensPerSecond, l.meanFirstTokenMs, accept,
                options.costPerHourMicros ? (" " + money(l.microsPerMillionTokens) + " |").c_str() : "");
  }
  return 0;
}

}  // namespace arbitra::cli
