// SVG -> PNG through rsvg-convert, and PNG header reading (see png.h).
#include "planner/png.h"

#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "planner/catalog.h"

extern char** environ;

namespace arbitra::planner {

namespace {

uint32_t be32(std::string_view b, size_t at) {
  return (uint32_t(uint8_t(b[at])) << 24) | (uint32_t(uint8_t(b[at + 1])) << 16) | (uint32_t(uint8_t(b[at + 2])) << 8) |
         uint32_t(uint8_t(b[at + 3]));
}

std::optional<uint32_t> attribute(std::string_view tag, std::string_view name) {
  std::string key = " " + std::string(name) + "=\"";
  size_t at = tag.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  at += key.size();
  uint32_t v = 0;
  size_t digits = 0;
  while (at < tag.size() && tag[at] >= '0' && tag[at] <= '9' && digits < 6) {
    v = v * 10 + uint32_t(tag[at++] - '0');
    ++digits;
  }
  if (digits == 0 || at >= tag.size() || (tag[at] != '"' && tag.substr(at, 3) != "px\"")) return std::nullopt;
  return v;
}

}  // namespace

std::optional<PngInfo> pngInfo(std::string_view b) {
  static constexpr char kSignature[] = "\x89PNG\r\n\x1a\n";
  // Signature (8) + IHDR length (4) + "IHDR" (4) + width, height (8) + depth, color (2).
  if (b.size() < 26 || b.substr(0, 8) != std::string_view(kSignature, 8)) return std::nullopt;
  if (be32(b, 8) != 13 || b.substr(12, 4) != "IHDR") return std::nullopt;
  PngInfo info;
  info.width = be32(b, 16);
  info.height = be32(b, 20);
  info.bitDepth = uint8_t(b[24]);
  info.colorType = uint8_t(b[25]);
  if (info.width == 0 || info.height == 0) return std::nullopt;
  return info;
}

std::optional<PngInfo> svgSize(std::string_view svg) {
  size_t start = svg.find("<svg");
  if (start == std::string_view::npos) return std::nullopt;
  size_t end = svg.find('>', start);
  if (end == std::string_view::npos) return std::nullopt;
  std::string_view tag = svg.substr(start, end - start);
  auto w = attribute(tag, "width");
  auto h = attribute(tag, "height");
  if (!w || !h || *w == 0 || *h == 0) return std::nullopt;
  return PngInfo{*w, *h, 0, 0};
}

void writePng(const std::string& svg, const std::string& pngPath, const std::string& converter) {
  auto want = svgSize(svg);
  if (!want) throw PlannerError(pngPath + ": the chart has no width/height to render");
  std::string svgPath = pngPath + ".svg.tmp";
  {
    std::ofstream out(svgPath, std::ios::binary);
    out << svg;
    if (!out) throw PlannerError(svgPath + ": cannot write the chart");
  }
  std::vector<std::string> args = {converter, "--format", "png", "--output", pngPath, svgPath};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, converter.c_str(), nullptr, nullptr, argv.data(), environ);
  if (rc != 0) {
    std::remove(svgPath.c_str());
    if (rc == ENOENT)
      throw PlannerError("--png needs '" + converter +
                         "' on PATH to render the SVG charts (Debian: apt-get install librsvg2-bin; "
                         "scripts/setup.sh installs it). --svg DIR works without it.");
    throw PlannerError("--png: cannot start '" + converter + "': " + std::strerror(rc));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::remove(svgPath.c_str());
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    // posix_spawnp reports a missing program as exit 127 on some libcs.
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
      throw PlannerError("--png needs '" + converter +
                         "' on PATH to render the SVG charts (Debian: apt-get install librsvg2-bin; "
                         "scripts/setup.sh installs it). --svg DIR works without it.");
    throw PlannerError(pngPath + ": '" + converter + "' failed (" +
                       (WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status)) : std::string("signal")) +
                       ")");
  }
  std::ifstream in(pngPath, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  auto got = pngInfo(bytes.str());
  if (!got) throw PlannerError(pngPath + ": '" + converter + "' did not write a PNG");
  if (got->width != want->width || got->height != want->height)
    throw PlannerError(pngPath + ": rendered " + std::to_string(got->width) + "x" + std::to_string(got->height) +
                       ", the chart is " + std::to_string(want->width) + "x" + std::to_string(want->height));
}

}  // namespace arbitra::planner
