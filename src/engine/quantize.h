// `arbitra quantize`: GGUF -> a 4/5/8-bit GGUF through llama.cpp's quantizer,
// with progress, sizes before and after, and a clear refusal of bad input.
//
// Design: the input is checked first (checkGgufFile: header, tensor table,
// size) so a corrupt or truncated file is refused before llama.cpp reads it;
// progress comes from llama.cpp's per-tensor log lines ("[  3/ 21] name ..."),
// observed on this thread and reported through a callback. The output is
// written to OUT.partial and renamed, so a failed run leaves no half file.
//
//   auto done = engine::quantize({.input = "f16.gguf", .output = "q4.gguf", .type = "q4_k_m"},
//                                [](int i, int n, const std::string& tensor) { ... });
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"

namespace arbitra::engine {

struct QuantizeOptions {
  std::string input;
  std::string output;
  std::string type = "q4_k_m";  // q4_0 q4_k_s q4_k_m q5_0 q5_k_m q6_k q8_0 f16
  int threads = 0;              // 0: hardware threads
};

struct QuantizeResult {
  int64_t inputBytes = 0;
  int64_t outputBytes = 0;
  double seconds = 0;
};

using QuantizeProgress = std::function<void(int done, int total, const std::string& tensor)>;

// The names --type accepts, in a stable order.
std::vector<std::string> quantizeTypes();

core::Result<QuantizeResult> quantize(const QuantizeOptions& options, const QuantizeProgress& progress = {});

}  // namespace arbitra::engine
