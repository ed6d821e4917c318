// json_scan's value and member walk (used by the upstream body splice):
// where each value ends, checked against a byte-at-a-time reference on
// generated texts (strings skipped whole hold brackets, quotes and escapes).
#include <gtest/gtest.h>

#include <random>

#include "api/json_scan.h"

namespace arbitra::api::json_scan {
namespace {

// The end of the container at `at`, one byte at a time: the reference.
size_t slowContainerEnd(std::string_view text, size_t at) {
  size_t depth = 0;
  bool inString = false;
  for (size_t i = at; i < text.size(); ++i) {
    char c = text[i];
    if (inString) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        inString = false;
    } else if (c == '"') {
      inString = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && --depth == 0) {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

TEST(JsonScan, ContainerEndsAgreeWithAByteAtATimeWalk) {
  const std::vector<std::string> pieces = {R"("plain text that is longer than sixteen bytes")",
                                           R"("a \"quoted\" ] } word")",
                                           R"("\\")",
                                           R"("ends in \\\\")",
                                           R"("|pipes| and \u001b")",
                                           "{",
                                           "}",
                                           "[",
                                           "]",
                                           ",",
                                           ":",
                                           "1.5e3",
                                           "true",
                                           " ",
                                           R"("{[")",
                                           R"("]}")",
                                           R"("\\\"")"};
  std::mt19937 rng(7);
  for (int round = 0; round < 2000; ++round) {
    std::string body = "[";
    int n = static_cast<int>(rng() % 40);
    for (int k = 0; k < n; ++k) body += pieces[rng() % pieces.size()];
    body += "]";
    for (size_t pad = 0; pad < 20; ++pad) {
      std::string text = std::string(pad, ' ') + body + std::string(rng() % 20, ' ');
      ASSERT_EQ(valueEnd(text, pad), slowContainerEnd(text, pad)) << text;
    }
  }
}

TEST(JsonScan, ValuesAndMembers) {
  EXPECT_EQ(valueEnd(R"("a\"b",)", 0), 6u);
  EXPECT_EQ(valueEnd("-12.5e3 }", 0), 7u);
  EXPECT_EQ(valueEnd(R"({"a":"}"})", 0), 9u);
  EXPECT_EQ(valueEnd(R"({"a":"}")", 0), std::string_view::npos) << "never closes";
  EXPECT_EQ(valueEnd(R"(["unclosed])", 0), std::string_view::npos);

  std::vector<std::string> seen;
  std::string text = R"( { "a" : 1 , "b\"c":{"x":[1,"]"]}, "d":"e" } )";
  size_t close = forEachMember(text, [&](std::string_view key, size_t begin, size_t end) {
    seen.push_back(std::string(key) + "=" + text.substr(begin, end - begin));
    return true;
  });
  EXPECT_EQ(close, text.size() - 2);
  EXPECT_EQ(seen, (std::vector<std::string>{"a=1", R"(b\"c={"x":[1,"]"]})", R"(d="e")"}));
  auto refuses = [](std::string_view t) {
    return forEachMember(t, [](std::string_view, size_t, size_t) { return true; }) == std::string_view::npos;
  };
  EXPECT_FALSE(refuses("{}"));
  EXPECT_TRUE(refuses(R"({"a":1} x)")) << "something after the object";
  EXPECT_TRUE(refuses(R"({"a":1)"));
  EXPECT_TRUE(refuses(R"({"a" 1})"));
  EXPECT_TRUE(refuses(R"({"a":})"));
  EXPECT_TRUE(refuses(R"([1])"));
  EXPECT_TRUE(refuses(""));
}

}  // namespace
}  // namespace arbitra::api::json_scan
