// The RAII adapter over llama.h: owning handles for llama.cpp's C objects and
// the mapping of its return codes to typed errors. Included only by the
// engine's .cpp files (llama.h is heavy and must not spread).
//
// Contract of llama_decode (from llama.h, commit 80fb11ac):
//    0  success
//    1  no KV slot for the batch (context full)      -> Overloaded
//    2  aborted (processed ubatches stay in memory)   -> Internal
//   -1  invalid input batch                           -> Internal (our bug)
//  < -1 fatal error                                   -> Internal
#pragma once

#include <memory>
#include <string>

#include "core/error.h"
#include "llama.h"

namespace arbitra::engine {

struct ModelDeleter {
  void operator()(llama_model* model) const { llama_model_free(model); }
};
struct ContextDeleter {
  void operator()(llama_context* ctx) const { llama_free(ctx); }
};
struct SamplerDeleter {
  void operator()(llama_sampler* sampler) const { llama_sampler_free(sampler); }
};

using ModelPtr = std::unique_ptr<llama_model, ModelDeleter>;
using ContextPtr = std::unique_ptr<llama_context, ContextDeleter>;
using SamplerPtr = std::unique_ptr<llama_sampler, SamplerDeleter>;

// A batch allocated once with llama_batch_init and filled per step.
class Batch {
 public:
  explicit Batch(int capacity) : batch_(llama_batch_init(capacity, 0, 1)), capacity_(capacity) {}
  ~Batch() { llama_batch_free(batch_); }
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;

  void clear() { batch_.n_tokens = 0; }
  int size() const { return batch_.n_tokens; }
  int capacity() const { return capacity_; }
  // Appends one token; returns its index in the batch (for logits).
  int add(llama_token token, llama_pos pos, llama_seq_id seq, bool logits) {
    int i = batch_.n_tokens++;
    batch_.token[i] = token;
    batch_.pos[i] = pos;
    batch_.n_seq_id[i] = 1;
    batch_.seq_id[i][0] = seq;
    batch_.logits[i] = logits;
    return i;
  }
  const llama_batch& get() const { return batch_; }

 private:
  llama_batch batch_;
  int capacity_;
};

inline core::Error decodeError(int code) {
  switch (code) {
    case 1:
      return core::makeError(core::ErrorKind::Overloaded, "the model's context is full (no KV slot for the batch)");
    case 2:
      return core::makeError(core::ErrorKind::Internal, "decoding was aborted");
    case -1:
      return core::makeError(core::ErrorKind::Internal, "llama_decode refused the batch as invalid");
    default:
      return core::makeError(core::ErrorKind::Internal, "llama_decode failed with code " + std::to_string(code));
  }
}

// The last error line llama.cpp logged on this thread (for load failures).
std::string lastLlamaError();
void clearLlamaError();

// Observes every llama.cpp log line on this thread while set (quantize progress).
using LogObserver = void (*)(void* user, int level, const char* text);
void setLlamaLogObserver(LogObserver observer, void* user);

}  // namespace arbitra::engine
