// Helpers shared by the config tests: YAML built line by line (so a test's
// line numbers are visible in its source), a fake environment, and a matcher
// for the exact ConfigError text.
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <map>
#include <optional>
#include <string>

#include "config/config.h"

namespace arbitra::config::testing {

// Joins lines with "\n": the first line is line 1.
inline std::string yamlLines(std::initializer_list<const char*> lines) {
  std::string out;
  for (const char* line : lines) {
    out += line;
    out += '\n';
  }
  return out;
}

inline EnvLookup fakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// The ConfigError message parseConfig raises, or "" when it accepts the text.
inline std::string parseError(const std::string& yaml, const EnvLookup& env = fakeEnv({})) {
  try {
    parseConfig(yaml, "c.yaml", env);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace arbitra::config::testing
