// The throughput model: first-principles (roofline) estimates of what one
// replica of a model serves on a device. Pure functions of plain values, no I/O.
//
// Decode, one step of batch B (every active stream emits one token):
//   bandwidth time = (weight bytes read + B × KV bytes read per stream) / (bandwidth × eff_bw)
//   compute time   = 2 × active params × B / (FLOPs × eff_decode × w)
//   step = max(bandwidth, compute) + (1 − overlap) × min(bandwidth, compute)
//          + layers × layer overhead
//   per-stream tokens/s = 1/step;  aggregate = B/step
// Prefill, one forward pass over the prompt:
//   seconds = 2 × active params × tokens / (FLOPs × eff_prefill × w) + layers × layer overhead
// w = hidden / (hidden + matmul half width): the share of a matmul's
// asymptotic rate reached at the model's width (a fixed cost per dot product,
// per output element, weighs more on narrow rows; 1 with no half width).
// overlap: 1 when a device streams weights while it computes (a GPU: the
// roofline max); below 1 when the same cores do both (a 2-vCPU CPU).
// layer overhead: operator launches and thread barriers per layer per forward
// pass, independent of the batch (0 on GPU rows: CUDA graphs).
// Where a model row gives its vocabulary, an untied input embedding is left
// out of "read" and "active" (a row lookup), and prefill leaves out the output
// matrix too (logits once per prompt). A hardware row may carry its own
// parameters (hardware.yaml `efficiency:`, fitted on that device: the CPU row
// is fitted to `arbitra bench` runs, see fitHardwareRow in measured.h);
// otherwise the defaults below apply (GPU rows: the published-figure fit;
// overlap 1, no half width, no layer overhead).
// Per tensor type (a CPU row with measured `kernels` and a model row with
// `tensor_bytes` for the format; otherwise the two lines above): each ggml
// tensor type t of the file (input embedding excluded) at its own kernel's
// measured rate, so a K-quant file's Q5_0/Q8_0/Q6_K fallback tensors and F16
// weights are priced as what they are:
//   bandwidth time = Σ_t bytes_t / (gemv_t × eff_bw) + (F32 + KV bytes) / (bandwidth × eff_bw)
//   compute time   = Σ_t 2 × params_t × B / (gemm_t × eff_decode × w)
//   prefill        = Σ_t 2 × params_t' × tokens / (gemm_t × eff_prefill × w) + layers × layer overhead
// params_t = bytes_t / bytes per weight of t; params_t' leaves the output
// matrix out (model row `output_type`). The efficiency factors are then of
// the kernel rates, not of the row's triad bandwidth and FMA peak.
// KV cache per token = 2 (K and V) × layers × kv_heads × head_dim × bytes per element
// Largest batch = (memory × usable fraction − weight bytes) / (KV per token × context)
//
// KV cache per token uses the format's kv_bits (16 unless the format says
// otherwise: FP8 keeps its KV cache in FP8).
//
// The GPU efficiency factors below are calibrated against published throughput
// (src/planner/calibration.h: which figure fixes which factor, and which
// figures are held out to check them); `bench/planner_calibration.sh` reruns
// the fit and prints predicted vs published. `--measured` overrides the model
// per hardware/model/format with `arbitra bench` figures. Every plan prints the
// factors it used.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "planner/catalog.h"

namespace arbitra::planner {

// The factors, all in one place; printed in every report. "fit" values come
// from calibration.cpp's fit (rounded to 3 decimals; a unit test reruns the fit
// and fails if these drift from it). The others are stated, not fitted.
//   bandwidth      fit: TensorRT-LLM, Llama-3.1-8B FP8, 1x H100, 128/2048 (KV-bound decode)
//   compute        fit: same, 128/128 (compute-bound decode and prefill); one figure
//                  cannot separate decode from prefill, so both take the same value
//   cpu*           stated: the defaults for a CPU row without its own `efficiency:`
//                  (no shipped row: cpu-2vcpu-avx2 has its own, fitted to quiet
//                  `arbitra bench` runs). They are the former fit to the llama.cpp
//                  2-vCPU figures of shared/data/published-figures.md (F16 decode ->
//                  cpuBandwidth, Q4_0 -> cpuBlockQuant, prompt processing ->
//                  cpuPrefillCompute) and a 4-stream decode measured here under
//                  load (cpuDecodeCompute), with the plain roofline (overlap 1,
//                  no layer overhead): a starting point, not a measurement
//   memoryUsable   stated: TensorRT-LLM's default kv_cache_free_gpu_mem_fraction 0.90
//   tensorParallel stated: no multi-device figure is used, not calibrated
//   maxBatch       stated: vLLM's default max_num_seqs (planning only; max-load
//                  predictions use the KV-limited batch, as TensorRT-LLM does)
// A GPU row has no layer overhead, no half width and overlap 1 unless it says
// otherwise: the TensorRT-LLM figures (batches of hundreds of 4,096-wide rows,
// CUDA graphs) give no evidence for them, and the fit above holds without them.
constexpr double kBandwidthEfficiency = 0.620;       // fit: achieved / peak memory bandwidth in decode
constexpr double kDecodeComputeEfficiency = 0.448;   // fit: achieved / peak tensor FLOPs in batched decode
constexpr double kPrefillComputeEfficiency = 0.448;  // fit: achieved / peak tensor FLOPs in prefill
constexpr double kCpuBandwidthEfficiency = 0.924;    // stated: CPU decode bandwidth / measured triad bandwidth
constexpr double kCpuBlockQuantEfficiency = 0.769;   // stated: CPU decode bandwidth of block-quantized weights / F16's
constexpr double kCpuPrefillComputeEfficiency = 0.517;  // stated: CPU prefill FLOPs / measured FMA peak
constexpr double kCpuDecodeComputeEfficiency = 0.238;   // stated: CPU batched-decode FLOPs / measured FMA peak
constexpr double kMemoryUsableFraction = 0.90;       // of device memory for weights + KV (rest: activations, runtime)
constexpr double kTensorParallelEfficiency = 0.85;   // per-device scaling when a replica spans 2+ devices
constexpr double kKvBytesPerElement = 2.0;           // F16 KV cache (formats without kv_bits)
constexpr int kMaxBatch = 256;                       // a serving engine's max concurrent sequences (vLLM max_num_seqs)

struct Efficiency {
  double bandwidth = kBandwidthEfficiency;
  double decodeCompute = kDecodeComputeEfficiency;
  double prefillCompute = kPrefillComputeEfficiency;
  double memoryUsable = kMemoryUsableFraction;
  double tensorParallel = kTensorParallelEfficiency;
  // On a CPU, block-quantized weights (llama.cpp Q4_0, Q4_K_M, Q8_0: bits < 16,
  // FP16 compute) stream at this fraction of F16's bandwidth: dequantizing
  // costs the 2 vCPUs time that a pure bandwidth model does not see.
  double cpuBlockQuant = kCpuBlockQuantEfficiency;
  // On a CPU row: achieved F16 decode bandwidth / the row's measured triad
  // bandwidth, and achieved matmul FLOPs / its measured FMA peak.
  double cpuBandwidth = kCpuBandwidthEfficiency;
  double cpuPrefillCompute = kCpuPrefillComputeEfficiency;
  double cpuDecodeCompute = kCpuDecodeComputeEfficiency;
  // Every row, unless it has its own (see the top of this file).
  double matmulHalfWidth = 0;  // hidden size at which matmuls reach half their asymptotic rate
  double layerOverheadUs = 0;  // fixed µs per layer per forward pass
  double overlap = 1.0;        // of bandwidth and compute time within a decode step
  int maxBatch = kMaxBatch;
  bool calibrated = true;  // these are calibration.cpp's fitted values (false: set by hand)
};

// What one replica (1..N devices acting as one) offers, in SI units.
struct DeviceBudget {
  double memoryBytes = 0;
  double bandwidthBytesPerS = 0;  // already × efficiency
  double decodeFlops = 0;         // already × efficiency
  double prefillFlops = 0;        // already × efficiency (at the asymptote: see matmulHalfWidth)
  double matmulHalfWidth = 0;     // w = hidden / (hidden + this) scales both FLOP rates
  double layerOverheadS = 0;      // per layer per forward pass
  double overlap = 1.0;           // 1: step = max(bandwidth, compute); 0: their sum
  // Per tensor type (CPU rows with `kernels`): the measured kernel rates, raw,
  // and the factors applied to them (bandwidth to gemv, the two compute ones to gemm).
  std::map<std::string, KernelRate> kernels;
  double kernelBandwidthEff = 1.0, kernelDecodeEff = 1.0, kernelPrefillEff = 1.0;
};

// Whether decode and prefill of `m` in `q` on `d` are priced per tensor type:
// `d` has kernels and either `m` has tensor_bytes for `q` with a kernel rate
// for every type but F32, or (no tensor_bytes) a kernel for the format's main
// type (F16, Q8_0, Q4_0; Q4_K for Q4_K_M) prices the whole file.
bool perTensorType(const DeviceBudget& d, const ModelShape& m, const Quantization& q);

// w above: the share of the asymptotic matmul rate a model of this width reaches.
double matmulWidthFactor(const DeviceBudget& d, const ModelShape& m);

// The budget of `devices` × `hw` running `quant` (FP8 matmuls need fp8Tflops:
// nullopt when the device has none).
std::optional<DeviceBudget> deviceBudget(const Hardware& hw, int devices, const Quantization& quant,
                                         const Efficiency& eff);

// Bits per weight of `model` in `quant`: the model row's own figure for that
// format where it has one (ModelShape::bitsPerWeight), else the format's.
double bitsPerWeight(const ModelShape& model, const Quantization& quant);
// Bytes of weights in memory.
double weightBytes(const ModelShape& model, const Quantization& quant);
// Bytes of weights one decode step streams: all but an untied input
// embedding (a row lookup). Mixture of experts: all experts (conservative).
double decodeReadBytes(const ModelShape& model, const Quantization& quant);
// Parameters multiplied per decoded token (FLOPs = 2 x this): all active
// ones but an untied input embedding.
double decodeParams(const ModelShape& model);
// Parameters multiplied per prompt token: decodeParams less the output
// matrix, which runs once per prompt (when the vocabulary is known).
double prefillParams(const ModelShape& model);
double kvBytesPerToken(const ModelShape& model, double bytesPerElement = kKvBytesPerElement);
// The same in the format's KV element size (kv_bits / 8).
double kvBytesPerToken(const ModelShape& model, const Quantization& quant);

// Seconds for one decode step at batch `batch`, each stream holding `contextTokens`.
double decodeStepSeconds(const DeviceBudget& d, const ModelShape& m, const Quantization& q, int batch,
                         double contextTokens);
// Aggregate decode tokens/s at batch `batch` (= batch / step).
double decodeTokensPerS(const DeviceBudget& d, const ModelShape& m, const Quantization& q, int batch,
                        double contextTokens);
double prefillSeconds(const DeviceBudget& d, const ModelShape& m, double tokens);
// The same, per tensor type where perTensorType(d, m, q).
double prefillSeconds(const DeviceBudget& d, const ModelShape& m, const Quantization& q, double tokens);
// Largest batch whose KV cache fits beside the weights at `contextTokens` per
// stream; 0 when even one stream does not fit (not capped by maxBatch).
int maxBatchByMemory(const DeviceBudget& d, const ModelShape& m, const Quantization& q, double contextTokens,
                     const Efficiency& eff);

// Output tokens/s of one replica at maximum load (an offline benchmark such
// as trtllm-bench: every request in/out tokens, as many at once as the KV
// cache holds, prefill interleaved): the KV-limited batch at in+out tokens per
// stream, not capped by maxBatch; 0 when one stream does not fit.
double maxLoadOutputTokensPerS(const DeviceBudget& d, const ModelShape& m, const Quantization& q, double input,
                               double output, const Efficiency& eff);

// Measured throughput for a hardware/model/format, from `--measured FILE.json`.
struct Measurement {
  int batch = 1;
  double decodeTokensPerS = 0;   // aggregate at `batch`
  double prefillTokensPerS = 0;  // 0: keep the modelled prefill
  std::string source;
};

// The traffic a replica must serve and the bar it must meet.
struct ServingShape {
  double inputMean = 0, inputP95 = 0, outputMean = 0, outputP95 = 0;
  double maxTtftMs = 0;
  double minTokensPerS = 0;
};

// One replica sized to the bar: the largest batch that still meets it.
struct ReplicaPerf {
  bool fits = false;  // weights + one stream's KV fit in memory
  bool meetsBar = false;
  std::string whyNot;  // when !fits or !meetsBar
  int devices = 1;
  int batch = 0;        // concurrent streams at which the bar holds
  int memoryBatch = 0;  // KV-limited batch
  double perStreamTokensPerS = 0;
  double aggregateTokensPerS = 0;  // decode tokens/s across streams
  double requestsPerS = 0;         // with prefill time included
  double ttftMs = 0;               // p95 input prefill + one decode step
  bool measured = false;
};

// Sizes a replica of `devices` devices. With `measured`, its decode and
// prefill rates replace the modelled ones (its batch is used as is).
ReplicaPerf sizeReplica(const DeviceBudget& d, int devices, const ModelShape& m, const Quantization& q,
                        const ServingShape& s, const Efficiency& eff, const Measurement* measured = nullptr);

}  // namespace arbitra::planner
