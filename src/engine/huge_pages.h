// Transparent huge pages for the model's weights.
//
// Why: decoding several streams at once on a CPU reads every weight once per
// step; with 4 KiB pages that is ~230,000 TLB misses per step for a 1B Q4_K_M
// model, each a page walk (two-dimensional inside a VM). Weights in 2 MiB
// pages made an 8-stream decode step ~4.5% faster on the bench machine
// (README, "Engine vs llama-server"). llama.cpp allocates its buffers with
// posix_memalign and never asks for huge pages, and most distributions set
// THP to `madvise`, so they get 4 KiB pages.
//
// Design: the engine loads the model into memory (not mmap: file pages are
// not eligible) and, from llama.cpp's load-progress callback (called before
// the first tensor is read, after the buffers are allocated and before they
// are touched), advises MADV_HUGEPAGE on the anonymous memory that appeared
// since a snapshot taken just before the load. Pages faulted in afterwards
// are 2 MiB where the kernel has them.
//
// Guarantees: only address ranges mapped after the snapshot (anonymous,
// private, at least 2 MiB) are advised; nothing is remapped or moved; a kernel
// without THP (or /proc unreadable) gives 0 bytes advised, never an error.
// Another thread mapping memory during the load may get its region advised
// too: harmless (it may then use huge pages). Not advised: a buffer that
// glibc serves from memory it mapped before (a block under its mmap
// threshold, at most 32 MiB, or one that fits the free memory at the top of
// its heap); a real model's weight buffers (hundreds of MB) get a mapping of
// their own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace arbitra::engine {

struct AddressRange {
  uintptr_t begin = 0;
  uintptr_t end = 0;
};

// The process's anonymous private mappings now (from /proc/self/maps), sorted.
std::vector<AddressRange> anonymousMappings();

// MADV_HUGEPAGE on each stretch (>= 2 MiB) of anonymous memory mapped now
// and not covered by `before`; returns the bytes advised.
size_t adviseHugePages(const std::vector<AddressRange>& before);

}  // namespace arbitra::engine
