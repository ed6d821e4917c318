// Runs the cost scenarios in cost_cases.yaml (expected costs worked out by
// hand) through the real pieces: the built-in catalog or the config parser
// for the price, the OpenAI/Anthropic codecs for usage from raw answers and
// streams, and ledger::priceUsage. Every expected value is asserted exactly.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <string>

#include "api/codec.h"
#include "config/config.h"
#include "ledger/catalog.h"
#include "ledger/cost.h"

namespace arbitra::ledger {
namespace {

const std::string kCases = std::string(ARBITRA_SOURCE_DIR) + "/tests/unit/ledger/cost_cases.yaml";

config::Price inlinePrice(const YAML::Node& price) {
  YAML::Emitter flow;
  flow << YAML::Flow << price;
  std::string yaml = "providers:\n  p: { kind: openai, base_url: http://127.0.0.1:1/v1 }\nmodels:\n  m:\n"
                     "    provider: p\n    model: x\n    price: " + std::string(flow.c_str()) + "\n";
  auto config = config::parseConfig(yaml, "case.yaml");
  return config.models.at(0).deployments.at(0).price;
}

core::Usage usageFrom(const YAML::Node& node) {
  core::Usage usage;
  usage.inputTokens = node["input"].as<int64_t>(0);
  usage.outputTokens = node["output"].as<int64_t>(0);
  usage.cachedReadTokens = node["cached_read"].as<int64_t>(0);
  usage.cacheWriteTokens = node["cache_write"].as<int64_t>(0);
  usage.reasoningTokens = node["reasoning"].as<int64_t>(0);
  return usage;
}

// Usage as the gateway gets it: from the answer, the stream, or estimated.
core::Usage usageOfUpstream(const YAML::Node& c, bool& estimated) {
  auto format = c["format"].as<std::string>() == "anthropic" ? core::WireFormat::Anthropic : core::WireFormat::OpenAI;
  const auto& codec = api::codecFor(format);
  estimated = false;
  if (c["answer"]) {
    auto usage = codec.parseResponseUsage(c["answer"].as<std::string>());
    EXPECT_TRUE(usage.ok());
    EXPECT_TRUE(usage->has_value());
    return usage->value_or(core::Usage{});
  }
  auto decoder = codec.makeStreamDecoder();
  std::optional<core::Usage> reported;
  size_t outputBytes = 0;
  for (const auto& line : c["events"]) {
    std::string text = line.as<std::string>();
    std::string event, data = text;
    if (auto bar = text.find('|'); format == core::WireFormat::Anthropic && bar != std::string::npos) {
      event = text.substr(0, bar);
      data = text.substr(bar + 1);
    }
    auto decoded = decoder->decode(event, data);
    EXPECT_TRUE(decoded.ok()) << text;
    if (!decoded.ok()) continue;
    for (const auto& e : *decoded) {
      if (e.kind == core::StreamEvent::Kind::Usage) reported = e.usage;
      if (e.kind == core::StreamEvent::Kind::TextDelta || e.kind == core::StreamEvent::Kind::ToolArgs) {
        outputBytes += e.text.size();
      }
    }
  }
  EXPECT_TRUE(decoder->finished());
  if (reported) return *reported;
  estimated = true;
  core::Usage usage;
  usage.inputTokens = estimateTokens(c["prompt_bytes"].as<size_t>(0));
  usage.outputTokens = estimateTokens(outputBytes);
  return usage;
}

TEST(CostCases, EveryScenarioCostsExactlyWhatWasWorkedOutByHand) {
  YAML::Node root = YAML::LoadFile(kCases);
  const auto& catalog = PriceCatalog::builtIn();
  int cases = 0;
  for (const auto& c : root["cases"]) {
    std::string name = c["name"].as<std::string>();
    SCOPED_TRACE(name);
    config::Price price;
    if (c["catalog"]) {
      std::string id = c["catalog"].as<std::string>();
      auto slash = id.find('/');
      const CatalogRow* row = catalog.find(id.substr(0, slash), id.substr(slash + 1));
      ASSERT_NE(row, nullptr) << id << " is not in data/prices.yaml";
      price = row->price;
    } else {
      price = inlinePrice(c["price"]);
    }
    ASSERT_TRUE(price.known);
    core::Usage usage;
    bool estimated = false;
    if (c["usage"]) {
      usage = usageFrom(c["usage"]);
    } else {
      usage = usageOfUpstream(c, estimated);
      auto want = usageFrom(c["expected_usage"]);
      EXPECT_EQ(usage.inputTokens, want.inputTokens);
      EXPECT_EQ(usage.outputTokens, want.outputTokens);
      EXPECT_EQ(usage.cachedReadTokens, want.cachedReadTokens);
      EXPECT_EQ(usage.cacheWriteTokens, want.cacheWriteTokens);
      EXPECT_EQ(usage.reasoningTokens, want.reasoningTokens);
      EXPECT_EQ(estimated, c["estimated"].as<bool>(false));
    }
    Billing billing = c["billing"].as<std::string>("standard") == "batch" ? Billing::Batch : Billing::Standard;
    Cost cost = priceUsage(price, usage, billing);
    EXPECT_EQ(cost.totalPico, c["expected_pico"].as<int64_t>());
    EXPECT_EQ(cost.totalPico,
              cost.inputPico + cost.cachedReadPico + cost.cacheWritePico + cost.outputPico + cost.reasoningPico);
    ++cases;
  }
  EXPECT_GE(cases, 30);
}

TEST(CostCases, AggregatesEqualTheSumOfTheirParts) {
  // A million requests of varied usage: the running total equals the count
  // times the unit cost, with no drift (integers, no floating point).
  const auto* row = PriceCatalog::builtIn().find("openai", "gpt-4o-mini");
  ASSERT_NE(row, nullptr);
  core::Usage usage;
  usage.inputTokens = 333;
  usage.cachedReadTokens = 111;
  usage.outputTokens = 77;
  int64_t unit = priceUsage(row->price, usage).totalPico;
  EXPECT_EQ(unit, 222 * 150000 + 111 * 75000 + 77 * 600000);
  int64_t total = 0;
  for (int i = 0; i < 1'000'000; ++i) total += priceUsage(row->price, usage).totalPico;
  EXPECT_EQ(total, unit * 1'000'000);
}

TEST(Dollars, FormatsAndParsesExactly) {
  EXPECT_EQ(formatDollars(1'234'500'000, 8), "0.00123450");
  EXPECT_EQ(exactDollars(1'234'500'000), "0.0012345");
  EXPECT_EQ(exactDollars(150'000'000'000'000), "150");
  EXPECT_EQ(exactDollars(0), "0");
  EXPECT_EQ(exactDollars(1), "0.000000000001");
  EXPECT_EQ(formatDollars(-2'500'000'000'000, 2), "-2.50");
  EXPECT_EQ(parseDollars("12.50"), 12'500'000'000'000);
  EXPECT_EQ(parseDollars("0.000001"), 1'000'000);
  EXPECT_FALSE(parseDollars("1e3"));
  EXPECT_FALSE(parseDollars("-1"));
  EXPECT_FALSE(parseDollars("0.0000001"));
}

TEST(Estimate, RoundsUpToWholeTokens) {
  EXPECT_EQ(estimateTokens(0), 0);
  EXPECT_EQ(estimateTokens(1), 1);
  EXPECT_EQ(estimateTokens(4), 1);
  EXPECT_EQ(estimateTokens(5), 2);
}

}  // namespace
}  // namespace arbitra::ledger
