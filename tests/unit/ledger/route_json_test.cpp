// routeJson writes the record's `route` column by hand (the writer thread's
// cheaper path): it must be byte for byte what serializing the same object
// with Boost.JSON gives, whatever the strings hold, and valid JSON even for a
// time that is not finite (where Boost.JSON writes "Infinity" and "NaN").
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include <boost/json.hpp>

#include "ledger/record.h"

namespace arbitra::ledger {
namespace {

namespace json = boost::json;

std::string throughTheDom(const RouteFacts& facts) {
  json::array candidates;
  for (const auto& c : facts.candidates) {
    candidates.push_back(json::object{{"deployment", c.deployment},
                                      {"predicted_cost_pico", c.predictedCostPico},
                                      {"predicted_ttft_ms", c.predictedTtftMs},
                                      {"eligible", c.eligible}});
  }
  return json::serialize(
      json::object{{"policy", facts.policy}, {"reason", facts.reason}, {"candidates", std::move(candidates)}});
}

TEST(RouteJson, IsWhatTheDomWouldSerialize) {
  RouteFacts plain;
  plain.policy = "cost";
  plain.reason = "cheapest eligible: groq/llama (predicted $0.000012, 180 ms)";
  plain.candidates = {{"groq/llama", 12'000'000, 180.0, true}, {"openai/gpt-4o-mini", 45'000'000, 420.5, false}};

  RouteFacts awkward;
  awkward.policy = "latency";
  awkward.reason = std::string("quote \" backslash \\ newline \n tab \t nul ") + '\0' + " bell \x07 é 漢 \xF0\x9F\x98\x80";
  awkward.candidates = {
      {"a\"b", -1, 0.0, true},
      {"", std::numeric_limits<int64_t>::max(), 1e-7, false},
      {"c", std::numeric_limits<int64_t>::min(), 1e300, true},
      {"d", 0, -0.0, false},
  };

  RouteFacts none;
  none.policy = "pinned";

  for (const RouteFacts* facts : {&plain, &awkward, &none}) {
    std::string written = routeJson(*facts);
    EXPECT_EQ(written, throughTheDom(*facts));
    boost::system::error_code ec;
    auto parsed = json::parse(written, ec);
    ASSERT_FALSE(ec) << written;
    EXPECT_EQ(parsed.at("policy").as_string(), facts->policy);
    EXPECT_EQ(parsed.at("reason").as_string(), facts->reason);
    EXPECT_EQ(parsed.at("candidates").as_array().size(), facts->candidates.size());
  }
}

TEST(RouteJson, ATimeThatIsNotFiniteIsNull) {
  RouteFacts facts;
  facts.policy = "latency";
  facts.candidates = {{"e", 7, std::numeric_limits<double>::infinity(), true},
                      {"f", 8, std::nan(""), true},
                      {"g", 9, -std::numeric_limits<double>::infinity(), false},
                      {"h", 10, 250.0, true}};
  std::string written = routeJson(facts);
  boost::system::error_code ec;
  auto parsed = json::parse(written, ec);
  ASSERT_FALSE(ec) << written;
  const auto& candidates = parsed.at("candidates").as_array();
  ASSERT_EQ(candidates.size(), 4u);
  for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(candidates[i].at("predicted_ttft_ms").is_null()) << written;
  EXPECT_EQ(candidates[3].at("predicted_ttft_ms").to_number<double>(), 250.0);
  EXPECT_EQ(candidates[0].at("predicted_cost_pico").as_int64(), 7);
}

}  // namespace
}  // namespace arbitra::ledger
