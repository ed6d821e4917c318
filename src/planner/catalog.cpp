// Catalog loading and validation (see catalog.h).
#include "planner/catalog.h"

#include <fstream>
#include <set>
#include <sstream>

#include "planner/yaml_fields.h"

namespace arbitra::planner {

using detail::Fields;

namespace {

std::string indexPath(const std::string& list, size_t i) {
  return list + "[" + std::to_string(i) + "]";
}

Provenance provenance(const Fields& f) {
  Provenance p;
  p.source = f.str("source");
  p.asOf = f.date("as_of");
  p.file = f.file();
  p.line = f.line();
  return p;
}

// Rejects a second row with the same id.
void unique(std::set<std::string>& seen, const Fields& f, const std::string& id) {
  if (!seen.insert(id).second) f.failAt("id", "duplicate id '" + id + "'");
}

template <typename T>
const T* findById(const std::vector<T>& rows, const std::string& id) {
  for (const auto& row : rows) {
    if (row.id == id) return &row;
  }
  return nullptr;
}

}  // namespace

double ggmlTypeBytesPerWeight(const std::string& type) {
  // ggml's block layouts (ggml-common.h): bytes per block / weights per block.
  static const std::map<std::string, double> kBytes = {
      {"F32", 4.0},           {"F16", 2.0},           {"BF16", 2.0},          {"Q8_0", 34.0 / 32},
      {"Q4_0", 18.0 / 32},    {"Q4_1", 20.0 / 32},    {"Q5_0", 22.0 / 32},    {"Q5_1", 24.0 / 32},
      {"Q2_K", 84.0 / 256},   {"Q3_K", 110.0 / 256},  {"Q4_K", 144.0 / 256},  {"Q5_K", 176.0 / 256},
      {"Q6_K", 210.0 / 256},  {"Q8_K", 292.0 / 256},  {"IQ4_NL", 18.0 / 32}};
  auto it = kBytes.find(type);
  return it == kBytes.end() ? 0.0 : it->second;
}

const ApiPrice* Catalog::findPrice(const std::string& id) const {
  return findById(prices, id);
}
const Hardware* Catalog::findHardware(const std::string& id) const {
  return findById(hardware, id);
}
const ModelShape* Catalog::findModel(const std::string& id) const {
  return findById(models, id);
}
const Quantization* Catalog::findQuantization(const std::string& id) const {
  return findById(quantizations, id);
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw PlannerError(path + ": cannot read the file");
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void parseApiPrices(const std::string& text, const std::string& file, Catalog& catalog) {
  auto list = detail::rootList(detail::parseYaml(text, file), "prices", file);
  std::set<std::string> seen;
  for (const auto& p : catalog.prices) seen.insert(p.id);
  for (size_t i = 0; i < list.size(); ++i) {
    Fields f(list[i], file, indexPath("prices", i));
    f.onlyKeys({"id", "provider", "input", "output", "cached_input", "batch_input", "batch_output", "context", "serves",
                "source", "as_of"});
    ApiPrice p;
    p.id = f.str("id");
    unique(seen, f, p.id);
    p.provider = f.str("provider");
    p.input = f.dollars("input");
    p.output = f.dollars("output");
    p.cachedInput = f.optDollars("cached_input");
    p.batchInput = f.optDollars("batch_input");
    p.batchOutput = f.optDollars("batch_output");
    if (p.batchInput.has_value() != p.batchOutput.has_value()) {
      f.failAt(p.batchInput ? "batch_input" : "batch_output", "batch_input and batch_output go together");
    }
    p.context = f.optInteger("context", 1, int64_t{1} << 40).value_or(0);
    p.serves = f.optStr("serves").value_or("");
    p.from = provenance(f);
    catalog.prices.push_back(std::move(p));
  }
}

void parseHardware(const std::string& text, const std::string& file, Catalog& catalog) {
  auto list = detail::rootList(detail::parseYaml(text, file), "hardware", file);
  std::set<std::string> seen;
  for (const auto& h : catalog.hardware) seen.insert(h.id);
  for (size_t i = 0; i < list.size(); ++i) {
    Fields f(list[i], file, indexPath("hardware", i));
    f.onlyKeys({"id", "name", "kind", "memory_gib", "bandwidth_gbs", "fp16_tflops", "fp8_tflops", "int8_tops",
                "tdp_watts", "efficiency", "kernels", "source", "as_of"});
    Hardware h;
    h.id = f.str("id");
    unique(seen, f, h.id);
    h.name = f.str("name");
    std::string kind = f.str("kind");
    if (kind == "gpu")
      h.kind = HardwareKind::Gpu;
    else if (kind == "cpu")
      h.kind = HardwareKind::Cpu;
    else
      f.failAt("kind", "expected gpu or cpu (got " + kind + ")");
    h.memoryGib = f.num("memory_gib", 0.001, 1e6);
    h.bandwidthGBs = f.num("bandwidth_gbs", 0.001, 1e6);
    h.fp16Tflops = f.num("fp16_tflops", 1e-6, 1e6);
    h.fp8Tflops = f.optNum("fp8_tflops", 1e-6, 1e6);
    h.int8Tops = f.optNum("int8_tops", 1e-6, 1e6);
    h.tdpWatts = static_cast<int>(f.integer("tdp_watts", 1, 100'000));
    if (f.has("efficiency")) {
      Fields e = f.sub("efficiency");
      e.onlyKeys({"bandwidth", "block_quant", "compute", "decode_compute", "prefill_compute", "matmul_half_width",
                  "layer_overhead_us", "overlap"});
      // Of bandwidth_gbs (<= 1), or of measured kernel rates (`kernels`, checked below: up to 4).
      h.bandwidthEfficiency = e.optNum("bandwidth", 0.01, 4.0);
      h.blockQuantEfficiency = e.optNum("block_quant", 0.01, 2.0);
      if (h.blockQuantEfficiency && h.kind != HardwareKind::Cpu)
        e.failAt("block_quant", "applies to CPU rows only (kind: cpu)");
      auto compute = e.optNum("compute", 0.01, 1.0);
      // A matmul efficiency is of the row's peak at the asymptote (wide
      // matrices); with a half width it may be read at > 1 of a narrow peak
      // figure (e.g. 8-bit integer dot products against an FP32 FMA peak).
      h.decodeComputeEfficiency = e.optNum("decode_compute", 0.001, 4.0);
      h.prefillComputeEfficiency = e.optNum("prefill_compute", 0.001, 4.0);
      if (compute && (h.decodeComputeEfficiency || h.prefillComputeEfficiency))
        e.failAt("compute", "give either compute (both) or decode_compute/prefill_compute, not both");
      if (compute) h.decodeComputeEfficiency = h.prefillComputeEfficiency = compute;
      h.matmulHalfWidth = e.optNum("matmul_half_width", 0.0, 1e6);
      h.layerOverheadUs = e.optNum("layer_overhead_us", 0.0, 1e6);
      h.overlap = e.optNum("overlap", 0.0, 1.0);
    }
    if (f.has("kernels")) {
      if (h.kind != HardwareKind::Cpu) f.failAt("kernels", "applies to CPU rows only (kind: cpu)");
      Fields k = f.sub("kernels");
      for (const auto& type : k.keys()) {
        if (ggmlTypeBytesPerWeight(type) == 0) k.failAt(type, "unknown tensor type '" + type + "'");
        Fields r = k.sub(type);
        r.onlyKeys({"gemv_gbs", "gemm_gflops"});
        h.kernels[type] = {r.num("gemv_gbs", 0.001, 1e6), r.num("gemm_gflops", 0.001, 1e9)};
      }
    }
    if (h.bandwidthEfficiency && *h.bandwidthEfficiency > 1.0 && h.kernels.empty())
      f.sub("efficiency").failAt("bandwidth", "must be at most 1 (of bandwidth_gbs) on a row without kernels");
    h.from = provenance(f);
    catalog.hardware.push_back(std::move(h));
  }
}

void parseOffers(const std::string& text, const std::string& file, Catalog& catalog) {
  auto list = detail::rootList(detail::parseYaml(text, file), "offers", file);
  std::set<std::string> seen;
  for (const auto& o : catalog.offers) seen.insert(o.id);
  for (size_t i = 0; i < list.size(); ++i) {
    Fields f(list[i], file, indexPath("offers", i));
    f.onlyKeys({"id", "hardware", "provider", "usd_per_hour", "term", "source", "as_of"});
    Offer o;
    o.id = f.str("id");
    unique(seen, f, o.id);
    o.hardware = f.str("hardware");
    if (!catalog.findHardware(o.hardware))
      f.failAt("hardware", "unknown hardware '" + o.hardware + "' (not in hardware.yaml)");
    o.provider = f.str("provider");
    o.perHour = f.dollars("usd_per_hour");
    if (o.perHour == 0) f.failAt("usd_per_hour", "a rental price of $0/hour is not a price");
    o.term = f.optStr("term").value_or("on-demand");
    o.from = provenance(f);
    catalog.offers.push_back(std::move(o));
  }
}

void parseModels(const std::string& text, const std::string& file, Catalog& catalog) {
  auto root = detail::parseYaml(text, file);
  auto list = detail::rootList(root, "models", file, {"quantizations"});
  std::set<std::string> seen;
  for (const auto& m : catalog.models) seen.insert(m.id);
  for (size_t i = 0; i < list.size(); ++i) {
    Fields f(list[i], file, indexPath("models", i));
    f.onlyKeys({"id", "name", "params", "active_params", "layers", "hidden", "kv_heads", "head_dim", "context",
                "vocab", "tied_embeddings", "bits_per_weight", "tensor_bytes", "output_type", "source", "as_of"});
    ModelShape m;
    m.id = f.str("id");
    unique(seen, f, m.id);
    m.name = f.str("name");
    m.params = f.num("params", 1e6, 1e13);
    m.activeParams = f.optNum("active_params", 1e6, m.params).value_or(m.params);
    m.layers = static_cast<int>(f.integer("layers", 1, 10'000));
    m.hidden = static_cast<int>(f.integer("hidden", 1, 1'000'000));
    m.kvHeads = static_cast<int>(f.integer("kv_heads", 1, 10'000));
    m.headDim = static_cast<int>(f.integer("head_dim", 1, 100'000));
    m.context = f.integer("context", 1, int64_t{1} << 40);
    m.vocab = f.optInteger("vocab", 1, int64_t{1} << 32).value_or(0);
    m.tiedEmbeddings = f.optBool("tied_embeddings").value_or(true);
    if (m.vocab > 0) {
      double embedding = static_cast<double>(m.vocab) * m.hidden;
      if (embedding * (m.tiedEmbeddings ? 1 : 2) >= m.activeParams) {
        f.failAt("vocab", "the embedding matrices (vocab x hidden) exceed the parameter count");
      }
    }
    if (f.has("bits_per_weight")) {
      Fields bits = f.sub("bits_per_weight");
      for (const auto& key : bits.keys()) m.bitsPerWeight[key] = bits.num(key, 1, 64);
    }
    if (f.has("tensor_bytes")) {
      Fields formats = f.sub("tensor_bytes");
      for (const auto& format : formats.keys()) {
        Fields types = formats.sub(format);
        for (const auto& type : types.keys()) {
          if (ggmlTypeBytesPerWeight(type) == 0) types.failAt(type, "unknown tensor type '" + type + "'");
          m.tensorBytes[format][type] = types.num(type, 0, 1e15);
        }
      }
    }
    if (f.has("output_type")) {
      if (m.vocab == 0) f.failAt("output_type", "needs vocab (the output matrix is vocab x hidden)");
      Fields out = f.sub("output_type");
      for (const auto& format : out.keys()) {
        std::string type = out.str(format);
        if (ggmlTypeBytesPerWeight(type) == 0) out.failAt(format, "unknown tensor type '" + type + "'");
        auto bytes = m.tensorBytes.find(format);
        double needed = static_cast<double>(m.vocab) * m.hidden * ggmlTypeBytesPerWeight(type);
        if (bytes == m.tensorBytes.end() || bytes->second[type] < needed * 0.999)
          out.failAt(format, "tensor_bytes of this format hold less " + type + " than the output matrix");
        m.outputType[format] = type;
      }
    }
    m.from = provenance(f);
    catalog.models.push_back(std::move(m));
  }
  auto quants = root["quantizations"];
  if (!quants.IsDefined()) return;
  if (!quants.IsSequence()) detail::fail(file, detail::lineOf(quants), "quantizations", "expected a list");
  std::set<std::string> seenQ;
  for (const auto& q : catalog.quantizations) seenQ.insert(q.id);
  for (size_t i = 0; i < quants.size(); ++i) {
    Fields f(quants[i], file, indexPath("quantizations", i));
    f.onlyKeys({"id", "bits_per_weight", "compute", "kv_bits", "source", "as_of"});
    Quantization q;
    q.id = f.str("id");
    unique(seenQ, f, q.id);
    q.bitsPerWeight = f.num("bits_per_weight", 1, 64);
    q.kvBits = f.optNum("kv_bits", 4, 32).value_or(16);
    std::string compute = f.str("compute");
    if (compute == "fp8")
      q.fp8Compute = true;
    else if (compute != "fp16")
      f.failAt("compute", "expected fp16 or fp8 (got " + compute + ")");
    q.from = provenance(f);
    catalog.quantizations.push_back(std::move(q));
  }
}

Catalog loadCatalog(const std::string& dir) {
  Catalog catalog;
  auto path = [&](const char* name) { return dir + "/" + name; };
  parseApiPrices(readFile(path("api_prices.yaml")), path("api_prices.yaml"), catalog);
  parseHardware(readFile(path("hardware.yaml")), path("hardware.yaml"), catalog);
  parseOffers(readFile(path("gpu_offers.yaml")), path("gpu_offers.yaml"), catalog);
  parseModels(readFile(path("models.yaml")), path("models.yaml"), catalog);
  // A model's per-format bits and tensor bytes must name known formats.
  for (const auto& m : catalog.models) {
    for (const auto& [format, types] : m.tensorBytes) {
      if (!catalog.findQuantization(format)) {
        throw PlannerError(m.from.file + ":" + std::to_string(m.from.line) + ": models: " + m.id +
                           ": tensor_bytes: unknown format '" + format + "' (not in quantizations)");
      }
    }
    for (const auto& [format, bits] : m.bitsPerWeight) {
      if (!catalog.findQuantization(format)) {
        throw PlannerError(m.from.file + ":" + std::to_string(m.from.line) + ": models: " + m.id +
                           ": bits_per_weight: unknown format '" + format + "' (not in quantizations)");
      }
    }
  }
  // Cross-file: a hosted API row must name a known open-weight model.
  for (const auto& p : catalog.prices) {
    if (!p.serves.empty() && !catalog.findModel(p.serves)) {
      throw PlannerError(p.from.file + ":" + std::to_string(p.from.line) + ": prices: serves: unknown model '" +
                         p.serves + "' (not in models.yaml)");
    }
  }
  return catalog;
}

}  // namespace arbitra::planner
