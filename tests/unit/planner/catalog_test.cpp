// Catalog loading: the shipped files load and are complete; malformed rows
// fail with `file:line: field path: what`.
#include <gtest/gtest.h>

#include "planner/catalog.h"
#include "planner_test_util.h"

namespace arbitra::planner {
namespace {

using testing::errorOf;
using testing::shippedCatalog;

TEST(Catalog, ShippedFilesLoadWithSourcesAndDates) {
  const Catalog& c = shippedCatalog();
  EXPECT_GE(c.prices.size(), 30u);
  EXPECT_GE(c.hardware.size(), 8u);
  EXPECT_GE(c.offers.size(), 10u);
  EXPECT_GE(c.models.size(), 10u);
  for (const auto& p : c.prices) {
    EXPECT_FALSE(p.from.source.empty()) << p.id;
    EXPECT_EQ(p.from.asOf.size(), 10u) << p.id;
  }
  // Exact decimals from the reference files ($ per million tokens).
  const ApiPrice* mini = c.findPrice("gpt-4o-mini");
  ASSERT_TRUE(mini);
  EXPECT_EQ(mini->input, 150'000);
  EXPECT_EQ(mini->output, 600'000);
  EXPECT_EQ(mini->cachedInput, 75'000);
  EXPECT_EQ(mini->batchInput, 75'000);
  EXPECT_EQ(mini->batchOutput, 300'000);
  const ApiPrice* groq = c.findPrice("groq/llama-3.1-8b-instant");
  ASSERT_TRUE(groq);
  EXPECT_EQ(groq->input, 50'000);
  EXPECT_EQ(groq->output, 80'000);
  EXPECT_EQ(groq->serves, "llama-3.1-8b");
  EXPECT_EQ(c.findPrice("deepinfra/meta-llama/Llama-3.2-1B-Instruct")->input, 5'000);  // $0.005/M
  EXPECT_EQ(c.findHardware("h100-sxm")->bandwidthGBs, 3350);
  EXPECT_EQ(c.findModel("llama-3.1-70b")->layers, 80);
  EXPECT_DOUBLE_EQ(c.findQuantization("Q4_K_M")->bitsPerWeight, 4.89);
}

TEST(Catalog, HardwareRowParametersAreReadAndChecked) {
  auto row = [](const std::string& kind, const std::string& efficiency) {
    return "hardware:\n  - {id: x, name: X, kind: " + kind +
           ", memory_gib: 8, bandwidth_gbs: 20, fp16_tflops: 0.2, tdp_watts: 65, efficiency: {" + efficiency +
           "}, source: s, as_of: 2026-11-29}\n";
  };
  Catalog c;
  parseHardware(row("cpu", "bandwidth: 0.5, block_quant: 1.0, decode_compute: 1.2, prefill_compute: 0.9, "
                           "matmul_half_width: 700, layer_overhead_us: 35, overlap: 0.25"),
                "hw.yaml", c);
  const Hardware& h = c.hardware.back();
  EXPECT_DOUBLE_EQ(*h.bandwidthEfficiency, 0.5);
  EXPECT_DOUBLE_EQ(*h.blockQuantEfficiency, 1.0);
  EXPECT_DOUBLE_EQ(*h.decodeComputeEfficiency, 1.2);
  EXPECT_DOUBLE_EQ(*h.prefillComputeEfficiency, 0.9);
  EXPECT_DOUBLE_EQ(*h.matmulHalfWidth, 700);
  EXPECT_DOUBLE_EQ(*h.layerOverheadUs, 35);
  EXPECT_DOUBLE_EQ(*h.overlap, 0.25);
  Catalog d;
  parseHardware(row("gpu", "compute: 0.4"), "hw.yaml", d);  // `compute` sets both
  EXPECT_DOUBLE_EQ(*d.hardware.back().decodeComputeEfficiency, 0.4);
  EXPECT_DOUBLE_EQ(*d.hardware.back().prefillComputeEfficiency, 0.4);
  EXPECT_FALSE(d.hardware.back().layerOverheadUs);
  auto error = [&](const std::string& kind, const std::string& e) {
    Catalog fresh;
    return errorOf([&] { parseHardware(row(kind, e), "hw.yaml", fresh); });
  };
  EXPECT_NE(error("gpu", "block_quant: 0.8").find("hardware[0].efficiency.block_quant: applies to CPU rows only"),
            std::string::npos)
      << error("gpu", "block_quant: 0.8");
  EXPECT_NE(error("cpu", "compute: 0.4, decode_compute: 0.5").find("efficiency.compute: give either"),
            std::string::npos);
  EXPECT_NE(error("cpu", "overlap: 1.5").find("efficiency.overlap"), std::string::npos);
  EXPECT_NE(error("cpu", "layer_overhead_us: -1").find("efficiency.layer_overhead_us"), std::string::npos);
  EXPECT_NE(error("cpu", "stall: 3").find("stall"), std::string::npos);
}

struct CatalogErrorCase {
  const char* name;
  const char* text;
  const char* expected;  // substring of the error
};

class CatalogErrors : public ::testing::TestWithParam<CatalogErrorCase> {};

TEST_P(CatalogErrors, NameFileLineAndField) {
  const auto& param = GetParam();
  Catalog c;
  parseHardware(
      "hardware:\n  - {id: h100-sxm, name: H100, kind: gpu, memory_gib: 80, bandwidth_gbs: 3350, fp16_tflops: 989,"
      " tdp_watts: 700, source: s, as_of: 2024-01-01}\n",
      "hardware.yaml", c);
  std::string error = errorOf([&] {
    std::string text = param.text;
    if (text.starts_with("offers:"))
      parseOffers(text, "gpu_offers.yaml", c);
    else if (text.starts_with("models:"))
      parseModels(text, "models.yaml", c);
    else
      parseApiPrices(text, "api_prices.yaml", c);
  });
  EXPECT_NE(error.find(param.expected), std::string::npos) << "got: " << error;
}

INSTANTIATE_TEST_SUITE_P(
    Planner, CatalogErrors,
    ::testing::Values(
        CatalogErrorCase{
            "MissingInputPrice",
            "prices:\n  - id: x\n    provider: p\n    output: \"1\"\n    source: s\n    as_of: 2025-01-01\n",
            "api_prices.yaml:2: prices[0].input: missing price"},
        CatalogErrorCase{"NegativePrice",
                         "prices:\n  - id: x\n    provider: p\n    input: -0.5\n    output: 1\n    source: s\n    "
                         "as_of: 2025-01-01\n",
                         "api_prices.yaml:4: prices[0].input: a price must not be negative"},
        CatalogErrorCase{"ExponentPrice",
                         "prices:\n  - id: x\n    provider: p\n    input: 1e-3\n    output: 1\n    source: s\n    "
                         "as_of: 2025-01-01\n",
                         "api_prices.yaml:4: prices[0].input: expected a plain decimal"},
        CatalogErrorCase{"MissingDate",
                         "prices:\n  - id: x\n    provider: p\n    input: 1\n    output: 1\n    source: s\n",
                         "api_prices.yaml:2: prices[0].as_of: missing"},
        CatalogErrorCase{"BadDate",
                         "prices:\n  - {id: x, provider: p, input: 1, output: 1, source: s, as_of: last week}\n",
                         "prices[0].as_of: expected a date YYYY-MM-DD"},
        CatalogErrorCase{"MissingSource", "prices:\n  - {id: x, provider: p, input: 1, output: 1, as_of: 2025-01-01}\n",
                         "prices[0].source: missing"},
        CatalogErrorCase{
            "UnknownKey",
            "prices:\n  - {id: x, provider: p, input: 1, output: 1, outptu: 2, source: s, as_of: 2025-01-01}\n",
            "prices[0].outptu: unknown key"},
        CatalogErrorCase{"Duplicate",
                         "prices:\n  - {id: x, provider: p, input: 1, output: 1, source: s, as_of: 2025-01-01}\n"
                         "  - {id: x, provider: p, input: 1, output: 1, source: s, as_of: 2025-01-01}\n",
                         "api_prices.yaml:3: prices[1].id: duplicate id 'x'"},
        CatalogErrorCase{
            "HalfABatchPrice",
            "prices:\n  - {id: x, provider: p, input: 1, output: 1, batch_input: 0.5, source: s, as_of: 2025-01-01}\n",
            "batch_input and batch_output go together"},
        CatalogErrorCase{"YamlSyntax", "prices:\n  - {id: x\n", "api_prices.yaml:"},
        CatalogErrorCase{
            "OfferUnknownHardware",
            "offers:\n  - {id: o, hardware: b300, provider: p, usd_per_hour: 1, source: s, as_of: 2025-01-01}\n",
            "gpu_offers.yaml:2: offers[0].hardware: unknown hardware 'b300'"},
        CatalogErrorCase{
            "OfferZeroPrice",
            "offers:\n  - {id: o, hardware: h100-sxm, provider: p, usd_per_hour: 0, source: s, as_of: 2025-01-01}\n",
            "offers[0].usd_per_hour: a rental price of $0/hour"},
        CatalogErrorCase{
            "ModelMissingLayers",
            "models:\n  - {id: m, name: M, params: 7e9, hidden: 4096, kv_heads: 8, head_dim: 128, context: 4096,"
            " source: s, as_of: 2025-01-01}\n",
            "models.yaml:2: models[0].layers: missing"},
        CatalogErrorCase{
            "ModelActiveAboveTotal",
            "models:\n  - {id: m, name: M, params: 7e9, active_params: 8e9, layers: 32, hidden: 4096, kv_heads: 8,"
            " head_dim: 128, context: 4096, source: s, as_of: 2025-01-01}\n",
            "models[0].active_params: must be at most"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Catalog, MissingFileNamesIt) {
  std::string error = errorOf([] { loadCatalog("/nonexistent-dir"); });
  EXPECT_NE(error.find("/nonexistent-dir/api_prices.yaml: cannot read"), std::string::npos) << error;
}

}  // namespace
}  // namespace arbitra::planner
