// The planner's catalogs: API prices, hardware specs, rental offers, model
// shapes and weight formats, loaded from data files (data/planner/*.yaml).
//
// Design: catalogs are data, not code. Each row carries `source` and `as_of`
// (a row without them is an error). Loading validates everything once and
// throws PlannerError("file:line: field path: what is wrong"); after that the
// Catalog is plain values the model reads without I/O.
//
//   Catalog c = loadCatalog("data/planner");
//   const ModelShape* m = c.findModel("llama-3.1-8b");
//
// Files in the directory: api_prices.yaml (`prices:`), hardware.yaml
// (`hardware:`), gpu_offers.yaml (`offers:`), models.yaml (`models:` and
// `quantizations:`). See each file's header for its fields.
#pragma once

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "planner/money.h"

namespace arbitra::planner {

// Bad catalog, workload or measurement input; what() is "file:line: path: what".
class PlannerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Provenance {
  std::string source;
  std::string asOf;  // YYYY-MM-DD
  std::string file;
  int line = 0;
};

// An API model's price, micro-dollars per million tokens.
struct ApiPrice {
  std::string id;        // as callers name it: "gpt-4o-mini", "groq/llama-3.1-8b-instant"
  std::string provider;  // "openai", "groq", ...
  Micros input = 0;
  Micros output = 0;
  std::optional<Micros> cachedInput;  // cache-read price; absent: cache hits bill as input
  std::optional<Micros> batchInput;   // batch API; both or neither
  std::optional<Micros> batchOutput;
  int64_t context = 0;  // 0: unknown
  std::string serves;   // open-weight model id it hosts, "" for closed models
  Provenance from;
};

enum class HardwareKind { Gpu, Cpu };

// ggml's matrix-kernel rates for one weight type on a CPU, as measured by
// arbitra-cpu-probe (bench/cpu_probe.cpp): gemv streaming one vector over a
// weights-sized matrix (GB/s of weights), gemm over 64 columns (GFLOPS).
struct KernelRate {
  double gemvGBs = 0;
  double gemmGflops = 0;
};

// Bytes per weight of a ggml tensor type ("F16", "Q8_0", "Q4_K", "Q5_0",
// "Q6_K", ...: ggml's block layouts); 0 for a name it does not know.
double ggmlTypeBytesPerWeight(const std::string& type);

struct Hardware {
  std::string id;
  std::string name;
  HardwareKind kind = HardwareKind::Gpu;
  double memoryGib = 0;
  double bandwidthGBs = 0;  // 1e9 bytes/s
  double fp16Tflops = 0;    // dense
  std::optional<double> fp8Tflops;
  std::optional<double> int8Tops;
  int tdpWatts = 0;
  // The throughput model's parameters for this row (yaml `efficiency:`),
  // where the row has its own (measured and fitted on that device); absent:
  // the planner's defaults (src/planner/throughput.h, Efficiency). See
  // throughput.h for what each term does.
  std::optional<double> bandwidthEfficiency;       // `bandwidth`: achieved / bandwidth_gbs in decode
  std::optional<double> blockQuantEfficiency;      // `block_quant`: CPU only, block-quantized weights' share of that
  std::optional<double> decodeComputeEfficiency;   // `decode_compute` (or `compute`, both): achieved / peak FLOPs
  std::optional<double> prefillComputeEfficiency;  // `prefill_compute` (or `compute`)
  std::optional<double> matmulHalfWidth;  // `matmul_half_width`: hidden size at which matmuls reach half that
  std::optional<double> layerOverheadUs;  // `layer_overhead_us`: fixed time per layer per decode step
  std::optional<double> overlap;          // `overlap`: 1 = a step is max(bandwidth, compute); 0 = their sum
  // CPU rows: ggml's kernel rates per tensor type (yaml `kernels: {Q8_0:
  // {gemv_gbs: 9.1, gemm_gflops: 160}}`), measured on the device. With them,
  // and a model row's `tensor_bytes` for the format, the model prices each
  // tensor type at its own kernel's rate (throughput.h) instead of one
  // bandwidth and one FLOP rate; the efficiency factors are then of these.
  std::map<std::string, KernelRate> kernels;
  Provenance from;
};

struct Offer {
  std::string id;
  std::string hardware;  // Hardware::id
  std::string provider;
  Micros perHour = 0;  // per device
  std::string term;    // "on-demand", "1-year", ...
  Provenance from;
};

struct ModelShape {
  std::string id;
  std::string name;
  double params = 0;        // total
  double activeParams = 0;  // per token; == params unless mixture of experts
  int layers = 0;
  int hidden = 0;
  int kvHeads = 0;
  int headDim = 0;
  int64_t context = 0;
  // Optional (0 / empty: unknown, and the model treats every parameter
  // alike). With `vocab`, the embedding matrices (vocab × hidden) are known:
  // an untied input embedding is a row lookup (in memory, never streamed in
  // decode nor multiplied), and the output matrix runs only for tokens that
  // need logits (once per prompt in prefill).
  int64_t vocab = 0;
  bool tiedEmbeddings = true;
  // Bits per weight of this model's file in a format, where it differs from
  // the format's typical figure (yaml `bits_per_weight: {Q4_K_M: 6.64}`): a
  // llama.cpp K-quant falls back to Q5_0/Q8_0 for rows whose width is not a
  // multiple of 256, and the output matrix keeps more bits.
  std::map<std::string, double> bitsPerWeight;
  // The bytes per ggml tensor type one decode step streams, per format (yaml
  // `tensor_bytes: {Q4_K_M: {Q4_K: 1.0e8, Q6_K: 6.1e7, Q5_0: ..}}`: every
  // tensor of the file but the input embedding, read from the GGUF by
  // `arbitra-cpu-probe --tensors`), and the type of the output matrix
  // (`output_type: {Q4_K_M: Q6_K}`, needs `vocab`): what a K-quant file
  // really holds, where one bits-per-weight figure averages it away.
  std::map<std::string, std::map<std::string, double>> tensorBytes;
  std::map<std::string, std::string> outputType;
  Provenance from;
};

struct Quantization {
  std::string id;  // "F16", "Q8_0", "Q4_K_M", "FP8"
  double bitsPerWeight = 16;
  bool fp8Compute = false;  // matmuls at FP8 rate (needs Hardware::fp8Tflops)
  double kvBits = 16;       // KV cache element size (yaml kv_bits, default 16)
  Provenance from;
};

struct Catalog {
  std::vector<ApiPrice> prices;
  std::vector<Hardware> hardware;
  std::vector<Offer> offers;
  std::vector<ModelShape> models;
  std::vector<Quantization> quantizations;

  const ApiPrice* findPrice(const std::string& id) const;
  const Hardware* findHardware(const std::string& id) const;
  const ModelShape* findModel(const std::string& id) const;
  const Quantization* findQuantization(const std::string& id) const;
};

// Loads the four files from `dir`. Throws PlannerError.
Catalog loadCatalog(const std::string& dir);

// The same from texts, `file` naming each in errors (for tests). Each adds its
// rows to `catalog`; parseOffers checks hardware ids, so parse hardware first.
void parseApiPrices(const std::string& text, const std::string& file, Catalog& catalog);
void parseHardware(const std::string& text, const std::string& file, Catalog& catalog);
void parseOffers(const std::string& text, const std::string& file, Catalog& catalog);
void parseModels(const std::string& text, const std::string& file, Catalog& catalog);

// Reads a whole file; PlannerError naming it when it cannot.
std::string readFile(const std::string& path);

}  // namespace arbitra::planner
