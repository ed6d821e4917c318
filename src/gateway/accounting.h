// The gateway's accounting steps, around the chat walk:
//
//   authenticate  who is calling: a virtual key (Authorization: Bearer or
//                 x-api-key), the master key, or nobody when no keys exist
//   admit         the key may use this model; its budget and rate limits
//                 allow this request (the estimate is reserved)
//   price         the exact cost of what was served (x-arbitra-cost)
//   record        the ledger record, metrics, and the budget settled
//
// It owns the ledger (the writer thread), the key ring (reloaded within a
// second when `arbitra keys` or the admin API changes keys), the limiter and
// the metrics. No Beast here: it sees http::Request and the Exchange only.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/error.h"
#include "gateway/deployments.h"
#include "gateway/exchange.h"
#include "http/server.h"
#include "ledger/catalog.h"
#include "ledger/keys.h"
#include "ledger/ledger.h"
#include "ledger/limits.h"
#include "ledger/metrics.h"

namespace arbitra::gateway {

// Who is calling, and what they reserved.
struct Caller {
  std::shared_ptr<const ledger::KeyRecord> key;  // null: no keys in use, or the master key
  bool master = false;
  ledger::Admission admission;
};

class Accounting {
 public:
  // Opens the ledger (unless disabled) and loads keys. Throws on a ledger
  // that cannot be opened, with a clear message.
  explicit Accounting(const config::Config& config);
  ~Accounting();

  const ledger::PriceCatalog& catalog() const { return *catalog_; }
  bool keysInUse() const { return !keys_.empty(); }
  bool hasMasterKey() const { return !masterKey_.empty(); }

  // 401 when keys are in use and the request carries none that is valid.
  core::Result<Caller> authenticate(const http::Request& request);
  // 403 for a model the key may not use; 429 naming the limit it would pass.
  std::optional<core::Error> admit(Caller& caller, const core::ChatRequest& request,
                                   const std::vector<Deployment>& candidates, size_t bodyBytes);
  // The exact cost of the exchange as served by `deployment` (usage filled in,
  // estimated when the upstream reported none); sets exchange.costPico.
  int64_t price(Exchange& exchange, const Deployment* deployment) const;
  // A request starts: it owes the ledger one record (see Ledger::begin).
  void begin() {
    if (ledger_) ledger_->begin();
  }
  // Writes the record, updates metrics, settles the caller's reservation.
  void record(Exchange& exchange, const Deployment* served, const Deployment* primary, const Caller& caller);

  // True when `request` carries the master key (admin API).
  bool isMaster(const http::Request& request) const;
  std::string metrics() const;
  ledger::Ledger* ledger() { return ledger_.get(); }
  ledger::KeyRing& keys() { return keys_; }
  ledger::Limiter& limiter() { return limiter_; }
  // Reloads keys from the store now (after the admin API changed them).
  void reloadKeys();

 private:
  void watchKeys();

  std::unique_ptr<ledger::PriceCatalog> ownedCatalog_;
  const ledger::PriceCatalog* catalog_ = nullptr;
  std::unique_ptr<ledger::Ledger> ledger_;
  ledger::KeyRing keys_;
  ledger::Limiter limiter_;
  ledger::Metrics metrics_;
  std::string masterKey_;
  int64_t defaultMaxOutputTokens_ = 4096;

  struct Watcher;
  std::unique_ptr<Watcher> watcher_;
};

// The bearer token of a request: Authorization: Bearer <t>, else x-api-key.
std::string_view presentedKey(const http::Request& request);

}  // namespace arbitra::gateway
