// Checks on header text shared by the server (answers) and the client
// (upstream requests). Internal to the http module.
//
// Why a file of its own: every header of every message is checked for a byte
// that would end its line early (CR, LF, NUL: response splitting), and the
// route explanation alone is a few hundred bytes: with a byte-by-byte loop
// the answer's head cost ~1.7k instructions (callgrind, 2026-12-07). This
// reads eight bytes at a time and looks byte by byte only at a word that
// holds a control character below 0x0E.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace arbitra::http::detail {

inline bool isLineBreaker(char c) { return c == '\r' || c == '\n' || c == '\0'; }

// True when `text` holds CR, LF or NUL (a TAB, 0x09, is allowed in a value).
inline bool splitsALine(std::string_view text) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHighs = 0x8080808080808080ULL;
  const char* p = text.data();
  size_t n = text.size();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t word;
    std::memcpy(&word, p + i, 8);
    // Non-zero exactly when some byte of the word is below 0x0E (NUL .. CR).
    if (((word - kOnes * 0x0E) & ~word & kHighs) == 0) continue;
    for (size_t k = i; k < i + 8; ++k) {
      if (isLineBreaker(p[k])) return true;
    }
  }
  for (; i < n; ++i) {
    if (isLineBreaker(p[i])) return true;
  }
  return false;
}

}  // namespace arbitra::http::detail
