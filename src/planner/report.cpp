// Text, JSON and SVG renderings of a plan (see report.h).
#include "planner/report.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>

namespace arbitra::planner {

namespace {

// The largest cut <= `at` that does not split a UTF-8 character (labels hold
// "×" and "·"; a split one makes the SVG invalid XML).
size_t utf8Boundary(const std::string& s, size_t at) {
  if (at >= s.size()) return s.size();
  while (at > 0 && (static_cast<unsigned char>(s[at]) & 0xC0) == 0x80) --at;
  return at;
}

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string pad(std::string s, size_t width, bool right = false) {
  // Width in code points (labels hold "×", "·", "−").
  size_t cps = 0;
  for (unsigned char c : s) cps += (c & 0xC0) != 0x80;
  if (cps >= width) return s;
  std::string fill(width - cps, ' ');
  return right ? fill + s : s + fill;
}

std::string xmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '&')
      out += "&amp;";
    else if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '"')
      out += "&quot;";
    else
      out += c;
  }
  return out;
}

std::string fileSafe(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
  return out;
}

}  // namespace

std::string renderText(const Plan& plan, const TextOptions& options) {
  std::ostringstream out;
  const Efficiency& e = plan.efficiency;
  out << "arbitra plan: " << plan.workload << " (" << plan.file << ")\n";
  out << "Model efficiency ("
      << (e.calibrated ? "calibrated against published TensorRT-LLM figures; the 2-vCPU row fitted to this "
                         "machine's arbitra bench"
                       : "set by hand, not calibrated")
      << "): bandwidth " << fmt("%.3f", e.bandwidth) << ", decode compute " << fmt("%.3f", e.decodeCompute)
      << ", prefill compute " << fmt("%.3f", e.prefillCompute)
      << "; rows with their own parameters in hardware.yaml (the 2-vCPU row, fitted to arbitra bench) use those; "
         "other CPU rows: CPU bandwidth " << fmt("%.3f", e.cpuBandwidth)
      << ", CPU block-quant " << fmt("%.3f", e.cpuBlockQuant) << ", CPU decode compute " << fmt("%.3f", e.cpuDecodeCompute)
      << ", CPU prefill compute " << fmt("%.3f", e.cpuPrefillCompute)
      << ", usable memory " << fmt("%.2f", e.memoryUsable) << ", tensor-parallel " << fmt("%.2f", e.tensorParallel)
      << " (not calibrated), max batch " << e.maxBatch << "\n";
  if (plan.measuredUsed > 0) out << "Measured throughput (--measured) used for " << plan.measuredUsed << " options.\n";
  for (const auto& rp : plan.routes) {
    const Route& r = *rp.route;
    out << "\nRoute \"" << r.name << "\": " << formatCount(rp.requestsPerMonth) << " requests/month, "
        << fmt("%.0f", r.input.mean) << " in + " << fmt("%.0f", r.output.mean) << " out tokens (mean), "
        << formatCount(rp.tokensPerDay) << " tokens/day, peak hour " << fmt("%.1f", rp.peakToMean)
        << "× the mean; bar: TTFT ≤ " << fmt("%g", r.latency.maxTtftMs) << " ms, ≥ "
        << fmt("%g", r.latency.minTokensPerS) << " tok/s/stream; cache hit " << fmt("%.0f", r.cacheHitRate * 100)
        << "%, deferrable " << fmt("%.0f", r.deferrableFraction * 100) << "%\n";
    out << pad("rank", 5, true) << "  " << pad("option", 78) << pad("$/month", 11, true) << pad("$/Mtok", 9, true)
        << pad("util", 6, true) << "  verdict\n";
    int shown = 0, failing = 0;
    int limit = options.top <= 0 ? static_cast<int>(rp.options.size()) : options.top;
    for (size_t i = 0; i < rp.options.size(); ++i) {
      const Option& o = rp.options[i];
      if (!o.cost.feasible) ++failing;
      bool show = shown < limit || static_cast<int>(i) == rp.cheapestApi;
      if (!o.cost.feasible && options.top > 0) show = false;
      if (!show) continue;
      ++shown;
      std::string money = o.cost.feasible ? formatDollars(o.cost.monthly) : "-";
      std::string perM = o.perMillionTokens ? formatPerMillion(*o.perMillionTokens) : "-";
      std::string util = o.cost.feasible && o.kind != OptionKind::Api ? fmt("%.0f%%", o.cost.utilization * 100) : "";
      out << pad(std::to_string(i + 1), 5, true) << "  " << pad(o.label, 78) << pad(money, 11, true)
          << pad(perM, 9, true) << pad(util, 6, true) << "  " << o.verdict << "\n";
      out << "       " << o.reason << "\n";
    }
    if (shown < static_cast<int>(rp.options.size())) {
      out << "  (" << shown << " of " << rp.options.size() << " options shown";
      if (failing > 0 && options.top > 0) out << "; " << failing << " fail the bar or do not fit";
      out << "; --all lists every one)\n";
    }
    out << "Sensitivity (who wins):\n";
    for (const auto& s : rp.sensitivity) {
      out << "  " << pad(s.name, 26) << (s.winnerId.empty() ? "nothing feasible" : s.winnerLabel) << "  "
          << (s.winnerId.empty() ? "" : formatDollars(s.winnerMonthly) + "/mo");
      if (s.cheapestApiMonthly) out << " (cheapest API " << formatDollars(*s.cheapestApiMonthly) << "/mo)";
      out << "\n";
    }
  }
  return out.str();
}

std::string renderJson(const Plan& plan) {
  namespace json = boost::json;
  json::object root;
  root["workload"] = plan.workload;
  root["file"] = plan.file;
  const Efficiency& e = plan.efficiency;
  root["efficiency"] = {{"bandwidth", e.bandwidth},
                        {"decode_compute", e.decodeCompute},
                        {"prefill_compute", e.prefillCompute},
                        {"memory_usable", e.memoryUsable},
                        {"tensor_parallel", e.tensorParallel},
                        {"cpu_bandwidth", e.cpuBandwidth},
                        {"cpu_block_quant", e.cpuBlockQuant},
                        {"cpu_decode_compute", e.cpuDecodeCompute},
                        {"cpu_prefill_compute", e.cpuPrefillCompute},
                        {"max_batch", e.maxBatch},
                        {"calibrated", e.calibrated},
                        {"calibrated_against",
                         e.calibrated ? "published figures: TensorRT-LLM Llama-3.1-8B FP8 on H100 (fit: 128/128 -> "
                                        "compute, 128/2048 -> bandwidth; checks: 1000/1000, H200 128/128). The 2-vCPU row "
                                        "(cpu-2vcpu-avx2) has its own parameters in hardware.yaml, fitted to a quiet "
                                        "arbitra bench run on this machine (3 shapes x 2 formats, decode at 1/2/4 "
                                        "streams and prefill) and checked on a second run and on llama.cpp figures; "
                                        "cpu_* are the defaults for other CPU rows. tensor_parallel, memory_usable, "
                                        "max_batch are stated, not fitted."
                                      : "none: factors set by hand"}};
  root["money_unit"] = "micro-dollars (integers); *_usd fields are the same amounts as decimal strings";
  json::array routes;
  for (const auto& rp : plan.routes) {
    json::object jr;
    jr["name"] = rp.route->name;
    jr["requests_per_month"] = rp.requestsPerMonth;
    jr["tokens_per_day"] = rp.tokensPerDay;
    jr["peak_to_mean"] = rp.peakToMean;
    jr["volume_scales"] = json::value_from(plan.volumeScales);
    if (rp.cheapestApi >= 0) jr["cheapest_api"] = rp.options[rp.cheapestApi].id;
    json::array opts;
    for (size_t i = 0; i < rp.options.size(); ++i) {
      const Option& o = rp.options[i];
      json::object jo;
      jo["rank"] = i + 1;
      jo["id"] = o.id;
      jo["kind"] = kindName(o.kind);
      jo["label"] = o.label;
      jo["verdict"] = o.verdict;
      jo["reason"] = o.reason;
      jo["feasible"] = o.cost.feasible;
      if (o.cost.feasible) {
        jo["monthly_micros"] = o.cost.monthly;
        jo["monthly_usd"] = decimalDollars(o.cost.monthly);
        json::object split;
        for (const auto& p : o.cost.split) split[p.name] = p.amount;
        jo["split_micros"] = std::move(split);
        if (o.perMillionTokens) jo["per_million_tokens_micros"] = *o.perMillionTokens;
      } else {
        jo["why_not"] = o.cost.whyNot;
      }
      if (o.kind != OptionKind::Api) {
        jo["hardware"] = o.hardware->id;
        jo["model"] = o.model->id;
        jo["quant"] = o.quant->id;
        jo["devices_per_replica"] = o.perf.devices;
        jo["batch"] = o.perf.batch;
        jo["memory_batch"] = o.perf.memoryBatch;
        jo["per_stream_tokens_per_s"] = o.perf.perStreamTokensPerS;
        jo["aggregate_tokens_per_s"] = o.perf.aggregateTokensPerS;
        jo["requests_per_s_per_replica"] = o.perf.requestsPerS;
        jo["ttft_ms"] = o.perf.ttftMs;
        jo["measured"] = o.perf.measured;
        if (o.kind == OptionKind::Rented) {
          jo["offer"] = o.offer.id;
          jo["usd_per_hour"] = decimalDollars(o.offer.perHour);
          jo["autoscaled"] = o.autoscaled;
        } else {
          jo["owned"] = o.owned->name;
        }
        if (o.cost.feasible) {
          jo["peak_replicas"] = o.cost.peakReplicas;
          jo["replica_hours"] = o.cost.replicaHours;
          jo["utilization"] = o.cost.utilization;
        }
        json::object be;
        be["exists"] = o.breakEven.exists;
        if (o.breakEven.exists) {
          be["requests_per_month"] = o.breakEven.requestsPerMonth;
          be["tokens_per_day"] = o.breakEven.tokensPerDay;
          be["utilization"] = o.breakEven.utilization;
          be["fleet_monthly_micros"] = o.breakEven.fleetMonthly;
        } else {
          be["note"] = o.breakEven.note;
        }
        jo["break_even"] = std::move(be);
      } else {
        jo["api_model"] = o.api->id;
        jo["price_source"] = o.api->from.source;
        jo["price_as_of"] = o.api->from.asOf;
      }
      json::array vol;
      for (const auto& c : o.costAtVolume) vol.push_back(c ? json::value(*c) : json::value(nullptr));
      jo["monthly_micros_at_volume_scales"] = std::move(vol);
      opts.push_back(std::move(jo));
    }
    jr["options"] = std::move(opts);
    json::array sens;
    for (const auto& s : rp.sensitivity) {
      json::object js;
      js["scenario"] = s.name;
      js["winner"] = s.winnerId;
      js["winner_monthly_micros"] = s.winnerMonthly;
      if (s.cheapestApiMonthly) js["cheapest_api_monthly_micros"] = *s.cheapestApiMonthly;
      sens.push_back(std::move(js));
    }
    jr["sensitivity"] = std::move(sens);
    routes.push_back(std::move(jr));
  }
  root["routes"] = std::move(routes);
  return json::serialize(root) + "\n";
}

namespace {

constexpr const char* kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                    "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};

// A log-log plot area.
struct LogAxes {
  double x0 = 90, y0 = 40, w = 640, h = 380;
  double xMin, xMax, yMin, yMax;
  double x(double v) const {
    return x0 + w * (std::log10(v) - std::log10(xMin)) / (std::log10(xMax) - std::log10(xMin));
  }
  double y(double v) const {
    return y0 + h - h * (std::log10(v) - std::log10(yMin)) / (std::log10(yMax) - std::log10(yMin));
  }
};

std::string dollarsShort(double d) {
  if (d >= 1e6) return "$" + fmt("%g", d / 1e6) + "M";
  if (d >= 1e3) return "$" + fmt("%g", d / 1e3) + "k";
  return "$" + fmt("%g", d);
}

// The options worth drawing: the cheapest API, two more APIs, and the five
// cheapest distinct self-hosted configurations.
std::vector<const Option*> chartOptions(const RoutePlan& rp) {
  std::vector<const Option*> out;
  if (rp.cheapestApi >= 0) out.push_back(&rp.options[rp.cheapestApi]);
  int apis = 1, self = 0;
  std::set<std::string> seen;
  for (size_t i = 0; i < rp.options.size(); ++i) {
    const Option& o = rp.options[i];
    if (!o.cost.feasible || static_cast<int>(i) == rp.cheapestApi) continue;
    if (o.kind == OptionKind::Api) {
      if (apis < 3) out.push_back(&o), ++apis;
    } else {
      std::string key = o.hardware->id + o.model->id + o.quant->id + (o.autoscaled ? "a" : "f");
      if (self < 5 && seen.insert(key).second) out.push_back(&o), ++self;
    }
  }
  return out;
}

std::string costVsVolume(const RoutePlan& rp, const Workload& w) {
  auto drawn = chartOptions(rp);
  double perDay = std::max(rp.tokensPerDay, 1.0);
  constexpr int kPoints = 81;
  constexpr double kLo = 0.01, kHi = 100.0;
  std::vector<std::vector<std::pair<double, double>>> series;  // (tokens/day, $) ; NaN = gap
  double yMin = 1e300, yMax = 0;
  for (const Option* o : drawn) {
    std::vector<std::pair<double, double>> pts;
    for (int i = 0; i < kPoints; ++i) {
      double s = kLo * std::pow(kHi / kLo, i / double(kPoints - 1));
      Costing c = costAt(*o, *rp.route, w, s);
      double d = c.feasible ? static_cast<double>(c.monthly) / kMicrosPerDollar : NAN;
      if (c.feasible && d > 0) yMin = std::min(yMin, d), yMax = std::max(yMax, d);
      pts.push_back({perDay * s, d});
    }
    series.push_back(std::move(pts));
  }
  if (yMax <= 0) yMin = 1, yMax = 10;
  LogAxes ax;
  ax.xMin = perDay * kLo;
  ax.xMax = perDay * kHi;
  ax.yMin = std::pow(10, std::floor(std::log10(std::max(yMin, 0.01))));
  ax.yMax = std::pow(10, std::ceil(std::log10(yMax)));
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1100\" height=\"500\" font-family=\"sans-serif\" "
       "font-size=\"12\">\n";
  s << "<rect width=\"1100\" height=\"500\" fill=\"white\"/>\n";
  s << "<text x=\"90\" y=\"22\" font-size=\"15\">" << xmlEscape(rp.route->name)
    << ": monthly cost vs volume (log axes; circles: break-even vs the cheapest API)</text>\n";
  // Grid and ticks at powers of ten.
  for (double v = std::pow(10, std::ceil(std::log10(ax.xMin))); v <= ax.xMax * 1.0001; v *= 10) {
    s << "<line x1=\"" << ax.x(v) << "\" y1=\"" << ax.y0 << "\" x2=\"" << ax.x(v) << "\" y2=\"" << ax.y0 + ax.h
      << "\" stroke=\"#ddd\"/><text x=\"" << ax.x(v) << "\" y=\"" << ax.y0 + ax.h + 16 << "\" text-anchor=\"middle\">"
      << formatCount(v) << "</text>\n";
  }
  for (double v = ax.yMin; v <= ax.yMax * 1.0001; v *= 10) {
    s << "<line x1=\"" << ax.x0 << "\" y1=\"" << ax.y(v) << "\" x2=\"" << ax.x0 + ax.w << "\" y2=\"" << ax.y(v)
      << "\" stroke=\"#ddd\"/><text x=\"" << ax.x0 - 6 << "\" y=\"" << ax.y(v) + 4 << "\" text-anchor=\"end\">"
      << dollarsShort(v) << "</text>\n";
  }
  s << "<rect x=\"" << ax.x0 << "\" y=\"" << ax.y0 << "\" width=\"" << ax.w << "\" height=\"" << ax.h
    << "\" fill=\"none\" stroke=\"#333\"/>\n";
  s << "<text x=\"" << ax.x0 + ax.w / 2 << "\" y=\"" << ax.y0 + ax.h + 34
    << "\" text-anchor=\"middle\">tokens per day (input + output)</text>\n";
  s << "<text transform=\"translate(20," << ax.y0 + ax.h / 2
    << ") rotate(-90)\" text-anchor=\"middle\">$ per month</text>\n";
  // Today's volume.
  s << "<line x1=\"" << ax.x(perDay) << "\" y1=\"" << ax.y0 << "\" x2=\"" << ax.x(perDay) << "\" y2=\"" << ax.y0 + ax.h
    << "\" stroke=\"#555\" stroke-dasharray=\"4 4\"/><text x=\"" << ax.x(perDay) + 4 << "\" y=\"" << ax.y0 + 12
    << "\" fill=\"#555\">today</text>\n";
  for (size_t k = 0; k < drawn.size(); ++k) {
    const char* color = kPalette[k % 10];
    std::string path;
    bool pen = false;
    for (const auto& [x, d] : series[k]) {
      if (std::isnan(d) || d <= 0) {
        pen = false;
        continue;
      }
      path += (pen ? " L" : " M") + fmt("%.1f", ax.x(x)) + "," + fmt("%.1f", ax.y(std::max(d, ax.yMin)));
      pen = true;
    }
    s << "<path d=\"" << path << "\" fill=\"none\" stroke=\"" << color << "\" stroke-width=\"2\""
      << (drawn[k]->kind == OptionKind::Api ? " stroke-dasharray=\"6 3\"" : "") << "/>\n";
    const BreakEven& be = drawn[k]->breakEven;
    if (be.exists && be.tokensPerDay >= ax.xMin && be.tokensPerDay <= ax.xMax) {
      double d = static_cast<double>(be.fleetMonthly) / kMicrosPerDollar;
      s << "<circle cx=\"" << ax.x(be.tokensPerDay) << "\" cy=\"" << ax.y(d) << "\" r=\"5\" fill=\"" << color
        << "\" stroke=\"black\"/>\n";
    }
    double ly = ax.y0 + 10 + k * 34.0;
    s << "<rect x=\"750\" y=\"" << ly - 9 << "\" width=\"14\" height=\"4\" fill=\"" << color << "\"/>";
    std::string label = drawn[k]->label;
    std::string line2;
    if (label.size() > 52) {
      size_t cut = label.rfind(" · ", 52);
      if (cut == std::string::npos) cut = utf8Boundary(label, 52);
      line2 = label.substr(cut);
      label = label.substr(0, cut);
    }
    s << "<text x=\"770\" y=\"" << ly - 3 << "\">" << xmlEscape(label) << "</text>";
    if (!line2.empty()) s << "<text x=\"770\" y=\"" << ly + 11 << "\">" << xmlEscape(line2) << "</text>";
    if (be.exists) {
      s << "<text x=\"770\" y=\"" << ly + (line2.empty() ? 11 : 24) << "\" fill=\"#555\">break-even "
        << formatCount(be.tokensPerDay) << " tokens/day</text>";
    }
    s << "\n";
  }
  s << "</svg>\n";
  return s.str();
}

std::string costSplit(const RoutePlan& rp) {
  std::vector<const Option*> drawn;
  for (const auto& o : rp.options) {
    if (o.cost.feasible && drawn.size() < 10) drawn.push_back(&o);
  }
  if (rp.cheapestApi >= 10) drawn.push_back(&rp.options[rp.cheapestApi]);
  double maxCost = 1;
  for (const Option* o : drawn) maxCost = std::max(maxCost, static_cast<double>(o->cost.monthly) / kMicrosPerDollar);
  std::vector<std::string> parts = {"input", "cached input", "output", "batch", "rental", "capex", "power", "hosting"};
  const double x0 = 470, barW = 480, rowH = 30;
  double height = 90 + drawn.size() * rowH;
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1100\" height=\"" << height
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"1100\" height=\"" << height
    << "\" fill=\"white\"/>\n";
  s << "<text x=\"10\" y=\"22\" font-size=\"15\">" << xmlEscape(rp.route->name)
    << ": monthly cost split per option (linear)</text>\n";
  for (size_t p = 0; p < parts.size(); ++p) {
    s << "<rect x=\"" << 10 + p * 120 << "\" y=\"34\" width=\"12\" height=\"12\" fill=\"" << kPalette[p]
      << "\"/><text x=\"" << 26 + p * 120 << "\" y=\"45\">" << parts[p] << "</text>\n";
  }
  for (size_t i = 0; i < drawn.size(); ++i) {
    const Option& o = *drawn[i];
    double y = 60 + i * rowH;
    std::string label = o.label.size() > 70 ? o.label.substr(0, utf8Boundary(o.label, 67)) + "..." : o.label;
    s << "<text x=\"" << x0 - 6 << "\" y=\"" << y + 15 << "\" text-anchor=\"end\">" << xmlEscape(label) << "</text>";
    double x = x0;
    for (const auto& part : o.cost.split) {
      size_t p = std::find(parts.begin(), parts.end(), part.name) - parts.begin();
      double wpx = barW * (static_cast<double>(part.amount) / kMicrosPerDollar) / maxCost;
      s << "<rect x=\"" << x << "\" y=\"" << y << "\" width=\"" << wpx << "\" height=\"" << rowH - 8 << "\" fill=\""
        << kPalette[p % 10] << "\"><title>" << part.name << " " << formatCents(part.amount) << "</title></rect>";
      x += wpx;
    }
    s << "<text x=\"" << x + 6 << "\" y=\"" << y + 15 << "\">" << formatDollars(o.cost.monthly) << "/mo</text>\n";
  }
  s << "</svg>\n";
  return s.str();
}

}  // namespace

std::vector<SvgFile> renderSvg(const Plan& plan, const Workload& workload) {
  std::vector<SvgFile> out;
  for (const auto& rp : plan.routes) {
    std::string base = fileSafe(rp.route->name);
    out.push_back({base + "-cost-vs-volume.svg", costVsVolume(rp, workload)});
    out.push_back({base + "-cost-split.svg", costSplit(rp)});
  }
  return out;
}

}  // namespace arbitra::planner
