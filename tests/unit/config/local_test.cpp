// kind: local — the edge engine's provider keys, their defaults and errors.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <unistd.h>

#include "config_test_util.h"

namespace arbitra::config {
namespace {

using namespace testing;

class LocalConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = "/tmp/arbitra-local-config-" + std::to_string(::getpid());
    std::system(("mkdir -p " + dir_).c_str());
    std::ofstream(dir_ + "/m.gguf") << "x";
    std::ofstream(dir_ + "/d.gguf") << "x";
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string dir_;
};

TEST_F(LocalConfig, ParsesEveryKeyAndResolvesPathsAgainstTheFile) {
  auto config = parseConfig(yamlLines({"providers:", "  edge:", "    kind: local", "    model: m.gguf",
                                       "    draft: d.gguf", "    context: 2048", "    parallel: 8", "    threads: 2",
                                       "    draft_tokens: 4", "    embeddings: false", "    huge_pages: false",
                                       "    cost_per_hour: 0.35"}),
                            dir_ + "/c.yaml", fakeEnv({}));
  ASSERT_EQ(config.providers.size(), 1u);
  const auto& local = config.providers[0].local;
  EXPECT_EQ(config.providers[0].kind, "local");
  EXPECT_EQ(local.model, dir_ + "/m.gguf");
  EXPECT_EQ(local.draft, dir_ + "/d.gguf");
  EXPECT_EQ(local.contextSize, 2048);
  EXPECT_EQ(local.parallel, 8);
  EXPECT_EQ(local.threads, 2);
  EXPECT_EQ(local.speculation, "draft");  // implied by draft:
  EXPECT_EQ(local.draftTokens, 4);
  EXPECT_FALSE(local.embeddings);
  EXPECT_FALSE(local.hugePages);
  EXPECT_TRUE(LocalModelConfig{}.hugePages);  // the default: weights in huge pages
  EXPECT_EQ(local.costPerHourMicros, 350000);
}

TEST_F(LocalConfig, ErrorsNameTheLine) {
  std::string file = dir_ + "/c.yaml";
  auto error = [&](std::initializer_list<const char*> lines) {
    try {
      parseConfig(yamlLines(lines), file, fakeEnv({}));
    } catch (const ConfigError& e) {
      return std::string(e.what()).substr(file.size());
    }
    return std::string();
  };
  EXPECT_EQ(error({"providers:", "  edge:", "    kind: local"}), ":2: provider 'edge' (kind local) needs a model: path to a .gguf file");
  EXPECT_EQ(error({"providers:", "  edge:", "    kind: local", "    model: missing.gguf"}),
            ":4: model file " + dir_ + "/missing.gguf does not exist");
  EXPECT_EQ(error({"providers:", "  edge:", "    kind: local", "    model: m.gguf", "    parallel: 0"}),
            ":5: parallel must be an integer from 1 to 64 (got '0')");
  EXPECT_EQ(error({"providers:", "  edge:", "    kind: local", "    model: m.gguf", "    speculation: magic"}),
            ":5: speculation must be none, draft or ngram (got 'magic')");
  EXPECT_EQ(error({"providers:", "  edge:", "    kind: local", "    model: m.gguf", "    speculation: draft"}),
            ":2: provider 'edge': speculation draft needs a draft: model file");
  EXPECT_EQ(error({"providers:", "  edge:", "    kind: local", "    model: m.gguf", "    base_url: http://x"}).substr(0, 36),
            ":5: unknown key 'base_url' in provid");
  EXPECT_EQ(error({"providers:", "  edge:", "    kind: local", "    model: m.gguf", "    cost_per_hour: -1"}),
            ":5: cost_per_hour must be a non-negative decimal number of dollars up to 1000 (got '-1')");
  EXPECT_EQ(error({"providers:", "  edge:", "    kind: local", "    model: m.gguf", "    capex: 1500"}),
            ":5: provider 'edge': capex needs lifetime_hours (the hours it is amortized over)");
  EXPECT_EQ(error({"providers:", "  edge:", "    kind: local", "    model: m.gguf", "    lifetime_hours: 100"}),
            ":5: provider 'edge': lifetime_hours needs capex");
  EXPECT_EQ(error({"providers:", "  edge:", "    kind: local", "    model: m.gguf", "    watts: 200"}),
            ":5: provider 'edge': watts needs price_per_kwh");
  EXPECT_EQ(error({"providers:", "  edge:", "    kind: local", "    model: m.gguf", "    watts: 200",
                   "    price_per_kwh: 0.1234567"}),
            ":6: price_per_kwh must be a non-negative decimal number of dollars up to 10 (got '0.1234567')");
  EXPECT_EQ(error({"providers:", "  edge:", "    kind: local", "    model: m.gguf", "    capex: 20000000",
                   "    lifetime_hours: 100"}),
            ":5: capex must be a non-negative decimal number of dollars up to 10000000 (got '20000000')");
  EXPECT_EQ(error({"providers:", "  edge:", "    kind: local", "    model: m.gguf", "    capex: 1500",
                   "    lifetime_hours: 0"}),
            ":6: lifetime_hours must be an integer from 1 to 1000000 (26280: 3 years) (got '0')");
}

TEST_F(LocalConfig, MachineCostFromCapexLifetimePowerAndHosting) {
  auto config = parseConfig(yamlLines({"providers:", "  edge:", "    kind: local", "    model: m.gguf",
                                       "    capex: 1500", "    lifetime_hours: 26280", "    watts: 200",
                                       "    price_per_kwh: 0.15", "    hosting_per_month: 20"}),
                            dir_ + "/c.yaml", fakeEnv({}));
  const auto& local = config.providers[0].local;
  EXPECT_EQ(local.costPerHourMicros, 0);
  EXPECT_EQ(local.capexMicros, 1'500'000'000);
  EXPECT_EQ(local.lifetimeHours, 26'280);
  EXPECT_EQ(local.watts, 200);
  EXPECT_EQ(local.perKwhMicros, 150'000);
  EXPECT_EQ(local.hostingPerMonthMicros, 20'000'000);
}

}  // namespace
}  // namespace arbitra::config
