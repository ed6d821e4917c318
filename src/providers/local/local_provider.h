// Kind `local`: a GGUF model served in process by the edge engine
// (src/engine). The provider owns the Engine; the gateway reaches it through
// Provider::inProcess() and gets neutral stream events back.
//
// Guarantees: the model is loaded (and checked) when the provider is made, so
// a bad file stops start-up with its message; dropping a ChatEvents cancels
// its generation (a client that leaves frees its slot); usage is counted
// exactly by the engine's tokenizer; cost per request = tokens it decoded ×
// (cost_per_hour ÷ the engine's measured decode throughput), integer
// pico-dollars rounded once.
#pragma once

#include <memory>

#include "providers/provider.h"

namespace arbitra::providers {

// Throws std::runtime_error naming the file when the model cannot be loaded.
std::unique_ptr<Provider> makeLocalProvider(const config::ProviderConfig& config);

// pico-dollars for `tokens` at `costPerHourMicros`, given that `decoded`
// tokens took `busyMicros` of engine time (0 when nothing is measured yet).
int64_t localCostPico(int64_t tokens, int64_t costPerHourMicros, int64_t decoded, int64_t busyMicros);

}  // namespace arbitra::providers
