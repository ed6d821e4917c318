// Huge-page advice (engine/huge_pages.h): only memory mapped after the
// snapshot is advised, and the kernel really marks it (VmFlags "hg" in
// /proc/self/smaps); memory mapped before is left as it was.
#include "engine/huge_pages.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace arbitra::engine {
namespace {

constexpr size_t kRegion = size_t{16} << 20;

bool haveThp() { return access("/sys/kernel/mm/transparent_hugepage/enabled", R_OK) == 0; }

// The VmFlags line of the mapping that contains `address`.
std::string vmFlags(const void* address) {
  const auto at = reinterpret_cast<uintptr_t>(address);
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    unsigned long begin = 0, end = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &begin, &end) == 2) {  // a mapping's first line
      inside = at >= begin && at < end;
    } else if (inside && line.rfind("VmFlags:", 0) == 0) {
      return line;
    }
  }
  return "";
}

bool hasFlag(const std::string& flags, const char* flag) {
  std::istringstream in(flags);
  std::string word;
  while (in >> word) {
    if (word == flag) return true;
  }
  return false;
}

void* mapAnonymous(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

TEST(HugePages, ListsAFreshAnonymousMapping) {
  void* p = mapAnonymous(kRegion);
  ASSERT_NE(p, nullptr);
  const auto at = reinterpret_cast<uintptr_t>(p);
  bool found = false;
  for (const auto& r : anonymousMappings()) found = found || (r.begin <= at && at + kRegion <= r.end);
  EXPECT_TRUE(found);
  munmap(p, kRegion);
}

TEST(HugePages, AdvisesOnlyMemoryMappedAfterTheSnapshot) {
  if (!haveThp()) GTEST_SKIP() << "this kernel has no transparent huge pages";
  void* old = mapAnonymous(kRegion);
  ASSERT_NE(old, nullptr);
  auto before = anonymousMappings();
  void* fresh = mapAnonymous(kRegion);
  ASSERT_NE(fresh, nullptr);
  const size_t advised = adviseHugePages(before);
  // Exactly the fresh 16 MiB region; the old one, and anything else mapped
  // before, is not advised.
  EXPECT_EQ(advised, kRegion);
  const char* middle = static_cast<const char*>(fresh) + kRegion / 2;
  EXPECT_TRUE(hasFlag(vmFlags(middle), "hg")) << vmFlags(middle);
  const char* oldMiddle = static_cast<const char*>(old) + kRegion / 2;
  EXPECT_FALSE(hasFlag(vmFlags(oldMiddle), "hg")) << vmFlags(oldMiddle);
  // A second call with a fresh snapshot advises nothing new.
  EXPECT_EQ(adviseHugePages(anonymousMappings()), 0u);
  munmap(fresh, kRegion);
  munmap(old, kRegion);
}

}  // namespace
}  // namespace arbitra::engine
