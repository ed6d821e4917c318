// Quantization through llama_model_quantize (see quantize.h).
#include "engine/quantize.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <utility>

#include "engine/engine.h"
#include "engine/llama_handles.h"

namespace arbitra::engine {
namespace {

const std::pair<const char*, llama_ftype> kTypes[] = {
    {"q4_0", LLAMA_FTYPE_MOSTLY_Q4_0},     {"q4_k_s", LLAMA_FTYPE_MOSTLY_Q4_K_S},
    {"q4_k_m", LLAMA_FTYPE_MOSTLY_Q4_K_M}, {"q5_0", LLAMA_FTYPE_MOSTLY_Q5_0},
    {"q5_k_m", LLAMA_FTYPE_MOSTLY_Q5_K_M}, {"q6_k", LLAMA_FTYPE_MOSTLY_Q6_K},
    {"q8_0", LLAMA_FTYPE_MOSTLY_Q8_0},     {"f16", LLAMA_FTYPE_MOSTLY_F16},
};

struct ProgressState {
  const QuantizeProgress* progress;
};

// llama.cpp logs "[   3/  21] blk.0.attn_q.weight   - [...]" once per tensor.
void observe(void* user, int level, const char* text) {
  auto* state = static_cast<ProgressState*>(user);
  if (!state->progress || !*state->progress || text[0] != '[') return;
  int done = 0, total = 0;
  char name[200] = {};
  if (std::sscanf(text, "[%d/%d] %199s", &done, &total, name) == 3) (*state->progress)(done, total, name);
}

}  // namespace

std::vector<std::string> quantizeTypes() {
  std::vector<std::string> names;
  for (const auto& [name, type] : kTypes) names.emplace_back(name);
  return names;
}

core::Result<QuantizeResult> quantize(const QuantizeOptions& options, const QuantizeProgress& progress) {
  using core::ErrorKind;
  const llama_ftype* ftype = nullptr;
  for (const auto& [name, type] : kTypes) {
    if (options.type == name) ftype = &type;
  }
  if (!ftype) {
    std::string known;
    for (const auto& n : quantizeTypes()) known += (known.empty() ? "" : ", ") + n;
    return core::makeError(ErrorKind::InvalidRequest, "unknown quantization type '" + options.type + "' (known: " + known + ")");
  }
  auto inputBytes = checkGgufFile(options.input);
  if (!inputBytes) return inputBytes.error();
  if (std::filesystem::weakly_canonical(options.input) == std::filesystem::weakly_canonical(options.output)) {
    return core::makeError(ErrorKind::InvalidRequest, "the output must not be the input file");
  }
  quietLlamaLogs();
  clearLlamaError();
  auto params = llama_model_quantize_default_params();
  params.ftype = *ftype;
  params.nthread = options.threads;
  std::string partial = options.output + ".partial";
  ProgressState state{&progress};
  setLlamaLogObserver(observe, &state);
  auto start = std::chrono::steady_clock::now();
  uint32_t rc = llama_model_quantize(options.input.c_str(), partial.c_str(), &params);
  setLlamaLogObserver(nullptr, nullptr);
  if (rc != 0) {
    std::error_code ec;
    std::filesystem::remove(partial, ec);
    std::string why = lastLlamaError();
    return core::makeError(ErrorKind::InvalidRequest,
                           "quantizing " + options.input + " failed" + (why.empty() ? "" : ": " + why));
  }
  std::error_code ec;
  std::filesystem::rename(partial, options.output, ec);
  if (ec) return core::makeError(ErrorKind::Internal, "cannot rename " + partial + ": " + ec.message());
  QuantizeResult result;
  result.inputBytes = *inputBytes;
  result.outputBytes = static_cast<int64_t>(std::filesystem::file_size(options.output, ec));
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace arbitra::engine
