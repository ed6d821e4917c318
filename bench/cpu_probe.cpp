// arbitra-cpu-probe: a generic probe of this CPU's state, taken next to each
// `arbitra bench` run (bench/planner_measured.sh), because on this KVM guest a
// model's rates move up to 1.5x between quiet runs while a STREAM triad moves
// < 9%. It times ggml's own matrix kernels (the library the engine runs, with
// the same CPU repack buffer that llama.cpp uses for weights) on synthetic
// weights, not on any model: per weight type (F16, Q8_0, Q4_0, Q4_K, Q5_0, Q6_K),
//   - gemv: y = W x, one vector, W a weights-sized matrix (default 96 MiB,
//     2,048-wide rows, past the caches): GB/s of W streamed (decode at 1 stream);
//   - gemm: y = W X, 64 columns, W 16 MiB: GFLOPS (2 x rows x width x 64 / s;
//     prefill and batched decode).
// Best of R repetitions each, the type list timed P times over (passes,
// default 2: a type keeps its best), on N threads (the bench's --threads). It prints
// one line of JSON: {"threads": N, "types": {"Q8_0": {"gemv_gbs": .., "gemm_gflops": ..}, ..}}.
// The planner reads it as the CPU row's specs at the moment of the bench run
// (planner/measured.h, BenchPoint::probe). A benchmark, not a test.
//
// With --tensors FILE.gguf it instead prints the bytes per tensor type of a
// model file, less the input embedding (token_embd: a row lookup, never
// streamed), as JSON: the per-type weight bytes one decode step streams
// (data/planner/models.yaml `tensor_bytes`), and the output matrix's type
// (`output_type`).
//
//   arbitra-cpu-probe [--threads N] [--mib M] [--reps R] [--passes P] [--types F16,Q8_0,...]
//   arbitra-cpu-probe --tensors FILE.gguf
#include <ggml-alloc.h>
#include <ggml-backend.h>
#include <ggml-cpu.h>
#include <ggml.h>
#include <gguf.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <strings.h>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

constexpr int64_t kWidth = 2048;  // row length of the probe matrices (a multiple of every block size)
constexpr int64_t kGemmColumns = 64;

int tensorsMode(const char* path) {
  gguf_init_params params{true, nullptr};
  gguf_context* g = gguf_init_from_file(path, params);
  if (!g) {
    std::fprintf(stderr, "arbitra-cpu-probe: cannot read %s\n", path);
    return 2;
  }
  std::map<std::string, size_t> bytes;
  size_t embedding = 0;
  std::string outputType = "none (tied)";
  for (int64_t i = 0; i < gguf_get_n_tensors(g); ++i) {
    std::string name = gguf_get_tensor_name(g, i);
    size_t size = gguf_get_tensor_size(g, i);
    if (name == "token_embd.weight") {
      embedding = size;
      continue;
    }
    std::string type = ggml_type_name(gguf_get_tensor_type(g, i));
    for (char& ch : type) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));  // the planner's spelling: Q4_K, F16
    bytes[type] += size;
    if (name == "output.weight") outputType = type;
  }
  std::printf("{\"file\": \"%s\", \"token_embd_bytes\": %zu, \"output_type\": \"%s\", \"streamed_bytes\": {", path,
              embedding, outputType.c_str());
  bool first = true;
  for (const auto& [type, n] : bytes) {
    std::printf("%s\"%s\": %zu", first ? "" : ", ", type.c_str(), n);
    first = false;
  }
  std::printf("}}\n");
  gguf_free(g);
  return 0;
}

ggml_type typeByName(const std::string& name) {
  for (int t = 0; t < GGML_TYPE_COUNT; ++t) {
    const char* n = ggml_type_name(static_cast<ggml_type>(t));
    if (n && strcasecmp(name.c_str(), n) == 0) return static_cast<ggml_type>(t);  // ggml spells them q4_K, f16
  }
  std::fprintf(stderr, "arbitra-cpu-probe: unknown type %s\n", name.c_str());
  std::exit(2);
}

// The buffer type llama.cpp would load a weight of this type into for a
// MUL_MAT on the CPU: the first extra (repack) buffer type that supports the
// op, else the plain CPU buffer (llama-model.cpp weight_buft_supported does the same).
ggml_backend_buffer_type_t weightBufferType(ggml_backend_dev_t dev, ggml_type type) {
  auto reg = ggml_backend_dev_backend_reg(dev);
  auto getExtra = reinterpret_cast<ggml_backend_dev_get_extra_bufts_t>(
      ggml_backend_reg_get_proc_address(reg, "ggml_backend_dev_get_extra_bufts"));
  if (getExtra) {
    ggml_init_params ip{ggml_tensor_overhead() * 8, nullptr, true};
    ggml_context* ctx = ggml_init(ip);
    ggml_tensor* w = ggml_new_tensor_2d(ctx, type, kWidth, 64);
    ggml_tensor* x = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, kWidth, kGemmColumns);
    ggml_tensor* y = ggml_mul_mat(ctx, w, x);
    for (ggml_backend_buffer_type_t* b = getExtra(dev); b && *b; ++b) {
      ggml_backend_buffer_t dummy = ggml_backend_buft_alloc_buffer(*b, 0);
      w->buffer = dummy;
      bool ok = ggml_backend_dev_supports_op(dev, y);
      w->buffer = nullptr;
      ggml_backend_buffer_free(dummy);
      if (ok) {
        ggml_free(ctx);
        return *b;
      }
    }
    ggml_free(ctx);
  }
  return ggml_backend_dev_buffer_type(dev);
}

struct TypeResult {
  double gemvGBs = 0, gemmGflops = 0;
  std::string buffer;
};

// Seconds of the best of `reps` runs of y = W x with `columns` columns; W is `rows` x kWidth of `type`.
double bestSeconds(ggml_backend_t backend, ggml_backend_buffer_type_t buft, ggml_type type, int64_t rows,
                   int64_t columns, int reps, size_t* weightBytes) {
  ggml_init_params wp{ggml_tensor_overhead() * 2, nullptr, true};
  ggml_context* wctx = ggml_init(wp);
  ggml_tensor* w = ggml_new_tensor_2d(wctx, type, kWidth, rows);
  ggml_backend_buffer_t wbuf = ggml_backend_alloc_ctx_tensors_from_buft(wctx, buft);
  *weightBytes = ggml_nbytes(w);
  {
    // 64 distinct quantized rows of Gaussian values, tiled over the matrix.
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    const int64_t tile = 64;
    std::vector<float> src(static_cast<size_t>(kWidth * tile));
    for (float& v : src) v = normal(rng);
    const size_t rowBytes = ggml_row_size(type, kWidth);
    std::vector<uint8_t> tileBytes(rowBytes * tile);
    ggml_quantize_chunk(type, src.data(), tileBytes.data(), 0, tile, kWidth, nullptr);
    std::vector<uint8_t> host(*weightBytes);
    for (int64_t r = 0; r < rows; r += tile)
      std::memcpy(host.data() + r * rowBytes, tileBytes.data(), rowBytes * std::min(tile, rows - r));
    ggml_backend_tensor_set(w, host.data(), 0, host.size());
  }
  ggml_init_params gp{ggml_tensor_overhead() * 8 + ggml_graph_overhead(), nullptr, true};
  ggml_context* gctx = ggml_init(gp);
  ggml_tensor* x = ggml_new_tensor_2d(gctx, GGML_TYPE_F32, kWidth, columns);
  ggml_tensor* y = ggml_mul_mat(gctx, w, x);
  ggml_cgraph* graph = ggml_new_graph(gctx);
  ggml_build_forward_expand(graph, y);
  ggml_gallocr_t galloc = ggml_gallocr_new(ggml_backend_get_default_buffer_type(backend));
  ggml_gallocr_alloc_graph(galloc, graph);
  std::vector<float> xs(static_cast<size_t>(kWidth * columns), 0.5f);
  ggml_backend_tensor_set(x, xs.data(), 0, xs.size() * sizeof(float));
  ggml_backend_graph_compute(backend, graph);  // warm-up (first touch, thread start)
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    auto start = Clock::now();
    ggml_backend_graph_compute(backend, graph);
    best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count());
  }
  ggml_gallocr_free(galloc);
  ggml_free(gctx);
  ggml_backend_buffer_free(wbuf);
  ggml_free(wctx);
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, reps = 5, passes = 2;
  long mib = 96;
  std::string types = "F16,Q8_0,Q4_0,Q4_K,Q5_0,Q6_K";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--tensors") return tensorsMode(argv[i + 1]);
    if (flag == "--threads") threads = std::atoi(argv[i + 1]);
    else if (flag == "--mib") mib = std::atol(argv[i + 1]);
    else if (flag == "--reps") reps = std::atoi(argv[i + 1]);
    else if (flag == "--passes") passes = std::atoi(argv[i + 1]);
    else if (flag == "--types") types = argv[i + 1];
    else {
      std::fprintf(stderr,
                   "usage: arbitra-cpu-probe [--threads N] [--mib M] [--reps R] [--passes P] [--types F16,Q8_0,...] | --tensors "
                   "FILE.gguf\n");
      return 2;
    }
  }
  if (threads < 1 || mib < 16 || reps < 1 || passes < 1) {
    std::fprintf(stderr, "arbitra-cpu-probe: threads >= 1, mib >= 16, reps >= 1, passes >= 1\n");
    return 2;
  }
  ggml_backend_t backend = ggml_backend_cpu_init();
  ggml_backend_cpu_set_n_threads(backend, threads);
  ggml_backend_dev_t dev = ggml_backend_get_device(backend);
  std::vector<std::string> names;
  for (size_t start = 0; start <= types.size();) {
    size_t comma = types.find(',', start);
    std::string name = types.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? types.size() + 1 : comma + 1;
    if (!name.empty()) names.push_back(name);
  }
  // Each pass times every type once; a type keeps its best pass (a slow
  // phase of the host, e.g. right after another program freed GBs, then
  // hits one pass, not the figure).
  std::map<std::string, TypeResult> best;
  for (int pass = 0; pass < passes; ++pass) {
    for (const auto& name : names) {
      ggml_type type = typeByName(name);
      ggml_backend_buffer_type_t buft = weightBufferType(dev, type);
      const size_t rowBytes = ggml_row_size(type, kWidth);
      auto rowsFor = [&](long m) {
        return std::max<int64_t>(64, (m * 1024 * 1024 / static_cast<long>(rowBytes)) / 64 * 64);
      };
      size_t bytes = 0;
      double gemv = bestSeconds(backend, buft, type, rowsFor(mib), 1, reps, &bytes);
      const int64_t gemmRows = rowsFor(16);
      size_t gemmBytes = 0;
      double gemm = bestSeconds(backend, buft, type, gemmRows, kGemmColumns, std::max(1, reps / 2), &gemmBytes);
      TypeResult& r = best[name];
      r.gemvGBs = std::max(r.gemvGBs, bytes / gemv / 1e9);
      r.gemmGflops = std::max(r.gemmGflops, 2.0 * kWidth * gemmRows * kGemmColumns / gemm / 1e9);
      r.buffer = ggml_backend_buft_name(buft);
    }
  }
  std::printf("{\"threads\": %d, \"gemv_mib\": %ld, \"width\": %lld, \"gemm_columns\": %lld, \"reps\": %d, "
              "\"passes\": %d, \"types\": {",
              threads, mib, static_cast<long long>(kWidth), static_cast<long long>(kGemmColumns), reps, passes);
  bool first = true;
  for (const auto& name : names) {
    const TypeResult& r = best[name];
    std::printf("%s\"%s\": {\"gemv_gbs\": %.2f, \"gemm_gflops\": %.1f, \"buffer\": \"%s\"}", first ? "" : ", ",
                name.c_str(), r.gemvGBs, r.gemmGflops, r.buffer.c_str());
    first = false;
  }
  std::printf("}}\n");
  ggml_backend_free(backend);
  return 0;
}
