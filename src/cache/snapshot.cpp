// Cache snapshots: every live entry with its learned-threshold evidence, in
// LRU order (least recent first, so reloading rebuilds the same order).
//
// Format (little-endian, this machine's float layout):
//   "ARBCACHE"  u32 version (1)  u64 payload size  payload  SHA-256(payload)
//   payload: u64 count, then per entry: exact[32], u8 has-ns, ns[32],
//     strings (u32 length + bytes) group, query, deployment, text; u8 finish;
//     u8 has-usage + 5 x i64; u32 tool calls x (id, name, arguments);
//     i64 cost, created, expires; u32 dims + f32 x dims; evidence (f32
//     highestWrong, f32 x 2 lowCorrect, u32 correct, u32 wrong).
// Vectors are stored full (the index's compact codes are recomputed on load,
// so a change of code does not invalidate snapshots); reloading rebuilds the
// graphs on every core (Store::putMany).
// Written to PATH.tmp then renamed, so a crash mid-write leaves the previous
// snapshot. Loading checks magic, version, size and checksum before reading
// any entry, and bounds every length against the remaining bytes: a
// truncated, corrupted or foreign file is refused whole, never half-loaded.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>

#include "cache/cache.h"

namespace arbitra::cache {
namespace {

constexpr char kMagic[8] = {'A', 'R', 'B', 'C', 'A', 'C', 'H', 'E'};
constexpr uint32_t kVersion = 1;

class Out {
 public:
  template <typename T>
  void pod(const T& v) {
    bytes.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void str(const std::string& s) {
    pod(static_cast<uint32_t>(s.size()));
    bytes += s;
  }
  std::string bytes;
};

class In {
 public:
  explicit In(std::string_view data) : data_(data) {}
  template <typename T>
  bool pod(T& v) {
    if (data_.size() - at_ < sizeof v) return false;
    std::memcpy(&v, data_.data() + at_, sizeof v);
    at_ += sizeof v;
    return true;
  }
  bool str(std::string& s) {
    uint32_t n = 0;
    if (!pod(n) || data_.size() - at_ < n) return false;
    s.assign(data_.data() + at_, n);
    at_ += n;
    return true;
  }
  bool done() const { return at_ == data_.size(); }

 private:
  std::string_view data_;
  size_t at_ = 0;
};

}  // namespace

bool Cache::saveSnapshot(const std::string& path, std::string& error) const {
  Out p;
  uint64_t count = 0;
  p.pod(count);
  store_->forEach([&](const Entry& e, const Evidence& ev, const Vector& embedding) {
    ++count;
    p.pod(e.exact.bytes);
    p.pod(static_cast<uint8_t>(e.ns ? 1 : 0));
    p.pod(e.ns ? e.ns->bytes : Digest{}.bytes);
    p.str(e.group);
    p.str(e.query);
    p.str(e.deployment);
    p.str(e.answer.text);
    p.pod(static_cast<uint8_t>(e.answer.finish));
    p.pod(static_cast<uint8_t>(e.answer.usage ? 1 : 0));
    core::Usage u = e.answer.usage.value_or(core::Usage{});
    p.pod(u.inputTokens), p.pod(u.outputTokens), p.pod(u.cachedReadTokens), p.pod(u.cacheWriteTokens),
        p.pod(u.reasoningTokens);
    p.pod(static_cast<uint32_t>(e.answer.toolCalls.size()));
    for (const auto& call : e.answer.toolCalls) p.str(call.id), p.str(call.name), p.str(call.arguments);
    p.pod(e.costPico), p.pod(e.createdMs), p.pod(e.expiresMs);
    p.pod(static_cast<uint32_t>(embedding.size()));
    p.bytes.append(reinterpret_cast<const char*>(embedding.data()), embedding.size() * sizeof(float));
    p.pod(ev.highestWrong), p.pod(ev.lowCorrect[0]), p.pod(ev.lowCorrect[1]), p.pod(ev.correct), p.pod(ev.wrong);
  });
  std::memcpy(p.bytes.data(), &count, sizeof count);
  Out file;
  file.bytes.append(kMagic, sizeof kMagic);
  file.pod(kVersion);
  file.pod(static_cast<uint64_t>(p.bytes.size()));
  file.bytes += p.bytes;
  file.pod(sha256(p.bytes).bytes);

  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(file.bytes.data(), static_cast<std::streamsize>(file.bytes.size()));
    out.flush();
    if (!out) {
      error = "cannot write " + tmp;
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    error = "cannot rename " + tmp + " to " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

bool Cache::loadSnapshot(const std::string& path, int64_t nowMs, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;  // no snapshot yet: not an error
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  constexpr size_t kHeader = sizeof kMagic + sizeof(uint32_t) + sizeof(uint64_t);
  if (data.size() < kHeader + 32 || std::memcmp(data.data(), kMagic, sizeof kMagic) != 0) {
    error = "not an arbitra cache snapshot (bad magic or too short)";
    return false;
  }
  uint32_t version = 0;
  uint64_t size = 0;
  std::memcpy(&version, data.data() + 8, 4);
  std::memcpy(&size, data.data() + 12, 8);
  if (version != kVersion) {
    error = "unsupported snapshot version " + std::to_string(version);
    return false;
  }
  if (size != data.size() - kHeader - 32) {
    error = "truncated or padded (payload size does not match the file)";
    return false;
  }
  std::string_view payload(data.data() + kHeader, size);
  Digest stored;
  std::memcpy(stored.bytes.data(), data.data() + kHeader + size, 32);
  if (!(sha256(payload) == stored)) {
    error = "checksum mismatch (the file is corrupt)";
    return false;
  }
  In p(payload);
  uint64_t count = 0;
  if (!p.pod(count)) {
    error = "malformed payload";
    return false;
  }
  std::vector<std::pair<Entry, Evidence>> entries;
  for (uint64_t i = 0; i < count; ++i) {
    Entry e;
    Evidence ev;
    uint8_t hasNs = 0, finish = 0, hasUsage = 0;
    Digest ns;
    core::Usage u;
    uint32_t tools = 0, dims = 0;
    bool ok = p.pod(e.exact.bytes) && p.pod(hasNs) && p.pod(ns.bytes) && p.str(e.group) && p.str(e.query) &&
              p.str(e.deployment) && p.str(e.answer.text) && p.pod(finish) && p.pod(hasUsage) &&
              p.pod(u.inputTokens) && p.pod(u.outputTokens) && p.pod(u.cachedReadTokens) &&
              p.pod(u.cacheWriteTokens) && p.pod(u.reasoningTokens) && p.pod(tools) && tools <= 1024;
    for (uint32_t k = 0; ok && k < tools; ++k) {
      core::ToolCall call;
      ok = p.str(call.id) && p.str(call.name) && p.str(call.arguments);
      e.answer.toolCalls.push_back(std::move(call));
    }
    ok = ok && p.pod(e.costPico) && p.pod(e.createdMs) && p.pod(e.expiresMs) && p.pod(dims) && dims <= 65536;
    if (ok) {
      e.embedding.resize(dims);
      for (uint32_t k = 0; ok && k < dims; ++k) ok = p.pod(e.embedding[k]);
    }
    ok = ok && p.pod(ev.highestWrong) && p.pod(ev.lowCorrect[0]) && p.pod(ev.lowCorrect[1]) && p.pod(ev.correct) &&
         p.pod(ev.wrong) && finish <= static_cast<uint8_t>(core::FinishReason::Unknown) && hasNs <= 1;
    if (!ok) {
      error = "malformed entry " + std::to_string(i);
      return false;
    }
    if (hasNs && !e.embedding.empty()) e.ns = ns;
    e.answer.finish = static_cast<core::FinishReason>(finish);
    if (hasUsage) e.answer.usage = u;
    entries.emplace_back(std::move(e), ev);
  }
  if (!p.done()) {
    error = "trailing bytes after the last entry";
    return false;
  }
  std::erase_if(entries, [&](const auto& item) { return item.first.expiresMs <= nowMs; });
  // The HNSW graphs are rebuilt on every core (at 1M entries the graph build
  // is most of the reload).
  store_->putMany(std::move(entries), std::max(1u, std::thread::hardware_concurrency()));
  return true;
}

}  // namespace arbitra::cache
