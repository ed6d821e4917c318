// The roofline throughput model (see throughput.h). No I/O.
#include "planner/throughput.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

namespace arbitra::planner {

namespace {
constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
}

std::optional<DeviceBudget> deviceBudget(const Hardware& hw, int devices, const Quantization& quant,
                                         const Efficiency& eff) {
  double tflops = hw.fp16Tflops;
  if (quant.fp8Compute) {
    if (!hw.fp8Tflops) return std::nullopt;
    tflops = *hw.fp8Tflops;
  }
  const bool cpu = hw.kind == HardwareKind::Cpu;
  double bwEff = hw.bandwidthEfficiency.value_or(cpu ? eff.cpuBandwidth : eff.bandwidth);
  if (cpu && !quant.fp8Compute && quant.bitsPerWeight < 16) bwEff *= hw.blockQuantEfficiency.value_or(eff.cpuBlockQuant);
  double decodeEff = hw.decodeComputeEfficiency.value_or(cpu ? eff.cpuDecodeCompute : eff.decodeCompute);
  double prefillEff = hw.prefillComputeEfficiency.value_or(cpu ? eff.cpuPrefillCompute : eff.prefillCompute);
  double scale = devices > 1 ? devices * eff.tensorParallel : 1.0;
  DeviceBudget d;
  d.memoryBytes = hw.memoryGib * kGiB * devices;
  d.bandwidthBytesPerS = hw.bandwidthGBs * 1e9 * bwEff * scale;
  d.decodeFlops = tflops * 1e12 * decodeEff * scale;
  d.prefillFlops = tflops * 1e12 * prefillEff * scale;
  d.matmulHalfWidth = hw.matmulHalfWidth.value_or(eff.matmulHalfWidth);
  d.layerOverheadS = hw.layerOverheadUs.value_or(eff.layerOverheadUs) * 1e-6;
  d.overlap = hw.overlap.value_or(eff.overlap);
  if (cpu && !hw.kernels.empty()) {
    // Per tensor type: the factors apply to the kernels' rates; KV and F32
    // tensors stream at the triad bandwidth, with no block-quant discount.
    d.kernels = hw.kernels;
    d.kernelBandwidthEff = hw.bandwidthEfficiency.value_or(eff.cpuBandwidth) * scale;
    d.kernelDecodeEff = decodeEff * scale;
    d.kernelPrefillEff = prefillEff * scale;
    d.bandwidthBytesPerS = hw.bandwidthGBs * 1e9 * d.kernelBandwidthEff;
  }
  return d;
}

double bitsPerWeight(const ModelShape& model, const Quantization& quant) {
  auto own = model.bitsPerWeight.find(quant.id);
  return own != model.bitsPerWeight.end() ? own->second : quant.bitsPerWeight;
}

double weightBytes(const ModelShape& model, const Quantization& quant) {
  return model.params * bitsPerWeight(model, quant) / 8.0;
}

namespace {
// Parameters of one embedding matrix (vocab x hidden); 0 when the vocabulary is unknown.
double embeddingParams(const ModelShape& m) { return static_cast<double>(m.vocab) * m.hidden; }
// The untied input embedding: looked up, never streamed nor multiplied.
double lookupOnlyParams(const ModelShape& m) { return m.tiedEmbeddings ? 0.0 : embeddingParams(m); }
}  // namespace

double decodeReadBytes(const ModelShape& model, const Quantization& quant) {
  return (model.params - lookupOnlyParams(model)) * bitsPerWeight(model, quant) / 8.0;
}

double decodeParams(const ModelShape& model) { return model.activeParams - lookupOnlyParams(model); }

double prefillParams(const ModelShape& model) {
  // Input embedding looked up; output matrix run once per prompt, not per token.
  return model.activeParams - lookupOnlyParams(model) - embeddingParams(model);
}

double kvBytesPerToken(const ModelShape& model, double bytesPerElement) {
  return 2.0 * model.layers * model.kvHeads * model.headDim * bytesPerElement;
}

double kvBytesPerToken(const ModelShape& model, const Quantization& quant) {
  return kvBytesPerToken(model, quant.kvBits / 8.0);
}

double matmulWidthFactor(const DeviceBudget& d, const ModelShape& m) {
  if (d.matmulHalfWidth <= 0) return 1.0;
  return m.hidden / (m.hidden + d.matmulHalfWidth);
}

namespace {

// The ggml tensor type most of a format's weights are stored in, for a model
// row without `tensor_bytes` on a row with kernels.
std::string mainGgmlType(const std::string& format) {
  if (format == "Q4_K_M") return "Q4_K";
  return format;  // F16, Q8_0, Q4_0
}

// One tensor type's share of a decode step and of a prompt token.
struct TypeShare {
  std::string type;
  double bytes = 0, params = 0, prefillParams = 0;
};

// The model's weights by tensor type, where the row has kernels for them:
// the model row's tensor_bytes for the format, else everything in the
// format's main type; empty when neither applies (then the one-rate model).
std::vector<TypeShare> typeShares(const DeviceBudget& d, const ModelShape& m, const Quantization& q) {
  std::vector<TypeShare> out;
  if (d.kernels.empty()) return out;
  auto it = m.tensorBytes.find(q.id);
  if (it != m.tensorBytes.end() && !it->second.empty()) {
    auto outType = m.outputType.find(q.id);
    for (const auto& [type, bytes] : it->second) {
      if (type == "F32" || bytes <= 0) {
        out.push_back({"F32", bytes, 0, 0});
        continue;
      }
      if (!d.kernels.count(type)) return {};
      double params = bytes / ggmlTypeBytesPerWeight(type);
      double prefill = params;
      if (outType != m.outputType.end() && outType->second == type)
        prefill = std::max(0.0, params - static_cast<double>(m.vocab) * m.hidden);
      out.push_back({type, bytes, params, prefill});
    }
    return out;
  }
  std::string main = mainGgmlType(q.id);
  if (!d.kernels.count(main)) return {};
  out.push_back({main, decodeReadBytes(m, q), decodeParams(m), prefillParams(m)});
  return out;
}

}  // namespace

bool perTensorType(const DeviceBudget& d, const ModelShape& m, const Quantization& q) {
  return !typeShares(d, m, q).empty();
}

double decodeStepSeconds(const DeviceBudget& d, const ModelShape& m, const Quantization& q, int batch,
                         double contextTokens) {
  double kvBytes = batch * contextTokens * kvBytesPerToken(m, q);
  double bandwidthTime, computeTime;
  auto shares = typeShares(d, m, q);
  if (!shares.empty()) {
    double w = matmulWidthFactor(d, m);
    bandwidthTime = kvBytes / d.bandwidthBytesPerS;
    computeTime = 0;
    for (const auto& s : shares) {
      if (s.type == "F32") {
        bandwidthTime += s.bytes / d.bandwidthBytesPerS;
        continue;
      }
      const KernelRate& k = d.kernels.at(s.type);
      bandwidthTime += s.bytes / (k.gemvGBs * 1e9 * d.kernelBandwidthEff);
      computeTime += 2.0 * s.params * batch / (k.gemmGflops * 1e9 * d.kernelDecodeEff * w);
    }
  } else {
    bandwidthTime = (decodeReadBytes(m, q) + kvBytes) / d.bandwidthBytesPerS;
    computeTime = 2.0 * decodeParams(m) * batch / (d.decodeFlops * matmulWidthFactor(d, m));
  }
  return std::max(bandwidthTime, computeTime) + (1.0 - d.overlap) * std::min(bandwidthTime, computeTime) +
         m.layers * d.layerOverheadS;
}

double decodeTokensPerS(const DeviceBudget& d, const ModelShape& m, const Quantization& q, int batch,
                        double contextTokens) {
  return batch / decodeStepSeconds(d, m, q, batch, contextTokens);
}

double prefillSeconds(const DeviceBudget& d, const ModelShape& m, double tokens) {
  return 2.0 * prefillParams(m) * tokens / (d.prefillFlops * matmulWidthFactor(d, m)) + m.layers * d.layerOverheadS;
}

double prefillSeconds(const DeviceBudget& d, const ModelShape& m, const Quantization& q, double tokens) {
  auto shares = typeShares(d, m, q);
  if (shares.empty()) return prefillSeconds(d, m, tokens);
  double w = matmulWidthFactor(d, m), seconds = 0;
  for (const auto& s : shares) {
    if (s.type == "F32") continue;
    seconds += 2.0 * s.prefillParams * tokens / (d.kernels.at(s.type).gemmGflops * 1e9 * d.kernelPrefillEff * w);
  }
  return seconds + m.layers * d.layerOverheadS;
}

int maxBatchByMemory(const DeviceBudget& d, const ModelShape& m, const Quantization& q, double contextTokens,
                     const Efficiency& eff) {
  double free = d.memoryBytes * eff.memoryUsable - weightBytes(m, q);
  if (free <= 0) return 0;
  double perStream = kvBytesPerToken(m, q) * std::max(1.0, contextTokens);
  return static_cast<int>(std::min(1e9, std::floor(free / perStream)));
}

namespace {

// Throughput of a replica running `batch` streams, prefill interleaved:
// each request costs its prefill time plus its share of decode steps.
struct AtBatch {
  double perStream = 0, aggregate = 0, requestsPerS = 0, stepSeconds = 0;
};

AtBatch atBatch(double step, int batch, double prefillPerRequest, double outputMean) {
  AtBatch a;
  a.stepSeconds = step;
  a.aggregate = batch / step;
  // Seconds of replica time per request: prefill + output tokens at the aggregate rate.
  a.requestsPerS = 1.0 / (prefillPerRequest + outputMean / a.aggregate);
  double prefillShare = std::min(1.0, a.requestsPerS * prefillPerRequest);
  a.perStream = (1.0 / step) * (1.0 - prefillShare);
  return a;
}

}  // namespace

double maxLoadOutputTokensPerS(const DeviceBudget& d, const ModelShape& m, const Quantization& q, double input,
                               double output, const Efficiency& eff) {
  int batch = maxBatchByMemory(d, m, q, input + output, eff);
  if (batch < 1) return 0;
  double step = decodeStepSeconds(d, m, q, batch, input + output / 2);
  return atBatch(step, batch, prefillSeconds(d, m, q, input), output).requestsPerS * output;
}

namespace {

std::string fmt(const char* format, double a, double b = 0) {
  char buf[160];
  std::snprintf(buf, sizeof buf, format, a, b);
  return buf;
}

}  // namespace

ReplicaPerf sizeReplica(const DeviceBudget& d, int devices, const ModelShape& m, const Quantization& q,
                        const ServingShape& s, const Efficiency& eff, const Measurement* measured) {
  ReplicaPerf r;
  r.devices = devices;
  double reserve = s.inputP95 + s.outputP95;            // KV reserved per stream
  double readContext = s.inputMean + s.outputMean / 2;  // KV read per stream per step, on average
  if (reserve > static_cast<double>(m.context)) {
    r.whyNot = fmt("p95 context %.0f tokens exceeds the model's %.0f", reserve, static_cast<double>(m.context));
    return r;
  }
  r.memoryBatch = maxBatchByMemory(d, m, q, reserve, eff);
  if (r.memoryBatch < 1) {
    r.whyNot =
        fmt("weights %.1f GB + one stream's KV do not fit %.0f GB", weightBytes(m, q) / 1e9, d.memoryBytes / 1e9);
    return r;
  }
  r.fits = true;
  double prefillPerRequest = prefillSeconds(d, m, q, s.inputMean);
  double prefillP95 = prefillSeconds(d, m, q, s.inputP95);
  if (measured && measured->prefillTokensPerS > 0) {
    prefillPerRequest = s.inputMean / measured->prefillTokensPerS;
    prefillP95 = s.inputP95 / measured->prefillTokensPerS;
  }
  auto evaluate = [&](int batch) {
    double step =
        measured ? measured->batch / measured->decodeTokensPerS : decodeStepSeconds(d, m, q, batch, readContext);
    return atBatch(step, batch, prefillPerRequest, s.outputMean);
  };
  auto meets = [&](const AtBatch& a) {
    double ttftMs = (prefillP95 + a.stepSeconds) * 1000.0;
    return a.perStream >= s.minTokensPerS && ttftMs <= s.maxTtftMs;
  };
  auto record = [&](int batch, const AtBatch& a) {
    r.batch = batch;
    r.perStreamTokensPerS = a.perStream;
    r.aggregateTokensPerS = a.aggregate;
    r.requestsPerS = a.requestsPerS;
    r.ttftMs = (prefillP95 + a.stepSeconds) * 1000.0;
  };
  if (measured) {
    r.measured = true;
    int batch = std::min(measured->batch, r.memoryBatch);
    AtBatch a = evaluate(batch);
    record(batch, a);
    r.meetsBar = meets(a);
  } else {
    int hi = std::min(r.memoryBatch, eff.maxBatch);
    AtBatch one = evaluate(1);
    record(1, one);
    if (meets(one)) {
      // Per-stream speed falls and TTFT rises with the batch: binary search.
      int lo = 1;
      while (lo < hi) {
        int mid = lo + (hi - lo + 1) / 2;
        if (meets(evaluate(mid)))
          lo = mid;
        else
          hi = mid - 1;
      }
      record(lo, evaluate(lo));
      r.meetsBar = true;
    }
  }
  if (!r.meetsBar) {
    if (r.ttftMs > s.maxTtftMs)
      r.whyNot = fmt("TTFT %.0f ms > %.0f ms at the p95 input", r.ttftMs, s.maxTtftMs);
    else
      r.whyNot = fmt("%.1f tokens/s per stream < %.1f", r.perStreamTokensPerS, s.minTokensPerS);
  }
  return r;
}

}  // namespace arbitra::planner
