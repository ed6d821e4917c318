// PNG charts: the planner's SVG charts rendered to PNG by an external
// converter (`rsvg-convert`, Debian's librsvg2-bin), plus a reader of a PNG's
// signature and IHDR header to check what came out.
//
// Design: the charts are drawn once, as SVG (report.h); PNG is a rendering of
// the same text, so the two never disagree. The converter runs as a child
// process (posix_spawnp, no shell, arguments passed as is); this file is the
// planner's only process I/O. Guarantees: writePng either leaves a PNG whose
// IHDR width and height equal the SVG's width and height attributes, or throws
// PlannerError saying what failed (converter missing: names the package).
//
//   writePng(chart.svg, "out/chat-cost-split.png");
//   auto info = pngInfo(bytes);  // {width, height} or nullopt
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace arbitra::planner {

struct PngInfo {
  uint32_t width = 0;
  uint32_t height = 0;
  int bitDepth = 0;
  int colorType = 0;
};

// The IHDR of `bytes` when they start with the PNG signature and an IHDR chunk.
std::optional<PngInfo> pngInfo(std::string_view bytes);

// The root element's width and height attributes of an SVG text (pixels).
std::optional<PngInfo> svgSize(std::string_view svg);

// Renders `svg` to `pngPath` with `converter` (found on PATH). Throws
// PlannerError when the converter is missing or fails, or the output is not a
// PNG of the SVG's size.
void writePng(const std::string& svg, const std::string& pngPath, const std::string& converter = "rsvg-convert");

}  // namespace arbitra::planner
