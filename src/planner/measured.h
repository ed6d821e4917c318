// Measured throughput that overrides the model: `arbitra plan --measured FILE.json`.
//
// The format is what `arbitra bench --json` is to emit once the engine exists
// (issue 4); until then a file can be written by hand from any measurement:
//
//   {"results": [
//     {"hardware": "h100-sxm", "model": "llama-3.1-8b", "quant": "Q4_K_M",
//      "batch": 16, "decode_tokens_per_s": 1850.0, "prefill_tokens_per_s": 9000.0,
//      "source": "vLLM benchmark_serving, 2026-11-20"}
//   ]}
//
// decode_tokens_per_s is the aggregate over `batch` streams; prefill is
// optional. Ids must exist in the catalog; errors read "FILE: results[i].field: what".
#pragma once

#include <map>
#include <string>

#include "planner/catalog.h"
#include "planner/throughput.h"

namespace arbitra::planner {

// Keyed by measurementKey(hardware, model, quant). Throws PlannerError.
std::map<std::string, Measurement> loadMeasurements(const std::string& path, const Catalog& catalog);
std::map<std::string, Measurement> parseMeasurements(const std::string& text, const std::string& file,
                                                     const Catalog& catalog);

}  // namespace arbitra::planner
