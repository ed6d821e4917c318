// Planner speed: 100 workloads × ~1,300 options each, planned from the shipped
// catalog plus synthetic rental offers. Prints a table; not a test (the target,
// under one second for all of it, is checked by reading the table).
//
//   build-planner/arbitra-planner-speed [CATALOG_DIR]
#include <chrono>
#include <cstdio>
#include <string>

#include "planner/catalog.h"
#include "planner/plan.h"
#include "planner/report.h"
#include "planner/workload.h"

using namespace arbitra::planner;

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "data/planner";
  auto t0 = std::chrono::steady_clock::now();
  Catalog catalog = loadCatalog(dir);
  // 140 offers spread over the hardware rows: with 5 weight formats (FP8 only
  // where the GPU has it) and fixed + autoscaled fleets, ~1,300 options a workload.
  catalog.offers.clear();
  for (int i = 0; i < 140; ++i) {
    Offer o;
    o.id = "synthetic-" + std::to_string(i);
    o.hardware = catalog.hardware[i % catalog.hardware.size()].id;
    o.provider = "synthetic";
    o.perHour = 200'000 + 33'000 * i;  // $0.20 .. $4.79 an hour
    catalog.offers.push_back(o);
  }
  std::vector<Workload> workloads;
  for (int w = 0; w < 100; ++w) {
    std::string yaml =
        "workload: w" + std::to_string(w) +
        "\nroutes:\n  - name: r\n    requests_per_month: " + std::to_string(10'000 * (1 + w * w)) +
        "\n    input_tokens: { mean: " + std::to_string(200 + 20 * w) + ", p95: " + std::to_string(600 + 40 * w) +
        " }\n    output_tokens: { mean: " + std::to_string(100 + 5 * w) + ", p95: " + std::to_string(300 + 10 * w) +
        " }\n    latency: { max_ttft_ms: " + std::to_string(500 + 50 * w) +
        ", min_tokens_per_s: " + std::to_string(5 + w % 30) + " }\n    models: { api: [gpt-4o-mini], open_weight: [" +
        (w % 2 ? "llama-3.1-8b" : "qwen2.5-14b") + "], include_hosted: false }\n";
    workloads.push_back(parseWorkload(yaml, "w" + std::to_string(w), catalog));
  }
  auto t1 = std::chrono::steady_clock::now();
  size_t options = 0;
  for (const auto& w : workloads) options += makePlan(catalog, w, PlanSettings{}).routes[0].options.size();
  auto t2 = std::chrono::steady_clock::now();
  size_t bytes = 0;
  for (const auto& w : workloads) bytes += renderJson(makePlan(catalog, w, PlanSettings{})).size();
  auto t3 = std::chrono::steady_clock::now();
  auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  std::printf("%-44s %12s\n", "planner speed", "value");
  std::printf("%-44s %12zu\n", "workloads", workloads.size());
  std::printf("%-44s %12.0f\n", "options per workload (mean)", double(options) / workloads.size());
  std::printf("%-44s %12.1f\n", "catalog + workload parsing, ms", ms(t0, t1));
  std::printf("%-44s %12.1f\n", "makePlan, all workloads, ms (target < 1000)", ms(t1, t2));
  std::printf("%-44s %12.3f\n", "makePlan per workload, ms", ms(t1, t2) / workloads.size());
  std::printf("%-44s %12.1f\n", "makePlan + JSON, all workloads, ms", ms(t2, t3));
  std::printf("%-44s %12zu\n", "JSON bytes", bytes);
  return 0;
}
