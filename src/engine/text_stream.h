// Turns a stream of token pieces into text safe to show: stop strings are cut
// (and end the request), and neither the start of a possible stop string nor
// an incomplete UTF-8 sequence is released before the next piece decides it.
//
// Guarantee: the concatenation of everything push() and finish() return is
// the generated text up to (excluding) the first stop string.
#pragma once

#include <string>
#include <vector>

namespace arbitra::engine {

class TextStream {
 public:
  explicit TextStream(std::vector<std::string> stops = {}) : stops_(std::move(stops)) {
    std::erase_if(stops_, [](const std::string& s) { return s.empty(); });
  }

  // Adds a piece; returns the text that can be released now. Sets `stopped`
  // when a stop string appeared (the text before it is returned).
  std::string push(const std::string& piece, bool& stopped) {
    pending_ += piece;
    for (const auto& stop : stops_) {
      auto at = pending_.find(stop);
      if (at != std::string::npos) {
        stopped = true;
        std::string out = pending_.substr(0, at);
        pending_.clear();
        return out;
      }
    }
    size_t hold = std::max(stopPrefixHold(), utf8Hold());
    std::string out = pending_.substr(0, pending_.size() - hold);
    pending_.erase(0, pending_.size() - hold);
    return out;
  }

  // The end of generation: whatever is held back is released.
  std::string finish() {
    std::string out;
    out.swap(pending_);
    return out;
  }

 private:
  // Longest suffix of pending_ that is a proper prefix of a stop string.
  size_t stopPrefixHold() const {
    size_t hold = 0;
    for (const auto& stop : stops_) {
      size_t max = std::min(stop.size() - 1, pending_.size());
      for (size_t n = max; n > hold; --n) {
        if (pending_.compare(pending_.size() - n, n, stop, 0, n) == 0) {
          hold = n;
          break;
        }
      }
    }
    return hold;
  }

  // Bytes at the end that start a UTF-8 sequence not yet complete.
  size_t utf8Hold() const {
    size_t n = pending_.size();
    for (size_t back = 1; back <= 4 && back <= n; ++back) {
      auto c = static_cast<unsigned char>(pending_[n - back]);
      if ((c & 0xC0) == 0x80) continue;  // continuation byte: look further back
      size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
      return need > back ? back : 0;
    }
    return 0;
  }

  std::vector<std::string> stops_;
  std::string pending_;
};

}  // namespace arbitra::engine
