// Huge-page advice for memory mapped since a snapshot (see huge_pages.h).
#include "engine/huge_pages.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace arbitra::engine {
namespace {

constexpr uintptr_t kHugePage = uintptr_t{2} << 20;

}  // namespace

std::vector<AddressRange> anonymousMappings() {
  std::vector<AddressRange> out;
  FILE* maps = std::fopen("/proc/self/maps", "r");
  if (!maps) return out;
  char line[512];
  while (std::fgets(line, sizeof line, maps)) {
    unsigned long begin = 0, end = 0, offset = 0, inode = 0;
    char perms[8] = {};
    char dev[16] = {};
    int consumed = 0;
    if (std::sscanf(line, "%lx-%lx %7s %lx %15s %lu %n", &begin, &end, perms, &offset, dev, &inode, &consumed) < 6) {
      continue;
    }
    // Anonymous and private: no file, no [heap]/[stack]/[vdso] name.
    const char* name = line + consumed;
    while (*name == ' ') ++name;
    if (inode != 0 || perms[3] != 'p' || (*name != '\n' && *name != '\0')) continue;
    out.push_back({begin, end});
  }
  std::fclose(maps);
  std::sort(out.begin(), out.end(), [](const AddressRange& a, const AddressRange& b) { return a.begin < b.begin; });
  return out;
}

size_t adviseHugePages(const std::vector<AddressRange>& before) {
  size_t advised = 0;
  for (const auto& now : anonymousMappings()) {
    // The parts of `now` not covered by any range of `before` (both sorted).
    uintptr_t from = now.begin;
    // The whole new stretch (page-aligned, as /proc/self/maps is): the kernel
    // backs the 2 MiB-aligned parts of an advised range with huge pages.
    auto flush = [&](uintptr_t a, uintptr_t b) {
      if (b - a < kHugePage) return;  // cannot hold one huge page
      if (madvise(reinterpret_cast<void*>(a), b - a, MADV_HUGEPAGE) == 0) advised += b - a;
    };
    for (const auto& old : before) {
      if (old.end <= from) continue;
      if (old.begin >= now.end) break;
      if (old.begin > from) flush(from, old.begin);
      from = std::max(from, old.end);
      if (from >= now.end) break;
    }
    if (from < now.end) flush(from, now.end);
  }
  return advised;
}

}  // namespace arbitra::engine
