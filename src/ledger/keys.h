// Virtual keys: what a caller presents instead of a provider key. Stored
// hashed (SHA-256), shown once at creation, each with its allowed models,
// budgets, rate limits and tags. The gateway holds the active keys in a
// KeyRing (an immutable snapshot swapped whole when keys change), so a
// lookup is one hash and one map probe, lock-free.
//
//   auto [record, secret] = ledger::generateKey("team-a");   // secret: "sk-arb-..."
//   store.saveKey(record);                                    // only the hash is kept
//   ring.replace(store.loadKeys());
//   if (auto key = ring.find(presented)) ...
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ledger/record.h"

namespace arbitra::ledger {

constexpr std::string_view kKeyPrefix = "sk-arb-";

// A fresh key: the record to store (id, hash, created) and the secret to show once.
std::pair<KeyRecord, std::string> generateKey(const std::string& name);
std::string hashKey(std::string_view secret);  // lowercase hex SHA-256
// Constant-time comparison (for the master key).
bool sameSecret(std::string_view a, std::string_view b);

class KeyRing {
 public:
  // Active (unrevoked) keys only are kept for lookups.
  void replace(const std::vector<KeyRecord>& keys);
  std::shared_ptr<const KeyRecord> find(std::string_view secret) const;
  std::shared_ptr<const KeyRecord> findById(const std::string& id) const;
  // True when no key was ever created. Once one was (even if since revoked),
  // every request must present a valid key: revoking the last key closes
  // the gateway instead of opening it.
  bool empty() const;

 private:
  struct Snapshot {
    std::map<std::string, std::shared_ptr<const KeyRecord>, std::less<>> byHash;
    std::map<std::string, std::shared_ptr<const KeyRecord>, std::less<>> byId;
    bool anyEver = false;
  };
  std::shared_ptr<const Snapshot> snapshot() const;
  std::shared_ptr<const Snapshot> snapshot_ = std::make_shared<Snapshot>();
};

}  // namespace arbitra::ledger
