// The two start-up edges of config: secrets never reach an error message, and
// loadConfigFile reports unreadable files and the file's name in its errors.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "config/config.h"
#include "config_test_util.h"

namespace arbitra::config {
namespace {

using testing::fakeEnv;
using testing::parseError;
using testing::yamlLines;

// As long as a real key: shorter tokens may be quoted in messages (see config.cpp).
constexpr const char* kSecret = "sk-proj-SECRET4f9a8b7c6d5eAbCdEfGhIjKlMnOpQrStUv";

EnvLookup secretEnv() {
  return fakeEnv({{"OPENAI_API_KEY", kSecret},
                  {"SECRET_URL", std::string("ftp://") + kSecret + ".example"},
                  {"SECRET_PORT_URL", std::string("http://h:") + kSecret},
                  {"SECRET_HEADER", std::string("Bearer ") + kSecret + "\r\nX-Evil: 1"}});
}

void expectNoSecret(const std::string& yaml) {
  std::string message = parseError(yaml, secretEnv());
  EXPECT_FALSE(message.empty()) << "expected an error for:\n" << yaml;
  EXPECT_EQ(message.find(kSecret), std::string::npos) << message;
  EXPECT_EQ(message.find("SECRET4f9a"), std::string::npos) << message;
}

TEST(Secrets, NeverInErrorMessages) {
  const std::string inlineKey = std::string("    api_key: ") + kSecret;
  const std::string quotedKey = std::string("    api_key: \"") + kSecret;  // unterminated
  const std::string keyInFlow = std::string("  openai: { kind: openai, api_key: ") + kSecret + " }";
  const std::string proxyCreds =
      std::string("    proxy: http://user:") + kSecret + "@proxy:notaport";
  const std::string baseCreds = std::string("    base_url: https://u:") + kSecret + "@/v1";
  const std::string headerLiteral = std::string("      X-Key: \"") + kSecret + "\\nX\"";
  const std::string badRef = std::string("    api_key: ${") + kSecret + "}";

  // An inline secret is refused without being echoed.
  expectNoSecret(yamlLines({"providers:", "  openai:", "    kind: openai", inlineKey.c_str()}));
  expectNoSecret(yamlLines({"providers:", keyInFlow.c_str()}));
  expectNoSecret(yamlLines({"providers:", "  openai:", "    kind: openai", badRef.c_str()}));
  // Typos that make the secret a key (yaml-cpp accepts a key without a colon).
  const std::string noColon = std::string("    api_key ") + kSecret;
  const std::string loneLine = std::string("    ") + kSecret;
  const std::string asProvider = std::string("  ") + kSecret;
  const std::string headerNoColon = std::string("      X-Api-Key ") + kSecret;
  const std::string kindFolded = std::string("    kind: openai ") + kSecret;
  expectNoSecret(yamlLines({"providers:", "  openai:", "    kind: openai", noColon.c_str()}));
  expectNoSecret(yamlLines({"providers:", "  openai:", "    kind: openai", loneLine.c_str()}));
  expectNoSecret(yamlLines({"providers:", "  openai:", loneLine.c_str(), "    kind: openai"}));
  expectNoSecret(yamlLines({"providers:", "  openai:", "    kind: openai", asProvider.c_str()}));
  expectNoSecret(yamlLines(
      {"providers:", "  openai:", "    kind: openai", "    headers:", headerNoColon.c_str()}));
  expectNoSecret(yamlLines({"providers:", "  openai:", kindFolded.c_str()}));
  expectNoSecret(yamlLines(
      {"providers:", "  openai:", "    kind: openai", "    api_key: x", noColon.c_str()}));
  expectNoSecret(yamlLines({"providers:", "  openai:", "    kind: openai",
                            "    api_key: ${OPENAI_API_KEY}", noColon.c_str()}));
  expectNoSecret(yamlLines({"server:", noColon.c_str()}));
  // YAML syntax errors around a secret.
  expectNoSecret(yamlLines({"providers:", "  openai:", "    kind: openai", quotedKey.c_str()}));
  expectNoSecret(yamlLines(
      {"providers:", "  openai:", "    kind: openai", inlineKey.c_str(), "   base_url: http://x"}));
  expectNoSecret(yamlLines({"providers:", "  openai:", inlineKey.c_str(), "    kind: bogus"}));
  // A later error in a provider whose key resolved.
  expectNoSecret(yamlLines({"providers:", "  openai:", "    kind: openai",
                            "    api_key: ${OPENAI_API_KEY}", "    timeouts: { idle_ms: -1 }"}));
  expectNoSecret(yamlLines({"providers:", "  openai:", "    kind: openai",
                            "    api_key: ${OPENAI_API_KEY}", "    bogus: 1"}));
  // Values expanded from secret variables, or holding credentials, are not echoed.
  expectNoSecret(
      yamlLines({"providers:", "  p:", "    kind: openai", "    base_url: ${SECRET_URL}"}));
  expectNoSecret(
      yamlLines({"providers:", "  p:", "    kind: openai", "    base_url: ${SECRET_PORT_URL}"}));
  expectNoSecret(yamlLines({"providers:", "  p:", "    kind: openai", baseCreds.c_str()}));
  expectNoSecret(yamlLines({"providers:", "  openai:", "    kind: openai", proxyCreds.c_str()}));
  expectNoSecret(yamlLines({"providers:", "  openai:", "    kind: openai",
                            "    headers:", "      Authorization: ${SECRET_HEADER}"}));
  expectNoSecret(yamlLines(
      {"providers:", "  openai:", "    kind: openai", "    headers:", headerLiteral.c_str()}));
}

TEST(Secrets, NeverInEnvironmentErrors) {
  try {
    configFromEnvironment(fakeEnv(
        {{"OPENAI_API_KEY", kSecret}, {"OPENAI_BASE_URL", std::string("gopher://") + kSecret}}));
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).find(kSecret), std::string::npos) << e.what();
  }
}

TEST(Secrets, ResolvedKeyIsKeptForTheProvider) {
  Config config = parseConfig(
      yamlLines({"providers:", "  openai: { kind: openai, api_key: \"${OPENAI_API_KEY}\" }"}),
      "c.yaml", secretEnv());
  EXPECT_EQ(config.providers.at(0).apiKey, kSecret);
}

class ConfigFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("arbitra_config_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(ConfigFile, LoadsAndNamesTheFile) {
  std::string path = write(
      "arbitra.yaml",
      yamlLines({"server:", "  port: 7000", "providers:", "  anthropic: { kind: anthropic }"}));
  Config config = loadConfigFile(path, fakeEnv({}));
  EXPECT_EQ(config.sourceFile, path);
  EXPECT_EQ(config.server.port, 7000);
  ASSERT_NE(config.findProvider("anthropic"), nullptr);
  EXPECT_EQ(config.findProvider("anthropic")->line, 4);
}

TEST_F(ConfigFile, ErrorsCarryThePath) {
  std::string path = write("bad.yaml", yamlLines({"server:", "  threads: lots"}));
  try {
    loadConfigFile(path, fakeEnv({}));
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(
        std::string(e.what()),
        path + ":2: threads must be an integer from 0 to 4096 (0: one per core) (got 'lots')");
  }
}

TEST_F(ConfigFile, EmptyFileIsValid) {
  Config config = loadConfigFile(write("empty.yaml", ""), fakeEnv({}));
  EXPECT_EQ(config.server.port, 8080);
  EXPECT_TRUE(config.providers.empty());
}

TEST_F(ConfigFile, MissingFile) {
  std::string path = (dir_ / "nope.yaml").string();
  try {
    loadConfigFile(path, fakeEnv({}));
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), path + ": cannot read: No such file or directory");
  }
}

TEST_F(ConfigFile, DirectoryIsNotAFile) {
  try {
    loadConfigFile(dir_.string(), fakeEnv({}));
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), dir_.string() + ": cannot read: Is a directory");
  }
}

}  // namespace
}  // namespace arbitra::config
