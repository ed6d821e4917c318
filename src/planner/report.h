// Rendering a Plan: the ranked text table with a reason per verdict, JSON, and
// hand-written SVG charts (monthly cost vs volume on log axes with break-even
// points; cost split per option). Pure string building; the caller writes files.
//
//   std::string text = renderText(plan, {.top = 12});
//   std::string json = renderJson(plan);
//   auto charts = renderSvg(plan, catalog, workload);  // {file name, svg text}
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "planner/plan.h"

namespace arbitra::planner {

struct TextOptions {
  int top = 12;  // rows per route (feasible ones first); <= 0: all
};

std::string renderText(const Plan& plan, const TextOptions& options = {});
std::string renderJson(const Plan& plan);

struct SvgFile {
  std::string name;  // "chat-cost-vs-volume.svg"
  std::string svg;
};
std::vector<SvgFile> renderSvg(const Plan& plan, const Workload& workload);

}  // namespace arbitra::planner
