// Key generation, hashing and the in-memory key ring (see keys.h).
#include "ledger/keys.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <stdexcept>

#include "ledger/ledger.h"

namespace arbitra::ledger {

namespace {

std::string hex(const unsigned char* bytes, size_t size) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out += digits[bytes[i] >> 4];
    out += digits[bytes[i] & 15];
  }
  return out;
}

std::string randomText(size_t length) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  unsigned char bytes[64];
  while (out.size() < length) {
    if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("no randomness for a new key");
    for (unsigned char b : bytes) {
      if (b < 248 && out.size() < length) out += alphabet[b % 62];  // 248 = 4 * 62: no modulo bias
    }
  }
  return out;
}

}  // namespace

std::string hashKey(std::string_view secret) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(secret.data(), secret.size(), digest, &size, EVP_sha256(), nullptr);
  return hex(digest, size);
}

bool sameSecret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::pair<KeyRecord, std::string> generateKey(const std::string& name) {
  KeyRecord record;
  std::string secret = std::string(kKeyPrefix) + randomText(40);
  record.id = "key_" + hashKey(secret + "/id").substr(0, 12);
  record.hash = hashKey(secret);
  record.name = name;
  record.createdMs = nowUnixMs();
  return {record, secret};
}

void KeyRing::replace(const std::vector<KeyRecord>& keys) {
  auto next = std::make_shared<Snapshot>();
  next->anyEver = !keys.empty();
  for (const auto& key : keys) {
    if (key.revokedMs != 0) continue;
    auto shared = std::make_shared<const KeyRecord>(key);
    next->byHash.emplace(key.hash, shared);
    next->byId.emplace(key.id, shared);
  }
  std::atomic_store(&snapshot_, std::shared_ptr<const Snapshot>(std::move(next)));
}

std::shared_ptr<const KeyRing::Snapshot> KeyRing::snapshot() const { return std::atomic_load(&snapshot_); }

std::shared_ptr<const KeyRecord> KeyRing::find(std::string_view secret) const {
  if (!secret.starts_with(kKeyPrefix)) return nullptr;
  auto snap = snapshot();
  auto it = snap->byHash.find(hashKey(secret));
  return it == snap->byHash.end() ? nullptr : it->second;
}

std::shared_ptr<const KeyRecord> KeyRing::findById(const std::string& id) const {
  auto snap = snapshot();
  auto it = snap->byId.find(id);
  return it == snap->byId.end() ? nullptr : it->second;
}

bool KeyRing::empty() const { return !snapshot()->anyEver; }

}  // namespace arbitra::ledger
