// configFromEnvironment: providers detected the way the official SDKs read
// their environment, with the base_url convention documented in config.h.
#include <gtest/gtest.h>

#include <cstdlib>

#include "config/config.h"
#include "config_test_util.h"

namespace arbitra::config {
namespace {

using testing::fakeEnv;

struct Expected {
  const char* keyEnv;
  const char* name;
  const char* kind;
  const char* baseUrl;
};

constexpr Expected kEachProvider[] = {
    {"OPENAI_API_KEY", "openai", "openai", "https://api.openai.com/v1"},
    {"ANTHROPIC_API_KEY", "anthropic", "anthropic", "https://api.anthropic.com"},
    {"GROQ_API_KEY", "groq", "openai", "https://api.groq.com/openai/v1"},
    {"TOGETHER_API_KEY", "together", "openai", "https://api.together.xyz/v1"},
    {"DEEPINFRA_API_KEY", "deepinfra", "openai", "https://api.deepinfra.com/v1/openai"},
    {"FIREWORKS_API_KEY", "fireworks", "openai", "https://api.fireworks.ai/inference/v1"},
    {"OPENROUTER_API_KEY", "openrouter", "openai", "https://openrouter.ai/api/v1"},
    {"MISTRAL_API_KEY", "mistral", "openai", "https://api.mistral.ai/v1"},
};

TEST(ConfigFromEnvironment, EachProviderAlone) {
  for (const auto& expected : kEachProvider) {
    Config config = configFromEnvironment(fakeEnv({{expected.keyEnv, "key-value"}}));
    ASSERT_EQ(config.providers.size(), 1u) << expected.keyEnv;
    const ProviderConfig& p = config.providers[0];
    EXPECT_EQ(p.name, expected.name);
    EXPECT_EQ(p.kind, expected.kind);
    EXPECT_EQ(p.baseUrl, expected.baseUrl);
    EXPECT_EQ(p.apiKeyEnv, expected.keyEnv);
    EXPECT_EQ(p.apiKey, "key-value");
    EXPECT_FALSE(p.simulated);
    EXPECT_EQ(config.sourceFile, "");
    EXPECT_TRUE(config.models.empty());
    EXPECT_TRUE(config.prefixRouting);
  }
}

TEST(ConfigFromEnvironment, AllProvidersInTableOrder) {
  std::map<std::string, std::string> vars;
  for (const auto& expected : kEachProvider)
    vars[expected.keyEnv] = std::string("k-") + expected.name;
  Config config = configFromEnvironment(fakeEnv(vars));
  ASSERT_EQ(config.providers.size(), std::size(kEachProvider));
  for (size_t i = 0; i < std::size(kEachProvider); ++i) {
    EXPECT_EQ(config.providers[i].name, kEachProvider[i].name);
    EXPECT_EQ(config.providers[i].apiKey, std::string("k-") + kEachProvider[i].name);
  }
  EXPECT_NE(config.findProvider("mistral"), nullptr);
}

TEST(ConfigFromEnvironment, NothingSetMeansNoProviders) {
  Config config = configFromEnvironment(fakeEnv({{"PATH", "/bin"}, {"OPENAI_API_KEY", ""}}));
  EXPECT_TRUE(config.providers.empty());
  EXPECT_EQ(config.server.port, 8080);
}

TEST(ConfigFromEnvironment, OpenAIBaseUrlOverride) {
  Config config = configFromEnvironment(
      fakeEnv({{"OPENAI_API_KEY", "k"}, {"OPENAI_BASE_URL", "https://gateway.example/v1/"}}));
  ASSERT_EQ(config.providers.size(), 1u);
  EXPECT_EQ(config.providers[0].baseUrl, "https://gateway.example/v1");
  EXPECT_EQ(config.providers[0].apiKey, "k");
}

TEST(ConfigFromEnvironment, BaseUrlWithoutKeyIsAKeylessProvider) {
  Config config =
      configFromEnvironment(fakeEnv({{"OPENAI_BASE_URL", "http://localhost:11434/v1"}}));
  ASSERT_EQ(config.providers.size(), 1u);
  const ProviderConfig& p = config.providers[0];
  EXPECT_EQ(p.name, "openai");
  EXPECT_EQ(p.kind, "openai");
  EXPECT_EQ(p.baseUrl, "http://localhost:11434/v1");
  EXPECT_EQ(p.apiKeyEnv, "");
  EXPECT_EQ(p.apiKey, "");
}

TEST(ConfigFromEnvironment, AnthropicBaseUrlNeverEndsInV1) {
  for (const char* url : {"https://proxy.example", "https://proxy.example/",
                          "https://proxy.example/v1", "https://proxy.example/v1/"}) {
    Config config =
        configFromEnvironment(fakeEnv({{"ANTHROPIC_API_KEY", "k"}, {"ANTHROPIC_BASE_URL", url}}));
    ASSERT_EQ(config.providers.size(), 1u) << url;
    EXPECT_EQ(config.providers[0].baseUrl, "https://proxy.example") << url;
  }
  Config config = configFromEnvironment(fakeEnv({{"ANTHROPIC_BASE_URL", "http://127.0.0.1:9000"}}));
  ASSERT_EQ(config.providers.size(), 1u);
  EXPECT_EQ(config.providers[0].kind, "anthropic");
  EXPECT_EQ(config.providers[0].apiKey, "");
}

TEST(ConfigFromEnvironment, MalformedBaseUrlIsAnError) {
  try {
    configFromEnvironment(fakeEnv({{"OPENAI_BASE_URL", "localhost:8000/v1"}}));
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "environment: OPENAI_BASE_URL must start with http:// or https://");
  }
}

TEST(ConfigFromEnvironment, DefaultGetenvIsTheProcessEnvironment) {
  ::setenv("GROQ_API_KEY", "gsk-from-process", 1);
  Config config = configFromEnvironment();
  ::unsetenv("GROQ_API_KEY");
  const ProviderConfig* groq = config.findProvider("groq");
  ASSERT_NE(groq, nullptr);
  EXPECT_EQ(groq->apiKey, "gsk-from-process");
}

}  // namespace
}  // namespace arbitra::config
