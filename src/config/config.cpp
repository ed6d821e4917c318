// Turns the YAML config (or, with no file, the environment) into a validated
// Config, so that every mistake is reported as "file:line: what is wrong" before
// the server starts and nothing downstream has to re-check it.
//
// Design: yaml-cpp only builds the node tree; every key is walked here against
// an explicit list of allowed keys (unknown and duplicate keys are errors) and
// every scalar is converted by our own strict parsers (no yaml-cpp as<T>, no
// floating point for prices). Any yaml-cpp exception becomes a ConfigError.
// Secrets: api_key values, header values, base_url and proxy may hold or expand
// to credentials, so no error message ever quotes them, only their key names
// and the environment variable names they reference. Other text from the file
// (keys, kinds, numbers) is quoted only when it is short and plain: yaml-cpp
// turns a mistyped "api_key sk-..." line into a key, so a long or spaced token
// is withheld wherever it turns up.
#include "config/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <set>
#include <string_view>
#include <utility>

namespace arbitra::config {
namespace {

// Providers with a well-known endpoint: the default base_url for a provider of
// that name and kind, and where configFromEnvironment finds its key.
struct KnownProvider {
  std::string_view name;
  std::string_view kind;
  std::string_view baseUrl;
  std::string_view keyEnv;
  std::string_view baseUrlEnv;  // "" when the SDK reads none we honour
};

constexpr KnownProvider kKnownProviders[] = {
    {"openai", "openai", "https://api.openai.com/v1", "OPENAI_API_KEY", "OPENAI_BASE_URL"},
    {"anthropic", "anthropic", "https://api.anthropic.com", "ANTHROPIC_API_KEY",
     "ANTHROPIC_BASE_URL"},
    {"groq", "openai", "https://api.groq.com/openai/v1", "GROQ_API_KEY", ""},
    {"together", "openai", "https://api.together.xyz/v1", "TOGETHER_API_KEY", ""},
    {"deepinfra", "openai", "https://api.deepinfra.com/v1/openai", "DEEPINFRA_API_KEY", ""},
    {"fireworks", "openai", "https://api.fireworks.ai/inference/v1", "FIREWORKS_API_KEY", ""},
    {"openrouter", "openai", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY", ""},
    {"mistral", "openai", "https://api.mistral.ai/v1", "MISTRAL_API_KEY", ""},
};

constexpr std::string_view kAnthropicDefaultBaseUrl = "https://api.anthropic.com";

const KnownProvider* findKnown(std::string_view name, std::string_view kind) {
  for (const auto& known : kKnownProviders) {
    if (known.name == name && known.kind == kind) return &known;
  }
  return nullptr;
}

EnvLookup orStdGetenv(const EnvLookup& getenv) {
  if (getenv) return getenv;
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

bool isEnvNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool isEnvNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

bool isEnvName(std::string_view name) {
  if (name.empty() || !isEnvNameStart(name[0])) return false;
  return std::all_of(name.begin(), name.end(), isEnvNameChar);
}

// Keys and other non-secret text quoted in messages: control bytes escaped so a
// message stays one printable line.
std::string quoted(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  out += "'";
  return out;
}

// Text from the file that may appear in a message: short, one plain token.
// Every real API key is longer than this, and a spaced token may be
// "api_key <secret>" run together.
constexpr size_t kMaxShownChars = 24;

bool showable(std::string_view text) {
  if (text.empty() || text.size() > kMaxShownChars) return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("._:/+-").find(c) != std::string_view::npos;
  });
}

// " 'text'" when showable, else "": "unknown key 'x' in ..." / "unknown key in ...".
std::string named(std::string_view text) { return showable(text) ? " " + quoted(text) : ""; }

// " (got 'text')" when showable, else "".
std::string got(std::string_view text) {
  return showable(text) ? " (got " + quoted(text) + ")" : "";
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

bool startsWithNoCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  }
  return true;
}

// What is wrong with `url` as an endpoint, or "" if nothing. Never quotes the URL
// (it may carry credentials). `httpsAllowed` is false for proxies.
std::string urlProblem(std::string_view url, bool httpsAllowed) {
  for (char c : url) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return "must not contain spaces or control characters";
  }
  size_t schemeEnd = 0;
  if (startsWithNoCase(url, "http://")) {
    schemeEnd = 7;
  } else if (httpsAllowed && startsWithNoCase(url, "https://")) {
    schemeEnd = 8;
  } else {
    return httpsAllowed ? "must start with http:// or https://" : "must start with http://";
  }
  std::string_view rest = url.substr(schemeEnd);
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return "must not contain a query (?) or fragment (#)";
  }
  std::string_view authority = rest.substr(0, rest.find('/'));
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  std::string_view host;
  std::string_view afterHost;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return "has an unterminated [IPv6] host";
    host = authority.substr(1, close - 1);
    afterHost = authority.substr(close + 1);
    if (!afterHost.empty() && afterHost[0] != ':') return "has junk after the [IPv6] host";
  } else {
    size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    afterHost = colon == std::string_view::npos ? std::string_view{} : authority.substr(colon);
  }
  if (host.empty()) return "has no host";
  if (!afterHost.empty()) {
    std::string_view port = afterHost.substr(1);
    int value = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc{} || ptr != port.data() + port.size() || value < 1 ||
        value > 65535) {
      return "has an invalid port";
    }
  }
  return "";
}

// Drops trailing slashes; for kind anthropic also a trailing /v1, because the
// anthropic provider appends /v1/messages itself (see ProviderConfig::baseUrl).
std::string normaliseBaseUrl(std::string url, std::string_view kind) {
  size_t schemeEnd = url.find("://");
  size_t minSize = schemeEnd == std::string::npos ? 0 : schemeEnd + 3;
  auto trimSlashes = [&] {
    while (url.size() > minSize && url.back() == '/') url.pop_back();
  };
  trimSlashes();
  if (kind == "anthropic" && url.size() >= minSize + 3 && url.ends_with("/v1")) {
    url.resize(url.size() - 3);
    trimSlashes();
  }
  return url;
}

// "1e-1", "2.5E3": a number in exponent notation, which prices refuse.
bool looksLikeExponent(std::string_view text) {
  size_t e = text.find_first_of("eE");
  if (e == std::string_view::npos || e == 0) return false;
  std::string_view mantissa = text.substr(0, e);
  std::string_view exponent = text.substr(e + 1);
  if (!exponent.empty() && (exponent[0] == '+' || exponent[0] == '-')) exponent.remove_prefix(1);
  auto numeric = [](std::string_view s, std::string_view extra) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) {
      return (c >= '0' && c <= '9') || extra.find(c) != std::string_view::npos;
    });
  };
  return numeric(mantissa, ".+-") && numeric(exponent, "");
}

// Digits with at most one inner dot ("12", "0.5"), whatever their size.
bool isPlainDecimal(std::string_view text, size_t& fractionDigits) {
  size_t dot = text.find('.');
  std::string_view whole = text.substr(0, dot);
  std::string_view fraction = dot == std::string_view::npos ? "" : text.substr(dot + 1);
  auto digits = [](std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  fractionDigits = fraction.size();
  return digits(whole) && (dot == std::string_view::npos || digits(fraction));
}

bool parseBool(std::string_view text, bool& out) {
  std::string lower;
  for (char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "true" || lower == "yes" || lower == "on") {
    out = true;
    return true;
  }
  if (lower == "false" || lower == "no" || lower == "off") {
    out = false;
    return true;
  }
  return false;
}

// One key/value pair of a mapping, with the lines to report against.
struct Entry {
  std::string key;
  YAML::Node value;
  int keyLine = 0;
  int valueLine = 0;  // the key's line when the value has no position (e.g. empty)
};

// Walks one document against the schema; errors carry `name_` and a line.
class Parser {
 public:
  Parser(std::string name, EnvLookup getenv) : name_(std::move(name)), getenv_(std::move(getenv)) {}

  Config parse(const std::string& yaml) {
    Config config;
    config.sourceFile = name_;
    YAML::Node root = YAML::Load(yaml);
    std::vector<Entry> top = entries(root, 1, "the top level");
    checkKeys(top, "the top level", {"server", "providers", "models", "ledger", "cache", "deferred"});
    for (const auto& entry : top) {
      if (entry.key == "server") parseServer(entry, config.server);
      if (entry.key == "ledger") parseLedger(entry, config.ledger);
      if (entry.key == "deferred") parseDeferred(entry, config.deferred);
    }
    // Providers before models: models refer to them wherever the sections appear.
    for (const auto& entry : top) {
      if (entry.key == "providers") parseProviders(entry, config.providers);
    }
    for (const auto& entry : top) {
      if (entry.key == "models") parseModels(entry, config);
    }
    for (const auto& entry : top) {
      if (entry.key == "cache") parseCache(entry, config);
    }
    return config;
  }

  [[noreturn]] void fail(int line, const std::string& message) const {
    if (line > 0) throw ConfigError(name_ + ":" + std::to_string(line) + ": " + message);
    throw ConfigError(name_ + ": " + message);
  }

 private:
  static int lineOf(const YAML::Node& node, int fallback) {
    YAML::Mark mark = node.Mark();
    if (mark.is_null() || mark.line < 0 || node.IsNull()) return fallback;
    return mark.line + 1;
  }

  // The pairs of a mapping in document order; a null node is an empty mapping.
  // Keys must be scalars and must not repeat.
  std::vector<Entry> entries(const YAML::Node& node, int line, const std::string& where) const {
    std::vector<Entry> out;
    if (!node.IsDefined() || node.IsNull()) return out;
    if (!node.IsMap()) fail(lineOf(node, line), where + " must be a mapping");
    std::set<std::string> seen;
    for (const auto& pair : node) {  // a by-value proxy: copy out, never bind it->first
      const YAML::Node key = pair.first;
      Entry entry;
      entry.keyLine = lineOf(key, lineOf(node, line));
      if (!key.IsScalar()) fail(entry.keyLine, "keys in " + where + " must be plain strings");
      entry.key = key.Scalar();
      entry.value = pair.second;
      entry.valueLine = lineOf(entry.value, entry.keyLine);
      if (!seen.insert(entry.key).second) {
        fail(entry.keyLine, "duplicate key" + named(entry.key) + " in " + where);
      }
      out.push_back(std::move(entry));
    }
    return out;
  }

  void checkKeys(const std::vector<Entry>& found, const std::string& where,
                 std::initializer_list<std::string_view> allowed) const {
    for (const auto& entry : found) {
      if (std::find(allowed.begin(), allowed.end(), entry.key) != allowed.end()) continue;
      std::string expected;
      for (auto key : allowed) {
        if (!expected.empty()) expected += ", ";
        expected += key;
      }
      fail(entry.keyLine, "unknown key" + named(entry.key) + " in " + where +
                              " (expected one of: " + expected + ")");
    }
  }

  // The scalar text of a value; `field` names it in errors.
  std::string text(const Entry& entry, const std::string& field) const {
    if (!entry.value.IsDefined() || entry.value.IsNull()) {
      fail(entry.valueLine, field + " needs a value");
    }
    if (!entry.value.IsScalar()) {
      fail(entry.valueLine, field + " must be a single value, not a list or mapping");
    }
    return entry.value.Scalar();
  }

  int64_t integer(const Entry& entry, const std::string& field, int64_t min, int64_t max,
                  const std::string& expected) const {
    std::string value = text(entry, field);
    int64_t out = 0;
    const char* begin = value.data();
    const char* end = begin + value.size();
    auto [ptr, ec] = std::from_chars(begin, end, out);
    if (value.empty() || ec != std::errc{} || ptr != end || out < min || out > max) {
      fail(entry.valueLine, field + " must be " + expected + got(value));
    }
    return out;
  }

  int64_t positive(const Entry& entry, const std::string& field) const {
    return integer(entry, field, 1, std::numeric_limits<int64_t>::max(), "a positive integer");
  }

  bool boolean(const Entry& entry, const std::string& field) const {
    std::string value = text(entry, field);
    bool out = false;
    if (!parseBool(value, out)) {
      fail(entry.valueLine, field + " must be true or false" + got(value));
    }
    return out;
  }

  std::optional<std::string> env(const std::string& variable) const {
    auto value = getenv_(variable);
    if (value && value->empty()) return std::nullopt;  // set but empty counts as unset
    return value;
  }

  // Replaces every ${NAME} in a value that may hold secrets; never quotes it.
  std::string expand(const Entry& entry, const std::string& field) const {
    std::string raw = text(entry, field);
    std::string out;
    size_t pos = 0;
    while (pos < raw.size()) {
      size_t dollar = raw.find("${", pos);
      if (dollar == std::string::npos) break;
      size_t close = raw.find('}', dollar + 2);
      std::string variable =
          close == std::string::npos ? "" : raw.substr(dollar + 2, close - dollar - 2);
      if (!isEnvName(variable)) {
        fail(entry.valueLine, field + " has a malformed ${...} reference; write ${NAME}");
      }
      auto value = env(variable);
      if (!value) {
        fail(entry.valueLine,
             field + " references environment variable " + variable + ", which is not set");
      }
      out.append(raw, pos, dollar - pos);
      out += *value;
      pos = close + 1;
    }
    out.append(raw, pos, std::string::npos);
    return out;
  }

  void parseServer(const Entry& section, ServerConfig& server) const {
    auto found = entries(section.value, section.keyLine, "server");
    checkKeys(found, "server",
              {"host", "port", "threads", "max_header_bytes", "max_body_bytes", "read_timeout_ms",
               "keep_alive_timeout_ms"});
    for (const auto& entry : found) {
      const std::string& key = entry.key;
      if (key == "host") {
        server.host = text(entry, key);
        bool hostOk = !server.host.empty() &&
                      std::none_of(server.host.begin(), server.host.end(), [](char c) {
                        auto u = static_cast<unsigned char>(c);
                        return u <= 0x20 || u == 0x7f;
                      });
        if (!hostOk) fail(entry.valueLine, "host must be a host name or address without spaces");
      } else if (key == "port") {
        server.port = static_cast<uint16_t>(
            integer(entry, key, 0, 65535, "an integer from 0 to 65535 (0: any free port)"));
      } else if (key == "threads") {
        server.threads = static_cast<int>(
            integer(entry, key, 0, 4096, "an integer from 0 to 4096 (0: one per core)"));
      } else if (key == "max_header_bytes") {
        server.maxHeaderBytes = positive(entry, key);
      } else if (key == "max_body_bytes") {
        server.maxBodyBytes = positive(entry, key);
      } else if (key == "read_timeout_ms") {
        server.readTimeoutMs = positive(entry, key);
      } else if (key == "keep_alive_timeout_ms") {
        server.keepAliveTimeoutMs = positive(entry, key);
      }
    }
  }

  void parseLedger(const Entry& section, LedgerConfig& ledger) const {
    ledger.line = section.keyLine;
    auto found = entries(section.value, section.keyLine, "ledger");
    checkKeys(found, "ledger",
              {"enabled", "path", "postgres", "commit_interval_ms", "retention_days", "prices",
               "master_key", "default_max_output_tokens"});
    for (const auto& entry : found) {
      const std::string& key = entry.key;
      if (key == "enabled") {
        std::string value = text(entry, key);
        if (value != "true" && value != "false") fail(entry.valueLine, "enabled must be true or false");
        ledger.enabled = value == "true";
      } else if (key == "path") {
        ledger.path = text(entry, key);
        if (ledger.path.empty()) fail(entry.valueLine, "path must not be empty");
      } else if (key == "postgres") {
        ledger.postgres = expand(entry, key);
      } else if (key == "commit_interval_ms") {
        ledger.commitIntervalMs = integer(entry, key, 1, 10'000, "an integer from 1 to 10000");
      } else if (key == "retention_days") {
        ledger.retentionDays = integer(entry, key, 1, 36'500, "an integer from 1 to 36500");
      } else if (key == "prices") {
        ledger.pricesFile = text(entry, key);
      } else if (key == "master_key") {
        auto [variable, value] = secret(entry, "master_key", "${ARBITRA_MASTER_KEY}");
        ledger.masterKeyEnv = std::move(variable);
        ledger.masterKey = std::move(value);
        if (ledger.masterKey.size() < 16) {
          fail(entry.valueLine, "master_key (from " + ledger.masterKeyEnv + ") must be at least 16 characters");
        }
      } else if (key == "default_max_output_tokens") {
        ledger.defaultMaxOutputTokens = positive(entry, key);
      }
    }
  }

  void parseDeferred(const Entry& section, DeferredConfig& deferred) const {
    deferred.line = section.keyLine;
    auto found = entries(section.value, section.keyLine, "deferred");
    checkKeys(found, "deferred", {"window_ms", "max_batch", "poll_ms"});
    for (const auto& entry : found) {
      const std::string field = "deferred." + entry.key;
      if (entry.key == "window_ms") {
        deferred.windowMs = integer(entry, field, 0, 3'600'000, "an integer from 0 to 3600000");
      } else if (entry.key == "max_batch") {
        deferred.maxBatch = integer(entry, field, 1, 50'000, "an integer from 1 to 50000");
      } else if (entry.key == "poll_ms") {
        deferred.pollMs = integer(entry, field, 10, 3'600'000, "an integer from 10 to 3600000");
      }
    }
  }

  void parseProviders(const Entry& section, std::vector<ProviderConfig>& providers) const {
    for (const auto& entry : entries(section.value, section.keyLine, "providers")) {
      providers.push_back(parseProvider(entry));
    }
  }

  ProviderConfig parseProvider(const Entry& declared) const {
    ProviderConfig provider;
    provider.name = declared.key;
    provider.line = declared.keyLine;
    bool nameOk =
        !provider.name.empty() &&
        std::all_of(provider.name.begin(), provider.name.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
        });
    if (!nameOk) {
      fail(declared.keyLine, "provider name" + named(provider.name) +
                                 " may only contain letters, digits, '_', '-' and '.'");
    }
    const std::string where =
        showable(provider.name) ? "provider " + quoted(provider.name) : std::string("a provider");
    auto found = entries(declared.value, declared.keyLine, where);

    for (const auto& entry : found) {
      if (entry.key != "kind") continue;
      provider.kind = text(entry, "kind");
      if (provider.kind != "openai" && provider.kind != "anthropic" && provider.kind != "local") {
        fail(entry.valueLine, "kind must be openai, anthropic or local" + got(provider.kind));
      }
    }
    if (provider.kind.empty()) {
      fail(declared.keyLine, where + " needs a kind (openai, anthropic or local)");
    }
    if (provider.kind == "local") {
      parseLocal(declared, found, where, provider.local);
      return provider;
    }
    checkKeys(found, where,
              {"kind", "base_url", "api_key", "headers", "proxy", "timeouts", "simulated", "batch"});

    bool hasBaseUrl = false;
    for (const auto& entry : found) {
      const std::string& key = entry.key;
      if (key == "base_url") {
        std::string url = expand(entry, key);
        if (std::string problem = urlProblem(url, true); !problem.empty()) {
          fail(entry.valueLine, "base_url " + problem);
        }
        provider.baseUrl = normaliseBaseUrl(std::move(url), provider.kind);
        hasBaseUrl = true;
      } else if (key == "api_key") {
        parseApiKey(entry, provider);
      } else if (key == "headers") {
        parseHeaders(entry, where, provider.headers);
      } else if (key == "proxy") {
        std::string url = expand(entry, key);
        if (std::string problem = urlProblem(url, false); !problem.empty()) {
          fail(entry.valueLine, "proxy " + problem);
        }
        provider.proxy = std::move(url);
      } else if (key == "timeouts") {
        parseTimeouts(entry, where, provider.timeouts);
      } else if (key == "simulated") {
        provider.simulated = boolean(entry, key);
      } else if (key == "batch") {
        provider.batch = boolean(entry, key);
      }
    }

    if (!hasBaseUrl) {
      if (provider.kind == "anthropic") {
        provider.baseUrl = kAnthropicDefaultBaseUrl;
      } else if (const auto* known = findKnown(provider.name, provider.kind)) {
        provider.baseUrl = known->baseUrl;
      } else if (!provider.simulated) {
        std::vector<std::string> names;
        for (const auto& k : kKnownProviders) {
          if (k.kind == "openai") names.emplace_back(k.name);
        }
        fail(declared.keyLine, where + " needs a base_url (kind openai has a default only for: " +
                                   joined(names) + ")");
      }
    }
    return provider;
  }

  // kind: local (see LocalModelConfig). Paths relative to the config file;
  // the model file must exist (its contents are checked when it is loaded).
  void parseLocal(const Entry& declared, const std::vector<Entry>& found, const std::string& where,
                  LocalModelConfig& local) const {
    checkKeys(found, where,
              {"kind", "model", "draft", "context", "parallel", "threads", "speculation", "draft_tokens",
               "embeddings", "huge_pages", "cost_per_hour", "capex", "lifetime_hours", "watts", "price_per_kwh",
               "hosting_per_month"});
    // (<filesystem> is not used here: its std::quoted clashes with ours.)
    auto pathOf = [&](const Entry& entry) {
      std::string path = expand(entry, entry.key);
      if (!path.empty() && path[0] != '/' && name_.find('/') != std::string::npos) {
        path = name_.substr(0, name_.rfind('/') + 1) + path;
      }
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
        fail(entry.valueLine, entry.key + " file " + path + " does not exist");
      }
      return path;
    };
    bool hasSpeculation = false;
    for (const auto& entry : found) {
      const std::string& key = entry.key;
      if (key == "model") {
        local.model = pathOf(entry);
      } else if (key == "draft") {
        local.draft = pathOf(entry);
      } else if (key == "context") {
        local.contextSize = static_cast<int>(integer(entry, key, 64, 1 << 20, "an integer from 64 to 1048576"));
      } else if (key == "parallel") {
        local.parallel = static_cast<int>(integer(entry, key, 1, 64, "an integer from 1 to 64"));
      } else if (key == "threads") {
        local.threads = static_cast<int>(integer(entry, key, 0, 1024, "an integer from 0 to 1024 (0: one per core)"));
      } else if (key == "speculation") {
        local.speculation = text(entry, key);
        hasSpeculation = true;
        if (local.speculation != "none" && local.speculation != "draft" && local.speculation != "ngram") {
          fail(entry.valueLine, "speculation must be none, draft or ngram" + got(local.speculation));
        }
      } else if (key == "draft_tokens") {
        local.draftTokens = static_cast<int>(integer(entry, key, 1, 32, "an integer from 1 to 32"));
      } else if (key == "embeddings") {
        local.embeddings = boolean(entry, key);
      } else if (key == "huge_pages") {
        local.hugePages = boolean(entry, key);
      } else if (key == "cost_per_hour") {
        local.costPerHourMicros = machineDollars(entry, key, 1'000);
      } else if (key == "capex") {
        local.capexMicros = machineDollars(entry, key, 10'000'000);
      } else if (key == "lifetime_hours") {
        local.lifetimeHours = integer(entry, key, 1, 1'000'000, "an integer from 1 to 1000000 (26280: 3 years)");
      } else if (key == "watts") {
        local.watts = integer(entry, key, 0, 100'000, "an integer from 0 to 100000");
      } else if (key == "price_per_kwh") {
        local.perKwhMicros = machineDollars(entry, key, 10);
      } else if (key == "hosting_per_month") {
        local.hostingPerMonthMicros = machineDollars(entry, key, 100'000);
      }
    }
    auto line = [&](const char* key) {
      for (const auto& e : found) {
        if (e.key == key) return e.keyLine;
      }
      return declared.keyLine;
    };
    if (local.capexMicros > 0 && local.lifetimeHours == 0) {
      fail(line("capex"), where + ": capex needs lifetime_hours (the hours it is amortized over)");
    }
    if (local.lifetimeHours > 0 && local.capexMicros == 0) fail(line("lifetime_hours"), where + ": lifetime_hours needs capex");
    if (local.watts > 0 && local.perKwhMicros == 0) fail(line("watts"), where + ": watts needs price_per_kwh");
    if (local.perKwhMicros > 0 && local.watts == 0) fail(line("price_per_kwh"), where + ": price_per_kwh needs watts");
    if (local.model.empty()) fail(declared.keyLine, where + " (kind local) needs a model: path to a .gguf file");
    if (!hasSpeculation && !local.draft.empty()) local.speculation = "draft";
    if (local.speculation == "draft" && local.draft.empty()) {
      fail(declared.keyLine, where + ": speculation draft needs a draft: model file");
    }
  }

  // A local machine's cost amount: exact dollars, at most `maxDollars`
  // (bounds that keep the cost arithmetic inside 128 bits).
  int64_t machineDollars(const Entry& entry, const std::string& key, int64_t maxDollars) const {
    auto micros = parseMicroDollars(text(entry, key));
    if (!micros || *micros > maxDollars * 1'000'000) {
      fail(entry.valueLine, key + " must be a non-negative decimal number of dollars up to " +
                                std::to_string(maxDollars) + got(text(entry, key)));
    }
    return *micros;
  }

  // api_key: ${NAME} or os.environ/NAME, never the secret itself.
  void parseApiKey(const Entry& entry, ProviderConfig& provider) const {
    if (!entry.value.IsDefined() || entry.value.IsNull()) return;  // explicitly no key
    auto [variable, value] = secret(entry, "api_key", "${OPENAI_API_KEY}");
    provider.apiKeyEnv = std::move(variable);
    provider.apiKey = std::move(value);
  }

  // A secret given as ${NAME} or os.environ/NAME: {variable, value}. Inline
  // secrets and unset variables are errors; the value is never printed.
  std::pair<std::string, std::string> secret(const Entry& entry, const std::string& field,
                                             const std::string& example) const {
    if (!entry.value.IsScalar()) {
      fail(entry.valueLine,
           field + " must be an environment variable reference such as " + example);
    }
    std::string_view raw = entry.value.Scalar();
    std::string variable;
    if (raw.size() > 3 && raw.starts_with("${") && raw.ends_with("}")) {
      variable = raw.substr(2, raw.size() - 3);
    } else if (raw.starts_with("os.environ/")) {
      variable = raw.substr(11);
    }
    if (!isEnvName(variable)) {
      fail(entry.valueLine,
           field + " must reference an environment variable, e.g. " + example + "; inline "
           "secrets are refused");
    }
    auto value = env(variable);
    if (!value) {
      fail(entry.valueLine,
           field + " references environment variable " + variable + ", which is not set");
    }
    return {std::move(variable), std::move(*value)};
  }

  void parseHeaders(const Entry& section, const std::string& where,
                    std::map<std::string, std::string>& headers) const {
    for (const auto& entry : entries(section.value, section.keyLine, where + " headers")) {
      bool tokenOk =
          !entry.key.empty() && std::all_of(entry.key.begin(), entry.key.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) ||
                   std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
          });
      if (!tokenOk) {
        fail(entry.keyLine, "header name" + named(entry.key) + " is not a valid HTTP token");
      }
      std::string field = "headers." + entry.key;
      std::string value = expand(entry, field);
      if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
        fail(entry.valueLine, field + " must not contain line breaks or NUL bytes");
      }
      headers[entry.key] = std::move(value);
    }
  }

  void parseTimeouts(const Entry& section, const std::string& where, Timeouts& timeouts) const {
    const std::string inWhere = where + " timeouts";
    auto found = entries(section.value, section.keyLine, inWhere);
    checkKeys(found, inWhere, {"connect_ms", "first_byte_ms", "idle_ms", "total_ms"});
    for (const auto& entry : found) {
      int64_t value = positive(entry, "timeouts." + entry.key);
      if (entry.key == "connect_ms") timeouts.connectMs = value;
      if (entry.key == "first_byte_ms") timeouts.firstByteMs = value;
      if (entry.key == "idle_ms") timeouts.idleMs = value;
      if (entry.key == "total_ms") timeouts.totalMs = value;
    }
  }

  void parseModels(const Entry& section, Config& config) const {
    for (const auto& entry : entries(section.value, section.keyLine, "models")) {
      ModelConfig model;
      model.name = entry.key;
      if (model.name.empty()) fail(entry.keyLine, "a model name must not be empty");
      const std::string where = "model " + quoted(model.name);
      model.line = entry.keyLine;
      model.routing.line = entry.keyLine;
      if (entry.value.IsMap() && entry.value["deployments"].IsDefined()) {
        parseGroup(entry, where, model, config);
      } else if (entry.value.IsSequence()) {
        if (entry.value.size() == 0) fail(entry.valueLine, where + " has no deployments");
        for (const auto& item : entry.value) {
          model.deployments.push_back(
              parseDeployment(item, lineOf(item, entry.valueLine), where, config));
        }
      } else if (entry.value.IsMap()) {
        model.deployments.push_back(parseDeployment(entry.value, entry.valueLine, where, config));
      } else {
        fail(entry.valueLine, where + " must be a deployment mapping or a list of them");
      }
      config.models.push_back(std::move(model));
    }
    // Fallback groups may be declared after the group naming them.
    for (const auto& model : config.models) {
      for (const auto& fallback : model.routing.fallbacks) {
        if (config.findModel(fallback) == nullptr) {
          fail(model.routing.line, "routing.fallbacks of model " + quoted(model.name) + " names model" +
                                       named(fallback) + ", which is not declared under models");
        }
        if (fallback == model.name) {
          fail(model.routing.line, "routing.fallbacks of model " + quoted(model.name) + " names itself");
        }
      }
    }
  }

  // A model group written as a mapping: {deployments: [...], routing: {...}}.
  void parseGroup(const Entry& entry, const std::string& where, ModelConfig& model, const Config& config) const {
    auto found = entries(entry.value, entry.keyLine, where);
    checkKeys(found, where, {"deployments", "routing"});
    for (const auto& part : found) {
      if (part.key == "deployments") {
        if (!part.value.IsSequence() || part.value.size() == 0) {
          fail(part.valueLine, where + " deployments must be a non-empty list");
        }
        for (const auto& item : part.value) {
          model.deployments.push_back(parseDeployment(item, lineOf(item, part.valueLine), where, config));
        }
      } else if (part.key == "routing") {
        parseRouting(part, where, model.routing);
      }
    }
  }

  void parseRouting(const Entry& section, const std::string& where, RoutingConfig& routing) const {
    const std::string inWhere = where + " routing";
    routing.line = section.keyLine;
    auto found = entries(section.value, section.keyLine, inWhere);
    checkKeys(found, inWhere,
              {"policy", "fallbacks", "retries", "backoff_ms", "max_backoff_ms", "hedge", "max_ttft_ms",
               "min_tokens_per_second", "max_price", "dollars_per_second", "breaker"});
    for (const auto& entry : found) {
      const std::string field = "routing." + entry.key;
      if (entry.key == "policy") {
        routing.policy = text(entry, field);
        routing.policyLine = entry.valueLine;
        if (routing.policy.empty()) fail(entry.valueLine, field + " must not be empty");
      } else if (entry.key == "fallbacks") {
        if (!entry.value.IsSequence()) fail(entry.valueLine, field + " must be a list of model names");
        for (const auto& item : entry.value) {
          if (!item.IsScalar()) fail(lineOf(item, entry.valueLine), field + " must be a list of model names");
          routing.fallbacks.push_back(item.Scalar());
        }
      } else if (entry.key == "retries") {
        routing.retries = integer(entry, field, 0, 10, "an integer from 0 to 10");
      } else if (entry.key == "backoff_ms") {
        routing.backoffMs = integer(entry, field, 0, 60'000, "an integer from 0 to 60000");
      } else if (entry.key == "max_backoff_ms") {
        routing.maxBackoffMs = integer(entry, field, 0, 600'000, "an integer from 0 to 600000");
      } else if (entry.key == "hedge") {
        routing.hedge = boolean(entry, field);
      } else if (entry.key == "max_ttft_ms") {
        routing.maxTtftMs = positive(entry, field);
      } else if (entry.key == "min_tokens_per_second") {
        routing.minTokensPerSecond = positive(entry, field);
      } else if (entry.key == "max_price") {
        routing.maxPricePerMillion = dollars(entry, field);
      } else if (entry.key == "dollars_per_second") {
        routing.microDollarsPerSecond = dollars(entry, field);
      } else if (entry.key == "breaker") {
        auto parts = entries(entry.value, entry.keyLine, inWhere + " breaker");
        checkKeys(parts, inWhere + " breaker", {"failures", "open_ms"});
        for (const auto& part : parts) {
          if (part.key == "failures") routing.breakerFailures = integer(part, "breaker.failures", 1, 1000, "an integer from 1 to 1000");
          if (part.key == "open_ms") routing.breakerOpenMs = positive(part, "breaker.open_ms");
        }
      }
    }
  }

  DeploymentConfig parseDeployment(const YAML::Node& node, int line, const std::string& where,
                                   const Config& config) const {
    if (!node.IsMap()) fail(line, "each deployment of " + where + " must be a mapping");
    DeploymentConfig deployment;
    deployment.line = line;
    const std::string inWhere = "a deployment of " + where;
    auto found = entries(node, line, inWhere);
    checkKeys(found, inWhere, {"provider", "model", "price", "context_window", "rpm", "tpm", "weight"});
    bool hasProvider = false;
    bool hasModel = false;
    for (const auto& entry : found) {
      const std::string& key = entry.key;
      if (key == "provider") {
        deployment.provider = text(entry, key);
        hasProvider = true;
        if (config.findProvider(deployment.provider) == nullptr) {
          std::vector<std::string> declared;
          for (const auto& p : config.providers) declared.push_back(p.name);
          fail(entry.valueLine, "provider" + named(deployment.provider) +
                                    " is not declared under providers (" +
                                    (declared.empty() ? std::string("none are declared")
                                                      : "declared: " + joined(declared)) +
                                    ")");
        }
      } else if (key == "model") {
        deployment.upstreamModel = text(entry, key);
        hasModel = true;
        if (deployment.upstreamModel.empty()) fail(entry.valueLine, "model must not be empty");
      } else if (key == "price") {
        parsePrice(entry, where, deployment.price);
      } else if (key == "context_window") {
        deployment.contextWindow = positive(entry, key);
      } else if (key == "rpm") {
        deployment.rpm = positive(entry, key);
      } else if (key == "tpm") {
        deployment.tpm = positive(entry, key);
      } else if (key == "weight") {
        deployment.weight = integer(entry, key, 0, 1'000'000, "an integer from 0 to 1000000");
      }
    }
    if (!hasProvider) fail(line, inWhere + " needs a provider");
    if (!hasModel) fail(line, inWhere + " needs a model (the upstream model id)");
    return deployment;
  }

  int64_t dollars(const Entry& entry, const std::string& field) const {
    std::string value = text(entry, field);
    if (auto micros = parseMicroDollars(value)) return *micros;
    const std::string gotText = got(value);
    if (value.starts_with("-") && parseMicroDollars(value.substr(1))) {
      fail(entry.valueLine, field + " must not be negative" + gotText);
    }
    if (looksLikeExponent(value)) {
      fail(entry.valueLine,
           field + " must be a plain decimal without an exponent, e.g. 0.15" + gotText);
    }
    if (size_t fractionDigits = 0; isPlainDecimal(value, fractionDigits)) {
      if (fractionDigits > 6) {
        fail(entry.valueLine, field +
                                  " has more than 6 decimal places; prices are exact to one "
                                  "micro-dollar per million tokens" +
                                  gotText);
      }
      fail(entry.valueLine, field + " is too large" + gotText);
    }
    fail(entry.valueLine,
         field + " must be a decimal number of dollars per million tokens, e.g. 0.15" + gotText);
  }

  // price: dollars per million tokens. input and output are required; the cache
  // prices default to the input price (no discount assumed, never under-billed).
  // Optional: reasoning (billed apart), batch_input + batch_output (batch API),
  // long_context { above: TOKENS, input, output, cached_input, cache_write }.
  void parsePrice(const Entry& section, const std::string& where, Price& price) const {
    if (section.value.IsNull()) return;  // "price:" with nothing: unknown
    const std::string inWhere = "the price of " + where;
    auto found = entries(section.value, section.keyLine, inWhere);
    checkKeys(found, inWhere, {"input", "output", "cached_input", "cache_write", "reasoning",
                               "batch_input", "batch_output", "long_context"});
    std::optional<int64_t> cached, write;
    bool hasInput = false, hasOutput = false;
    for (const auto& entry : found) {
      if (entry.key == "long_context") {
        price.longContext = parseTier(entry, inWhere);
        continue;
      }
      int64_t value = dollars(entry, "price." + entry.key);
      if (entry.key == "input") price.inputPerMillion = value, hasInput = true;
      if (entry.key == "output") price.outputPerMillion = value, hasOutput = true;
      if (entry.key == "cached_input") cached = value;
      if (entry.key == "cache_write") write = value;
      if (entry.key == "reasoning") price.reasoningPerMillion = value;
      if (entry.key == "batch_input") price.batchInputPerMillion = value;
      if (entry.key == "batch_output") price.batchOutputPerMillion = value;
    }
    if (!hasInput) fail(section.keyLine, "price needs input (dollars per million input tokens)");
    if (!hasOutput) fail(section.keyLine, "price needs output (dollars per million output tokens)");
    if (price.batchInputPerMillion.has_value() != price.batchOutputPerMillion.has_value()) {
      fail(section.keyLine, "price needs both batch_input and batch_output, or neither");
    }
    price.cachedInputPerMillion = cached.value_or(price.inputPerMillion);
    price.cacheWritePerMillion = write.value_or(price.inputPerMillion);
    price.known = true;
    price.source = name_ + ":" + std::to_string(section.keyLine);
  }

  LongContextTier parseTier(const Entry& section, const std::string& where) const {
    const std::string inWhere = "long_context of " + where;
    auto found = entries(section.value, section.keyLine, inWhere);
    checkKeys(found, inWhere, {"above", "input", "output", "cached_input", "cache_write"});
    LongContextTier tier;
    std::optional<int64_t> input, output, cached, write;
    for (const auto& entry : found) {
      if (entry.key == "above") {
        tier.aboveInputTokens = positive(entry, "long_context.above");
        continue;
      }
      int64_t value = dollars(entry, "long_context." + entry.key);
      if (entry.key == "input") input = value;
      if (entry.key == "output") output = value;
      if (entry.key == "cached_input") cached = value;
      if (entry.key == "cache_write") write = value;
    }
    if (tier.aboveInputTokens == 0) fail(section.keyLine, "long_context needs above (input tokens)");
    if (!input || !output) fail(section.keyLine, "long_context needs input and output");
    tier.rates = {*input, *output, cached.value_or(*input), write.value_or(*input)};
    return tier;
  }


  // ---- cache: (src/cache/) -------------------------------------------------

  double fraction(const Entry& entry, const std::string& field, double low, double high) const {
    std::string value = text(entry, field);
    char* end = nullptr;
    double number = std::strtod(value.c_str(), &end);
    if (value.empty() || end != value.c_str() + value.size() || !(number >= low && number <= high)) {
      fail(entry.valueLine, field + " must be a number from " + std::to_string(low).substr(0, 3) + " to " +
                                std::to_string(high).substr(0, 3) + got(value));
    }
    return number;
  }

  CacheGroupConfig parseCacheGroup(const Entry& section, const std::string& where, CacheGroupConfig group) const {
    group.line = section.keyLine;
    auto found = entries(section.value, section.keyLine, where);
    checkKeys(found, where, {"mode", "shared", "ttl_s", "max_temperature", "threshold", "delta",
                             "verify_fraction", "learn", "tools"});
    for (const auto& entry : found) {
      const std::string& key = entry.key;
      if (key == "mode") {
        group.mode = text(entry, key);
        if (group.mode != "off" && group.mode != "exact" && group.mode != "semantic") {
          fail(entry.valueLine, "cache mode must be off, exact or semantic" + got(group.mode));
        }
      } else if (key == "shared") {
        group.shared = boolean(entry, key);
      } else if (key == "ttl_s") {
        group.ttlSeconds = positive(entry, key);
      } else if (key == "max_temperature") {
        group.maxTemperature = fraction(entry, key, 0, 2);
      } else if (key == "threshold") {
        group.threshold = fraction(entry, key, 0, 1);
      } else if (key == "delta") {
        group.delta = fraction(entry, key, 0, 1);
        if (group.delta <= 0) fail(entry.valueLine, "delta must be above 0 (an error bound, e.g. 0.01)");
      } else if (key == "verify_fraction") {
        group.verifyFraction = fraction(entry, key, 0, 1);
      } else if (key == "learn") {
        group.learn = boolean(entry, key);
      } else if (key == "tools") {
        group.tools = boolean(entry, key);
      }
    }
    return group;
  }

  void parseCache(const Entry& section, Config& config) const {
    CacheConfig& cache = config.cache;
    cache.enabled = true;
    cache.line = section.keyLine;
    auto found = entries(section.value, section.keyLine, "cache");
    checkKeys(found, "cache", {"max_bytes", "snapshot", "snapshot_interval_s", "ef_search", "embedder", "default", "models"});
    for (const auto& entry : found) {  // default first: listed groups start from it
      if (entry.key == "default") cache.defaults = parseCacheGroup(entry, "cache default", cache.defaults);
    }
    for (const auto& entry : found) {
      const std::string& key = entry.key;
      if (key == "max_bytes") {
        cache.maxBytes = positive(entry, key);
      } else if (key == "snapshot") {
        cache.snapshotPath = text(entry, key);
      } else if (key == "snapshot_interval_s") {
        cache.snapshotIntervalSeconds = positive(entry, key);
      } else if (key == "ef_search") {
        cache.efSearch = static_cast<int>(integer(entry, key, 1, 4096, "an integer from 1 to 4096"));
      } else if (key == "embedder") {
        auto fields = entries(entry.value, entry.keyLine, "cache embedder");
        checkKeys(fields, "cache embedder", {"kind", "model", "word_vectors", "threads", "queue"});
        for (const auto& field : fields) {
          if (field.key == "kind") {
            cache.embedder = text(field, "embedder.kind");
            if (cache.embedder != "ngram" && cache.embedder != "words" && cache.embedder != "deployment" &&
                cache.embedder != "local") {
              fail(field.valueLine, "embedder.kind must be ngram, words, deployment or local" + got(cache.embedder));
            }
          }
          if (field.key == "model") cache.embedderModel = text(field, "embedder.model");
          if (field.key == "word_vectors") cache.wordVectors = text(field, "embedder.word_vectors");
          if (field.key == "threads") cache.embedThreads = static_cast<int>(integer(field, "embedder.threads", 1, 64, "from 1 to 64"));
          if (field.key == "queue") cache.embedQueue = static_cast<int>(integer(field, "embedder.queue", 1, 1 << 20, "from 1 to 1048576"));
        }
        if (cache.embedder == "deployment" && cache.embedderModel.empty()) {
          fail(entry.keyLine, "embedder kind deployment needs a model (a model name that serves /v1/embeddings)");
        }
        if (cache.embedder == "local") {
          // A GGUF embedding model served by the edge engine; relative to this file.
          if (cache.embedderModel.empty()) fail(entry.keyLine, "embedder kind local needs a model (a .gguf file)");
          if (cache.embedderModel[0] != '/' && name_.find('/') != std::string::npos) {
            cache.embedderModel = name_.substr(0, name_.rfind('/') + 1) + cache.embedderModel;
          }
          struct stat st {};
          if (::stat(cache.embedderModel.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
            fail(entry.keyLine, "embedder model file " + cache.embedderModel + " does not exist");
          }
        }
        if (cache.embedder == "words" && cache.wordVectors.empty()) {
          fail(entry.keyLine, "embedder kind words needs word_vectors (the file scripts/fetch_word_vectors.sh writes)");
        }
      } else if (key == "models") {
        for (const auto& group : entries(entry.value, entry.keyLine, "cache models")) {
          if (config.findModel(group.key) == nullptr && group.key.find('/') == std::string::npos) {
            fail(group.keyLine, "cache: model" + named(group.key) + " is not declared under models");
          }
          cache.models[group.key] = parseCacheGroup(group, "cache model" + named(group.key), cache.defaults);
        }
      }
    }
  }

  std::string name_;
  EnvLookup getenv_;
};

}  // namespace

const ProviderConfig* Config::findProvider(const std::string& name) const {
  for (const auto& provider : providers) {
    if (provider.name == name) return &provider;
  }
  return nullptr;
}

const ModelConfig* Config::findModel(const std::string& name) const {
  for (const auto& model : models) {
    if (model.name == name) return &model;
  }
  return nullptr;
}

Config parseConfig(const std::string& yaml, const std::string& name, const EnvLookup& getenv) {
  Parser parser(name, orStdGetenv(getenv));
  try {
    return parser.parse(yaml);
  } catch (const YAML::Exception& e) {
    // Parser messages name the construct, never the scalar text around it.
    std::string message = "invalid YAML: " + e.msg;
    bool inFlow =
        e.msg == YAML::ErrorMsg::END_OF_MAP_FLOW || e.msg == YAML::ErrorMsg::END_OF_SEQ_FLOW;
    if (inFlow && yaml.find("${") != std::string::npos) {
      message += " (inside { } or [ ], quote ${VAR} references: \"${VAR}\")";
    }
    parser.fail(e.mark.is_null() ? 0 : e.mark.line + 1, message);
  }
}

Config loadConfigFile(const std::string& path, const EnvLookup& getenv) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw ConfigError(path + ": cannot read: " + std::strerror(errno));
  std::string text;
  char buffer[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int error = errno;
      ::close(fd);
      throw ConfigError(path + ": cannot read: " + std::strerror(error));
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return parseConfig(text, path, getenv);
}

Config configFromEnvironment(const EnvLookup& getenv) {
  EnvLookup lookup = orStdGetenv(getenv);
  auto env = [&](std::string_view variable) -> std::optional<std::string> {
    if (variable.empty()) return std::nullopt;
    auto value = lookup(std::string(variable));
    if (value && value->empty()) return std::nullopt;
    return value;
  };
  Config config;
  for (const auto& known : kKnownProviders) {
    auto key = env(known.keyEnv);
    auto baseUrl = env(known.baseUrlEnv);
    if (!key && !baseUrl) continue;
    ProviderConfig provider;
    provider.name = known.name;
    provider.kind = known.kind;
    if (baseUrl) {
      if (std::string problem = urlProblem(*baseUrl, true); !problem.empty()) {
        throw ConfigError("environment: " + std::string(known.baseUrlEnv) + " " + problem);
      }
      provider.baseUrl = normaliseBaseUrl(*baseUrl, known.kind);
    } else {
      provider.baseUrl = known.baseUrl;
    }
    if (key) {
      provider.apiKeyEnv = known.keyEnv;
      provider.apiKey = std::move(*key);
    }
    config.providers.push_back(std::move(provider));
  }
  return config;
}

std::optional<int64_t> parseMicroDollars(const std::string& text) {
  constexpr int kFractionDigits = 6;
  size_t dot = text.find('.');
  std::string_view whole = std::string_view(text).substr(0, dot);
  std::string_view fraction =
      dot == std::string::npos ? std::string_view{} : std::string_view(text).substr(dot + 1);
  auto allDigits = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (whole.empty() || !allDigits(whole)) return std::nullopt;
  if (dot != std::string::npos &&
      (fraction.empty() || fraction.size() > kFractionDigits || !allDigits(fraction))) {
    return std::nullopt;
  }
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  int64_t value = 0;
  for (char c : whole) {
    int digit = c - '0';
    if (value > (kMax - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  if (value > kMax / 1'000'000) return std::nullopt;
  value *= 1'000'000;
  int64_t micros = 0;
  int64_t scale = 100'000;
  for (char c : fraction) {
    micros += (c - '0') * scale;
    scale /= 10;
  }
  if (value > kMax - micros) return std::nullopt;
  return value + micros;
}

}  // namespace arbitra::config
