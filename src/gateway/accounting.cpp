// Authentication, admission, pricing and recording (see accounting.h).
#include "gateway/accounting.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>


#include "core/log.h"
#include "ledger/cost.h"

namespace arbitra::gateway {


std::string_view presentedKey(const http::Request& request) {
  std::string_view authorization = request.header("authorization");
  if (authorization.size() > 7 && (authorization.starts_with("Bearer ") || authorization.starts_with("bearer "))) {
    return authorization.substr(7);
  }
  return request.header("x-api-key");
}

// Polls the store's keys version once a second: keys created or revoked by
// `arbitra keys` in another process take effect within a second.
struct Accounting::Watcher {
  std::mutex mutex;
  std::condition_variable wake;
  bool stop = false;
  std::thread thread;
};

Accounting::Accounting(const config::Config& config) : defaultMaxOutputTokens_(config.ledger.defaultMaxOutputTokens) {
  if (!config.ledger.pricesFile.empty()) {
    ownedCatalog_ = std::make_unique<ledger::PriceCatalog>(ledger::PriceCatalog::load(config.ledger.pricesFile));
    catalog_ = ownedCatalog_.get();
  } else {
    catalog_ = &ledger::PriceCatalog::builtIn();
  }
  masterKey_ = config.ledger.masterKey;
  if (masterKey_.empty()) {
    if (const char* fromEnv = std::getenv("ARBITRA_MASTER_KEY"); fromEnv && std::string_view(fromEnv).size() >= 16) {
      masterKey_ = fromEnv;
    }
  }
  if (!config.ledger.enabled) {
    core::log(core::LogLevel::Warn, "ledger disabled (ledger.enabled: false): no records, keys or budgets");
    return;
  }
  ledger_ = ledger::Ledger::open(config.ledger);
  core::log(core::LogLevel::Info, "ledger " + ledger_->describe() + " commit_interval_ms=" +
                                      std::to_string(config.ledger.commitIntervalMs));
  reloadKeys();
  // Budgets continue from what the ledger already holds for today and this month.
  int64_t now = ledger::nowUnixMs();
  auto reader = ledger_->openReader();
  std::map<std::string, std::pair<int64_t, int64_t>> spend;
  for (const auto& s : reader->spendSince(ledger::monthStartMs(now))) spend[s.keyId].second = s.costPico;
  for (const auto& s : reader->spendSince(ledger::dayStartMs(now))) spend[s.keyId].first = s.costPico;
  for (const auto& [keyId, amounts] : spend) {
    if (!keyId.empty()) limiter_.seed(keyId, amounts.first, amounts.second, now);
  }
  watcher_ = std::make_unique<Watcher>();
  watcher_->thread = std::thread([this] { watchKeys(); });
}

Accounting::~Accounting() {
  if (watcher_) {
    {
      std::lock_guard lock(watcher_->mutex);
      watcher_->stop = true;
    }
    watcher_->wake.notify_one();
    watcher_->thread.join();
  }
  if (ledger_) ledger_->close();
}

void Accounting::reloadKeys() {
  if (!ledger_) return;
  try {
    keys_.replace(ledger_->openReader()->loadKeys());
  } catch (const ledger::StoreError& e) {
    core::log(core::LogLevel::Error, std::string("keys: reload failed: ") + e.what());
  }
}

void Accounting::watchKeys() {
  std::unique_ptr<ledger::Store> reader;
  int64_t version = -1;
  std::unique_lock lock(watcher_->mutex);
  while (!watcher_->stop) {
    lock.unlock();
    try {
      if (!reader) reader = ledger_->openReader();
      int64_t now = reader->keysVersion();
      if (now != version) {
        keys_.replace(reader->loadKeys());
        version = now;
      }
    } catch (const ledger::StoreError& e) {
      reader.reset();
      core::log(core::LogLevel::Error, std::string("keys: ") + e.what());
    }
    lock.lock();
    watcher_->wake.wait_for(lock, std::chrono::seconds(1), [&] { return watcher_->stop; });
  }
}

bool Accounting::isMaster(const http::Request& request) const {
  return !masterKey_.empty() && ledger::sameSecret(presentedKey(request), masterKey_);
}

core::Result<Caller> Accounting::authenticate(const http::Request& request) {
  Caller caller;
  if (isMaster(request)) {
    caller.master = true;
    return caller;
  }
  if (keys_.empty()) return caller;  // no virtual keys: open, as a plain proxy
  std::string_view presented = presentedKey(request);
  if (presented.empty()) {
    metrics_.reject("auth");
    return core::makeError(core::ErrorKind::Authentication,
                           "this gateway requires a virtual key: send Authorization: Bearer sk-arb-... (or x-api-key)");
  }
  caller.key = keys_.find(presented);
  if (!caller.key) {
    metrics_.reject("auth");
    return core::makeError(core::ErrorKind::Authentication, "invalid or revoked virtual key");
  }
  return caller;
}

std::optional<core::Error> Accounting::admit(Caller& caller, const core::ChatRequest& request,
                                             const std::vector<Deployment>& candidates, size_t bodyBytes) {
  if (!caller.key) return std::nullopt;
  const auto& key = *caller.key;
  if (!key.models.empty() && std::find(key.models.begin(), key.models.end(), request.model) == key.models.end()) {
    metrics_.reject("model_not_allowed");
    auto error = core::makeError(core::ErrorKind::PermissionDenied,
                                 "key " + key.id + " may not use model '" + request.model + "' (allowed: " +
                                     ledger::joinList(key.models) + ")",
                                 "model");
    return error;
  }
  // A budget cannot bite at $0: a budgeted key may not use a model none of
  // whose deployments has a price (in-process engines price themselves).
  if (key.budgetDayPico > 0 || key.budgetMonthPico > 0) {
    bool priced = std::any_of(candidates.begin(), candidates.end(), [](const Deployment& d) {
      return d.price.known || (d.provider && d.provider->inProcess());
    });
    if (!priced) {
      metrics_.reject("budget");
      return core::makeError(core::ErrorKind::PermissionDenied,
                             "key " + key.id + " has a budget, and no deployment of model '" + request.model +
                                 "' has a price, so the budget could not be enforced: give the deployment "
                                 "price: { input, output } in the config",
                             "model");
    }
  }
  // The reservation: the most this request can cost on any candidate.
  core::Usage bound;
  bound.inputTokens = ledger::estimateTokens(bodyBytes);
  bound.outputTokens = request.maxTokens.value_or(defaultMaxOutputTokens_);
  int64_t estimate = 0;
  for (const auto& d : candidates) {
    if (d.price.known) estimate = std::max(estimate, ledger::priceUsage(d.price, bound).totalPico);
  }
  caller.admission = limiter_.admit(key, estimate, bound.inputTokens + bound.outputTokens, ledger::nowUnixMs());
  if (caller.admission.admitted) return std::nullopt;
  bool budget = caller.admission.limit.starts_with("budget");
  metrics_.reject(budget ? "budget" : "rate_limit");
  auto error = core::makeError(core::ErrorKind::RateLimited, caller.admission.limit);
  if (caller.admission.retryAfterSeconds > 0) error.retryAfterSeconds = caller.admission.retryAfterSeconds;
  return error;
}

int64_t Accounting::price(Exchange& exchange, const Deployment* deployment) const {
  if (!exchange.usage && exchange.status / 100 == 2) {
    // The upstream reported no usage: count it here and say so.
    core::Usage usage;
    usage.inputTokens = ledger::estimateTokens(exchange.promptBytes);
    usage.outputTokens = ledger::estimateTokens(exchange.outputBytes);
    exchange.usage = usage;
    exchange.usageEstimated = true;
  }
  bool hit = exchange.cache.kind == CacheOutcome::Kind::HitExact || exchange.cache.kind == CacheOutcome::Kind::HitSemantic;
  if (exchange.engine.used) {
    // A local deployment: its machine's $/hour over the engine's measured throughput.
    exchange.costPico = exchange.engine.costPico;
  } else if (hit || !deployment || !exchange.usage || !deployment->price.known) {
    exchange.costPico = 0;
  } else {
    auto billing = exchange.batch ? ledger::Billing::Batch : ledger::Billing::Standard;
    exchange.costPico = ledger::priceUsage(deployment->price, *exchange.usage, billing).totalPico;
  }
  return exchange.costPico;
}

void Accounting::record(Exchange& exchange, const Deployment* served, const Deployment* primary, const Caller& caller) {
  price(exchange, served);
  ledger::Record r;
  r.timeMs = exchange.wallStartMs;
  r.requestId = exchange.id;
  if (caller.key) {
    r.keyId = caller.key->id;
    r.tags = ledger::joinList(caller.key->tags);
  } else if (caller.master) {
    r.keyId = "master";
  }
  r.model = exchange.model;
  r.deployment = exchange.deployment;
  r.provider = exchange.provider;
  r.format = core::toString(exchange.format);
  r.status = exchange.status;
  r.stream = exchange.stream;
  if (exchange.usage) {
    r.inputTokens = exchange.usage->inputTokens;
    r.outputTokens = exchange.usage->outputTokens;
    r.cachedReadTokens = exchange.usage->cachedReadTokens;
    r.cacheWriteTokens = exchange.usage->cacheWriteTokens;
    r.reasoningTokens = exchange.usage->reasoningTokens;
  }
  r.costPico = exchange.costPico;
  r.estimated = exchange.usageEstimated;
  r.priceMissing = served && exchange.usage && !served->price.known && !exchange.engine.used &&
                   exchange.cache.kind != CacheOutcome::Kind::HitExact &&
                   exchange.cache.kind != CacheOutcome::Kind::HitSemantic;
  switch (exchange.cache.kind) {
    case CacheOutcome::Kind::None: break;
    case CacheOutcome::Kind::Miss: r.cache = "miss"; break;
    case CacheOutcome::Kind::HitExact: r.cache = "hit-exact"; break;
    case CacheOutcome::Kind::HitSemantic: r.cache = "hit-semantic"; break;
  }
  if (!r.cache.empty() && r.cache != "miss") {
    r.cacheSavedPico = exchange.cache.savedPico;
    if (r.cacheSavedPico == 0 && served && served->price.known && exchange.usage) {
      r.cacheSavedPico = ledger::priceUsage(served->price, *exchange.usage).totalPico;
    }
  }
  // Routing savings: the same usage at the group's first deployment's price.
  if (served && primary && served->label != primary->label && served->price.known && primary->price.known &&
      exchange.usage && r.cache.rfind("hit", 0) != 0) {
    r.routeSavedPico = ledger::priceUsage(primary->price, *exchange.usage).totalPico - r.costPico;
  }
  auto end = Clock::now();
  r.latencyUs = std::chrono::duration_cast<std::chrono::microseconds>(end - exchange.start).count();
  if (exchange.firstToken) {
    r.ttftUs = std::chrono::duration_cast<std::chrono::microseconds>(*exchange.firstToken - exchange.start).count();
  }
  r.attempts = exchange.attempts;
  if (exchange.engine.used) {
    r.draftedTokens = exchange.engine.draftedTokens;
    r.acceptedTokens = exchange.engine.acceptedTokens;
    r.decodeSteps = exchange.engine.decodeSteps;
  }
  r.routeFacts.policy = exchange.route.policy;
  r.routeFacts.reason = exchange.route.reason;
  r.routeFacts.candidates.reserve(exchange.route.candidates.size());
  for (const auto& c : exchange.route.candidates) {
    r.routeFacts.candidates.push_back({c.deployment, c.predictedCostPico, c.predictedTtftMs, c.eligible});
  }
  r.error = exchange.note;
  if (caller.key) {
    int64_t tokens = exchange.usage ? exchange.usage->inputTokens + exchange.usage->outputTokens : 0;
    limiter_.settle(*caller.key, caller.admission, r.costPico, tokens, ledger::nowUnixMs());
  }
  metrics_.observe(r);
  if (ledger_) ledger_->append(std::move(r));
}

std::string Accounting::metrics() const { return metrics_.render(ledger_.get()); }

}  // namespace arbitra::gateway
