// parseMicroDollars: exact decimal dollars -> integer micro-dollars, no floats.
#include <gtest/gtest.h>

#include "config/config.h"

namespace arbitra::config {
namespace {

TEST(ParseMicroDollars, ExactValues) {
  EXPECT_EQ(parseMicroDollars("0.075"), 75'000);
  EXPECT_EQ(parseMicroDollars("0.15"), 150'000);
  EXPECT_EQ(parseMicroDollars("0.60"), 600'000);
  EXPECT_EQ(parseMicroDollars("3"), 3'000'000);
  EXPECT_EQ(parseMicroDollars("3.75"), 3'750'000);
  EXPECT_EQ(parseMicroDollars("0"), 0);
  EXPECT_EQ(parseMicroDollars("0.0"), 0);
  EXPECT_EQ(parseMicroDollars("0.000001"), 1);
  EXPECT_EQ(parseMicroDollars("007.5"), 7'500'000);
  EXPECT_EQ(parseMicroDollars("1234.567891"), 1'234'567'891);
  // 0.1 + 0.2 style values that floats get wrong stay exact.
  EXPECT_EQ(parseMicroDollars("0.3"), 300'000);
  EXPECT_EQ(parseMicroDollars("2.675"), 2'675'000);
}

TEST(ParseMicroDollars, Rejects) {
  for (const char* text :
       {"0.0000001", "1.1234567", "-1", "-0.5", "+1",   "1e-1",  "1E3", "",     ".5",   "5.",
        "1.2.3",     " 1",        "1 ", "abc",  "0x10", "1_000", "1,5", ".inf", ".nan", "１"}) {
    EXPECT_EQ(parseMicroDollars(text), std::nullopt) << "'" << text << "'";
  }
}

TEST(ParseMicroDollars, Int64Bounds) {
  EXPECT_EQ(parseMicroDollars("9223372036854.775807"), INT64_MAX);
  EXPECT_EQ(parseMicroDollars("9223372036854.775808"), std::nullopt);
  EXPECT_EQ(parseMicroDollars("9223372036854.999999"), std::nullopt);
  EXPECT_EQ(parseMicroDollars("9223372036855"), std::nullopt);
  EXPECT_EQ(parseMicroDollars("99999999999999999999999999"), std::nullopt);
}

}  // namespace
}  // namespace arbitra::config
