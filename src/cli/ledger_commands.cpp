// `arbitra keys create|list|revoke` and `arbitra report`.
//
// Both open the ledger store directly (its own connection, beside a running
// gateway: SQLite's WAL lets them read while it writes; a running gateway
// picks up key changes within a second). The ledger is found by --ledger
// FILE, else the --config file's `ledger:` section, else ./arbitra.db.
#include "cli/ledger_commands.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "config/config.h"
#include "ledger/cost.h"
#include "ledger/keys.h"
#include "ledger/ledger.h"
#include "ledger/report.h"
#include "ledger/store.h"

namespace arbitra::cli {

namespace {

namespace json = boost::json;

constexpr const char* kKeysUsage =
    "usage: arbitra keys create --name NAME [--models a,b] [--budget-day DOLLARS] [--budget-month DOLLARS]\n"
    "                           [--rpm N] [--tpm N] [--tags a,b]\n"
    "       arbitra keys list [--json]\n"
    "       arbitra keys revoke KEY_ID\n"
    "common: --ledger FILE (SQLite) | --config FILE (its ledger: section); default ./arbitra.db\n"
    "The key's value is printed once, at creation; only its SHA-256 is stored.\n";

constexpr const char* kReportUsage =
    "usage: arbitra report [--group-by day|model|deployment|provider|key|tag|total]\n"
    "                      [--from YYYY-MM-DD] [--until YYYY-MM-DD] [--json | --csv]\n"
    "                      [--ledger FILE | --config FILE]\n"
    "Spend, tokens, requests, error rate, p50/p95 latency (from 1/16-octave buckets, within ~2%),\n"
    "cache and routing savings. --until is inclusive; days are UTC.\n";

struct Options {
  std::vector<std::string> positional;
  std::vector<std::pair<std::string, std::string>> flags;  // --name value ("" for switches)
  std::optional<std::string> get(const std::string& name) const {
    for (const auto& [flag, value] : flags) {
      if (flag == name) return value;
    }
    return std::nullopt;
  }
};

Options parse(int argc, char** argv, int first, const std::vector<std::string>& switches) {
  Options options;
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) {
      options.positional.push_back(arg);
      continue;
    }
    bool isSwitch = std::find(switches.begin(), switches.end(), arg) != switches.end();
    if (isSwitch) {
      options.flags.emplace_back(arg, "");
    } else {
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      options.flags.emplace_back(arg, argv[++i]);
    }
  }
  return options;
}

std::unique_ptr<ledger::Store> openLedger(const Options& options) {
  if (auto file = options.get("--ledger")) return ledger::openSqliteStore(*file);
  if (auto file = options.get("--config")) {
    auto config = config::loadConfigFile(*file);
    return ledger::openStore(config.ledger.path, config.ledger.postgres);
  }
  return ledger::openSqliteStore("arbitra.db");
}

int64_t dollars(const Options& options, const std::string& flag) {
  auto text = options.get(flag);
  if (!text) return 0;
  auto value = ledger::parseDollars(*text);
  if (!value) throw std::invalid_argument(flag + ": expected dollars such as 5 or 12.50, got '" + *text + "'");
  return *value;
}

int64_t count(const Options& options, const std::string& flag) {
  auto text = options.get(flag);
  if (!text) return 0;
  char* end = nullptr;
  long long value = std::strtoll(text->c_str(), &end, 10);
  if (text->empty() || *end != '\0' || value < 0) {
    throw std::invalid_argument(flag + ": expected a non-negative integer, got '" + *text + "'");
  }
  return value;
}

void checkFlags(const Options& options, const std::vector<std::string>& allowed, const char* usage) {
  for (const auto& [flag, value] : options.flags) {
    if (std::find(allowed.begin(), allowed.end(), flag) == allowed.end()) {
      throw std::invalid_argument("unknown option '" + flag + "'\n" + usage);
    }
  }
}

}  // namespace

int runKeys(int argc, char** argv) {
  if (argc < 3 || std::strcmp(argv[2], "--help") == 0) {
    std::fputs(kKeysUsage, argc < 3 ? stderr : stdout);
    return argc < 3 ? 2 : 0;
  }
  std::string action = argv[2];
  Options options = parse(argc, argv, 3, {"--json"});
  if (action == "create") {
    checkFlags(options, {"--name", "--models", "--budget-day", "--budget-month", "--rpm", "--tpm", "--tags",
                         "--ledger", "--config"}, kKeysUsage);
    auto name = options.get("--name");
    if (!name || name->empty()) throw std::invalid_argument("keys create needs --name");
    auto [record, secret] = ledger::generateKey(*name);
    record.models = ledger::splitList(options.get("--models").value_or(""));
    record.tags = ledger::splitList(options.get("--tags").value_or(""));
    record.budgetDayPico = dollars(options, "--budget-day");
    record.budgetMonthPico = dollars(options, "--budget-month");
    record.rpm = count(options, "--rpm");
    record.tpm = count(options, "--tpm");
    openLedger(options)->saveKey(record);
    std::printf("created key %s (%s)\n%s\nThis is the only time the key is shown; store it now.\n",
                record.id.c_str(), record.name.c_str(), secret.c_str());
    return 0;
  }
  if (action == "list") {
    checkFlags(options, {"--json", "--ledger", "--config"}, kKeysUsage);
    auto keys = openLedger(options)->loadKeys();
    if (options.get("--json")) {
      json::array out;
      for (const auto& k : keys) {
        out.push_back(json::object{{"id", k.id}, {"name", k.name}, {"models", ledger::joinList(k.models)},
                                   {"budget_day", ledger::exactDollars(k.budgetDayPico)},
                                   {"budget_month", ledger::exactDollars(k.budgetMonthPico)}, {"rpm", k.rpm},
                                   {"tpm", k.tpm}, {"tags", ledger::joinList(k.tags)}, {"revoked", k.revokedMs != 0}});
      }
      std::printf("%s\n", json::serialize(out).c_str());
      return 0;
    }
    std::printf("%-18s %-16s %-10s %-12s %-12s %-8s %-8s %s\n", "id", "name", "status", "budget/day", "budget/month",
                "rpm", "tpm", "models");
    for (const auto& k : keys) {
      std::printf("%-18s %-16s %-10s %-12s %-12s %-8lld %-8lld %s\n", k.id.c_str(), k.name.c_str(),
                  k.revokedMs ? "revoked" : "active",
                  k.budgetDayPico ? ("$" + ledger::formatDollars(k.budgetDayPico, 2)).c_str() : "-",
                  k.budgetMonthPico ? ("$" + ledger::formatDollars(k.budgetMonthPico, 2)).c_str() : "-",
                  static_cast<long long>(k.rpm), static_cast<long long>(k.tpm),
                  k.models.empty() ? "(all)" : ledger::joinList(k.models).c_str());
    }
    return 0;
  }
  if (action == "revoke") {
    checkFlags(options, {"--ledger", "--config"}, kKeysUsage);
    if (options.positional.size() != 1) throw std::invalid_argument("keys revoke needs one KEY_ID");
    if (!openLedger(options)->revokeKey(options.positional[0], ledger::nowUnixMs())) {
      std::fprintf(stderr, "arbitra: no active key with id '%s'\n", options.positional[0].c_str());
      return 1;
    }
    std::printf("revoked %s\n", options.positional[0].c_str());
    return 0;
  }
  std::fprintf(stderr, "arbitra: unknown keys action '%s'\n%s", action.c_str(), kKeysUsage);
  return 2;
}

int runReport(int argc, char** argv) {
  Options options = parse(argc, argv, 2, {"--json", "--csv", "--help"});
  if (options.get("--help")) {
    std::fputs(kReportUsage, stdout);
    return 0;
  }
  checkFlags(options, {"--group-by", "--from", "--until", "--json", "--csv", "--ledger", "--config"}, kReportUsage);
  ledger::ReportQuery query;
  if (auto group = options.get("--group-by")) {
    auto parsed = ledger::parseGroupBy(*group);
    if (!parsed) throw std::invalid_argument("--group-by: expected day, model, deployment, provider, key, tag or total");
    query.groupBy = *parsed;
  }
  if (auto from = options.get("--from")) {
    auto ms = ledger::parseDate(*from);
    if (!ms) throw std::invalid_argument("--from: expected YYYY-MM-DD, got '" + *from + "'");
    query.fromMs = *ms;
  }
  if (auto until = options.get("--until")) {
    auto ms = ledger::parseDate(*until);
    if (!ms) throw std::invalid_argument("--until: expected YYYY-MM-DD, got '" + *until + "'");
    query.toMs = *ms + 86'400'000;
  }
  auto format = options.get("--json") ? ledger::ReportFormat::Json
                : options.get("--csv")  ? ledger::ReportFormat::Csv
                                        : ledger::ReportFormat::Table;
  auto store = openLedger(options);
  std::fputs(ledger::renderReport(store->report(query), query, format).c_str(), stdout);
  if (int64_t lost = store->reportedLoss(); lost > 0 && format == ledger::ReportFormat::Table) {
    std::printf("note: %lld record(s) were lost to unclean shutdowns (see the gaps table)\n", static_cast<long long>(lost));
  }
  return 0;
}

}  // namespace arbitra::cli
