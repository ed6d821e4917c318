// Model name -> deployments: configured groups in order, provider-prefix
// routing, the simulator's catch-all, and a 404 that lists what would work.
#include <gtest/gtest.h>

#include "gateway/deployments.h"

namespace arbitra::gateway {
namespace {

config::ProviderConfig provider(const std::string& name, const std::string& kind, bool simulated = false) {
  config::ProviderConfig p;
  p.name = name;
  p.kind = kind;
  p.baseUrl = "http://127.0.0.1:1/v1";
  p.simulated = simulated;
  return p;
}

config::Config twoProviders() {
  config::Config c;
  c.providers = {provider("oa", "openai"), provider("an", "anthropic")};
  config::ModelConfig group;
  group.name = "smart";
  config::DeploymentConfig first;
  first.provider = "an";
  first.upstreamModel = "claude-x";
  config::DeploymentConfig second;
  second.provider = "oa";
  second.upstreamModel = "gpt-x";
  group.deployments = {first, second};
  c.models = {group};
  return c;
}

providers::Registry registry() {
  providers::Registry r;
  providers::registerBuiltins(r);
  return r;
}

TEST(DeploymentTable, ConfiguredGroupKeepsOrder) {
  auto reg = registry();
  DeploymentTable table(twoProviders(), reg);
  auto resolved = table.resolve("smart");
  ASSERT_TRUE(resolved.ok());
  ASSERT_EQ(resolved->size(), 2u);
  EXPECT_EQ((*resolved)[0].label, "an/claude-x");
  EXPECT_EQ((*resolved)[0].provider->format(), core::WireFormat::Anthropic);
  EXPECT_EQ((*resolved)[1].label, "oa/gpt-x");
}

TEST(DeploymentTable, ProviderPrefixRouting) {
  auto reg = registry();
  DeploymentTable table(twoProviders(), reg);
  auto resolved = table.resolve("oa/some/model-with-slash");
  ASSERT_TRUE(resolved.ok());
  ASSERT_EQ(resolved->size(), 1u);
  EXPECT_EQ((*resolved)[0].upstreamModel, "some/model-with-slash");
  EXPECT_EQ((*resolved)[0].provider->config().name, "oa");
}

TEST(DeploymentTable, UnknownModelListsKnownOnes) {
  auto reg = registry();
  DeploymentTable table(twoProviders(), reg);
  auto resolved = table.resolve("nope");
  ASSERT_FALSE(resolved.ok());
  EXPECT_EQ(resolved.error().kind, core::ErrorKind::NotFound);
  EXPECT_EQ(resolved.error().httpStatus(), 404);
  EXPECT_NE(resolved.error().message.find("smart"), std::string::npos) << resolved.error().message;
  EXPECT_NE(resolved.error().message.find("oa/<model>"), std::string::npos) << resolved.error().message;
  EXPECT_FALSE(table.resolve("unknownprovider/x").ok());
}

TEST(DeploymentTable, SimulatorServesAnyNameByFormat) {
  config::Config c;
  c.providers = {provider("simulated", "openai", true), provider("simulated-anthropic", "anthropic", true)};
  auto reg = registry();
  DeploymentTable table(c, reg);
  EXPECT_TRUE(table.simulated());
  auto gpt = table.resolve("gpt-4o-mini");
  ASSERT_TRUE(gpt.ok());
  EXPECT_EQ((*gpt)[0].provider->config().name, "simulated");
  auto claude = table.resolve("claude-3-5-haiku-latest");
  ASSERT_TRUE(claude.ok());
  EXPECT_EQ((*claude)[0].provider->config().name, "simulated-anthropic");
  auto prefixed = table.resolve("anthropic/claude-x");
  ASSERT_TRUE(prefixed.ok());
  EXPECT_EQ((*prefixed)[0].provider->config().name, "simulated-anthropic");
  EXPECT_EQ((*prefixed)[0].upstreamModel, "claude-x");
}

}  // namespace
}  // namespace arbitra::gateway
