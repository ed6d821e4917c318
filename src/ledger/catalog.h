// The price catalog: what each provider charges for each model, as data
// (data/prices.yaml, built into the binary; `ledger.prices` in the config
// points at another file). Every row names its source and date. A
// deployment's `price:` in the config overrides its row.
//
// Lookups run once per deployment at start, never per request.
//
//   auto catalog = ledger::PriceCatalog::builtIn();
//   if (auto* row = catalog.find("openai", "gpt-4o-mini")) row->price.inputPerMillion;  // 150000
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.h"

namespace arbitra::ledger {

struct CatalogRow {
  std::string provider;  // Arbitra's provider name: openai, anthropic, groq, together, ...
  std::string model;     // the provider's model id
  config::Price price;   // price.source: "<source> as of <date>"
  int64_t contextWindow = 0;
  int line = 0;
};

class PriceCatalog {
 public:
  // Parses catalog YAML; throws config::ConfigError ("name:line: what is wrong").
  static PriceCatalog parse(const std::string& yaml, const std::string& name);
  static PriceCatalog load(const std::string& path);
  // The catalog compiled into the binary (data/prices.yaml at build time).
  static const PriceCatalog& builtIn();

  // Exact (provider, model) first; then the model id alone when every row
  // that has it agrees on the price. nullptr when unknown.
  const CatalogRow* find(const std::string& provider, const std::string& model) const;
  const std::vector<CatalogRow>& rows() const { return rows_; }

 private:
  std::vector<CatalogRow> rows_;
  std::unordered_map<std::string, std::vector<size_t>> byModel_;  // model id -> rows
};

// The price a deployment is billed at: its own config price when given, else
// its catalog row (by provider name, then by the provider's kind), else an
// unknown price (known == false) that the caller must treat as an error.
config::Price priceFor(const config::DeploymentConfig& deployment, const config::ProviderConfig& provider,
                       const PriceCatalog& catalog);

// A copy of `config` where every deployment without a configured price has
// its catalog row's (the router and the ledger then see the same prices).
config::Config withCatalogPrices(const config::Config& config, const PriceCatalog& catalog);

}  // namespace arbitra::ledger
