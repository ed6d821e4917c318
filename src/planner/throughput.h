// The throughput model: first-principles (roofline) estimates of what one
// replica of a model serves on a device. Pure functions of plain values, no I/O.
//
// Decode, one step of batch B (every active stream emits one token):
//   bandwidth time = (weight bytes read + B × KV bytes read per stream) / (bandwidth × eff_bw)
//   compute time   = 2 × active params × B / (FLOPs × eff_decode)
//   step = max of the two;  per-stream tokens/s = 1/step;  aggregate = B/step
// Prefill (compute-bound): seconds = 2 × active params × tokens / (FLOPs × eff_prefill)
// Where a model row gives its vocabulary, an untied input embedding is left
// out of "read" and "active" (a row lookup), and prefill leaves out the output
// matrix too (logits once per prompt). On a CPU row the factors are the CPU
// ones (cpuBandwidth × cpuBlockQuant for block-quantized weights,
// cpuDecodeCompute, cpuPrefillCompute), relative to the row's measured triad
// bandwidth and FMA peak.
// KV cache per token = 2 (K and V) × layers × kv_heads × head_dim × bytes per element
// Largest batch = (memory × usable fraction − weight bytes) / (KV per token × context)
//
// KV cache per token uses the format's kv_bits (16 unless the format says
// otherwise: FP8 keeps its KV cache in FP8).
//
// The efficiency factors below are calibrated against published throughput
// (src/planner/calibration.h: which figure fixes which factor, and which
// figures are held out to check them); `bench/planner_calibration.sh` reruns
// the fit and prints predicted vs published. `--measured` overrides the model
// per hardware/model/format with `arbitra bench` figures. Every plan prints the
// factors it used.
#pragma once

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
//   cpuBandwidth   fit: llama.cpp F16 decode on the 2-vCPU machine, against the row's
//                  measured STREAM triad bandwidth
//   cpuBlockQuant  fit: llama.cpp Q4_0 decode on the 2-vCPU machine, relative to F16
//   cpuPrefillCompute  fit: llama.cpp prompt processing on the 2-vCPU machine (37 tokens/s),
//                  against the row's measured AVX2 FP32 FMA peak
//   cpuDecodeCompute   fit: a 4-stream decode of the 135m test model measured with
//                  `arbitra bench` here (a few tokens per matmul run far below the
//                  prefill kernels' rate)
//   memoryUsable   stated: TensorRT-LLM's default kv_cache_free_gpu_mem_fraction 0.90
//   tensorParallel stated: no multi-device figure is used, not calibrated
//   maxBatch       stated: vLLM's default max_num_seqs (planning only; max-load
//                  predictions use the KV-limited batch, as TensorRT-LLM does)
constexpr double kBandwidthEfficiency = 0.620;       // fit: achieved / peak memory bandwidth in decode
constexpr double kDecodeComputeEfficiency = 0.448;   // fit: achieved / peak tensor FLOPs in batched decode
constexpr double kPrefillComputeEfficiency = 0.448;  // fit: achieved / peak tensor FLOPs in prefill
constexpr double kCpuBandwidthEfficiency = 0.924;    // fit: CPU F16 decode bandwidth / measured triad bandwidth
constexpr double kCpuBlockQuantEfficiency = 0.769;   // fit: CPU decode bandwidth of block-quantized weights / F16's
constexpr double kCpuPrefillComputeEfficiency = 0.517;  // fit: CPU prefill FLOPs / measured FMA peak
constexpr double kCpuDecodeComputeEfficiency = 0.238;   // fit: CPU batched-decode FLOPs / measured FMA peak
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
  int maxBatch = kMaxBatch;
  bool calibrated = true;  // these are calibration.cpp's fitted values (false: set by hand)
};

// What one replica (1..N devices acting as one) offers, in SI units.
struct DeviceBudget {
  double memoryBytes = 0;
  double bandwidthBytesPerS = 0;  // already × efficiency
  double decodeFlops = 0;         // already × efficiency
  double prefillFlops = 0;        // already × efficiency
};

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
