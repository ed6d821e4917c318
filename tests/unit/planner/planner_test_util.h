// Shared helpers for the planner tests: the shipped catalog and small builders.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "planner/catalog.h"
#include "planner/workload.h"

namespace arbitra::planner::testing {

inline std::string sourceDir() {
  return ARBITRA_SOURCE_DIR;
}

inline const Catalog& shippedCatalog() {
  static const Catalog catalog = loadCatalog(sourceDir() + "/data/planner");
  return catalog;
}

// The PlannerError message of `fn`, or "" when it does not throw.
template <typename Fn>
std::string errorOf(Fn&& fn) {
  try {
    fn();
  } catch (const PlannerError& e) {
    return e.what();
  }
  return "";
}

}  // namespace arbitra::planner::testing
