// The `ledger:` section and the full price shape (reasoning, batch, long
// context): accepted values, defaults, and `file:line` errors.
#include <gtest/gtest.h>

#include "config/config.h"
#include "config_test_util.h"

namespace arbitra::config {
namespace {

using testing::fakeEnv;
using testing::parseError;
using testing::yamlLines;

TEST(LedgerConfig, DefaultsWhenAbsent) {
  auto config = parseConfig("", "c.yaml", fakeEnv({}));
  EXPECT_TRUE(config.ledger.enabled);
  EXPECT_EQ(config.ledger.path, "arbitra.db");
  EXPECT_EQ(config.ledger.commitIntervalMs, 50);
  EXPECT_EQ(config.ledger.retentionDays, 90);
  EXPECT_TRUE(config.ledger.masterKey.empty());
}

TEST(LedgerConfig, ReadsEveryKeyAndTheMasterKeyFromTheEnvironment) {
  auto config = parseConfig(yamlLines({"ledger:", "  path: /tmp/l.db", "  commit_interval_ms: 20",
                                       "  retention_days: 30", "  prices: my-prices.yaml",
                                       "  master_key: ${ARB_MASTER}", "  postgres: \"host=db user=${PGUSER}\"",
                                       "  default_max_output_tokens: 1000", "  enabled: false"}),
                            "c.yaml", fakeEnv({{"ARB_MASTER", "0123456789abcdef-master"}, {"PGUSER", "me"}}));
  EXPECT_EQ(config.ledger.path, "/tmp/l.db");
  EXPECT_EQ(config.ledger.commitIntervalMs, 20);
  EXPECT_EQ(config.ledger.retentionDays, 30);
  EXPECT_EQ(config.ledger.pricesFile, "my-prices.yaml");
  EXPECT_EQ(config.ledger.masterKey, "0123456789abcdef-master");
  EXPECT_EQ(config.ledger.masterKeyEnv, "ARB_MASTER");
  EXPECT_EQ(config.ledger.postgres, "host=db user=me");
  EXPECT_EQ(config.ledger.defaultMaxOutputTokens, 1000);
  EXPECT_FALSE(config.ledger.enabled);
}

TEST(LedgerConfig, Errors) {
  EXPECT_EQ(parseError(yamlLines({"ledger:", "  commit_interval_ms: 0"})),
            "c.yaml:2: commit_interval_ms must be an integer from 1 to 10000 (got '0')");
  EXPECT_EQ(parseError(yamlLines({"ledger:", "  master_key: sk-inline-secret-value"})),
            "c.yaml:2: master_key must reference an environment variable, e.g. ${ARBITRA_MASTER_KEY}; inline "
            "secrets are refused");
  EXPECT_EQ(parseError(yamlLines({"ledger:", "  master_key: ${SHORT}"}), fakeEnv({{"SHORT", "abc"}})),
            "c.yaml:2: master_key (from SHORT) must be at least 16 characters");
  EXPECT_EQ(parseError(yamlLines({"ledger:", "  enabled: maybe"})), "c.yaml:2: enabled must be true or false");
  EXPECT_EQ(parseError(yamlLines({"ledger:", "  pth: x"})),
            "c.yaml:2: unknown key 'pth' in ledger (expected one of: enabled, path, postgres, commit_interval_ms, "
            "retention_days, prices, master_key, default_max_output_tokens)");
}

TEST(PriceConfig, ReasoningBatchAndLongContext) {
  auto config = parseConfig(
      yamlLines({"providers:", "  p: { kind: openai, base_url: http://127.0.0.1:1/v1 }", "models:", "  m:",
                 "    provider: p", "    model: x",
                 "    price: { input: \"3\", output: \"15\", reasoning: \"20\", batch_input: \"1.5\", batch_output: \"7.5\",",
                 "             long_context: { above: 200000, input: \"6\", output: \"22.5\", cached_input: \"0.6\" } }"}),
      "c.yaml", fakeEnv({}));
  const auto& price = config.models.at(0).deployments.at(0).price;
  EXPECT_TRUE(price.known);
  EXPECT_EQ(price.reasoningPerMillion, 20'000'000);
  EXPECT_EQ(price.batchInputPerMillion, 1'500'000);
  EXPECT_EQ(price.batchOutputPerMillion, 7'500'000);
  ASSERT_TRUE(price.longContext);
  EXPECT_EQ(price.longContext->aboveInputTokens, 200'000);
  EXPECT_EQ(price.longContext->rates.inputPerMillion, 6'000'000);
  EXPECT_EQ(price.longContext->rates.cachedInputPerMillion, 600'000);
  EXPECT_EQ(price.longContext->rates.cacheWritePerMillion, 6'000'000);  // defaults to the tier's input
  EXPECT_EQ(price.source, "c.yaml:7");
}

TEST(PriceConfig, Errors) {
  auto model = [](const char* price) {
    return parseError(yamlLines({"providers:", "  p: { kind: openai, base_url: http://127.0.0.1:1/v1 }", "models:",
                                 "  m:", "    provider: p", "    model: x", price}));
  };
  EXPECT_EQ(model("    price: { input: 1, output: 2, batch_input: 1 }"),
            "c.yaml:7: price needs both batch_input and batch_output, or neither");
  EXPECT_EQ(model("    price: { input: 1, output: 2, long_context: { input: 2, output: 4 } }"),
            "c.yaml:7: long_context needs above (input tokens)");
  EXPECT_EQ(model("    price: { input: 1, output: 2, long_context: { above: 10, input: 2 } }"),
            "c.yaml:7: long_context needs input and output");
  EXPECT_EQ(model("    price: { input: 1, output: 2, reasoning: 1e-3 }"),
            "c.yaml:7: price.reasoning must be a plain decimal without an exponent, e.g. 0.15 (got '1e-3')");
}

}  // namespace
}  // namespace arbitra::config
