// `arbitra plan WORKLOAD.yaml [--json] [--svg DIR] [--png DIR] [--catalog DIR]
//                             [--measured FILE.json] [--top N | --all]`
//
// Wiring only: load the catalog and the workload, make the plan, render it.
// Every input error (file:line: field: what) exits 2.
#include "cli/plan.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "planner/catalog.h"
#include "cli/ledger_workload.h"
#include "ledger/record.h"
#include "ledger/report.h"
#include "planner/measured.h"
#include "planner/plan.h"
#include "planner/png.h"
#include "planner/report.h"
#include "planner/workload.h"

namespace arbitra::cli {

namespace {

constexpr const char* kPlanUsage =
    "usage: arbitra plan WORKLOAD.yaml [options]\n"
    "       arbitra plan --from-ledger LEDGER.db [options]\n"
    "\n"
    "Prices every place the workload could run (APIs, rented GPUs, owned hardware,\n"
    "CPU), ranks them, and gives break-even points and sensitivity.\n"
    "\n"
    "options:\n"
    "  --json               the whole plan as JSON on stdout\n"
    "  --svg DIR            write charts: <route>-cost-vs-volume.svg, <route>-cost-split.svg\n"
    "  --png DIR            the same charts as PNG (rendered by rsvg-convert, Debian librsvg2-bin)\n"
    "  --catalog DIR        catalog files (default: $ARBITRA_CATALOG, ./data/planner,\n"
    "                       or data/planner next to the build directory)\n"
    "  --measured FILE      measured throughput (JSON) overriding the model\n"
    "  --top N              rows per route in the table (default 12)\n"
    "  --all                every option, including those that fail the bar\n"
    "  --from-ledger FILE   measure the workload from a ledger (SQLite file) instead of a\n"
    "                       workload file: one route per model group, with its volume,\n"
    "                       hourly profile, token sizes, cache hit rate and p95 TTFT\n"
    "    --since D / --until D   the records to use (YYYY-MM-DD, UTC, inclusive)\n"
    "    --open-weight a,b       open-weight models to consider for every route\n"
    "    --max-ttft-ms N         the latency bar (default: the measured p95 TTFT)\n"
    "    --min-tokens-per-s N    per-stream decode bar (default: none)\n"
    "    --emit-workload FILE    also write the measured workload YAML there\n";

namespace fs = std::filesystem;

std::string defaultCatalog(const char* argv0) {
  if (const char* env = std::getenv("ARBITRA_CATALOG"); env && *env) return env;
  if (fs::exists("data/planner/api_prices.yaml")) return "data/planner";
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) exe = fs::path(argv0);
  for (fs::path dir = exe.parent_path(); !dir.empty() && dir != dir.root_path(); dir = dir.parent_path()) {
    if (fs::exists(dir / "data/planner/api_prices.yaml")) return (dir / "data/planner").string();
  }
  return "data/planner";
}

}  // namespace

int runPlan(int argc, char** argv) {
  std::string workloadPath, svgDir, pngDir, catalogDir, measuredPath, ledgerPath, emitWorkload;
  LedgerWorkloadOptions fromLedger;
  bool json = false;
  planner::TextOptions text;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "arbitra plan: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kPlanUsage, stdout);
      return 0;
    } else if (arg == "--json") {
      json = true;
    } else if (arg == "--svg") {
      svgDir = value();
    } else if (arg == "--png") {
      pngDir = value();
    } else if (arg == "--catalog") {
      catalogDir = value();
    } else if (arg == "--measured") {
      measuredPath = value();
    } else if (arg == "--all") {
      text.top = 0;
    } else if (arg == "--top") {
      std::string v = value();
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < 1 || n > 100000) {
        std::fprintf(stderr, "arbitra plan: --top: expected a whole number >= 1, got '%s'\n", v.c_str());
        return 2;
      }
      text.top = static_cast<int>(n);
    } else if (arg == "--from-ledger") {
      ledgerPath = value();
    } else if (arg == "--since" || arg == "--until") {
      std::string v = value();
      auto ms = ledger::parseDate(v);
      if (!ms) {
        std::fprintf(stderr, "arbitra plan: %s: expected YYYY-MM-DD, got '%s'\n", arg.c_str(), v.c_str());
        return 2;
      }
      if (arg == "--since") fromLedger.fromMs = *ms;
      else fromLedger.toMs = *ms + 86'400'000;
    } else if (arg == "--open-weight") {
      fromLedger.openWeight = ledger::splitList(value());
    } else if (arg == "--max-ttft-ms" || arg == "--min-tokens-per-s") {
      std::string v = value();
      char* end = nullptr;
      double n = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || !(n > 0)) {
        std::fprintf(stderr, "arbitra plan: %s: expected a positive number, got '%s'\n", arg.c_str(), v.c_str());
        return 2;
      }
      (arg == "--max-ttft-ms" ? fromLedger.maxTtftMs : fromLedger.minTokensPerS) = n;
    } else if (arg == "--emit-workload") {
      emitWorkload = value();
    } else if (!arg.empty() && arg[0] == '-') {
      std::fprintf(stderr, "arbitra plan: unknown option '%s'\n\n%s", arg.c_str(), kPlanUsage);
      return 2;
    } else if (workloadPath.empty()) {
      workloadPath = arg;
    } else {
      std::fprintf(stderr, "arbitra plan: one workload file at a time (got '%s' and '%s')\n", workloadPath.c_str(),
                   arg.c_str());
      return 2;
    }
  }
  if (workloadPath.empty() == ledgerPath.empty()) {
    std::fputs(workloadPath.empty() ? kPlanUsage : "arbitra plan: a workload file or --from-ledger, not both\n", stderr);
    return 2;
  }
  try {
    if (catalogDir.empty()) catalogDir = defaultCatalog(argv[0]);
    planner::Catalog catalog = planner::loadCatalog(catalogDir);
    planner::Workload workload;
    if (!ledgerPath.empty()) {
      auto store = ledger::openSqliteStore(ledgerPath);
      auto measured = workloadFromLedger(*store, catalog, fromLedger, "from " + ledgerPath);
      std::fputs(measured.summary.c_str(), stderr);
      if (!emitWorkload.empty()) {
        std::ofstream out(emitWorkload, std::ios::binary);
        out << measured.yaml;
        if (!out) throw planner::PlannerError(emitWorkload + ": cannot write the workload");
      }
      workload = planner::parseWorkload(measured.yaml, "ledger " + ledgerPath, catalog);
    } else {
      workload = planner::loadWorkload(workloadPath, catalog);
    }
    planner::PlanSettings settings;
    if (!measuredPath.empty()) settings.measured = planner::loadMeasurements(measuredPath, catalog);
    planner::Plan plan = planner::makePlan(catalog, workload, settings);
    if (!svgDir.empty()) {
      fs::create_directories(svgDir);
      for (const auto& file : planner::renderSvg(plan, workload)) {
        fs::path path = fs::path(svgDir) / file.name;
        std::ofstream out(path, std::ios::binary);
        out << file.svg;
        if (!out) throw planner::PlannerError(path.string() + ": cannot write the chart");
        if (!json) std::fprintf(stderr, "wrote %s\n", path.c_str());
      }
    }
    if (!pngDir.empty()) {
      fs::create_directories(pngDir);
      for (const auto& file : planner::renderSvg(plan, workload)) {
        fs::path path = fs::path(pngDir) / (file.name.substr(0, file.name.size() - 4) + ".png");
        planner::writePng(file.svg, path.string());
        if (!json) std::fprintf(stderr, "wrote %s\n", path.c_str());
      }
    }
    std::string rendered = json ? planner::renderJson(plan) : planner::renderText(plan, text);
    std::fwrite(rendered.data(), 1, rendered.size(), stdout);
    return 0;
  } catch (const planner::PlannerError& e) {
    std::fprintf(stderr, "arbitra plan: %s\n", e.what());
    return 2;
  } catch (const fs::filesystem_error& e) {
    std::fprintf(stderr, "arbitra plan: %s\n", e.what());
    return 2;
  } catch (const std::runtime_error& e) {  // the ledger: unreadable, or nothing to plan from
    std::fprintf(stderr, "arbitra plan: %s\n", e.what());
    return 2;
  }
}

}  // namespace arbitra::cli
