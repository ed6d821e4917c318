// A minimal structured logger: one line per event on stderr, "ts level msg".
// Lines are written with one write() each, so concurrent threads never
// interleave within a line. Callers pass no secrets; nothing here redacts.
#pragma once

#include <string_view>

namespace arbitra::core {

enum class LogLevel { Debug, Info, Warn, Error };

void setLogLevel(LogLevel level);
bool logEnabled(LogLevel level);
void log(LogLevel level, std::string_view message);

}  // namespace arbitra::core
