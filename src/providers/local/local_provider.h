// Kind `local`: a GGUF model served in process by the edge engine
// (src/engine). The provider owns the Engine; the gateway reaches it through
// Provider::inProcess() and gets neutral stream events back.
//
// Guarantees: the model is loaded (and checked) when the provider is made, so
// a bad file stops start-up with its message; it is unloaded when the
// provider is destroyed (the gateway shares providers between config
// generations: see gateway/reload.h); dropping a ChatEvents cancels
// its generation (a client that leaves frees its slot); usage is counted
// exactly by the engine's tokenizer; cost per request = tokens it decoded ×
// (the machine's $/hour from config ÷ the engine's measured decode
// throughput), integer pico-dollars rounded once (engine/machine_cost.h).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "engine/machine_cost.h"
#include "providers/provider.h"

namespace arbitra::providers {

// Throws std::runtime_error naming the file when the model cannot be loaded.
std::unique_ptr<Provider> makeLocalProvider(const config::ProviderConfig& config);

// The machine cost a local deployment's config describes (cost_per_hour,
// capex / lifetime_hours, watts × price_per_kwh, hosting_per_month).
engine::MachineCost machineCost(const config::LocalModelConfig& local);

// Local models in memory now, by provider name (a name counts twice while a
// reload's new model is loaded and the previous one still serves requests).
// A model counts from its load until its engine has been destroyed.
std::map<std::string, int> loadedLocalModels();

}  // namespace arbitra::providers
