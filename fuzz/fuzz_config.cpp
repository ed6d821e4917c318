// libFuzzer target for the config parser: any bytes must either parse or raise
// ConfigError. Anything else escaping (a yaml-cpp exception, std::out_of_range,
// a crash or sanitizer report) is a bug in config.cpp.
//
// The fake environment answers every variable whose name starts with 'A'..'M'
// (so ${VAR} and api_key resolution are reached) and none of the others.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const arbitra::config::EnvLookup env = [](const std::string& name) -> std::optional<std::string> {
    if (!name.empty() && name[0] >= 'A' && name[0] <= 'M') return "value-of-" + name;
    return std::nullopt;
  };
  try {
    arbitra::config::parseConfig(text, "fuzz.yaml", env);
  } catch (const arbitra::config::ConfigError&) {
  }
  (void)arbitra::config::parseMicroDollars(text);
  return 0;
}
