// Provider kinds: URLs, authentication headers and bodies they build, and the
// registry's refusal of unknown kinds.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "providers/provider.h"

namespace arbitra::providers {
namespace {

config::ProviderConfig providerConfig(const std::string& kind, const std::string& baseUrl) {
  config::ProviderConfig c;
  c.name = "p";
  c.kind = kind;
  c.baseUrl = baseUrl;
  c.apiKey = "sk-secret";
  c.headers["x-extra"] = "1";
  return c;
}

core::ChatRequest openAIRequest(bool stream) {
  core::ChatRequest r;
  r.format = core::WireFormat::OpenAI;
  r.model = "public";
  r.stream = stream;
  core::Message m;
  m.role = core::Role::User;
  m.content.push_back({core::ContentPart::Kind::Text, "hello", ""});
  r.messages.push_back(m);
  r.raw = boost::json::parse(R"({"model":"public","messages":[{"role":"user","content":"hello"}],"custom_field":7})")
              .as_object();
  if (stream) r.raw["stream"] = true;
  return r;
}

TEST(Providers, OpenAIBuildsBearerRequestAndPassesUnknownFields) {
  Registry registry;
  registerBuiltins(registry);
  auto provider = registry.create(providerConfig("openai", "https://api.example.com/v1/"));
  auto out = provider->chatRequest(openAIRequest(false), "upstream-model");
  EXPECT_EQ(out.url, "https://api.example.com/v1/chat/completions");
  // The provider's fixed headers come rendered once, as header lines.
  ASSERT_TRUE(out.fixedHeaders);
  EXPECT_NE(out.fixedHeaders->find("authorization: Bearer sk-secret\r\n"), std::string::npos) << *out.fixedHeaders;
  EXPECT_NE(out.fixedHeaders->find("x-extra: 1\r\n"), std::string::npos);
  EXPECT_NE(out.fixedHeaders->find("content-type: application/json\r\n"), std::string::npos);
  EXPECT_TRUE(http::findHeader(out.headers, "accept").empty());
  EXPECT_EQ(http::findHeader(provider->chatRequest(openAIRequest(true), "m").headers, "accept"), "text/event-stream");
  auto body = boost::json::parse(out.body).as_object();
  EXPECT_EQ(body.at("model").as_string(), "upstream-model");
  EXPECT_EQ(body.at("custom_field").as_int64(), 7);  // unknown fields pass through
}

TEST(Providers, OpenAIStreamingAlwaysAsksForUsage) {
  Registry registry;
  registerBuiltins(registry);
  auto provider = registry.create(providerConfig("openai", "http://h/v1"));
  auto out = provider->chatRequest(openAIRequest(true), "m");
  auto body = boost::json::parse(out.body).as_object();
  EXPECT_TRUE(body.at("stream_options").at("include_usage").as_bool());
}

TEST(Providers, AnthropicUsesMessagesPathAndVersionHeader) {
  Registry registry;
  registerBuiltins(registry);
  for (const std::string base : {"https://api.anthropic.com", "https://api.anthropic.com/v1", "https://api.anthropic.com/"}) {
    auto provider = registry.create(providerConfig("anthropic", base));
    auto out = provider->chatRequest(openAIRequest(false), "claude-x");
    EXPECT_EQ(out.url, "https://api.anthropic.com/v1/messages") << base;
    EXPECT_EQ(http::findHeader(out.headers, "x-api-key"), "sk-secret");
    EXPECT_EQ(http::findHeader(out.headers, "anthropic-version"), "2023-06-01");
    EXPECT_TRUE(http::findHeader(out.headers, "authorization").empty());
    // An OpenAI-format request is translated: Anthropic requires max_tokens.
    auto body = boost::json::parse(out.body).as_object();
    EXPECT_EQ(body.at("model").as_string(), "claude-x");
    EXPECT_TRUE(body.contains("max_tokens"));
  }
}

TEST(Providers, EmbeddingsOnlyOnOpenAIKind) {
  Registry registry;
  registerBuiltins(registry);
  auto openai = registry.create(providerConfig("openai", "http://h/v1"));
  auto anthropic = registry.create(providerConfig("anthropic", "http://h"));
  EXPECT_TRUE(openai->supportsEmbeddings());
  EXPECT_FALSE(anthropic->supportsEmbeddings());
  core::EmbeddingRequest e;
  e.model = "pub";
  e.raw = boost::json::parse(R"({"model":"pub","input":"x","dimensions":8})").as_object();
  auto out = openai->embeddingsRequest(e, "text-embedding-3-small");
  EXPECT_EQ(out.url, "http://h/v1/embeddings");
  auto body = boost::json::parse(out.body).as_object();
  EXPECT_EQ(body.at("model").as_string(), "text-embedding-3-small");
  EXPECT_EQ(body.at("dimensions").as_int64(), 8);
}

TEST(Providers, UnknownKindIsRefusedByName) {
  Registry registry;
  registerBuiltins(registry);
  try {
    registry.create(providerConfig("bedrock", "http://h"));
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("unknown provider kind 'bedrock'"), std::string::npos);
  }
}

}  // namespace
}  // namespace arbitra::providers
