// The line-splitting check on header text (http/header_text.h): its
// word-at-a-time path must agree with the plain byte-by-byte definition for
// every control byte at every position of a word, and where words end.
#include "http/header_text.h"

#include <gtest/gtest.h>

#include <string>

namespace arbitra::http::detail {
namespace {

bool byteByByte(std::string_view text) {
  for (char c : text) {
    if (c == '\r' || c == '\n' || c == '\0') return true;
  }
  return false;
}

TEST(HeaderText, AgreesWithByteByByteForEveryByteAtEveryPosition) {
  for (size_t length = 0; length <= 40; ++length) {
    for (size_t at = 0; at < length; ++at) {
      for (int byte = 0; byte < 256; ++byte) {
        std::string text(length, 'a');
        text[at] = static_cast<char>(byte);
        ASSERT_EQ(splitsALine(text), byteByByte(text))
            << "length " << length << ", byte " << byte << " at " << at;
      }
    }
  }
}

TEST(HeaderText, TabsUtf8AndLowControlBytesAloneAreNotLineBreaks) {
  EXPECT_FALSE(splitsALine("policy=cheapest\tlatency<=2000ms; chose sim/bench-model ($0.15/M)"));
  EXPECT_FALSE(splitsALine("caf\xc3\xa9 \xe2\x82\xac price \x01\x02\x0b\x0c trailing"));
  EXPECT_TRUE(splitsALine("a perfectly long header value, then\r\nx-injected: yes"));
  EXPECT_TRUE(splitsALine(std::string_view("sixteen bytes...\0", 17)));
  EXPECT_TRUE(splitsALine("\n"));
  EXPECT_FALSE(splitsALine(""));
}

}  // namespace
}  // namespace arbitra::http::detail
