// Gateway configuration: the YAML schema, its validation, and the
// no-config-file mode that detects providers from the environment.
//
// Guarantees: every validation error names `file:line: what is wrong` and is
// raised before the server starts (ConfigError). Secrets are only ever given as
// environment-variable references (`api_key: ${OPENAI_API_KEY}`); the resolved
// value lives in ProviderConfig::apiKey and nothing in this module prints it.
//
//   server:   { host: 127.0.0.1, port: 8080, threads: 2, max_body_bytes: 33554432 }
//   providers:
//     openai: { kind: openai, base_url: https://api.openai.com/v1, api_key: "${OPENAI_API_KEY}" }
//   models:
//     gpt-4o-mini:
//       - provider: openai
//         model: gpt-4o-mini-2024-07-18
//         price: { input: 0.15, output: 0.60, cached_input: 0.075 }   # $ per million tokens
//         context_window: 128000
//
// Keys: server {host, port (0: any free port), threads (0: one per core),
// max_header_bytes, max_body_bytes, read_timeout_ms, keep_alive_timeout_ms};
// providers.<name> {kind (required: openai|anthropic|local), base_url, api_key,
// headers, proxy, timeouts {connect_ms, first_byte_ms, idle_ms, total_ms},
// simulated, batch} (kind local: the keys of LocalModelConfig below); deferred {window_ms, max_batch, poll_ms};
// models.<public name>: one deployment or a list of them, each
// {provider, model, price {input, output, cached_input, cache_write},
// context_window, rpm, tpm, weight}, or a mapping {deployments: [...],
// routing: {...}} (RoutingConfig below). Unknown or repeated keys are errors;
// an empty file is the default config.
//
// api_key is `${NAME}` or `os.environ/NAME` (LiteLLM style); the variable must
// be set. base_url, proxy and header values may contain ${NAME} references.
// Inside { } or [ ] YAML needs them quoted: { api_key: "${NAME}" }.
//
// base_url convention (the same here and in configFromEnvironment):
//   kind openai:    includes the version, e.g. https://api.openai.com/v1; the
//                   provider appends /chat/completions.
//   kind anthropic: the host root as the Anthropic SDK takes it, e.g.
//                   https://api.anthropic.com (a trailing /v1 is removed); the
//                   provider appends /v1/messages.
// Trailing slashes are removed. Default base_url: anthropic for kind anthropic;
// for kind openai only a known provider name (openai, groq, together,
// deepinfra, fireworks, openrouter, mistral) has one, others must give it
// (unless simulated).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace arbitra::config {

// A validation failure; what() is "file:line: message".
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Timeouts {
  int64_t connectMs = 5'000;
  int64_t firstByteMs = 120'000;  // request sent -> first response byte
  int64_t idleMs = 60'000;        // between two body chunks
  int64_t totalMs = 600'000;      // whole exchange

  bool operator==(const Timeouts&) const = default;
};

struct ServerConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  int threads = 0;                         // 0: one per core
  int64_t maxHeaderBytes = 16 * 1024;
  int64_t maxBodyBytes = 32 * 1024 * 1024;
  int64_t readTimeoutMs = 30'000;          // a client must send its whole request within this
  int64_t keepAliveTimeoutMs = 75'000;     // idle keep-alive connections are closed after this
  bool allowPublicWithoutKeys = false;     // --allow-public: bind non-loopback without client keys
};

// kind: local — a GGUF model served in process by the edge engine.
//   local: { kind: local, model: models/m.gguf, context: 4096, parallel: 4, threads: 0,
//            draft: models/d.gguf, speculation: none|draft|ngram, draft_tokens: 8,
//            embeddings: true, huge_pages: true, cost_per_hour: 0.35,
//            capex: 1500, lifetime_hours: 26280, watts: 200, price_per_kwh: 0.15,
//            hosting_per_month: 20 }
// Relative paths are relative to the config file. The machine's cost per
// hour = cost_per_hour + capex / lifetime_hours + watts / 1000 × price_per_kwh
// + hosting_per_month / 730 (each optional; amounts are exact $ stored as
// micro-dollars); over the engine's measured throughput it gives the cost per
// token (engine/machine_cost.h).
struct LocalModelConfig {
  std::string model;
  std::string draft;
  int contextSize = 4096;
  int parallel = 4;
  int threads = 0;
  std::string speculation = "none";  // none | draft | ngram (draft when `draft` is set)
  int draftTokens = 8;
  bool embeddings = true;
  bool hugePages = true;              // huge_pages: weights in memory advised for 2 MiB pages (else mmap)
  int64_t costPerHourMicros = 0;
  int64_t capexMicros = 0;            // capex (with lifetime_hours)
  int64_t lifetimeHours = 0;          // lifetime_hours
  int64_t watts = 0;                  // watts (with price_per_kwh)
  int64_t perKwhMicros = 0;           // price_per_kwh
  int64_t hostingPerMonthMicros = 0;  // hosting_per_month

  bool operator==(const LocalModelConfig&) const = default;
};

struct ProviderConfig {
  std::string name;       // the key under `providers:`
  std::string kind;       // registered provider kind: "openai" or "anthropic"
  std::string baseUrl;    // https://api.openai.com/v1, https://api.anthropic.com (see above)
  std::string apiKeyEnv;  // the environment variable the key came from ("" if none)
  std::string apiKey;     // the secret itself: never log, never echo
  std::map<std::string, std::string> headers;  // extra headers sent upstream
  std::string proxy;      // optional http://host:port egress proxy
  Timeouts timeouts;
  bool simulated = false;  // served by the built-in provider simulator
  bool batch = false;      // deferred requests go through its batch API (OpenAI
                           // /v1/batches, Anthropic message batches), for its discount
  LocalModelConfig local;  // kind local only
  int line = 0;            // where it was declared, for later errors

  // Every field, `line` included (a reload compares settings with lines zeroed).
  bool operator==(const ProviderConfig&) const = default;
};

// Prices in micro-dollars per million tokens, which is the same number as
// pico-dollars per token: exact integers, no floating point. In the file a
// price needs input and output; cached_input and cache_write default to the
// input price (no discount is assumed). The same shape comes from the price
// catalog (data/prices.yaml, src/ledger/catalog.h) for deployments whose
// config gives no price.
struct PriceRates {
  int64_t inputPerMillion = 0;
  int64_t outputPerMillion = 0;
  int64_t cachedInputPerMillion = 0;
  int64_t cacheWritePerMillion = 0;
};

// Above `aboveInputTokens` input tokens, the whole request is billed at these
// rates (Anthropic's and Google's long-context pricing).
struct LongContextTier {
  int64_t aboveInputTokens = 0;
  PriceRates rates;
};

struct Price {
  int64_t inputPerMillion = 0;
  int64_t outputPerMillion = 0;
  int64_t cachedInputPerMillion = 0;
  int64_t cacheWritePerMillion = 0;
  std::optional<int64_t> reasoningPerMillion;  // reasoning tokens billed apart; else at output
  std::optional<LongContextTier> longContext;
  std::optional<int64_t> batchInputPerMillion;   // the provider's batch-API prices
  std::optional<int64_t> batchOutputPerMillion;
  bool known = false;  // false: no price configured for this deployment
  std::string source;  // "file:line" of the config, or the catalog row's source and date

  PriceRates base() const {
    return {inputPerMillion, outputPerMillion, cachedInputPerMillion, cacheWritePerMillion};
  }
};

struct DeploymentConfig {
  std::string provider;       // a ProviderConfig::name
  std::string upstreamModel;  // the model id sent upstream
  Price price;
  int64_t contextWindow = 0;  // 0: unknown
  int64_t rpm = 0;            // requests per minute the provider allows (0: no limit known)
  int64_t tpm = 0;            // tokens per minute (input + max output) it allows (0: none known)
  int64_t weight = 1;         // share of traffic under the `weighted` policy
  int line = 0;
};

// How a model group picks among its deployments (src/router/). In the file:
//   models:
//     llama-70b:
//       deployments: [ ... ]
//       routing: { policy: cost, fallbacks: [llama-405b], retries: 2, backoff_ms: 100,
//                  hedge: true, max_ttft_ms: 1500, min_tokens_per_second: 20,
//                  max_price: 1.00, dollars_per_second: 0.0001,
//                  breaker: { failures: 5, open_ms: 5000 } }
// The policy name is checked against the router's registry at start-up
// (router::Router throws ConfigError naming policyLine).
struct RoutingConfig {
  std::string policy = "priority";     // default: the order written, first preferred
  int policyLine = 0;
  std::vector<std::string> fallbacks;  // other model groups, tried after this one
  int64_t retries = 2;                 // attempts after the first, across deployments
  int64_t backoffMs = 100;             // base of the full-jitter exponential backoff
  int64_t maxBackoffMs = 2'000;
  bool hedge = false;                  // second request after the first's predicted p95 TTFT
  int64_t maxTtftMs = 0;               // default bars (0: none); requests may override
  int64_t minTokensPerSecond = 0;
  int64_t maxPricePerMillion = 0;      // micro-dollars per million tokens (0: none)
  int64_t microDollarsPerSecond = 0;   // `balanced`: what one second of waiting is worth
  int64_t breakerFailures = 5;         // consecutive failures that open the breaker
  int64_t breakerOpenMs = 5'000;       // first open period; doubles while probes fail, up to 4x
  int line = 0;
};

struct ModelConfig {
  std::string name;  // public model name
  std::vector<DeploymentConfig> deployments;
  RoutingConfig routing;
  int line = 0;
};

// The ledger (src/ledger/): where records go and how they are kept.
//   ledger: { path: arbitra.db, commit_interval_ms: 50, retention_days: 90,
//             prices: data/prices.yaml, master_key: "${ARBITRA_MASTER_KEY}" }
struct LedgerConfig {
  bool enabled = true;
  std::string path = "arbitra.db";  // SQLite file (WAL mode)
  std::string postgres;             // libpq connection string: the scale-out store instead
  int64_t commitIntervalMs = 50;    // group-commit window: at most this much is lost on kill -9
  int64_t retentionDays = 90;       // raw records older than this are rolled up per day
  std::string pricesFile;           // "" = the catalog built into the binary
  std::string masterKeyEnv;         // admin API key, from an environment variable
  std::string masterKey;            // the secret itself: never log
  int64_t defaultMaxOutputTokens = 4096;  // budget reservation when a request has no max_tokens
  int line = 0;
};

// Response cache (src/cache/), per model group. Parsed from the top-level
// `cache:` section:
//   cache:
//     max_bytes: 268435456          # memory bound of the whole cache
//     snapshot: /var/lib/arbitra/cache.snap
//     snapshot_interval_s: 300
//     embedder: { kind: ngram | words | deployment | local, model: NAME, word_vectors: PATH,
//                 threads: 1, queue: 256 }
//     default: { mode: exact, ... }   # groups not listed below
//     models:
//       fast: { mode: semantic, shared: false, ttl_s: 3600, max_temperature: 0,
//               threshold: 0.92, delta: 0.01, verify_fraction: 0.05, learn: true,
//               tools: false }
// With no `cache:` section the cache is off.
struct CacheGroupConfig {
  std::string mode = "exact";              // off | exact | semantic
  bool shared = false;                     // entries shared across tenants/keys
  int64_t ttlSeconds = 3600;
  std::optional<double> maxTemperature;    // serve/store only at or below it (absent = 1.0)
  std::optional<double> threshold;         // static similarity threshold (default: the embedder's)
  double delta = 0.01;                     // error bound for learned thresholds
  double verifyFraction = 0.05;            // share of would-be hits also sent upstream
  bool learn = true;                       // per-entry learned thresholds
  bool tools = false;                      // semantic hits for tool results / tool-call answers
  int line = 0;
};

struct CacheConfig {
  bool enabled = false;  // a `cache:` section exists
  int64_t maxBytes = 256LL * 1024 * 1024;
  std::string snapshotPath;
  int64_t snapshotIntervalSeconds = 300;
  std::string embedder = "ngram";  // ngram | words | deployment | local
  std::string embedderModel;       // deployment: the public model serving /v1/embeddings; local: a .gguf file (resolved against the config file)
  std::string wordVectors;         // words: the converted vectors (scripts/fetch_word_vectors.sh)
  int embedThreads = 1;
  int embedQueue = 256;
  int efSearch = 0;  // ef_search: the semantic index's search effort (0: the index's default)
  CacheGroupConfig defaults;
  std::map<std::string, CacheGroupConfig> models;
  int line = 0;
};

// Deferred requests sent to a provider's batch API (providers with `batch: true`):
//   deferred: { window_ms: 1000, max_batch: 1000, poll_ms: 5000 }
// Jobs for one provider are collected for window_ms (or until max_batch of
// them wait), submitted as one batch, and the batch is polled every poll_ms.
struct DeferredConfig {
  int64_t windowMs = 1'000;
  int64_t maxBatch = 1'000;  // OpenAI takes up to 50,000 requests a batch, Anthropic 100,000
  int64_t pollMs = 5'000;
  int line = 0;
};

struct Config {
  std::string sourceFile;  // "" when built from the environment
  ServerConfig server;
  LedgerConfig ledger;
  DeferredConfig deferred;
  std::vector<ProviderConfig> providers;
  std::vector<ModelConfig> models;
  CacheConfig cache;
  // Providers whose models are addressed as "<provider>/<upstream id>" without a
  // models: entry (LiteLLM-style), e.g. "openai/gpt-4o-mini".
  bool prefixRouting = true;

  const ProviderConfig* findProvider(const std::string& name) const;
  const ModelConfig* findModel(const std::string& name) const;
};

// Reads and validates a YAML file. Throws ConfigError ("file:line: ...").
// `getenv` resolves ${VAR} references (defaults to std::getenv).
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
Config loadConfigFile(const std::string& path, const EnvLookup& getenv = {});
// Same, from text; `name` stands for the file name in errors.
Config parseConfig(const std::string& yaml, const std::string& name, const EnvLookup& getenv = {});

// No config file: providers from the environment as the official SDKs read it
// (OPENAI_API_KEY/OPENAI_BASE_URL, ANTHROPIC_API_KEY/ANTHROPIC_BASE_URL, and
// GROQ_, TOGETHER_, DEEPINFRA_, FIREWORKS_, OPENROUTER_, MISTRAL_ API keys).
// A *_BASE_URL without its key (a local vLLM or Ollama) also makes a provider,
// with an empty key. Empty variables count as unset. Returns a config with no
// providers when none is found; a malformed *_BASE_URL throws ConfigError.
Config configFromEnvironment(const EnvLookup& getenv = {});

// "0.15" -> 150000 (micro-dollars per million tokens). Exact decimal parsing;
// nullopt for anything that is not a non-negative decimal with <= 6 fraction digits
// (no sign, no exponent, no leading or trailing dot), or that overflows int64.
std::optional<int64_t> parseMicroDollars(const std::string& text);

}  // namespace arbitra::config
