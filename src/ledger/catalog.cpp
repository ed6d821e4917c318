// Loading and looking up the price catalog (see catalog.h).
#include "ledger/catalog.h"

#include <fstream>
#include <map>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace arbitra::ledger {

extern const char* const kBuiltInPrices;  // generated from data/prices.yaml (CMake)

namespace {

int lineOf(const YAML::Node& node, int fallback) {
  auto mark = node.Mark();
  return mark.is_null() || mark.line < 0 ? fallback : mark.line + 1;
}

[[noreturn]] void fail(const std::string& name, int line, const std::string& message) {
  throw config::ConfigError(name + ":" + std::to_string(line) + ": " + message);
}

int64_t dollars(const YAML::Node& node, const std::string& field, const std::string& name, int line) {
  if (!node.IsScalar()) fail(name, line, field + " must be a decimal number of dollars per million tokens");
  auto value = config::parseMicroDollars(node.Scalar());
  if (!value) fail(name, lineOf(node, line), field + " must be a plain decimal with at most 6 places, got '" + node.Scalar() + "'");
  return *value;
}

CatalogRow parseRow(const YAML::Node& node, const std::string& name) {
  int line = lineOf(node, 1);
  if (!node.IsMap()) fail(name, line, "each price row must be a mapping");
  static const std::map<std::string, int> known = {
      {"provider", 0}, {"model", 0}, {"input", 0}, {"output", 0}, {"cached_input", 0}, {"cache_write", 0},
      {"reasoning", 0}, {"batch_input", 0}, {"batch_output", 0}, {"long_context", 0}, {"context", 0},
      {"source", 0}, {"as_of", 0}};
  for (const auto& pair : node) {
    auto key = pair.first.as<std::string>();
    if (!known.count(key)) fail(name, lineOf(pair.first, line), "unknown key '" + key + "' in a price row");
  }
  CatalogRow row;
  row.line = line;
  auto required = [&](const char* key) {
    if (!node[key] || !node[key].IsScalar() || node[key].Scalar().empty()) {
      fail(name, line, std::string("a price row needs ") + key);
    }
    return node[key];
  };
  row.provider = required("provider").Scalar();
  row.model = required("model").Scalar();
  auto& price = row.price;
  price.inputPerMillion = dollars(required("input"), "input", name, line);
  price.outputPerMillion = dollars(required("output"), "output", name, line);
  price.cachedInputPerMillion =
      node["cached_input"] ? dollars(node["cached_input"], "cached_input", name, line) : price.inputPerMillion;
  price.cacheWritePerMillion =
      node["cache_write"] ? dollars(node["cache_write"], "cache_write", name, line) : price.inputPerMillion;
  if (node["reasoning"]) price.reasoningPerMillion = dollars(node["reasoning"], "reasoning", name, line);
  if (node["batch_input"] || node["batch_output"]) {
    if (!node["batch_input"] || !node["batch_output"]) fail(name, line, "a price row needs both batch_input and batch_output");
    price.batchInputPerMillion = dollars(node["batch_input"], "batch_input", name, line);
    price.batchOutputPerMillion = dollars(node["batch_output"], "batch_output", name, line);
  }
  if (auto tier = node["long_context"]) {
    int tierLine = lineOf(tier, line);
    if (!tier.IsMap() || !tier["above"] || !tier["input"] || !tier["output"]) {
      fail(name, tierLine, "long_context needs above, input and output");
    }
    config::LongContextTier parsed;
    try {
      parsed.aboveInputTokens = tier["above"].as<int64_t>();
    } catch (const YAML::Exception&) {
      fail(name, tierLine, "long_context.above must be a number of input tokens");
    }
    parsed.rates.inputPerMillion = dollars(tier["input"], "long_context.input", name, tierLine);
    parsed.rates.outputPerMillion = dollars(tier["output"], "long_context.output", name, tierLine);
    parsed.rates.cachedInputPerMillion = tier["cached_input"]
                                             ? dollars(tier["cached_input"], "long_context.cached_input", name, tierLine)
                                             : parsed.rates.inputPerMillion;
    parsed.rates.cacheWritePerMillion = tier["cache_write"]
                                            ? dollars(tier["cache_write"], "long_context.cache_write", name, tierLine)
                                            : parsed.rates.inputPerMillion;
    price.longContext = parsed;
  }
  if (node["context"]) {
    try {
      row.contextWindow = node["context"].as<int64_t>();
    } catch (const YAML::Exception&) {
      fail(name, line, "context must be a number of tokens");
    }
  }
  std::string source = required("source").Scalar();
  std::string asOf = required("as_of").Scalar();
  price.source = source + " as of " + asOf;
  price.known = true;
  return row;
}

}  // namespace

PriceCatalog PriceCatalog::parse(const std::string& yaml, const std::string& name) {
  PriceCatalog catalog;
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::ParserException& e) {
    fail(name, e.mark.line + 1, e.msg);
  }
  if (!root.IsMap() || !root["prices"] || !root["prices"].IsSequence()) {
    fail(name, 1, "a price catalog needs a top-level `prices:` list");
  }
  std::map<std::pair<std::string, std::string>, int> seen;
  for (const auto& node : root["prices"]) {
    auto row = parseRow(node, name);
    auto [it, fresh] = seen.emplace(std::make_pair(row.provider, row.model), row.line);
    if (!fresh) {
      fail(name, row.line, "price for " + row.provider + "/" + row.model + " repeats line " + std::to_string(it->second));
    }
    catalog.byModel_[row.model].push_back(catalog.rows_.size());
    catalog.rows_.push_back(std::move(row));
  }
  return catalog;
}

PriceCatalog PriceCatalog::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw config::ConfigError(path + ": cannot read the price catalog");
  std::stringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

const PriceCatalog& PriceCatalog::builtIn() {
  static const PriceCatalog catalog = parse(kBuiltInPrices, "data/prices.yaml");
  return catalog;
}

const CatalogRow* PriceCatalog::find(const std::string& provider, const std::string& model) const {
  const CatalogRow* byModel = nullptr;
  bool ambiguous = false;
  auto found = byModel_.find(model);
  if (found == byModel_.end()) return nullptr;
  for (size_t index : found->second) {
    const CatalogRow& row = rows_[index];
    if (row.provider == provider) return &row;
    if (byModel && (byModel->price.inputPerMillion != row.price.inputPerMillion ||
                    byModel->price.outputPerMillion != row.price.outputPerMillion ||
                    byModel->price.cachedInputPerMillion != row.price.cachedInputPerMillion)) {
      ambiguous = true;
    }
    if (!byModel) byModel = &row;
  }
  return ambiguous ? nullptr : byModel;
}

config::Price priceFor(const config::DeploymentConfig& deployment, const config::ProviderConfig& provider,
                       const PriceCatalog& catalog) {
  if (deployment.price.known) return deployment.price;
  const CatalogRow* row = catalog.find(provider.name, deployment.upstreamModel);
  if (!row && provider.kind != provider.name) row = catalog.find(provider.kind, deployment.upstreamModel);
  if (row) return row->price;
  return {};
}

config::Config withCatalogPrices(const config::Config& config, const PriceCatalog& catalog) {
  config::Config out = config;
  for (auto& model : out.models) {
    for (auto& deployment : model.deployments) {
      const auto* provider = config.findProvider(deployment.provider);
      if (provider && !deployment.price.known) deployment.price = priceFor(deployment, *provider, catalog);
    }
  }
  return out;
}

}  // namespace arbitra::ledger
