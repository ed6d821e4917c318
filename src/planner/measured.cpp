// Parsing measured throughput (see measured.h).
#include "planner/measured.h"

#include <boost/json.hpp>
#include <cmath>

#include "planner/plan.h"

namespace arbitra::planner {

std::vector<MeasuredRow> parseMeasuredRows(const std::string& text, const std::string& file,
                                           const Catalog& catalog) {
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(text, ec);
  if (ec) throw PlannerError(file + ": not valid JSON: " + ec.message());
  auto fail = [&](const std::string& path, const std::string& what) -> void {
    throw PlannerError(file + ": " + path + ": " + what);
  };
  if (!doc.is_object() || !doc.as_object().contains("results") || !doc.at("results").is_array()) {
    fail("results", "expected an object with a \"results\" array");
  }
  std::vector<MeasuredRow> out;
  const auto& results = doc.at("results").as_array();
  for (size_t i = 0; i < results.size(); ++i) {
    std::string at = "results[" + std::to_string(i) + "]";
    if (!results[i].is_object()) fail(at, "expected an object");
    const auto& r = results[i].as_object();
    auto str = [&](const char* key) {
      if (!r.contains(key) || !r.at(key).is_string()) fail(at + "." + key, "missing (a string)");
      return std::string(r.at(key).as_string());
    };
    auto num = [&](const char* key, bool required) {
      if (!r.contains(key)) {
        if (required) fail(at + "." + key, "missing (a number)");
        return 0.0;
      }
      if (!r.at(key).is_number()) fail(at + "." + key, "expected a number");
      double v = r.at(key).to_number<double>();
      if (!std::isfinite(v) || v < 0) fail(at + "." + key, "must be a non-negative number");
      return v;
    };
    std::string hw = str("hardware"), model = str("model"), quant = str("quant");
    if (!catalog.findHardware(hw)) fail(at + ".hardware", "unknown hardware '" + hw + "'");
    if (!catalog.findModel(model)) fail(at + ".model", "unknown model '" + model + "'");
    if (!catalog.findQuantization(quant)) fail(at + ".quant", "unknown quantization '" + quant + "'");
    Measurement m;
    double batch = r.contains("batch") ? num("batch", true) : 1;
    if (batch < 1 || std::floor(batch) != batch) fail(at + ".batch", "expected a whole number >= 1");
    m.batch = static_cast<int>(batch);
    m.decodeTokensPerS = num("decode_tokens_per_s", true);
    if (m.decodeTokensPerS <= 0) fail(at + ".decode_tokens_per_s", "must be above zero");
    m.prefillTokensPerS = num("prefill_tokens_per_s", false);
    m.source = r.contains("source") && r.at("source").is_string() ? std::string(r.at("source").as_string()) : file;
    out.push_back({hw, model, quant, m});
  }
  return out;
}

std::map<std::string, Measurement> parseMeasurements(const std::string& text, const std::string& file,
                                                     const Catalog& catalog) {
  std::map<std::string, Measurement> out;
  for (auto& row : parseMeasuredRows(text, file, catalog)) {
    auto key = measurementKey(row.hardware, row.model, row.quant);
    auto it = out.find(key);
    if (it == out.end() || row.measurement.batch >= it->second.batch) out[key] = row.measurement;
  }
  return out;
}

std::map<std::string, Measurement> loadMeasurements(const std::string& path, const Catalog& catalog) {
  return parseMeasurements(readFile(path), path, catalog);
}

}  // namespace arbitra::planner
