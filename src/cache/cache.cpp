// The cache's decisions (see cache.h): scope and keys, exact then semantic
// lookup, learned thresholds, storing, counters.
#include "cache/cache.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>

#include "core/log.h"

namespace arbitra::cache {

struct Cache::Counters {
  std::atomic<uint64_t> lookups{0}, hitsExact{0}, hitsSemantic{0}, misses{0};
  std::atomic<uint64_t> verifications{0}, verifiedWrong{0}, probes{0}, probesSame{0}, stores{0};
  std::atomic<int64_t> savedPico{0};
};

namespace {

Mode modeOf(const std::string& text) {
  if (text == "semantic") return Mode::Semantic;
  if (text == "exact") return Mode::Exact;
  return Mode::Off;
}

GroupPolicy policyOf(const config::CacheGroupConfig& c, double embedderThreshold) {
  GroupPolicy p;
  p.mode = modeOf(c.mode);
  p.shared = c.shared;
  p.ttlSeconds = c.ttlSeconds;
  p.maxTemperature = c.maxTemperature.value_or(2.0);
  p.tools = c.tools;
  p.threshold.staticThreshold = c.threshold.value_or(embedderThreshold);
  p.threshold.delta = c.delta;
  p.threshold.verifyFraction = c.verifyFraction;
  p.threshold.learn = c.learn;
  return p;
}

// splitmix64: the verification draw for the n-th lookup, uniform in [0, 1).
double draw(uint64_t seed, uint64_t n) {
  uint64_t z = seed + n * 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return double(z >> 11) * 0x1.0p-53;
}

std::string normalizeText(std::string_view text) {
  std::string out;
  bool space = false;
  for (unsigned char c : text) {
    if (std::isspace(c)) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += static_cast<char>(std::tolower(c));
  }
  return out;
}

}  // namespace

CacheOptions optionsFromConfig(const config::CacheConfig& config, double embedderThreshold) {
  CacheOptions o;
  o.maxBytes = static_cast<size_t>(config.maxBytes);
  o.snapshotPath = config.snapshotPath;
  o.snapshotIntervalSeconds = config.snapshotIntervalSeconds;
  if (config.efSearch > 0) o.index.efSearch = static_cast<size_t>(config.efSearch);
  if (config.enabled) o.defaults = policyOf(config.defaults, embedderThreshold);
  for (const auto& [name, group] : config.models) o.groups[name] = policyOf(group, embedderThreshold);
  return o;
}

core::Result<Control> parseControl(std::string_view text) {
  Control control;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string item = normalizeText(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    if (item.empty()) continue;
    if (item == "no-cache") {
      control.noCache = true;
    } else if (item == "no-store") {
      control.noStore = true;
    } else if (item.rfind("ttl=", 0) == 0) {
      int64_t ttl = 0;
      auto [ptr, ec] = std::from_chars(item.data() + 4, item.data() + item.size(), ttl);
      if (ec != std::errc{} || ptr != item.data() + item.size() || ttl <= 0) {
        return core::makeError(core::ErrorKind::InvalidRequest, "x-arbitra-cache: ttl must be a positive number of seconds");
      }
      control.ttlSeconds = ttl;
    } else {
      return core::makeError(core::ErrorKind::InvalidRequest,
                             "x-arbitra-cache: expected no-cache, no-store or ttl=SECONDS (comma-separated)");
    }
  }
  return control;
}

std::string Lookup::header() const {
  char text[96];
  switch (kind) {
    case Kind::Bypass: return "";
    case Kind::Miss: return "miss";
    case Kind::HitExact: return "hit-exact";
    case Kind::HitSemantic:
      std::snprintf(text, sizeof text, "hit-semantic; sim=%.3f; threshold=%.3f", similarity, threshold);
      return text;
  }
  return "";
}

Cache::Cache(CacheOptions options, std::unique_ptr<Store> store)
    : options_(std::move(options)),
      store_(store ? std::move(store) : makeMemoryStore(options_.maxBytes, options_.index)),
      answerEmbedder_(makeNgramEmbedder()),
      counters_(std::make_unique<Counters>()) {
  if (!options_.snapshotPath.empty()) {
    std::string error;
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    if (loadSnapshot(options_.snapshotPath, now, error)) {
      core::log(core::LogLevel::Info, "cache snapshot " + options_.snapshotPath + " loaded: " +
                                          std::to_string(store_->size()) + " entries");
    } else if (!error.empty()) {
      core::log(core::LogLevel::Error, "cache snapshot " + options_.snapshotPath + " rejected: " + error +
                                           "; starting with an empty cache");
    }
    snapshotThread_ = std::thread([this] { snapshotLoop(); });
  }
}

Cache::~Cache() {
  if (snapshotThread_.joinable()) {
    {
      std::lock_guard lock(loopMutex_);
      stopping_ = true;
    }
    loopWake_.notify_all();
    snapshotThread_.join();
    std::string error;
    if (!saveSnapshot(options_.snapshotPath, error)) {
      core::log(core::LogLevel::Error, "cache snapshot " + options_.snapshotPath + " not written: " + error);
    }
  }
}

void Cache::snapshotLoop() {
  std::unique_lock lock(loopMutex_);
  while (!stopping_) {
    loopWake_.wait_for(lock, std::chrono::seconds(options_.snapshotIntervalSeconds), [&] { return stopping_; });
    if (stopping_) return;
    lock.unlock();
    std::string error;
    if (!saveSnapshot(options_.snapshotPath, error)) {
      core::log(core::LogLevel::Warn, "cache snapshot " + options_.snapshotPath + " not written: " + error);
    }
    lock.lock();
  }
}

const GroupPolicy& Cache::policyFor(const std::string& group) const {
  auto it = options_.groups.find(group);
  return it == options_.groups.end() ? options_.defaults : it->second;
}

Calibrator& Cache::calibrator(const std::string& group) {
  std::lock_guard lock(calibratorsMutex_);
  auto& c = calibrators_[group];
  if (!c) c = std::make_unique<Calibrator>();
  return *c;
}

double Cache::groupThreshold(const std::string& group) const {
  const auto& policy = policyFor(group).threshold;
  std::lock_guard lock(calibratorsMutex_);
  auto it = calibrators_.find(group);
  return it == calibrators_.end() ? policy.staticThreshold : it->second->threshold(policy);
}

Lookup Cache::begin(const core::ChatRequest& request, const std::string& tenant, const Control& control, int64_t nowMs) {
  Lookup lookup;
  const auto& policy = policyFor(request.model);
  if (policy.mode == Mode::Off) return lookup;
  if (request.temperature.value_or(1.0) > policy.maxTemperature) return lookup;
  counters_->lookups.fetch_add(1, std::memory_order_relaxed);
  Scope scope{tenant, request.model, policy.shared};
  auto keys = keysFor(request, scope, policy.tools);
  lookup.kind = Lookup::Kind::Miss;
  auto& t = lookup.ticket;
  t.store = !control.noStore;
  t.group = request.model;
  t.exact = keys.exact;
  t.ttlSeconds = control.ttlSeconds > 0 ? control.ttlSeconds : policy.ttlSeconds;
  t.tools = policy.tools;
  if (policy.mode == Mode::Semantic && keys.ns) {
    t.ns = keys.ns;
    t.query = std::move(keys.query);
  }
  if (control.noCache) {
    lookup.serve = false;
    lookup.needsEmbedding = t.ns.has_value() && t.store;  // to store it semantically
    counters_->misses.fetch_add(1, std::memory_order_relaxed);
    return lookup;
  }
  if (auto entry = store_->findExact(keys.exact, nowMs)) {
    lookup.kind = Lookup::Kind::HitExact;
    lookup.entry = std::move(entry);
    lookup.similarity = 1;
    counters_->hitsExact.fetch_add(1, std::memory_order_relaxed);
    return lookup;
  }
  lookup.needsEmbedding = t.ns.has_value();
  if (!lookup.needsEmbedding) counters_->misses.fetch_add(1, std::memory_order_relaxed);
  return lookup;
}

void Cache::semantic(Lookup& lookup, Vector embedding, int64_t nowMs) {
  lookup.needsEmbedding = false;
  auto& t = lookup.ticket;
  t.embedding = std::move(embedding);
  if (lookup.kind != Lookup::Kind::Miss || !t.ns || !lookup.serve) return;
  const auto& policy = policyFor(t.group);
  auto neighbors = store_->nearest(*t.ns, t.embedding, 1, nowMs);
  if (neighbors.empty() || (!policy.tools && !neighbors.front().entry->answer.toolCalls.empty())) {
    counters_->misses.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const auto& best = neighbors.front();
  double group = policy.threshold.learn ? groupThreshold(t.group) : policy.threshold.staticThreshold;
  auto decision = decide(policy.threshold, group, best.evidence, best.similarity,
                         draw(options_.seed, draws_.fetch_add(1, std::memory_order_relaxed)));
  lookup.similarity = best.similarity;
  lookup.threshold = decision.threshold;
  switch (decision.kind) {
    case Decision::Kind::Hit:
      lookup.kind = Lookup::Kind::HitSemantic;
      lookup.entry = best.entry;
      counters_->hitsSemantic.fetch_add(1, std::memory_order_relaxed);
      return;
    case Decision::Kind::Verify:
      t.verifying = true;
      [[fallthrough]];
    case Decision::Kind::Probe:
      t.compareWith = best.entry->id;
      t.compareSimilarity = best.similarity;
      [[fallthrough]];
    case Decision::Kind::Miss:
      counters_->misses.fetch_add(1, std::memory_order_relaxed);
      return;
  }
}

bool Cache::sameAnswer(const StoredAnswer& a, const StoredAnswer& b) const {
  if (a.toolCalls.size() != b.toolCalls.size()) return false;
  for (size_t i = 0; i < a.toolCalls.size(); ++i) {
    if (a.toolCalls[i].name != b.toolCalls[i].name) return false;
    if (normalizeText(a.toolCalls[i].arguments) != normalizeText(b.toolCalls[i].arguments)) return false;
  }
  auto x = normalizeText(a.text), y = normalizeText(b.text);
  if (x == y) return true;
  auto ex = answerEmbedder_->embed(x), ey = answerEmbedder_->embed(y);
  return ex && ey && cosine(*ex, *ey) >= options_.answerMatch;
}

void Cache::complete(const Ticket& t, const StoredAnswer& answer, const std::string& deployment, int64_t cost,
                     int64_t nowMs) {
  bool duplicate = false;
  if (t.compareWith != 0) {
    if (auto entry = store_->get(t.compareWith)) {
      bool same = sameAnswer(entry->answer, answer);
      store_->observe(t.compareWith, t.compareSimilarity, same);
      calibrator(t.group).record(t.compareSimilarity, same);
      if (t.verifying) {
        counters_->verifications.fetch_add(1, std::memory_order_relaxed);
        if (!same) counters_->verifiedWrong.fetch_add(1, std::memory_order_relaxed);
      } else {
        counters_->probes.fetch_add(1, std::memory_order_relaxed);
        if (same) counters_->probesSame.fetch_add(1, std::memory_order_relaxed);
      }
      // A verified would-be hit that matched adds nothing new to the index.
      duplicate = same && t.verifying;
    }
  }
  if (!t.store) return;
  Entry e;
  e.exact = t.exact;
  e.group = t.group;
  e.answer = answer;
  e.deployment = deployment;
  e.costPico = cost;
  e.createdMs = nowMs;
  e.expiresMs = nowMs + t.ttlSeconds * 1000;
  bool semantic = t.ns && !t.embedding.empty() && !duplicate && (t.tools || answer.toolCalls.empty());
  if (semantic) {
    e.ns = t.ns;
    e.query = t.query;
    e.embedding = t.embedding;
  }
  if (store_->put(std::move(e)) != 0) counters_->stores.fetch_add(1, std::memory_order_relaxed);
}

void Cache::served(const Lookup& lookup) {
  if (lookup.entry) counters_->savedPico.fetch_add(lookup.entry->costPico, std::memory_order_relaxed);
}

Metrics Cache::metrics() const {
  Metrics m;
  auto& c = *counters_;
  m.lookups = c.lookups.load();
  m.hitsExact = c.hitsExact.load();
  m.hitsSemantic = c.hitsSemantic.load();
  m.misses = c.misses.load();
  m.verifications = c.verifications.load();
  m.verifiedWrong = c.verifiedWrong.load();
  m.probes = c.probes.load();
  m.probesSame = c.probesSame.load();
  m.stores = c.stores.load();
  m.savedPico = c.savedPico.load();
  m.evictions = store_->evictions();
  m.entries = store_->size();
  m.bytes = store_->bytes();
  return m;
}

void Cache::appendPrometheus(std::string& out) const {
  auto m = metrics();
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "# TYPE arbitra_cache_lookups_total counter\narbitra_cache_lookups_total %llu\n"
                "# TYPE arbitra_cache_hits_total counter\n"
                "arbitra_cache_hits_total{kind=\"exact\"} %llu\narbitra_cache_hits_total{kind=\"semantic\"} %llu\n"
                "# TYPE arbitra_cache_misses_total counter\narbitra_cache_misses_total %llu\n"
                "# TYPE arbitra_cache_saved_dollars_total counter\narbitra_cache_saved_dollars_total %lld.%012lld\n"
                "# TYPE arbitra_cache_verifications_total counter\narbitra_cache_verifications_total %llu\n"
                "# TYPE arbitra_cache_verified_wrong_total counter\narbitra_cache_verified_wrong_total %llu\n"
                "# TYPE arbitra_cache_false_hit_estimate gauge\narbitra_cache_false_hit_estimate %.6f\n"
                "# TYPE arbitra_cache_entries gauge\narbitra_cache_entries %llu\n"
                "# TYPE arbitra_cache_bytes gauge\narbitra_cache_bytes %llu\n"
                "# TYPE arbitra_cache_evictions_total counter\narbitra_cache_evictions_total %llu\n",
                (unsigned long long)m.lookups, (unsigned long long)m.hitsExact, (unsigned long long)m.hitsSemantic,
                (unsigned long long)m.misses, (long long)(m.savedPico / 1'000'000'000'000LL),
                (long long)(m.savedPico % 1'000'000'000'000LL), (unsigned long long)m.verifications,
                (unsigned long long)m.verifiedWrong, m.falseHitEstimate(), (unsigned long long)m.entries,
                (unsigned long long)m.bytes, (unsigned long long)m.evictions);
  out += buf;
}

StoredAnswer answerFrom(const core::ChatResponse& r) {
  StoredAnswer a;
  a.text = r.text;
  a.toolCalls = r.toolCalls;
  a.finish = r.finish == core::FinishReason::Unknown ? core::FinishReason::Stop : r.finish;
  a.usage = r.usage;
  return a;
}

void AnswerBuilder::add(const core::StreamEvent& e) {
  using Kind = core::StreamEvent::Kind;
  switch (e.kind) {
    case Kind::Start:
      if (e.usage.inputTokens) answer_.usage = e.usage;
      break;
    case Kind::TextDelta: answer_.text += e.text; break;
    case Kind::ToolStart:
      if (e.toolIndex >= 0 && e.toolIndex < 128) {
        if (answer_.toolCalls.size() <= size_t(e.toolIndex)) answer_.toolCalls.resize(e.toolIndex + 1);
        answer_.toolCalls[e.toolIndex].id = e.toolId;
        answer_.toolCalls[e.toolIndex].name = e.toolName;
      }
      break;
    case Kind::ToolArgs:
      if (e.toolIndex >= 0 && e.toolIndex < 128) {
        if (answer_.toolCalls.size() <= size_t(e.toolIndex)) answer_.toolCalls.resize(e.toolIndex + 1);
        answer_.toolCalls[e.toolIndex].arguments += e.text;
      }
      break;
    case Kind::Finish:
      answer_.finish = e.finish == core::FinishReason::Unknown ? core::FinishReason::Stop : e.finish;
      finished_ = true;
      break;
    case Kind::Usage: answer_.usage = e.usage; break;
  }
}

StoredAnswer AnswerBuilder::take() { return std::move(answer_); }

std::vector<core::StreamEvent> replayEvents(const StoredAnswer& a, const std::string& id, const std::string& model) {
  using Kind = core::StreamEvent::Kind;
  std::vector<core::StreamEvent> events;
  core::StreamEvent start;
  start.kind = Kind::Start;
  start.id = id;
  start.model = model;
  if (a.usage) {
    start.usage.inputTokens = a.usage->inputTokens;
    start.usage.cachedReadTokens = a.usage->cachedReadTokens;
    start.usage.cacheWriteTokens = a.usage->cacheWriteTokens;
  }
  events.push_back(start);
  // Text in word-sized pieces (a word with its leading space), as live
  // streams arrive; never cut inside a UTF-8 character.
  size_t at = 0;
  while (at < a.text.size()) {
    size_t end = at;
    while (end < a.text.size() && a.text[end] == ' ') ++end;
    while (end < a.text.size() && a.text[end] != ' ' && end - at < 64) ++end;
    while (end < a.text.size() && (static_cast<unsigned char>(a.text[end]) & 0xC0) == 0x80) ++end;
    core::StreamEvent delta;
    delta.kind = Kind::TextDelta;
    delta.text = a.text.substr(at, end - at);
    events.push_back(std::move(delta));
    at = end;
  }
  for (size_t i = 0; i < a.toolCalls.size(); ++i) {
    core::StreamEvent tool;
    tool.kind = Kind::ToolStart;
    tool.toolIndex = static_cast<int>(i);
    tool.toolId = a.toolCalls[i].id;
    tool.toolName = a.toolCalls[i].name;
    events.push_back(tool);
    core::StreamEvent args;
    args.kind = Kind::ToolArgs;
    args.toolIndex = static_cast<int>(i);
    args.text = a.toolCalls[i].arguments;
    events.push_back(std::move(args));
  }
  core::StreamEvent finish;
  finish.kind = Kind::Finish;
  finish.finish = a.finish;
  events.push_back(finish);
  if (a.usage) {
    core::StreamEvent usage;
    usage.kind = Kind::Usage;
    usage.usage = *a.usage;
    events.push_back(usage);
  }
  return events;
}

}  // namespace arbitra::cache
