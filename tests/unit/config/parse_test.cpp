// parseConfig on valid input: every field of the schema lands in Config, the
// defaults hold for what is left out, and the base_url convention is applied.
#include <gtest/gtest.h>

#include "config/config.h"
#include "config_test_util.h"

namespace arbitra::config {
namespace {

using testing::fakeEnv;
using testing::yamlLines;

const std::string kFullConfig = yamlLines({
    "server:",                                          // 1
    "  host: 0.0.0.0",                                  // 2
    "  port: 9090",                                     // 3
    "  threads: 4",                                     // 4
    "  max_header_bytes: 8192",                         // 5
    "  max_body_bytes: 1048576",                        // 6
    "  read_timeout_ms: 10000",                         // 7
    "  keep_alive_timeout_ms: 20000",                   // 8
    "providers:",                                       // 9
    "  openai:",                                        // 10
    "    kind: openai",                                 // 11
    "    api_key: ${OPENAI_API_KEY}",                   // 12
    "  claude:",                                        // 13
    "    kind: anthropic",                              // 14
    "    base_url: https://api.anthropic.com/v1/",      // 15
    "    api_key: os.environ/ANTHROPIC_API_KEY",        // 16
    "    headers:",                                     // 17
    "      anthropic-beta: prompt-caching-2024-07-31",  // 18
    "      X-Tenant: \"tenant ${TENANT}\"",             // 19
    "    proxy: http://proxy.internal:3128",            // 20
    "    timeouts: { connect_ms: 1000, first_byte_ms: 2000, idle_ms: 3000, total_ms: 4000 }",
    "  local:",                                 // 22
    "    kind: openai",                         // 23
    "    base_url: http://localhost:8000/v1/",  // 24
    "  sim:",                                   // 25
    "    kind: openai",                         // 26
    "    simulated: true",                      // 27
    "models:",                                  // 28
    "  gpt-4o-mini:",                           // 29
    "    - provider: openai",                   // 30
    "      model: gpt-4o-mini-2024-07-18",      // 31
    "      price: { input: 0.15, output: 0.60, cached_input: 0.075 }",
    "      context_window: 128000",           // 33
    "    - provider: sim",                    // 34
    "      model: fake-mini",                 // 35
    "  claude-sonnet:",                       // 36
    "    provider: claude",                   // 37
    "    model: claude-3-5-sonnet-20241022",  // 38
    "    price: { input: 3, output: 15, cached_input: 0.30, cache_write: 3.75 }",
});

EnvLookup fullEnv() {
  return fakeEnv({{"OPENAI_API_KEY", "sk-test-openai"},
                  {"ANTHROPIC_API_KEY", "sk-ant-test"},
                  {"TENANT", "acme"}});
}

TEST(ParseConfig, FullConfigServer) {
  Config config = parseConfig(kFullConfig, "full.yaml", fullEnv());
  EXPECT_EQ(config.sourceFile, "full.yaml");
  EXPECT_EQ(config.server.host, "0.0.0.0");
  EXPECT_EQ(config.server.port, 9090);
  EXPECT_EQ(config.server.threads, 4);
  EXPECT_EQ(config.server.maxHeaderBytes, 8192);
  EXPECT_EQ(config.server.maxBodyBytes, 1048576);
  EXPECT_EQ(config.server.readTimeoutMs, 10000);
  EXPECT_EQ(config.server.keepAliveTimeoutMs, 20000);
  EXPECT_FALSE(config.server.allowPublicWithoutKeys);
  EXPECT_TRUE(config.prefixRouting);
}

TEST(ParseConfig, FullConfigProviders) {
  Config config = parseConfig(kFullConfig, "full.yaml", fullEnv());
  ASSERT_EQ(config.providers.size(), 4u);

  const ProviderConfig& openai = config.providers[0];
  EXPECT_EQ(openai.name, "openai");
  EXPECT_EQ(openai.kind, "openai");
  EXPECT_EQ(openai.baseUrl, "https://api.openai.com/v1");  // the known default
  EXPECT_EQ(openai.apiKeyEnv, "OPENAI_API_KEY");
  EXPECT_EQ(openai.apiKey, "sk-test-openai");
  EXPECT_TRUE(openai.headers.empty());
  EXPECT_EQ(openai.proxy, "");
  EXPECT_EQ(openai.timeouts.connectMs, Timeouts{}.connectMs);
  EXPECT_EQ(openai.timeouts.totalMs, Timeouts{}.totalMs);
  EXPECT_FALSE(openai.simulated);
  EXPECT_EQ(openai.line, 10);

  const ProviderConfig& claude = config.providers[1];
  EXPECT_EQ(claude.name, "claude");
  EXPECT_EQ(claude.kind, "anthropic");
  EXPECT_EQ(claude.baseUrl, "https://api.anthropic.com");  // trailing /v1/ removed
  EXPECT_EQ(claude.apiKeyEnv, "ANTHROPIC_API_KEY");
  EXPECT_EQ(claude.apiKey, "sk-ant-test");
  EXPECT_EQ(claude.headers,
            (std::map<std::string, std::string>{{"anthropic-beta", "prompt-caching-2024-07-31"},
                                                {"X-Tenant", "tenant acme"}}));
  EXPECT_EQ(claude.proxy, "http://proxy.internal:3128");
  EXPECT_EQ(claude.timeouts.connectMs, 1000);
  EXPECT_EQ(claude.timeouts.firstByteMs, 2000);
  EXPECT_EQ(claude.timeouts.idleMs, 3000);
  EXPECT_EQ(claude.timeouts.totalMs, 4000);
  EXPECT_EQ(claude.line, 13);

  const ProviderConfig& local = config.providers[2];
  EXPECT_EQ(local.baseUrl, "http://localhost:8000/v1");  // openai keeps /v1, loses the slash
  EXPECT_EQ(local.apiKeyEnv, "");
  EXPECT_EQ(local.apiKey, "");
  EXPECT_EQ(local.line, 22);

  const ProviderConfig& sim = config.providers[3];
  EXPECT_TRUE(sim.simulated);
  EXPECT_EQ(sim.baseUrl, "");  // simulated: no base_url needed
  EXPECT_EQ(sim.line, 25);
}

TEST(ParseConfig, FullConfigModels) {
  Config config = parseConfig(kFullConfig, "full.yaml", fullEnv());
  ASSERT_EQ(config.models.size(), 2u);

  const ModelConfig& mini = config.models[0];
  EXPECT_EQ(mini.name, "gpt-4o-mini");
  ASSERT_EQ(mini.deployments.size(), 2u);
  const DeploymentConfig& first = mini.deployments[0];
  EXPECT_EQ(first.provider, "openai");
  EXPECT_EQ(first.upstreamModel, "gpt-4o-mini-2024-07-18");
  EXPECT_TRUE(first.price.known);
  EXPECT_EQ(first.price.inputPerMillion, 150'000);
  EXPECT_EQ(first.price.outputPerMillion, 600'000);
  EXPECT_EQ(first.price.cachedInputPerMillion, 75'000);
  EXPECT_EQ(first.price.cacheWritePerMillion, 150'000);  // defaults to the input price
  EXPECT_EQ(first.contextWindow, 128000);
  EXPECT_EQ(first.line, 30);
  const DeploymentConfig& second = mini.deployments[1];
  EXPECT_EQ(second.provider, "sim");
  EXPECT_EQ(second.upstreamModel, "fake-mini");
  EXPECT_FALSE(second.price.known);
  EXPECT_EQ(second.contextWindow, 0);
  EXPECT_EQ(second.line, 34);

  const ModelConfig& sonnet = config.models[1];
  EXPECT_EQ(sonnet.name, "claude-sonnet");
  ASSERT_EQ(sonnet.deployments.size(), 1u);  // a single mapping, not a list
  const DeploymentConfig& only = sonnet.deployments[0];
  EXPECT_EQ(only.provider, "claude");
  EXPECT_EQ(only.upstreamModel, "claude-3-5-sonnet-20241022");
  EXPECT_TRUE(only.price.known);
  EXPECT_EQ(only.price.inputPerMillion, 3'000'000);
  EXPECT_EQ(only.price.outputPerMillion, 15'000'000);
  EXPECT_EQ(only.price.cachedInputPerMillion, 300'000);
  EXPECT_EQ(only.price.cacheWritePerMillion, 3'750'000);
  EXPECT_EQ(only.line, 37);
}

TEST(ParseConfig, FindProviderAndModel) {
  Config config = parseConfig(kFullConfig, "full.yaml", fullEnv());
  ASSERT_NE(config.findProvider("claude"), nullptr);
  EXPECT_EQ(config.findProvider("claude")->kind, "anthropic");
  EXPECT_EQ(config.findProvider("nope"), nullptr);
  ASSERT_NE(config.findModel("claude-sonnet"), nullptr);
  EXPECT_EQ(config.findModel("claude-sonnet")->deployments[0].provider, "claude");
  EXPECT_EQ(config.findModel("gpt-4o"), nullptr);
}

TEST(ParseConfig, EmptyFileIsTheDefaultConfig) {
  for (const char* text : {"", "\n", "# only a comment\n", "---\n", "~\n"}) {
    Config config = parseConfig(text, "empty.yaml", fakeEnv({}));
    EXPECT_EQ(config.sourceFile, "empty.yaml");
    EXPECT_EQ(config.server.host, "127.0.0.1");
    EXPECT_EQ(config.server.port, 8080);
    EXPECT_EQ(config.server.threads, 0);
    EXPECT_EQ(config.server.maxHeaderBytes, 16 * 1024);
    EXPECT_EQ(config.server.maxBodyBytes, 32 * 1024 * 1024);
    EXPECT_TRUE(config.providers.empty());
    EXPECT_TRUE(config.models.empty());
  }
}

TEST(ParseConfig, EmptySectionsAreDefaults) {
  Config config =
      parseConfig(yamlLines({"server:", "providers:", "models:"}), "c.yaml", fakeEnv({}));
  EXPECT_EQ(config.server.port, 8080);
  EXPECT_TRUE(config.providers.empty());
  EXPECT_TRUE(config.models.empty());
}

TEST(ParseConfig, PortZeroMeansEphemeral) {
  Config config = parseConfig(yamlLines({"server: { port: 0 }"}), "c.yaml", fakeEnv({}));
  EXPECT_EQ(config.server.port, 0);
  config = parseConfig(yamlLines({"server: { port: 65535 }"}), "c.yaml", fakeEnv({}));
  EXPECT_EQ(config.server.port, 65535);
}

TEST(ParseConfig, KnownProviderNamesGetTheirBaseUrl) {
  const std::pair<const char*, const char*> known[] = {
      {"openai", "https://api.openai.com/v1"},
      {"groq", "https://api.groq.com/openai/v1"},
      {"together", "https://api.together.xyz/v1"},
      {"deepinfra", "https://api.deepinfra.com/v1/openai"},
      {"fireworks", "https://api.fireworks.ai/inference/v1"},
      {"openrouter", "https://openrouter.ai/api/v1"},
      {"mistral", "https://api.mistral.ai/v1"},
  };
  for (const auto& [name, url] : known) {
    std::string yaml = std::string("providers:\n  ") + name + ":\n    kind: openai\n";
    Config config = parseConfig(yaml, "c.yaml", fakeEnv({}));
    ASSERT_EQ(config.providers.size(), 1u) << name;
    EXPECT_EQ(config.providers[0].baseUrl, url) << name;
  }
}

TEST(ParseConfig, AnthropicDefaultBaseUrlHasNoVersion) {
  Config config = parseConfig(yamlLines({"providers:", "  any-name:", "    kind: anthropic"}),
                              "c.yaml", fakeEnv({}));
  ASSERT_EQ(config.providers.size(), 1u);
  EXPECT_EQ(config.providers[0].baseUrl, "https://api.anthropic.com");
  config = parseConfig(yamlLines({"providers:", "  a:", "    kind: anthropic",
                                  "    base_url: http://[::1]:9000/proxy/v1"}),
                       "c.yaml", fakeEnv({}));
  EXPECT_EQ(config.providers[0].baseUrl, "http://[::1]:9000/proxy");
}

TEST(ParseConfig, ExpandsVariablesInBaseUrlProxyAndHeaders) {
  Config config =
      parseConfig(yamlLines({
                      "providers:",
                      "  gw:",
                      "    kind: openai",
                      "    base_url: http://${HOST}:8000/v1",
                      "    proxy: http://user:${PROXY_PASS}@proxy:3128",
                      "    headers: { Authorization: \"Bearer ${TOKEN}\", X-Cost: $5 }",
                  }),
                  "c.yaml", fakeEnv({{"HOST", "vllm"}, {"PROXY_PASS", "pw"}, {"TOKEN", "t0k"}}));
  const ProviderConfig& gw = config.providers.at(0);
  EXPECT_EQ(gw.baseUrl, "http://vllm:8000/v1");
  EXPECT_EQ(gw.proxy, "http://user:pw@proxy:3128");
  EXPECT_EQ(gw.headers.at("Authorization"), "Bearer t0k");
  EXPECT_EQ(gw.headers.at("X-Cost"), "$5");  // a lone $ is literal
}

TEST(ParseConfig, SimulatedAcceptsYamlBooleans) {
  for (const char* value : {"true", "True", "yes", "on"}) {
    std::string yaml = std::string("providers:\n  s: { kind: openai, simulated: ") + value + " }\n";
    EXPECT_TRUE(parseConfig(yaml, "c.yaml", fakeEnv({})).providers.at(0).simulated) << value;
  }
  std::string yaml = "providers:\n  openai: { kind: openai, simulated: false }\n";
  EXPECT_FALSE(parseConfig(yaml, "c.yaml", fakeEnv({})).providers.at(0).simulated);
}

TEST(ParseConfig, DefaultGetenvIsTheProcessEnvironment) {
  ::setenv("ARBITRA_CONFIG_TEST_KEY", "from-process-env", 1);
  Config config = parseConfig(
      yamlLines(
          {"providers:", "  openai: { kind: openai, api_key: \"${ARBITRA_CONFIG_TEST_KEY}\" }"}),
      "c.yaml");
  ::unsetenv("ARBITRA_CONFIG_TEST_KEY");
  EXPECT_EQ(config.providers.at(0).apiKey, "from-process-env");
  EXPECT_EQ(config.providers.at(0).apiKeyEnv, "ARBITRA_CONFIG_TEST_KEY");
}

TEST(ParseConfig, SectionsMayComeInAnyOrder) {
  Config config = parseConfig(yamlLines({
                                  "models:",
                                  "  m: { provider: p, model: up }",
                                  "providers:",
                                  "  p: { kind: anthropic }",
                              }),
                              "c.yaml", fakeEnv({}));
  EXPECT_EQ(config.models.at(0).deployments.at(0).provider, "p");
}

}  // namespace
}  // namespace arbitra::config
