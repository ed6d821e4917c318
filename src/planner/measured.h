// Measured throughput that overrides the model: `arbitra plan --measured FILE.json`.
//
// The format is what `arbitra bench --json` emits (its other top-level keys
// are ignored; its defaults name this project's CPU row and the generated
// test models' catalog rows, so its output is read as is); a file can also be
// written by hand from any measurement:
//
//   {"results": [
//     {"hardware": "h100-sxm", "model": "llama-3.1-8b", "quant": "Q4_K_M",
//      "batch": 16, "decode_tokens_per_s": 1850.0, "prefill_tokens_per_s": 9000.0,
//      "source": "vLLM benchmark_serving, 2026-11-20"}
//   ]}
//
// decode_tokens_per_s is the aggregate over `batch` streams; prefill is
// optional. Ids must exist in the catalog; errors read "FILE: results[i].field: what".
// Several rows for the same hardware/model/format (a bench at 1, 2, 4
// streams): the plan uses the one with the largest batch.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "planner/catalog.h"
#include "planner/throughput.h"

namespace arbitra::planner {

// One row of the file, as written.
struct MeasuredRow {
  std::string hardware, model, quant;
  Measurement measurement;
};

// Every row, in file order. Throws PlannerError.
std::vector<MeasuredRow> parseMeasuredRows(const std::string& text, const std::string& file, const Catalog& catalog);

// Keyed by measurementKey(hardware, model, quant), the largest batch of each. Throws PlannerError.
std::map<std::string, Measurement> loadMeasurements(const std::string& path, const Catalog& catalog);
std::map<std::string, Measurement> parseMeasurements(const std::string& text, const std::string& file,
                                                     const Catalog& catalog);

}  // namespace arbitra::planner
