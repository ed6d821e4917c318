// Field readers with file:line errors (see yaml_fields.h).
#include "planner/yaml_fields.h"

#include <cmath>
#include <regex>
#include <set>

namespace arbitra::planner::detail {

int lineOf(const YAML::Node& node) {
  if (!node.IsDefined()) return 0;
  int line = node.Mark().line;
  return line >= 0 ? line + 1 : 0;
}

void fail(const std::string& file, int line, const std::string& path, const std::string& what) {
  std::string where = file;
  if (line > 0) where += ":" + std::to_string(line);
  throw PlannerError(where + ": " + (path.empty() ? "" : path + ": ") + what);
}

YAML::Node parseYaml(const std::string& text, const std::string& file) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    fail(file, e.mark.line >= 0 ? e.mark.line + 1 : 0, "", "YAML syntax: " + e.msg);
  }
}

Fields::Fields(const YAML::Node& node, std::string file, std::string path)
    : node_(node), file_(std::move(file)), path_(std::move(path)) {
  if (!node_.IsMap()) fail(file_, lineOf(node_), path_, "expected a mapping of key: value");
}

bool Fields::has(const std::string& key) const {
  auto v = node_[key];
  return v.IsDefined() && !v.IsNull();
}

std::string Fields::pathOf(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

void Fields::failAt(const std::string& key, const std::string& what) const {
  auto v = node_[key];
  fail(file_, v.IsDefined() ? lineOf(v) : line(), pathOf(key), what);
}

void Fields::onlyKeys(std::initializer_list<const char*> allowed) const {
  std::set<std::string> ok(allowed.begin(), allowed.end());
  for (const auto& kv : node_) {
    auto key = kv.first.as<std::string>();
    if (!ok.contains(key)) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      fail(file_, lineOf(kv.first), pathOf(key), "unknown key (expected one of: " + list + ")");
    }
  }
}

YAML::Node Fields::get(const std::string& key) const {
  return node_[key];
}

std::optional<std::string> Fields::optStr(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  auto v = get(key);
  if (!v.IsScalar()) failAt(key, "expected a string");
  auto s = v.as<std::string>();
  if (s.empty()) failAt(key, "must not be empty");
  return s;
}

std::string Fields::str(const std::string& key) const {
  auto s = optStr(key);
  if (!s) failAt(key, "missing (required)");
  return *s;
}

std::optional<double> Fields::optNum(const std::string& key, double min, double max) const {
  if (!has(key)) return std::nullopt;
  auto v = get(key);
  double value = 0;
  if (!v.IsScalar() || !YAML::convert<double>::decode(v, value) || !std::isfinite(value)) {
    failAt(key, "expected a number");
  }
  if (value < min) {
    failAt(key, (value < 0 && min >= 0 ? "must not be negative" : "must be at least " + std::to_string(min)) +
                    " (got " + v.as<std::string>() + ")");
  }
  if (value > max) failAt(key, "must be at most " + std::to_string(max) + " (got " + v.as<std::string>() + ")");
  return value;
}

double Fields::num(const std::string& key, double min, double max) const {
  auto v = optNum(key, min, max);
  if (!v) failAt(key, "missing (required)");
  return *v;
}

std::optional<int64_t> Fields::optInteger(const std::string& key, int64_t min, int64_t max) const {
  auto v = optNum(key, static_cast<double>(min), static_cast<double>(max));
  if (!v) return std::nullopt;
  if (std::floor(*v) != *v) failAt(key, "expected a whole number");
  return static_cast<int64_t>(*v);
}

int64_t Fields::integer(const std::string& key, int64_t min, int64_t max) const {
  auto v = optInteger(key, min, max);
  if (!v) failAt(key, "missing (required)");
  return *v;
}

std::optional<Micros> Fields::optDollars(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  auto v = get(key);
  if (!v.IsScalar()) failAt(key, "expected a decimal number of dollars");
  auto text = v.as<std::string>();
  if (text.starts_with("-")) failAt(key, "a price must not be negative (got " + text + ")");
  auto micros = parseDollars(text);
  if (!micros) {
    failAt(key, "expected a plain decimal number of dollars with at most 6 decimal places, e.g. \"0.15\" (got " + text +
                    ")");
  }
  return micros;
}

Micros Fields::dollars(const std::string& key) const {
  auto v = optDollars(key);
  if (!v) failAt(key, "missing price");
  return *v;
}

std::string Fields::date(const std::string& key) const {
  auto s = str(key);
  static const std::regex kDate(R"(\d{4}-\d{2}-\d{2})");
  if (!std::regex_match(s, kDate)) failAt(key, "expected a date YYYY-MM-DD (got " + s + ")");
  return s;
}

std::vector<std::string> Fields::strList(const std::string& key) const {
  std::vector<std::string> out;
  if (!has(key)) return out;
  auto v = get(key);
  if (!v.IsSequence()) failAt(key, "expected a list");
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].IsScalar() || v[i].as<std::string>().empty()) {
      fail(file_, lineOf(v[i]), pathOf(key) + "[" + std::to_string(i) + "]", "expected a non-empty string");
    }
    out.push_back(v[i].as<std::string>());
  }
  return out;
}

std::optional<bool> Fields::optBool(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  auto v = get(key);
  bool value = false;
  if (!v.IsScalar() || !YAML::convert<bool>::decode(v, value)) failAt(key, "expected true or false");
  return value;
}

std::vector<std::string> Fields::keys() const {
  if (!node_.IsMap()) fail(file_, line(), path_, "expected a mapping");
  std::vector<std::string> out;
  for (const auto& kv : node_) out.push_back(kv.first.as<std::string>());
  return out;
}

Fields Fields::sub(const std::string& key) const {
  if (!has(key)) failAt(key, "missing (required)");
  return Fields(get(key), file_, pathOf(key));
}

YAML::Node rootList(const YAML::Node& root, const std::string& key, const std::string& file,
                    std::initializer_list<const char*> alsoAllowed) {
  if (!root.IsMap()) fail(file, lineOf(root), "", "expected a mapping with a `" + key + ":` list");
  auto list = root[key];
  if (!list.IsDefined() || !list.IsSequence()) fail(file, lineOf(root), key, "missing list");
  for (const auto& kv : root) {
    auto k = kv.first.as<std::string>();
    bool allowed = k == key;
    for (const auto& a : alsoAllowed) allowed = allowed || k == a;
    if (!allowed) fail(file, lineOf(kv.first), k, "unknown key (expected `" + key + ":`)");
  }
  return list;
}

}  // namespace arbitra::planner::detail
