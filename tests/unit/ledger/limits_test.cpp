// Virtual keys, budgets and rate limits.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "ledger/catalog.h"
#include "ledger/keys.h"
#include "ledger/ledger.h"
#include "ledger/limits.h"

namespace arbitra::ledger {
namespace {

constexpr int64_t kDollar = 1'000'000'000'000;
constexpr int64_t kNow = 1'795'932'000'000;  // 2026-11-29T06:00Z

KeyRecord key(int64_t dayBudget = 0, int64_t rpm = 0, int64_t tpm = 0) {
  KeyRecord k;
  k.id = "key_1";
  k.budgetDayPico = dayBudget;
  k.rpm = rpm;
  k.tpm = tpm;
  return k;
}

TEST(Keys, GeneratedKeysAreHashedAndFoundOnlyByTheirValue) {
  auto [record, secret] = generateKey("team");
  EXPECT_TRUE(secret.starts_with("sk-arb-"));
  EXPECT_EQ(secret.size(), 47u);
  EXPECT_EQ(record.hash, hashKey(secret));
  EXPECT_EQ(record.hash.size(), 64u);
  EXPECT_EQ(record.hash.find(secret.substr(7)), std::string::npos);
  auto [other, otherSecret] = generateKey("team");
  EXPECT_NE(secret, otherSecret);
  EXPECT_NE(record.id, other.id);

  KeyRing ring;
  EXPECT_TRUE(ring.empty());
  ring.replace({record, other});
  ASSERT_TRUE(ring.find(secret));
  EXPECT_EQ(ring.find(secret)->id, record.id);
  EXPECT_FALSE(ring.find(secret + "x"));
  EXPECT_FALSE(ring.find("sk-arb-guess"));
  EXPECT_FALSE(ring.find(record.hash));  // the hash is not a key
  other.revokedMs = 5;
  ring.replace({record, other});
  EXPECT_FALSE(ring.find(otherSecret));
  EXPECT_TRUE(ring.find(secret));
  record.revokedMs = 6;
  ring.replace({record, other});
  EXPECT_FALSE(ring.find(secret));
  EXPECT_FALSE(ring.empty()) << "revoking every key must not open the gateway";
}

TEST(Keys, SameSecretComparesWholeValues) {
  EXPECT_TRUE(sameSecret("abcdefghijklmnop", "abcdefghijklmnop"));
  EXPECT_FALSE(sameSecret("abcdefghijklmnop", "abcdefghijklmnoq"));
  EXPECT_FALSE(sameSecret("abc", "abcd"));
}

TEST(Limits, BudgetCountsReservationsOfRequestsInFlight) {
  Limiter limiter;
  auto k = key(1 * kDollar);
  auto a = limiter.admit(k, kDollar / 2, 10, kNow);
  ASSERT_TRUE(a.admitted);
  auto b = limiter.admit(k, kDollar / 2, 10, kNow);
  ASSERT_TRUE(b.admitted);
  auto c = limiter.admit(k, 1, 10, kNow);  // $1 reserved already
  EXPECT_FALSE(c.admitted);
  EXPECT_NE(c.limit.find("daily budget of $1.00"), std::string::npos) << c.limit;
  // They cost less than reserved: the difference is free again.
  limiter.settle(k, a, kDollar / 10, 5, kNow);
  limiter.settle(k, b, kDollar / 10, 5, kNow);
  EXPECT_EQ(limiter.usage(k.id, kNow).spentDayPico, kDollar / 5);
  EXPECT_EQ(limiter.usage(k.id, kNow).reservedPico, 0);
  EXPECT_TRUE(limiter.admit(k, kDollar * 8 / 10, 10, kNow).admitted);
  EXPECT_FALSE(limiter.admit(k, 1, 10, kNow).admitted);
}

TEST(Limits, BudgetsResetAtTheUtcDayAndContinueFromTheLedger) {
  Limiter limiter;
  auto k = key(1 * kDollar);
  limiter.seed(k.id, kDollar, kDollar, kNow);  // the ledger says today's budget is spent
  EXPECT_FALSE(limiter.admit(k, 1, 1, kNow).admitted);
  EXPECT_TRUE(limiter.admit(k, 1, 1, kNow + 86'400'000).admitted);  // tomorrow
}

TEST(Limits, MonthlyBudget) {
  Limiter limiter;
  auto k = key();
  k.budgetMonthPico = 3 * kDollar;
  limiter.seed(k.id, 0, 2 * kDollar, kNow);
  EXPECT_TRUE(limiter.admit(k, kDollar, 1, kNow).admitted);
  auto refused = limiter.admit(k, 1, 1, kNow);
  EXPECT_FALSE(refused.admitted);
  EXPECT_NE(refused.limit.find("monthly"), std::string::npos);
}

TEST(Limits, RequestsPerMinuteSlideAndSayWhenToRetry) {
  Limiter limiter;
  auto k = key(0, 3);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.admit(k, 0, 0, kNow + i * 1000).admitted);
  auto refused = limiter.admit(k, 0, 0, kNow + 3000);
  EXPECT_FALSE(refused.admitted);
  EXPECT_NE(refused.limit.find("3 requests per minute"), std::string::npos);
  EXPECT_EQ(refused.retryAfterSeconds, 57);  // the first one leaves the window at +60 s
  EXPECT_TRUE(limiter.admit(k, 0, 0, kNow + 60'000).admitted);
}

TEST(Limits, TokensPerMinuteUseTheEstimateThenTheActualCount) {
  Limiter limiter;
  auto k = key(0, 0, 1000);
  auto a = limiter.admit(k, 0, 900, kNow);
  ASSERT_TRUE(a.admitted);
  EXPECT_FALSE(limiter.admit(k, 0, 200, kNow).admitted);
  limiter.settle(k, a, 0, 100, kNow);  // it used 100, not 900
  EXPECT_TRUE(limiter.admit(k, 0, 200, kNow).admitted);
}

// Many threads racing for one budget: what is admitted never exceeds it when
// each request costs at most its reservation, and at most the in-flight
// reservations beyond it when requests cost more.
TEST(Limits, ConcurrentRequestsCannotOverspend) {
  Limiter limiter;
  auto k = key(100 * kDollar);
  std::atomic<int64_t> spent{0};
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        auto a = limiter.admit(k, kDollar / 10, 10, kNow);
        if (!a.admitted) continue;
        admitted++;
        int64_t actual = kDollar / 10 - i % 7;  // at most the estimate
        spent += actual;
        limiter.settle(k, a, actual, 10, kNow);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(spent.load(), 100 * kDollar);
  EXPECT_GE(admitted.load(), 1000);  // it filled the budget, not stopped early
  EXPECT_EQ(limiter.usage(k.id, kNow).reservedPico, 0);
  EXPECT_EQ(limiter.usage(k.id, kNow).spentDayPico, spent.load());
}

TEST(Catalog, ParseErrorsNameFileAndLine) {
  auto error = [](const std::string& yaml) {
    try {
      PriceCatalog::parse(yaml, "p.yaml");
    } catch (const config::ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(error("prices:\n  - provider: a\n    model: m\n    input: \"1\"\n    output: \"1e-3\"\n"
                  "    source: s\n    as_of: 2026-01-01\n"),
            "p.yaml:5: output must be a plain decimal with at most 6 places, got '1e-3'");
  EXPECT_EQ(error("prices:\n  - provider: a\n    model: m\n    input: \"1\"\n    output: \"2\"\n"),
            "p.yaml:2: a price row needs source");
  EXPECT_EQ(error("prices:\n  - provider: a\n    model: m\n    input: \"1\"\n    output: \"2\"\n    source: s\n"
                  "    as_of: d\n    colour: red\n"),
            "p.yaml:8: unknown key 'colour' in a price row");
  EXPECT_EQ(error("rows: []\n"), "p.yaml:1: a price catalog needs a top-level `prices:` list");
}

TEST(Catalog, BuiltInRowsCarrySourceAndDateAndConfigOverrides) {
  const auto& catalog = PriceCatalog::builtIn();
  EXPECT_GT(catalog.rows().size(), 300u);
  for (const auto& row : catalog.rows()) {
    ASSERT_NE(row.price.source.find(" as of 20"), std::string::npos) << row.provider << "/" << row.model;
  }
  config::ProviderConfig provider;
  provider.name = "my-openai";
  provider.kind = "openai";
  config::DeploymentConfig deployment;
  deployment.provider = "my-openai";
  deployment.upstreamModel = "gpt-4o-mini";
  auto fromCatalog = priceFor(deployment, provider, catalog);  // by kind when the name is custom
  EXPECT_TRUE(fromCatalog.known);
  EXPECT_EQ(fromCatalog.inputPerMillion, 150'000);
  deployment.price.known = true;
  deployment.price.inputPerMillion = 1;
  EXPECT_EQ(priceFor(deployment, provider, catalog).inputPerMillion, 1);
  deployment.price = {};
  deployment.upstreamModel = "no-such-model";
  EXPECT_FALSE(priceFor(deployment, provider, catalog).known);
}

}  // namespace
}  // namespace arbitra::ledger
