// stderr logger (see log.h).
#include "core/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <string>

namespace arbitra::core {
namespace {
std::atomic<int> gLevel{static_cast<int>(LogLevel::Info)};
const char* name(LogLevel level) {
  switch (level) {
    case LogLevel::Debug: return "debug";
    case LogLevel::Info: return "info";
    case LogLevel::Warn: return "warn";
    case LogLevel::Error: return "error";
  }
  return "info";
}
}  // namespace

void setLogLevel(LogLevel level) { gLevel = static_cast<int>(level); }
bool logEnabled(LogLevel level) { return static_cast<int>(level) >= gLevel.load(std::memory_order_relaxed); }

void log(LogLevel level, std::string_view message) {
  if (!logEnabled(level)) return;
  auto now = std::chrono::system_clock::now();
  auto seconds = std::chrono::system_clock::to_time_t(now);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[40];
  size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  std::string line(stamp, n);
  char ms[8];
  std::snprintf(ms, sizeof ms, ".%03dZ ", static_cast<int>(millis));
  line += ms;
  line += name(level);
  line += ' ';
  // Control characters are escaped: a value from a request (a model name
  // with a newline, say) can never forge or split a log line.
  for (unsigned char c : message) {
    if (c < 0x20 || c == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      line += escaped;
    } else {
      line.push_back(static_cast<char>(c));
    }
  }
  line += '\n';
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace arbitra::core
