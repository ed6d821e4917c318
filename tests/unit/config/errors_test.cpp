// parseConfig on invalid input: each mistake yields exactly "c.yaml:LINE: message",
// with the line of the offending key or value.
#include <gtest/gtest.h>

#include "config/config.h"
#include "config_test_util.h"

namespace arbitra::config {
namespace {

using testing::fakeEnv;
using testing::parseError;
using testing::yamlLines;

const char* const kServerKeys =
    "host, port, threads, max_header_bytes, max_body_bytes, read_timeout_ms, keep_alive_timeout_ms";

TEST(ConfigErrors, TopLevel) {
  EXPECT_EQ(parseError(yamlLines({"server: {}", "model_list: []"})),
            "c.yaml:2: unknown key 'model_list' in the top level (expected one of: server, "
            "providers, models, ledger, cache, deferred)");
  EXPECT_EQ(parseError(yamlLines({"- a", "- b"})), "c.yaml:1: the top level must be a mapping");
  EXPECT_EQ(parseError(yamlLines({"# comment", "just text"})),
            "c.yaml:2: the top level must be a mapping");
  EXPECT_EQ(parseError(yamlLines({"server: 8080"})), "c.yaml:1: server must be a mapping");
  EXPECT_EQ(parseError(yamlLines({"server: {}", "server: {}"})),
            "c.yaml:2: duplicate key 'server' in the top level");
}

TEST(ConfigErrors, YamlSyntaxIsReportedWithItsLine) {
  std::string message = parseError(yamlLines({"server:", "  port: 1", "  host: [a, b", "x: 1"}));
  EXPECT_TRUE(message.starts_with("c.yaml:")) << message;
  EXPECT_NE(message.find(": invalid YAML: "), std::string::npos) << message;

  EXPECT_EQ(parseError(yamlLines({"server:", "  port: 1", " host: a"})),
            "c.yaml:3: invalid YAML: end of map not found");
  EXPECT_EQ(parseError(yamlLines({"providers:", "  openai: { kind: openai, api_key: ${KEY} }"})),
            "c.yaml:2: invalid YAML: end of map flow not found (inside { } or [ ], quote ${VAR} "
            "references: \"${VAR}\")");
  EXPECT_EQ(parseError(yamlLines({"server:", "  host: *nowhere"})),
            "c.yaml:2: invalid YAML: the referenced anchor is not defined");
}

TEST(ConfigErrors, ServerValues) {
  EXPECT_EQ(parseError(yamlLines({"server:", "  port: abc"})),
            "c.yaml:2: port must be an integer from 0 to 65535 (0: any free port) (got 'abc')");
  EXPECT_EQ(parseError(yamlLines({"server:", "  host: h", "  port: 65536"})),
            "c.yaml:3: port must be an integer from 0 to 65535 (0: any free port) (got '65536')");
  EXPECT_EQ(parseError(yamlLines({"server:", "  port: -1"})),
            "c.yaml:2: port must be an integer from 0 to 65535 (0: any free port) (got '-1')");
  EXPECT_EQ(parseError(yamlLines({"server:", "  port: 80.5"})),
            "c.yaml:2: port must be an integer from 0 to 65535 (0: any free port) (got '80.5')");
  EXPECT_EQ(parseError(yamlLines({"server:", "  port:"})), "c.yaml:2: port needs a value");
  EXPECT_EQ(parseError(yamlLines({"server:", "  port: [1]"})),
            "c.yaml:2: port must be a single value, not a list or mapping");
  EXPECT_EQ(parseError(yamlLines({"server:", "  threads: -1"})),
            "c.yaml:2: threads must be an integer from 0 to 4096 (0: one per core) (got '-1')");
  EXPECT_EQ(parseError(yamlLines({"server:", "  max_header_bytes: 0"})),
            "c.yaml:2: max_header_bytes must be a positive integer (got '0')");
  EXPECT_EQ(parseError(yamlLines({"server:", "  max_body_bytes: -5"})),
            "c.yaml:2: max_body_bytes must be a positive integer (got '-5')");
  EXPECT_EQ(parseError(yamlLines({"server:", "  read_timeout_ms: 99999999999999999999"})),
            "c.yaml:2: read_timeout_ms must be a positive integer (got '99999999999999999999')");
  EXPECT_EQ(parseError(yamlLines({"server:", "  keep_alive_timeout_ms: ten"})),
            "c.yaml:2: keep_alive_timeout_ms must be a positive integer (got 'ten')");
  EXPECT_EQ(parseError(yamlLines({"server:", "  host: \"\""})),
            "c.yaml:2: host must be a host name or address without spaces");
}

TEST(ConfigErrors, UnknownKeysEverywhere) {
  EXPECT_EQ(
      parseError(yamlLines({"server:", "  host: h", "  prot: 80"})),
      std::string("c.yaml:3: unknown key 'prot' in server (expected one of: ") + kServerKeys + ")");
  // Long or spaced keys are not quoted (they may be a secret typed as a key).
  EXPECT_EQ(parseError(yamlLines({"server:", "  host: h", "  read_timeout_milliseconds: 5"})),
            std::string("c.yaml:3: unknown key in server (expected one of: ") + kServerKeys + ")");
  EXPECT_EQ(parseError(yamlLines({"server:", "  host: h", "  api_key sk-x"})),
            std::string("c.yaml:3: unknown key in server (expected one of: ") + kServerKeys + ")");
  EXPECT_EQ(parseError(yamlLines({"providers:", "  p:", "    kind: openai", "    apikey: x"})),
            "c.yaml:4: unknown key 'apikey' in provider 'p' (expected one of: kind, base_url, "
            "api_key, headers, proxy, timeouts, simulated, batch)");
  EXPECT_EQ(parseError(yamlLines(
                {"providers:", "  openai:", "    kind: openai", "    timeouts: { connect: 5 }"})),
            "c.yaml:4: unknown key 'connect' in provider 'openai' timeouts (expected one of: "
            "connect_ms, first_byte_ms, idle_ms, total_ms)");
  EXPECT_EQ(parseError(yamlLines({"providers:", "  openai: { kind: openai }", "models:", "  m:",
                                  "    provider: openai", "    model: x", "    max_tokens: 5"})),
            "c.yaml:7: unknown key 'max_tokens' in a deployment of model 'm' (expected one of: "
            "provider, model, price, context_window, rpm, tpm, weight)");
  EXPECT_EQ(parseError(yamlLines({"providers:", "  openai: { kind: openai }",
                                  "models:", "  m:", "    provider: openai", "    model: x",
                                  "    price: { input: 1, output: 2, per_image: 3 }"})),
            "c.yaml:7: unknown key 'per_image' in the price of model 'm' (expected one of: input, "
            "output, cached_input, cache_write, reasoning, batch_input, batch_output, long_context)");
}

TEST(ConfigErrors, DuplicateKeys) {
  EXPECT_EQ(parseError(yamlLines({"server:", "  port: 1", "  port: 2"})),
            "c.yaml:3: duplicate key 'port' in server");
  EXPECT_EQ(parseError(yamlLines({"providers:", "  a: { kind: openai, simulated: true }",
                                  "  a: { kind: openai, simulated: true }"})),
            "c.yaml:3: duplicate key 'a' in providers");
}

TEST(ConfigErrors, ProviderKind) {
  EXPECT_EQ(parseError(yamlLines({"providers:", "  openai:", "    base_url: http://x"})),
            "c.yaml:2: provider 'openai' needs a kind (openai, anthropic or local)");
  EXPECT_EQ(parseError(yamlLines({"providers:", "  p:", "    kind: gemini"})),
            "c.yaml:3: kind must be openai, anthropic or local (got 'gemini')");
  EXPECT_EQ(parseError(yamlLines({"providers:", "  \"a/b\": { kind: openai }"})),
            "c.yaml:2: provider name 'a/b' may only contain letters, digits, '_', '-' and '.'");
  EXPECT_EQ(parseError(yamlLines({"providers: [openai]"})),
            "c.yaml:1: providers must be a mapping");
}

TEST(ConfigErrors, ProviderBaseUrl) {
  EXPECT_EQ(parseError(yamlLines({"providers:", "  vllm:", "    kind: openai"})),
            "c.yaml:2: provider 'vllm' needs a base_url (kind openai has a default only for: "
            "openai, groq, together, deepinfra, fireworks, openrouter, mistral)");
  EXPECT_EQ(parseError(yamlLines(
                {"providers:", "  p:", "    kind: openai", "    base_url: ftp://example.com"})),
            "c.yaml:4: base_url must start with http:// or https://");
  EXPECT_EQ(parseError(yamlLines(
                {"providers:", "  p:", "    kind: openai", "    base_url: api.openai.com/v1"})),
            "c.yaml:4: base_url must start with http:// or https://");
  EXPECT_EQ(parseError(
                yamlLines({"providers:", "  p:", "    kind: openai", "    base_url: https:///v1"})),
            "c.yaml:4: base_url has no host");
  EXPECT_EQ(parseError(yamlLines(
                {"providers:", "  p:", "    kind: openai", "    base_url: http://host:99999/v1"})),
            "c.yaml:4: base_url has an invalid port");
  EXPECT_EQ(parseError(yamlLines(
                {"providers:", "  p:", "    kind: openai", "    base_url: http://host/v1?x=1"})),
            "c.yaml:4: base_url must not contain a query (?) or fragment (#)");
  EXPECT_EQ(
      parseError(yamlLines({"providers:", "  p:", "    kind: openai", "    base_url: ${BASE}"})),
      "c.yaml:4: base_url references environment variable BASE, which is not set");
}

TEST(ConfigErrors, ProviderApiKey) {
  const std::string refused =
      "api_key must reference an environment variable, e.g. ${OPENAI_API_KEY}; inline secrets "
      "are refused";
  EXPECT_EQ(parseError(yamlLines(
                {"providers:", "  openai:", "    kind: openai", "    api_key: sk-live-abc"})),
            "c.yaml:4: " + refused);
  EXPECT_EQ(parseError(yamlLines(
                {"providers:", "  openai:", "    kind: openai", "    api_key: $OPENAI_API_KEY"})),
            "c.yaml:4: " + refused);
  EXPECT_EQ(parseError(yamlLines({"providers:", "  openai:", "    kind: openai",
                                  "    api_key: prefix-${OPENAI_API_KEY}"})),
            "c.yaml:4: " + refused);
  EXPECT_EQ(
      parseError(yamlLines({"providers:", "  openai:", "    kind: openai", "    api_key: \"\""})),
      "c.yaml:4: " + refused);
  EXPECT_EQ(parseError(yamlLines(
                {"providers:", "  openai:", "    kind: openai", "    api_key: ${OPENAI_API_KEY}"})),
            "c.yaml:4: api_key references environment variable OPENAI_API_KEY, which is not set");
  EXPECT_EQ(parseError(yamlLines({"providers:", "  openai:", "    kind: openai",
                                  "    api_key: os.environ/MY_KEY"}),
                       fakeEnv({{"MY_KEY", ""}})),
            "c.yaml:4: api_key references environment variable MY_KEY, which is not set");
  EXPECT_EQ(parseError(yamlLines(
                {"providers:", "  openai:", "    kind: openai", "    api_key: { env: X }"})),
            "c.yaml:4: api_key must be an environment variable reference such as "
            "${OPENAI_API_KEY}");
}

TEST(ConfigErrors, ProviderHeadersProxyTimeouts) {
  EXPECT_EQ(parseError(yamlLines({"providers:", "  openai:", "    kind: openai",
                                  "    headers:", "      \"X:A\": x"})),
            "c.yaml:5: header name 'X:A' is not a valid HTTP token");
  // A spaced name is not quoted: it may be "X-Api-Key <secret>" missing its colon.
  EXPECT_EQ(parseError(yamlLines({"providers:", "  openai:", "    kind: openai",
                                  "    headers:", "      \"Bad Name\": x"})),
            "c.yaml:5: header name is not a valid HTTP token");
  EXPECT_EQ(parseError(yamlLines({"providers:", "  openai:", "    kind: openai",
                                  "    headers:", "      X-A: \"a\\r\\nX-Injected: 1\""})),
            "c.yaml:5: headers.X-A must not contain line breaks or NUL bytes");
  EXPECT_EQ(parseError(yamlLines({"providers:", "  openai:", "    kind: openai",
                                  "    headers:", "      X-A: \"${UNSET_VAR}\""})),
            "c.yaml:5: headers.X-A references environment variable UNSET_VAR, which is not set");
  EXPECT_EQ(parseError(yamlLines({"providers:", "  openai:", "    kind: openai",
                                  "    headers:", "      X-A: \"${not closed\""})),
            "c.yaml:5: headers.X-A has a malformed ${...} reference; write ${NAME}");
  EXPECT_EQ(
      parseError(yamlLines({"providers:", "  openai:", "    kind: openai", "    headers: [a]"})),
      "c.yaml:4: provider 'openai' headers must be a mapping");
  EXPECT_EQ(parseError(yamlLines(
                {"providers:", "  openai:", "    kind: openai", "    proxy: https://proxy:3128"})),
            "c.yaml:4: proxy must start with http://");
  EXPECT_EQ(parseError(yamlLines(
                {"providers:", "  openai:", "    kind: openai", "    proxy: http://:3128"})),
            "c.yaml:4: proxy has no host");
  EXPECT_EQ(parseError(yamlLines({"providers:", "  openai:", "    kind: openai",
                                  "    timeouts:", "      idle_ms: 0"})),
            "c.yaml:5: timeouts.idle_ms must be a positive integer (got '0')");
  EXPECT_EQ(parseError(
                yamlLines({"providers:", "  openai:", "    kind: openai", "    simulated: maybe"})),
            "c.yaml:4: simulated must be true or false (got 'maybe')");
}

TEST(ConfigErrors, BatchAndDeferred) {
  EXPECT_EQ(parseError(yamlLines({"providers:", "  openai:", "    kind: openai", "    batch: yes please"})),
            "c.yaml:4: batch must be true or false");
  EXPECT_EQ(parseError(yamlLines({"providers:", "  openai:", "    kind: openai", "    batch: 2"})),
            "c.yaml:4: batch must be true or false (got '2')");
  EXPECT_EQ(parseError(yamlLines({"deferred:", "  window_ms: -1"})),
            "c.yaml:2: deferred.window_ms must be an integer from 0 to 3600000 (got '-1')");
  EXPECT_EQ(parseError(yamlLines({"deferred:", "  max_batch: 50001"})),
            "c.yaml:2: deferred.max_batch must be an integer from 1 to 50000 (got '50001')");
  EXPECT_EQ(parseError(yamlLines({"deferred:", "  poll_ms: 1"})),
            "c.yaml:2: deferred.poll_ms must be an integer from 10 to 3600000 (got '1')");
  EXPECT_EQ(parseError(yamlLines({"deferred:", "  window: 5"})),
            "c.yaml:2: unknown key 'window' in deferred (expected one of: window_ms, max_batch, poll_ms)");
  EXPECT_EQ(parseError(yamlLines({"deferred: 5"})), "c.yaml:1: deferred must be a mapping");
}

TEST(ConfigErrors, BatchAndDeferredValues) {
  auto config = parseConfig(yamlLines({"deferred: { window_ms: 250, max_batch: 7, poll_ms: 40 }", "providers:",
                                       "  openai:", "    kind: openai", "    batch: true"}),
                            "c.yaml", fakeEnv({}));
  EXPECT_TRUE(config.providers.at(0).batch);
  EXPECT_EQ(config.deferred.windowMs, 250);
  EXPECT_EQ(config.deferred.maxBatch, 7);
  EXPECT_EQ(config.deferred.pollMs, 40);
  EXPECT_FALSE(parseConfig(yamlLines({"providers:", "  openai:", "    kind: openai"}), "c.yaml", fakeEnv({}))
                   .providers.at(0)
                   .batch);
}

TEST(ConfigErrors, Models) {
  const char* providers[] = {"providers:", "  openai: { kind: openai }",
                             "  claude: { kind: anthropic }", "models:"};
  auto withProviders = [&](std::initializer_list<const char*> rest) {
    std::string out;
    for (const char* line : providers) out += std::string(line) + "\n";
    return out + yamlLines(rest);
  };
  EXPECT_EQ(parseError(withProviders({"  m:", "    provider: opnai", "    model: x"})),
            "c.yaml:6: provider 'opnai' is not declared under providers (declared: openai, "
            "claude)");
  EXPECT_EQ(parseError(yamlLines({"models:", "  m:", "    provider: openai", "    model: x"})),
            "c.yaml:3: provider 'openai' is not declared under providers (none are declared)");
  EXPECT_EQ(parseError(withProviders({"  m:", "    provider: openai"})),
            "c.yaml:6: a deployment of model 'm' needs a model (the upstream model id)");
  EXPECT_EQ(parseError(withProviders({"  m:", "    - model: x"})),
            "c.yaml:6: a deployment of model 'm' needs a provider");
  EXPECT_EQ(parseError(withProviders(
                {"  m:", "    - provider: openai", "      model: x", "    - provider: claude"})),
            "c.yaml:8: a deployment of model 'm' needs a model (the upstream model id)");
  EXPECT_EQ(parseError(withProviders({"  m: []"})), "c.yaml:5: model 'm' has no deployments");
  EXPECT_EQ(parseError(withProviders({"  m: openai/gpt-4o"})),
            "c.yaml:5: model 'm' must be a deployment mapping or a list of them");
  EXPECT_EQ(parseError(withProviders({"  m:"})),
            "c.yaml:5: model 'm' must be a deployment mapping or a list of them");
  EXPECT_EQ(parseError(withProviders({"  m:", "    - openai"})),
            "c.yaml:6: each deployment of model 'm' must be a mapping");
  EXPECT_EQ(parseError(withProviders({"  m: { provider: openai, model: \"\" }"})),
            "c.yaml:5: model must not be empty");
  EXPECT_EQ(parseError(withProviders({"  m: { provider: openai, model: x, context_window: 0 }"})),
            "c.yaml:5: context_window must be a positive integer (got '0')");
}

TEST(ConfigErrors, Prices) {
  auto priced = [](const char* price) {
    return yamlLines({"providers:", "  openai: { kind: openai }",
                      "models:", "  m:", "    provider: openai", "    model: x",
                      "    price:", price, "      output: 1"});
  };
  EXPECT_EQ(parseError(priced("      input: -0.5")),
            "c.yaml:8: price.input must not be negative (got '-0.5')");
  EXPECT_EQ(parseError(priced("      input: 1e-1")),
            "c.yaml:8: price.input must be a plain decimal without an exponent, e.g. 0.15 (got "
            "'1e-1')");
  EXPECT_EQ(parseError(priced("      input: 2.5E+3")),
            "c.yaml:8: price.input must be a plain decimal without an exponent, e.g. 0.15 (got "
            "'2.5E+3')");
  EXPECT_EQ(parseError(priced("      input: 0.0000001")),
            "c.yaml:8: price.input has more than 6 decimal places; prices are exact to one "
            "micro-dollar per million tokens (got '0.0000001')");
  EXPECT_EQ(parseError(priced("      input: cheap")),
            "c.yaml:8: price.input must be a decimal number of dollars per million tokens, e.g. "
            "0.15 (got 'cheap')");
  EXPECT_EQ(parseError(priced("      input: 99999999999999999")),
            "c.yaml:8: price.input is too large (got '99999999999999999')");
  EXPECT_EQ(parseError(priced("      cached_input: 0.1")),
            "c.yaml:7: price needs input (dollars per million input tokens)");
  EXPECT_EQ(parseError(yamlLines({"providers:", "  openai: { kind: openai }",
                                  "models:", "  m:", "    provider: openai", "    model: x",
                                  "    price: { input: 1 }"})),
            "c.yaml:7: price needs output (dollars per million output tokens)");
  EXPECT_EQ(parseError(yamlLines({"providers:", "  openai: { kind: openai }", "models:", "  m:",
                                  "    provider: openai", "    model: x", "    price: 0.15"})),
            "c.yaml:7: the price of model 'm' must be a mapping");
}

TEST(ConfigErrors, ErrorsAreConfigErrors) {
  EXPECT_THROW(parseConfig("server: {port: x}", "c.yaml", fakeEnv({})), ConfigError);
  EXPECT_THROW(parseConfig("{{{", "c.yaml", fakeEnv({})), ConfigError);
  EXPECT_THROW(parseConfig("\t- x", "c.yaml", fakeEnv({})), ConfigError);
}

}  // namespace
}  // namespace arbitra::config
