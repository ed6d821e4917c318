// Config reload (gateway/reload.h): a good file swaps the World, a bad one
// leaves the running World serving with a file:line error; unchanged
// providers are shared, a removed local model is unloaded once the last
// request holding the previous World lets go; restart-only settings keep
// their running values and are named.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "config/config.h"
#include "gateway/reload.h"
#include "ledger/catalog.h"
#include "providers/local/local_provider.h"

namespace arbitra::gateway {
namespace {

config::Config parse(const std::string& yaml) { return config::parseConfig(yaml, "gw.yaml"); }

const std::string kA = R"(server: { port: 8080 }
providers:
  up: { kind: openai, base_url: "http://127.0.0.1:1/v1" }
  other: { kind: openai, base_url: "http://127.0.0.1:2/v1" }
models:
  alpha: [{ provider: up, model: a-1 }]
)";

// Same providers (one moved down a line), model alpha gone, beta added.
const std::string kB = R"(server: { port: 8080 }
providers:

  up: { kind: openai, base_url: "http://127.0.0.1:1/v1" }
  other: { kind: openai, base_url: "http://127.0.0.1:3/v1" }
models:
  beta: [{ provider: up, model: b-1 }, { provider: other, model: b-2 }]
)";

class ReloadTest : public ::testing::Test {
 protected:
  void SetUp() override { providers::registerBuiltins(registry); }
  providers::Registry registry;
  const ledger::PriceCatalog& catalog = ledger::PriceCatalog::builtIn();
};

TEST_F(ReloadTest, AGoodFileSwapsTheWorldAndInFlightRequestsKeepTheirs) {
  Reloader reloader(parse(kA), registry, catalog);
  std::string next = kB;
  reloader.setLoader([&] { return parse(next); });
  auto inFlight = reloader.current();  // a request that started before the reload
  ASSERT_EQ(inFlight->generation, 1u);
  auto upBefore = inFlight->table.provider("up");

  auto outcome = reloader.reload();
  ASSERT_TRUE(outcome.ok) << outcome.error;
  EXPECT_EQ(outcome.generation, 2u);
  EXPECT_EQ(outcome.kept, std::vector<std::string>{"up"}) << "only its line moved";
  EXPECT_EQ(outcome.loaded, std::vector<std::string>{"other"}) << "its base_url changed";
  EXPECT_EQ(outcome.released, std::vector<std::string>{"other"});
  EXPECT_TRUE(outcome.needsRestart.empty());

  auto now = reloader.current();
  EXPECT_EQ(now->generation, 2u);
  EXPECT_EQ(now->table.provider("up"), upBefore) << "unchanged provider shared, not made again";
  EXPECT_NE(now->table.provider("other"), inFlight->table.provider("other"));
  EXPECT_TRUE(now->table.resolve("beta").ok());
  EXPECT_FALSE(now->table.resolve("alpha").ok());
  // The request that started on generation 1 still routes by it.
  auto alpha = inFlight->table.resolve("alpha");
  ASSERT_TRUE(alpha.ok());
  EXPECT_EQ((*alpha)[0].label, "up/a-1");
  EXPECT_NE(reloader.metricsText().find("arbitra_config_reloads_total{result=\"ok\"} 1\n"), std::string::npos);
  EXPECT_NE(reloader.metricsText().find("arbitra_config_generation 2\n"), std::string::npos);
}

TEST_F(ReloadTest, ABadFileKeepsTheRunningWorldAndSaysFileAndLine) {
  Reloader reloader(parse(kA), registry, catalog);
  std::string next = "providers:\n  up: { kind: openai, base_url: \"http://127.0.0.1:1/v1\" }\nmodels:\n"
                     "  beta: [{ provider: nowhere, model: b }]\n";
  reloader.setLoader([&] { return parse(next); });
  auto outcome = reloader.reload();
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.error.rfind("gw.yaml:4:", 0), 0u) << outcome.error;
  EXPECT_EQ(outcome.generation, 1u);
  EXPECT_EQ(reloader.current()->generation, 1u);
  EXPECT_TRUE(reloader.current()->table.resolve("alpha").ok());

  // Valid YAML, but a routing policy the router does not know: refused too.
  next = kA + "  gamma:\n    deployments: [{ provider: up, model: g }]\n    routing: { policy: fastest-ever }\n";
  outcome = reloader.reload();
  EXPECT_FALSE(outcome.ok);
  EXPECT_NE(outcome.error.find("gw.yaml:9:"), std::string::npos) << outcome.error;
  EXPECT_NE(reloader.metricsText().find("arbitra_config_reloads_total{result=\"error\"} 2\n"), std::string::npos);
  EXPECT_EQ(reloader.current()->generation, 1u);
}

TEST_F(ReloadTest, WithoutALoaderThereIsNothingToReRead) {
  Reloader reloader(parse(kA), registry, catalog);
  auto outcome = reloader.reload();
  EXPECT_FALSE(outcome.ok);
  EXPECT_NE(outcome.error.find("without --config"), std::string::npos);
}

TEST_F(ReloadTest, RestartOnlySettingsKeepTheirRunningValuesAndAreNamed) {
  Reloader reloader(parse(kA), registry, catalog);
  reloader.setLoader([&] {
    auto c = parse("server: { port: 9090, threads: 3 }\nledger: { path: other.db }\ndeferred: { window_ms: 5 }\n" +
                   kA.substr(kA.find("providers:")));
    return c;
  });
  auto outcome = reloader.reload();
  ASSERT_TRUE(outcome.ok) << outcome.error;
  std::vector<std::string> expected = {"server.port", "server.threads", "ledger.path", "deferred"};
  EXPECT_EQ(outcome.needsRestart, expected);
  const auto& running = reloader.current()->priced;
  EXPECT_EQ(running.server.port, 8080);
  EXPECT_EQ(running.ledger.path, "arbitra.db");
  EXPECT_EQ(running.deferred.windowMs, 1000);
  EXPECT_EQ(outcome.kept.size(), 2u) << "nothing else changed";
}

TEST(RestartOnly, IdenticalConfigsNameNothing) {
  auto a = parse(kA);
  auto b = parse(kA);
  EXPECT_TRUE(keepRestartOnly(a, b).empty());
  b.cache.enabled = true;
  EXPECT_EQ(keepRestartOnly(a, b), std::vector<std::string>{"cache"});
  EXPECT_FALSE(b.cache.enabled);
}

int loadedCount(const std::string& provider) {
  auto loaded = providers::loadedLocalModels();
  auto it = loaded.find(provider);
  return it == loaded.end() ? 0 : it->second;
}

// The generated tiny model: kept across a reload that leaves it alone,
// unloaded after a reload that removes it, once the last request holding
// the previous World is done.
TEST_F(ReloadTest, ALocalModelIsKeptWhenUnchangedAndUnloadedAfterItsLastRequest) {
  std::string local = std::string("providers:\n  edge: { kind: local, model: ") + ARBITRA_TINY_MODEL +
                      ", context: 256, parallel: 1, threads: 1 }\nmodels:\n  tiny: [{ provider: edge, model: t }]\n";
  std::string without = "providers:\n  up: { kind: openai, base_url: \"http://127.0.0.1:1/v1\" }\nmodels:\n"
                        "  alpha: [{ provider: up, model: a-1 }]\n";
  ASSERT_EQ(loadedCount("edge"), 0);
  Reloader reloader(parse(local), registry, catalog);
  ASSERT_EQ(loadedCount("edge"), 1);
  std::string next = "# a comment moves every line\n" + local;
  reloader.setLoader([&] { return parse(next); });
  auto kept = reloader.reload();
  ASSERT_TRUE(kept.ok) << kept.error;
  EXPECT_EQ(kept.kept, std::vector<std::string>{"edge"});
  EXPECT_EQ(loadedCount("edge"), 1) << "not loaded a second time";

  auto inFlight = reloader.current();  // a request still streaming from the model
  next = without;
  auto removed = reloader.reload();
  ASSERT_TRUE(removed.ok) << removed.error;
  EXPECT_EQ(removed.released, std::vector<std::string>{"edge"});
  EXPECT_EQ(loadedCount("edge"), 1) << "still in use by the request";
  EXPECT_TRUE(inFlight->table.provider("edge")->inProcess() != nullptr);
  inFlight.reset();  // the request ends: the World is destroyed on the reload thread
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (loadedCount("edge") != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(loadedCount("edge"), 0);
  EXPECT_NE(reloader.metricsText().find("arbitra_config_generation 3\n"), std::string::npos);
}

TEST_F(ReloadTest, AModelThatCannotLoadIsRefusedWithItsLine) {
  Reloader reloader(parse(kA), registry, catalog);
  // A local provider whose file does not exist: refused, generation 1 serves on.
  reloader.setLoader([&] {
    return parse("providers:\n  up: { kind: openai, base_url: \"http://127.0.0.1:1/v1\" }\n"
                 "  edge: { kind: local, model: /nonexistent/m.gguf }\n"
                 "models:\n  tiny: [{ provider: edge, model: t }]\n");
  });
  auto outcome = reloader.reload();
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.error.rfind("gw.yaml:3:", 0), 0u) << outcome.error;
  EXPECT_EQ(reloader.current()->generation, 1u);

  // A file that exists but is no GGUF model: the engine refuses it while the
  // next World is built; the error names the provider's line.
  auto bad = std::filesystem::temp_directory_path() / "arbitra-reload-corrupt.gguf";
  { std::ofstream(bad) << "GGUF garbage"; }
  reloader.setLoader([&] {
    return parse("providers:\n  up: { kind: openai, base_url: \"http://127.0.0.1:1/v1\" }\n"
                 "  edge: { kind: local, model: " + bad.string() + " }\n"
                 "models:\n  tiny: [{ provider: edge, model: t }]\n");
  });
  outcome = reloader.reload();
  std::filesystem::remove(bad);
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.error.rfind("gw.yaml:3:", 0), 0u) << outcome.error;
  EXPECT_NE(outcome.error.find("arbitra-reload-corrupt.gguf"), std::string::npos) << outcome.error;
  EXPECT_EQ(reloader.current()->generation, 1u);
  EXPECT_TRUE(reloader.current()->table.resolve("alpha").ok());
}

}  // namespace
}  // namespace arbitra::gateway
