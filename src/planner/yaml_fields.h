// Internal: reading validated fields out of yaml-cpp nodes with `file:line`
// errors. Used by catalog.cpp and workload.cpp only.
//
// Every failure throws PlannerError("file:line: <path>: what is wrong"), where
// <path> is the field's place in the document, e.g. `routes[0].latency.max_ttft_ms`.
// Unknown keys are errors (a typo must not silently fall back to a default).
#pragma once

#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "planner/catalog.h"
#include "planner/money.h"

namespace arbitra::planner::detail {

// 1-based line of a node (yaml-cpp marks are 0-based); 0 when unknown.
int lineOf(const YAML::Node& node);

[[noreturn]] void fail(const std::string& file, int line, const std::string& path, const std::string& what);

// A YAML document loaded from text; a syntax error becomes "file:line: ...".
YAML::Node parseYaml(const std::string& text, const std::string& file);

// A mapping node being read: typed getters, each naming the field in errors.
class Fields {
 public:
  Fields(const YAML::Node& node, std::string file, std::string path);

  const YAML::Node& node() const { return node_; }
  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }
  int line() const { return lineOf(node_); }
  bool has(const std::string& key) const;
  std::string pathOf(const std::string& key) const;
  [[noreturn]] void failAt(const std::string& key, const std::string& what) const;

  // Rejects keys outside `allowed`.
  void onlyKeys(std::initializer_list<const char*> allowed) const;

  std::string str(const std::string& key) const;  // required, non-empty
  std::optional<std::string> optStr(const std::string& key) const;
  double num(const std::string& key, double min, double max) const;  // required
  std::optional<double> optNum(const std::string& key, double min, double max) const;
  int64_t integer(const std::string& key, int64_t min, int64_t max) const;
  std::optional<int64_t> optInteger(const std::string& key, int64_t min, int64_t max) const;
  // A price: exact decimal dollars (quoted or plain), <= 6 fraction digits.
  Micros dollars(const std::string& key) const;  // required ("missing price")
  std::optional<Micros> optDollars(const std::string& key) const;
  // A date YYYY-MM-DD.
  std::string date(const std::string& key) const;
  std::optional<bool> optBool(const std::string& key) const;       // true / false
  std::vector<std::string> strList(const std::string& key) const;  // optional: empty
  std::vector<std::string> keys() const;                           // of this mapping, in order
  Fields sub(const std::string& key) const;                        // required mapping

 private:
  YAML::Node get(const std::string& key) const;
  YAML::Node node_;
  std::string file_;
  std::string path_;
};

// The sequence under `key` of the document root (required, may be empty).
// Other top-level keys must be in `alsoAllowed`.
YAML::Node rootList(const YAML::Node& root, const std::string& key, const std::string& file,
                    std::initializer_list<const char*> alsoAllowed = {});

}  // namespace arbitra::planner::detail
