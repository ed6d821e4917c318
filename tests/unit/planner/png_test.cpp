// PNG charts: the plan's SVG charts rendered by rsvg-convert (a runtime
// dependency of `arbitra plan --png`, installed by scripts/setup.sh) come out
// as PNGs of the SVG's pixel size; the header reader rejects what is not a
// PNG; a missing converter is a clear error naming the package.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "planner/plan.h"
#include "planner/png.h"
#include "planner/report.h"
#include "planner_test_util.h"

namespace arbitra::planner {
namespace {

using testing::errorOf;
using testing::shippedCatalog;
namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

fs::path scratch(const char* name) {
  fs::path dir = fs::temp_directory_path() / ("arbitra-png-" + std::to_string(getpid()) + "-" + name);
  fs::create_directories(dir);
  return dir;
}

Workload chat() {
  return parseWorkload(
      "workload: t\nroutes:\n  - name: chat\n    requests_per_month: 30000000\n"
      "    input_tokens: { mean: 1000, p95: 2000 }\n    output_tokens: { mean: 200, p95: 500 }\n"
      "    latency: { max_ttft_ms: 1000, min_tokens_per_s: 20 }\n"
      "    models: { api: [gpt-4o-mini], open_weight: [llama-3.1-8b], include_hosted: false }\n"
      "    quantizations: [F16, Q4_K_M]\n",
      "t.yaml", shippedCatalog());
}

TEST(Png, ChartsRenderToPngsOfTheSvgSize) {
  Workload w = chat();
  Plan p = makePlan(shippedCatalog(), w, PlanSettings{});
  auto charts = renderSvg(p, w);
  ASSERT_EQ(charts.size(), 2u);
  fs::path dir = scratch("charts");
  for (const auto& c : charts) {
    auto size = svgSize(c.svg);
    ASSERT_TRUE(size) << c.name;
    fs::path png = dir / (c.name + ".png");
    ASSERT_EQ(errorOf([&] { writePng(c.svg, png.string()); }), "") << c.name;
    std::string bytes = slurp(png);
    ASSERT_GE(bytes.size(), 8u);
    EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
    auto info = pngInfo(bytes);
    ASSERT_TRUE(info) << c.name;
    EXPECT_EQ(info->width, size->width);
    EXPECT_EQ(info->height, size->height);
    EXPECT_EQ(info->width, 1100u);
    EXPECT_EQ(info->bitDepth, 8);
    // A drawn chart, not an empty canvas: a blank 1100-wide PNG compresses to
    // a few hundred bytes.
    EXPECT_GT(bytes.size(), 5000u) << c.name;
    EXPECT_FALSE(fs::exists(png.string() + ".svg.tmp"));  // the temporary SVG is removed
  }
  EXPECT_EQ(svgSize(charts[0].svg)->height, 500u);
  fs::remove_all(dir);
}

// True when `s` is well-formed UTF-8 (what an XML parser such as librsvg's demands).
bool validUtf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

TEST(Png, ShippedWorkloadsChartsAreValidUtf8AndRender) {
  // Long option labels are cut to fit; a cut inside "·" or "×" once made the
  // cost-split SVG invalid XML, which rsvg-convert rejects.
  fs::path dir = scratch("shipped");
  for (const char* name : {"chat.yaml", "seed-7b.yaml", "seed-13b.yaml"}) {
    Workload w = loadWorkload(testing::sourceDir() + "/data/planner/workloads/" + name, shippedCatalog());
    Plan p = makePlan(shippedCatalog(), w, PlanSettings{});
    for (const auto& c : renderSvg(p, w)) {
      EXPECT_TRUE(validUtf8(c.svg)) << name << " " << c.name;
      fs::path png = dir / (c.name + ".png");
      EXPECT_EQ(errorOf([&] { writePng(c.svg, png.string()); }), "") << name << " " << c.name;
      EXPECT_TRUE(pngInfo(slurp(png))) << name << " " << c.name;
    }
  }
  fs::remove_all(dir);
}

TEST(Png, HeaderReaderRejectsWhatIsNotAPng) {
  EXPECT_FALSE(pngInfo(""));
  EXPECT_FALSE(pngInfo("<svg width=\"10\" height=\"10\"/>"));
  // Right signature, wrong first chunk.
  std::string bad("\x89PNG\r\n\x1a\n\0\0\0\x0dIDAT\0\0\0\x10\0\0\0\x20\x08\x06", 26);
  EXPECT_FALSE(pngInfo(bad));
  std::string good = bad;
  good.replace(12, 4, "IHDR");
  auto info = pngInfo(good);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->width, 16u);
  EXPECT_EQ(info->height, 32u);
  EXPECT_EQ(info->colorType, 6);
  EXPECT_FALSE(svgSize("<svg xmlns=\"x\">"));
  EXPECT_EQ(svgSize("<svg xmlns=\"x\" width=\"640\" height=\"480\">")->height, 480u);
}

TEST(Png, MissingConverterIsAClearError) {
  fs::path dir = scratch("missing");
  std::string png = (dir / "c.png").string();
  std::string e = errorOf([&] {
    writePng("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"/>", png,
             "arbitra-no-such-converter");
  });
  EXPECT_NE(e.find("--png needs 'arbitra-no-such-converter'"), std::string::npos) << e;
  EXPECT_NE(e.find("librsvg2-bin"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(png));
  EXPECT_FALSE(fs::exists(png + ".svg.tmp"));
  // A converter that fails: 'false' exits 1.
  std::string f = errorOf(
      [&] { writePng("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"/>", png, "false"); });
  EXPECT_NE(f.find("'false' failed (exit 1)"), std::string::npos) << f;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace arbitra::planner
