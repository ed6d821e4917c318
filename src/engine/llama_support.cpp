// llama.cpp plumbing shared by the engine's files: the log hook (quiet by
// default, last error kept per thread for load failures, an observer for
// quantize progress) and the GGUF pre-check that keeps corrupt or truncated
// files away from llama.cpp's loader.
#include <sys/stat.h>

#include <cstdlib>
#include <mutex>
#include <string>

#include "engine/engine.h"
#include "engine/llama_handles.h"
#include "gguf.h"

namespace arbitra::engine {
namespace {

thread_local std::string tlsLastError;
thread_local LogObserver tlsObserver = nullptr;
thread_local void* tlsObserverUser = nullptr;
thread_local int tlsLastLevel = GGML_LOG_LEVEL_INFO;
bool verbose = false;

void logCallback(ggml_log_level level, const char* text, void*) {
  int effective = level == GGML_LOG_LEVEL_CONT ? tlsLastLevel : level;
  if (level != GGML_LOG_LEVEL_CONT) tlsLastLevel = level;
  if (effective == GGML_LOG_LEVEL_ERROR) {
    if (level == GGML_LOG_LEVEL_CONT) tlsLastError += text;
    else tlsLastError = text;
    while (!tlsLastError.empty() && (tlsLastError.back() == '\n' || tlsLastError.back() == ' ')) tlsLastError.pop_back();
  }
  if (tlsObserver) tlsObserver(tlsObserverUser, effective, text);
  if (verbose) std::fputs(text, stderr);
}

}  // namespace

std::string lastLlamaError() { return tlsLastError; }
void clearLlamaError() { tlsLastError.clear(); }

void setLlamaLogObserver(LogObserver observer, void* user) {
  tlsObserver = observer;
  tlsObserverUser = user;
}

void quietLlamaLogs() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* env = std::getenv("ARBITRA_LLAMA_LOG");
    verbose = env && std::string(env) == "1";
    llama_log_set(logCallback, nullptr);
    llama_backend_init();
  });
}

core::Result<int64_t> checkGgufFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return core::makeError(core::ErrorKind::InvalidRequest, path + ": no such file");
  }
  if (!S_ISREG(st.st_mode)) return core::makeError(core::ErrorKind::InvalidRequest, path + ": not a regular file");
  quietLlamaLogs();
  clearLlamaError();
  gguf_init_params params{/*no_alloc=*/true, /*ctx=*/nullptr};
  gguf_context* ctx = gguf_init_from_file(path.c_str(), params);
  if (!ctx) {
    std::string why = lastLlamaError();
    return core::makeError(core::ErrorKind::InvalidRequest,
                           path + ": not a valid GGUF file" + (why.empty() ? "" : " (" + why + ")"));
  }
  const auto fileSize = static_cast<uint64_t>(st.st_size);
  const uint64_t dataOffset = gguf_get_data_offset(ctx);
  uint64_t needed = dataOffset;
  std::string tensor;
  for (int64_t i = 0; i < gguf_get_n_tensors(ctx); ++i) {
    uint64_t end = dataOffset + gguf_get_tensor_offset(ctx, i) + gguf_get_tensor_size(ctx, i);
    if (end > needed) {
      needed = end;
      tensor = gguf_get_tensor_name(ctx, i);
    }
  }
  const int64_t tensors = gguf_get_n_tensors(ctx);
  gguf_free(ctx);
  if (tensors == 0) return core::makeError(core::ErrorKind::InvalidRequest, path + ": GGUF file has no tensors (vocabulary only?)");
  if (needed > fileSize) {
    return core::makeError(core::ErrorKind::InvalidRequest,
                           path + ": truncated GGUF file: tensor " + tensor + " ends at byte " + std::to_string(needed) +
                               " but the file has " + std::to_string(fileSize) + " bytes");
  }
  return static_cast<int64_t>(fileSize);
}

}  // namespace arbitra::engine
