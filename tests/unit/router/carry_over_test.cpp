// A config reload's router: deployments that still exist (same group, same
// label, provider unchanged) share the previous router's live state; new,
// renamed or re-provisioned ones start fresh.
#include <gtest/gtest.h>

#include "router/router.h"
#include "router_test_util.h"

namespace arbitra::router {
namespace {

using testing::group;
using testing::serve;

constexpr int64_t kSecond = 1'000'000;

class CarryOverTest : public ::testing::Test {
 protected:
  void SetUp() override { registerBuiltins(registry); }
  PolicyRegistry registry;
};

void openBreaker(Router& router, int id, int64_t nowUs) {
  for (int i = 0; i < 5; ++i) {
    router.begin(id, 10, nowUs);
    router.fail(id, Failure::Server, std::nullopt, nowUs);
  }
}

TEST_F(CarryOverTest, UnchangedDeploymentsKeepTheirStateAndShareIt) {
  std::vector<config::ModelConfig> before = {group("m", {{"a", 1, 1}, {"b", 2, 2}})};
  Router old(before, registry, "r.yaml");
  openBreaker(old, 0, 10 * kSecond);
  serve(old, 0, 1, 420, 50, 20, 10 * kSecond);
  ASSERT_EQ(old.state(0).breaker(10 * kSecond), Breaker::Open);

  // b moves first, a new deployment c joins: matching is by label, not position.
  std::vector<config::ModelConfig> after = {group("m", {{"b", 2, 2}, {"c", 3, 3}, {"a", 1, 1}})};
  Router next(after, registry, "r.yaml", &old);
  EXPECT_EQ(next.carriedCount(), 2u);
  EXPECT_EQ(next.info(0).provider, "b");
  EXPECT_TRUE(next.state(0).measured());
  EXPECT_NEAR(next.state(0).ttftP90Ms(), old.state(1).ttftP90Ms(), 1e-9);
  EXPECT_FALSE(next.state(1).measured()) << "c is new";
  EXPECT_EQ(next.state(2).breaker(10 * kSecond), Breaker::Open) << "a's open breaker carried over";

  // An attempt that started on the old router settles on the shared state.
  old.begin(1, 10, 11 * kSecond);
  EXPECT_EQ(next.state(0).inFlight(), 1);
  old.cancel(1);
  EXPECT_EQ(next.state(0).inFlight(), 0);
}

TEST_F(CarryOverTest, ChangedProvidersAndNewGroupsStartFresh) {
  std::vector<config::ModelConfig> before = {group("m", {{"a", 1, 1}})};
  Router old(before, registry, "r.yaml");
  openBreaker(old, 0, 10 * kSecond);
  // The provider behind "a" changed (e.g. a new base_url): no carry-over.
  Router::CarryOver notA = [](const DeploymentInfo& info) { return info.provider != "a"; };
  Router changed(before, registry, "r.yaml", &old, notA);
  EXPECT_EQ(changed.carriedCount(), 0u);
  EXPECT_EQ(changed.state(0).breaker(10 * kSecond), Breaker::Closed);
  // Same deployment under another group name: another group, fresh state.
  std::vector<config::ModelConfig> renamed = {group("m2", {{"a", 1, 1}})};
  Router other(renamed, registry, "r.yaml", &old);
  EXPECT_EQ(other.carriedCount(), 0u);
  EXPECT_EQ(other.state(0).breaker(10 * kSecond), Breaker::Closed);
}

TEST_F(CarryOverTest, RepeatedLabelsMatchInOrder) {
  std::vector<config::ModelConfig> before = {group("m", {{"a", 1, 1}, {"a", 1, 1}})};
  Router old(before, registry, "r.yaml");
  openBreaker(old, 1, 10 * kSecond);  // the second "a" only
  Router next(before, registry, "r.yaml", &old);
  EXPECT_EQ(next.carriedCount(), 2u);
  EXPECT_EQ(next.state(0).breaker(10 * kSecond), Breaker::Closed);
  EXPECT_EQ(next.state(1).breaker(10 * kSecond), Breaker::Open);
}

}  // namespace
}  // namespace arbitra::router
