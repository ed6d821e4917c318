// libFuzzer target: the SSE parser must never crash, whatever the bytes and
// however they are split; splitting must not change what it parses.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/sse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  arbitra::http::SseParser whole(4096);
  std::vector<arbitra::http::SseEvent> a;
  bool okWhole = whole.feed(bytes, a);
  arbitra::http::SseParser split(4096);
  std::vector<arbitra::http::SseEvent> b;
  size_t cut = size == 0 ? 0 : data[0] % size;
  bool okSplit = split.feed(bytes.substr(0, cut), b) && split.feed(bytes.substr(cut), b);
  if (okWhole && okSplit) {
    if (a.size() != b.size()) __builtin_trap();
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i].data != b[i].data || a[i].event != b[i].event) __builtin_trap();
    }
  }
  return 0;
}
