// The replay: scenario and trace files, the trace generator, the
// discrete-event simulation around the real router, the oracle and the table
// (see replay.h).
#include "replay/replay.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <fstream>
#include <queue>
#include <sstream>
#include <stdexcept>

#include <boost/json.hpp>

#include "router/router.h"

namespace arbitra::replay {
namespace {

namespace json = boost::json;

// ---- deterministic draws ------------------------------------------------------

uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t hash(uint64_t seed, uint64_t a, uint64_t b, uint64_t salt) {
  return mix(mix(mix(seed ^ salt) ^ a) ^ (b * 0x9e3779b97f4a7c15ULL));
}

double uniform(uint64_t h) {
  return (static_cast<double>(h >> 11) + 0.5) * 0x1.0p-53;
}

double normal(uint64_t h) {  // Box-Muller from two halves of the stream
  double u1 = uniform(h);
  double u2 = uniform(mix(h));
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

// ---- the world at time t --------------------------------------------------------

struct Conditions {
  double ttftMs;
  double tokensPerSecond;
  double errorRate;
  int64_t inputPico;
  int64_t outputPico;
  bool down;
};

Conditions conditionsAt(const SimDeployment& d, double tS) {
  Conditions c{d.ttftMs, d.tokensPerSecond, d.errorRate, d.inputPico, d.outputPico, false};
  for (const auto& change : d.changes) {
    if (tS < change.atS) break;
    double frac = change.overS > 0 ? std::min(1.0, (tS - change.atS) / change.overS) : 1.0;
    auto blend = [&](double& value, double target) {
      if (target >= 0) value = value + (target - value) * frac;
    };
    blend(c.ttftMs, change.ttftMs);
    blend(c.tokensPerSecond, change.tokensPerSecond);
    blend(c.errorRate, change.errorRate);
    if (change.inputPico >= 0) c.inputPico = change.inputPico;
    if (change.outputPico >= 0) c.outputPico = change.outputPico;
  }
  for (const auto& outage : d.outages) {
    if (tS >= outage.fromS && tS < outage.toS) c.down = true;
  }
  return c;
}

// What deployment `d` (global index) does with request `i`, if sent at tS.
struct Truth {
  bool ok;
  double ttftMs;
  double tokensPerSecond;
  int64_t inputPico;
  int64_t outputPico;
  int status;  // failures: 500 or 503
};

Truth truthOf(const Scenario& s, const SimDeployment& d, int globalIndex, size_t i, double tS, int attempt) {
  Conditions c = conditionsAt(d, tS);
  Truth t{};
  t.inputPico = c.inputPico;
  t.outputPico = c.outputPico;
  uint64_t base = hash(s.seed, i, static_cast<uint64_t>(globalIndex), 0);
  t.ttftMs = c.ttftMs * std::exp(d.spread * normal(base));
  t.tokensPerSecond = c.tokensPerSecond * std::exp(0.1 * normal(mix(base ^ 1)));
  double errorDraw = uniform(hash(s.seed, i, static_cast<uint64_t>(globalIndex), 7 + static_cast<uint64_t>(attempt)));
  if (c.down) {
    t.status = 503;
  } else if (errorDraw < c.errorRate) {
    t.status = 500;
  } else {
    t.ok = true;
  }
  return t;
}

bool meets(const TraceRequest& r, double ttftMs, double tps) {
  if (r.maxTtftMs > 0 && ttftMs > static_cast<double>(r.maxTtftMs)) return false;
  if (r.minTps > 0 && tps < static_cast<double>(r.minTps)) return false;
  return true;
}

double percentile(std::vector<float>& values, double q) {
  if (values.empty()) return 0;
  size_t k = static_cast<size_t>(q * static_cast<double>(values.size() - 1));
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(k), values.end());
  return values[k];
}

// ---- scenario parsing ---------------------------------------------------------------

struct YamlReader {
  std::string name;
  [[noreturn]] void fail(const YAML::Node& node, const std::string& what) const {
    int line = node.Mark().is_null() ? 0 : node.Mark().line + 1;
    throw std::runtime_error(name + ":" + std::to_string(line) + ": " + what);
  }
  double number(const YAML::Node& node, const std::string& field, double min = 0) const {
    if (!node.IsScalar()) fail(node, field + " must be a number");
    char* end = nullptr;
    const std::string& text = node.Scalar();
    double value = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !std::isfinite(value) || value < min) {
      fail(node, field + " must be a number >= " + std::to_string(static_cast<int64_t>(min)));
    }
    return value;
  }
  int64_t price(const YAML::Node& node, const std::string& field) const {
    if (!node.IsScalar()) fail(node, field + " must be dollars per million tokens, e.g. 0.15");
    auto micros = config::parseMicroDollars(node.Scalar());
    if (!micros) fail(node, field + " must be dollars per million tokens, e.g. 0.15 (exact, <= 6 decimals)");
    return *micros;
  }
  void prices(const YAML::Node& node, int64_t& input, int64_t& output) const {
    if (!node.IsMap()) fail(node, "price must be {input, output}");
    for (const auto& kv : node) {
      std::string key = kv.first.Scalar();
      if (key == "input")
        input = price(kv.second, "price.input");
      else if (key == "output")
        output = price(kv.second, "price.output");
      else
        fail(kv.first, "unknown key '" + key + "' in price (expected input, output)");
    }
  }
};

SimDeployment parseDeployment(const YamlReader& r, const YAML::Node& node) {
  if (!node.IsMap()) r.fail(node, "a deployment must be a mapping");
  SimDeployment d;
  bool hasPrice = false;
  for (const auto& kv : node) {
    std::string key = kv.first.Scalar();
    const YAML::Node& v = kv.second;
    if (key == "name")
      d.name = v.Scalar();
    else if (key == "price") {
      r.prices(v, d.inputPico, d.outputPico);
      hasPrice = true;
    } else if (key == "ttft_ms")
      d.ttftMs = r.number(v, key, 1);
    else if (key == "ttft_spread")
      d.spread = r.number(v, key);
    else if (key == "tokens_per_second")
      d.tokensPerSecond = r.number(v, key, 0.1);
    else if (key == "error_rate")
      d.errorRate = r.number(v, key);
    else if (key == "rpm")
      d.rpm = static_cast<int64_t>(r.number(v, key, 1));
    else if (key == "router_rpm")
      d.routerRpm = static_cast<int64_t>(r.number(v, key, 0));
    else if (key == "context_window")
      d.contextWindow = static_cast<int64_t>(r.number(v, key, 1));
    else if (key == "changes") {
      if (!v.IsSequence()) r.fail(v, "changes must be a list");
      for (const auto& item : v) {
        Change c;
        for (const auto& f : item) {
          std::string k = f.first.Scalar();
          if (k == "at_s")
            c.atS = r.number(f.second, k);
          else if (k == "over_s")
            c.overS = r.number(f.second, k);
          else if (k == "ttft_ms")
            c.ttftMs = r.number(f.second, k, 1);
          else if (k == "tokens_per_second")
            c.tokensPerSecond = r.number(f.second, k, 0.1);
          else if (k == "error_rate")
            c.errorRate = r.number(f.second, k);
          else if (k == "price")
            r.prices(f.second, c.inputPico, c.outputPico);
          else
            r.fail(f.first, "unknown key '" + k +
                                "' in a change (expected at_s, over_s, ttft_ms, tokens_per_second, error_rate, price)");
        }
        d.changes.push_back(c);
      }
      std::stable_sort(d.changes.begin(), d.changes.end(),
                       [](const Change& a, const Change& b) { return a.atS < b.atS; });
    } else if (key == "outages") {
      if (!v.IsSequence()) r.fail(v, "outages must be a list of {from_s, to_s}");
      for (const auto& item : v) {
        Outage o;
        o.fromS = r.number(item["from_s"], "from_s");
        o.toS = r.number(item["to_s"], "to_s");
        if (o.toS <= o.fromS) r.fail(item, "an outage must end after it starts");
        d.outages.push_back(o);
      }
    } else {
      r.fail(kv.first, "unknown key '" + key + "' in a deployment");
    }
  }
  if (d.name.empty()) r.fail(node, "a deployment needs a name");
  if (!hasPrice) r.fail(node, "deployment '" + d.name + "' needs a price");
  return d;
}

// The group's routing block, through the gateway's own config parser so the
// keys and their errors are the same.
config::RoutingConfig parseRouting(const YamlReader& r, const YAML::Node& node, const std::string& group) {
  YAML::Emitter emitter;
  emitter << node;
  int line = node.Mark().is_null() ? 1 : node.Mark().line + 1;
  std::string yaml =
      "providers:\n  p: { kind: openai, base_url: http://127.0.0.1:1/v1 }\nmodels:\n  g:\n"
      "    deployments: [{ provider: p, model: m }]\n    routing: " +
      std::string(emitter.c_str()) + "\n";
  try {
    auto parsed = config::parseConfig(yaml, r.name);
    auto routing = parsed.models.at(0).routing;
    routing.policyLine = line;
    routing.fallbacks.clear();
    return routing;
  } catch (const config::ConfigError& e) {
    std::string what = e.what();
    auto colon = what.find(": ", r.name.size() + 1);
    r.fail(node, "routing of group '" + group + "': " + (colon == std::string::npos ? what : what.substr(colon + 2)));
  }
}

std::vector<config::ModelConfig> modelsFor(const Scenario& s, const std::string& policy, bool keepHedge) {
  std::vector<config::ModelConfig> models;
  for (const auto& g : s.groups) {
    config::ModelConfig m;
    m.name = g.name;
    m.routing = g.routing;
    m.routing.policy = policy;
    if (!keepHedge) m.routing.hedge = false;
    for (const auto& d : g.deployments) {
      config::DeploymentConfig dc;
      dc.provider = d.name;
      dc.upstreamModel = g.name;
      dc.price.inputPerMillion = d.inputPico;
      dc.price.outputPerMillion = d.outputPico;
      dc.price.known = true;
      dc.contextWindow = d.contextWindow;
      dc.rpm = d.routerRpm >= 0 ? d.routerRpm : d.rpm;
      m.deployments.push_back(dc);
    }
    models.push_back(std::move(m));
  }
  return models;
}

}  // namespace

Scenario parseScenario(const std::string& yaml, const std::string& name) {
  YamlReader r{name};
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    throw std::runtime_error(name + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  Scenario s;
  if (!root.IsMap()) r.fail(root, "expected a mapping with seed and groups");
  for (const auto& kv : root) {
    std::string key = kv.first.Scalar();
    if (key == "seed") {
      s.seed = static_cast<uint64_t>(r.number(kv.second, key));
    } else if (key == "groups") {
      if (!kv.second.IsMap()) r.fail(kv.second, "groups must map a model name to {routing, deployments}");
      for (const auto& g : kv.second) {
        SimGroup group;
        group.name = g.first.Scalar();
        for (const auto& part : g.second) {
          std::string k = part.first.Scalar();
          if (k == "routing") {
            group.routing = parseRouting(r, part.second, group.name);
          } else if (k == "deployments") {
            if (!part.second.IsSequence()) r.fail(part.second, "deployments must be a list");
            for (const auto& d : part.second) group.deployments.push_back(parseDeployment(r, d));
          } else {
            r.fail(part.first, "unknown key '" + k + "' in group (expected routing, deployments)");
          }
        }
        if (group.deployments.empty()) r.fail(g.first, "group '" + group.name + "' has no deployments");
        s.groups.push_back(std::move(group));
      }
    } else {
      r.fail(kv.first, "unknown key '" + key + "' (expected seed, groups)");
    }
  }
  if (s.groups.empty()) throw std::runtime_error(name + ": no groups");
  return s;
}

Scenario loadScenario(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot read");
  std::stringstream text;
  text << in.rdbuf();
  return parseScenario(text.str(), path);
}

std::vector<TraceRequest> loadTrace(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot read");
  std::vector<TraceRequest> trace;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    number++;
    if (line.empty()) continue;
    auto fail = [&](const std::string& what) {
      throw std::runtime_error(path + ":" + std::to_string(number) + ": " + what);
    };
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) fail("not a JSON object");
    const auto& o = v.as_object();
    TraceRequest r;
    auto num = [&](const char* key, bool required) -> double {
      const json::value* f = o.if_contains(key);
      if (!f) {
        if (required) fail(std::string("missing ") + key);
        return 0;
      }
      if (!f->is_number()) fail(std::string(key) + " must be a number");
      return f->to_number<double>();
    };
    r.t = num("t", true);
    const json::value* model = o.if_contains("model");
    if (!model || !model->is_string()) fail("model must be a string");
    r.model = std::string(model->as_string());
    r.inputTokens = static_cast<int64_t>(num("input_tokens", true));
    r.maxTokens = static_cast<int64_t>(num("max_tokens", false));
    r.outputTokens = static_cast<int64_t>(num("output_tokens", false));
    if (r.outputTokens == 0) r.outputTokens = r.maxTokens > 0 ? r.maxTokens / 2 : 200;
    r.maxTtftMs = static_cast<int64_t>(num("max_ttft_ms", false));
    r.minTps = static_cast<int64_t>(num("min_tps", false));
    if (!trace.empty() && r.t < trace.back().t) fail("arrival times must not go backwards");
    trace.push_back(std::move(r));
  }
  return trace;
}

void generateTrace(const Scenario& scenario, const GenerateOptions& options, std::ostream& out) {
  std::vector<double> times;
  times.reserve(static_cast<size_t>(options.requests));
  uint64_t n = 0;
  // Arrival density 1 + 0.5 sin(2 pi t / duration): a busy and a quiet half.
  while (static_cast<int64_t>(times.size()) < options.requests) {
    double t = uniform(hash(options.seed, n, 1, 11)) * options.durationS;
    double accept = uniform(hash(options.seed, n, 2, 11));
    n++;
    if (accept * 1.5 <= 1.0 + 0.5 * std::sin(6.283185307179586 * t / options.durationS)) times.push_back(t);
  }
  std::sort(times.begin(), times.end());
  const int64_t kMaxTokens[] = {256, 512, 1024, 2048};
  char buffer[256];
  for (size_t i = 0; i < times.size(); ++i) {
    uint64_t h = hash(options.seed, i, 3, 13);
    // The first group takes 70% of the traffic, the rest share the remainder.
    size_t group = 0;
    if (scenario.groups.size() > 1 && uniform(h) >= 0.7) {
      group = 1 + static_cast<size_t>(uniform(mix(h)) * static_cast<double>(scenario.groups.size() - 1));
      group = std::min(group, scenario.groups.size() - 1);
    }
    int64_t input = static_cast<int64_t>(std::clamp(800.0 * std::exp(1.0 * normal(mix(h ^ 2))), 10.0, 30000.0));
    int64_t maxTokens = kMaxTokens[mix(h ^ 3) % 4];
    int64_t output = static_cast<int64_t>(
        std::clamp(200.0 * std::exp(0.8 * normal(mix(h ^ 4))), 1.0, static_cast<double>(maxTokens)));
    double kind = uniform(mix(h ^ 5));
    int64_t maxTtft = 0, minTps = 0;
    if (kind < 0.3) {
      maxTtft = 1000, minTps = 20;  // interactive
    } else if (kind < 0.8) {
      maxTtft = 2500, minTps = 10;  // standard
    }                               // else relaxed: no bars
    int len = std::snprintf(buffer, sizeof buffer,
                            R"({"t":%.4f,"model":"%s","input_tokens":%lld,"max_tokens":%lld,"output_tokens":%lld)",
                            times[i], scenario.groups[group].name.c_str(), static_cast<long long>(input),
                            static_cast<long long>(maxTokens), static_cast<long long>(output));
    out.write(buffer, len);
    if (maxTtft > 0) out << ",\"max_ttft_ms\":" << maxTtft << ",\"min_tps\":" << minTps;
    out << "}\n";
  }
}

// ---- the simulation -------------------------------------------------------------------

namespace {

enum class EventKind : uint8_t { Price, Arrival, FirstToken, Finish, Fail, Hedge, Retry };

struct Event {
  int64_t atUs;
  uint64_t seq;
  EventKind kind;
  int32_t index;  // request, attempt or price-change index
  bool operator>(const Event& other) const { return atUs != other.atUs ? atUs > other.atUs : seq > other.seq; }
};

struct Attempt {
  int request;
  int deployment;
  int64_t startUs;
  Truth truth;
  bool cancelled = false;
  bool open = true;
  int retryAfter = 0;
};

struct RequestState {
  router::Plan plan;
  size_t cursor = 0;
  int retriesUsed = 0;
  int active = 0;
  int attempts = 0;
  int winner = -1;
  int64_t firstTokenUs = 0;
  bool done = false;
  std::vector<int> attemptIds;
};

struct PriceChange {
  int deployment;
  int64_t inputPico;
  int64_t outputPico;
};

class Simulation {
 public:
  Simulation(const Scenario& s, const std::vector<TraceRequest>& trace, const std::string& policy)
      : s_(s), trace_(trace), models_(modelsFor(s, policy, true)), router_(buildRouter(policy)) {
    result_.policy = policy;
    for (const auto& g : s.groups) {
      for (const auto& d : g.deployments) deployments_.push_back(&d);
    }
    windows_.resize(deployments_.size());
  }

  Result run() {
    requests_.resize(trace_.size());
    int change = 0;
    for (size_t d = 0; d < deployments_.size(); ++d) {
      for (const auto& c : deployments_[d]->changes) {
        if (c.inputPico < 0 && c.outputPico < 0) continue;
        priceChanges_.push_back({static_cast<int>(d), c.inputPico >= 0 ? c.inputPico : deployments_[d]->inputPico,
                                 c.outputPico >= 0 ? c.outputPico : deployments_[d]->outputPico});
        push(static_cast<int64_t>(c.atS * 1e6), EventKind::Price, change++);
      }
    }
    for (size_t i = 0; i < trace_.size(); ++i)
      push(static_cast<int64_t>(trace_[i].t * 1e6), EventKind::Arrival, static_cast<int>(i));
    while (!queue_.empty()) {
      Event e = queue_.top();
      queue_.pop();
      now_ = e.atUs;
      switch (e.kind) {
        case EventKind::Price: {
          const auto& p = priceChanges_[e.index];
          router_->setPrice(p.deployment, p.inputPico, p.outputPico);
          break;
        }
        case EventKind::Arrival: arrive(e.index); break;
        case EventKind::FirstToken: firstToken(e.index); break;
        case EventKind::Finish: finish(e.index); break;
        case EventKind::Fail: failed(e.index); break;
        case EventKind::Hedge: hedge(e.index); break;
        case EventKind::Retry: retry(e.index); break;
      }
    }
    result_.requests = static_cast<int64_t>(trace_.size());
    result_.p50TtftMs = percentile(ttfts_, 0.5);
    result_.p99TtftMs = percentile(ttfts_, 0.99);
    return result_;
  }

 private:
  std::unique_ptr<router::Router> buildRouter(const std::string& policy) {
    router::registerBuiltins(registry_);
    const router::Policy* p = registry_.find(policy);
    if (p == nullptr) throw std::runtime_error("unknown policy '" + policy + "'");
    if (!p->usesMeasurements()) models_ = modelsFor(s_, policy, false);
    return std::make_unique<router::Router>(models_, registry_, "scenario");
  }

  void push(int64_t atUs, EventKind kind, int index) { queue_.push(Event{atUs, seq_++, kind, index}); }

  int64_t tokensOf(const TraceRequest& r) const {
    return r.inputTokens + (r.maxTokens > 0 ? r.maxTokens : r.outputTokens);
  }

  void arrive(int i) {
    const TraceRequest& r = trace_[i];
    int group = router_->findGroup(r.model);
    if (group < 0) {
      lose(i);
      return;
    }
    if (!plan(i, group)) return;
    launch(i, false);
  }

  bool plan(int i, int group) {
    const TraceRequest& r = trace_[i];
    router::RequestFacts facts;
    facts.inputTokens = r.inputTokens;
    facts.maxTokens = r.maxTokens;
    facts.bars.maxTtftMs = r.maxTtftMs;
    facts.bars.minTokensPerSecond = r.minTps;
    facts.random = hash(s_.seed, static_cast<uint64_t>(i), requests_[i].retriesUsed, 23);
    auto& state = requests_[i];
    if (router_->plan(group, facts, now_, state.plan)) {
      lose(i);
      return false;
    }
    state.cursor = 0;
    return true;
  }

  // Starts the next choice of the plan; false when none is left.
  bool launch(int i, bool isHedge) {
    auto& state = requests_[i];
    const TraceRequest& r = trace_[i];
    bool triedAny = state.cursor > 0;
    while (state.cursor < state.plan.order.size()) {
      int d = state.plan.order[state.cursor++].deployment;
      bool lastResort = !isHedge && !triedAny && state.cursor == state.plan.order.size();
      if (!router_->begin(d, tokensOf(r), now_, lastResort)) continue;
      start(i, d, isHedge);
      return true;
    }
    if (!isHedge && state.active == 0) exhausted(i);
    return false;
  }

  void exhausted(int i) {
    auto& state = requests_[i];
    if (state.retriesUsed < state.plan.retries) {
      state.retriesUsed++;
      int64_t wait = router_->backoffUs(state.plan.group, state.retriesUsed,
                                        hash(s_.seed, static_cast<uint64_t>(i), state.retriesUsed, 31));
      push(now_ + std::max<int64_t>(wait, 1), EventKind::Retry, i);
      return;
    }
    lose(i);
  }

  void retry(int i) {
    if (!plan(i, requests_[i].plan.group)) return;
    launch(i, false);
  }

  void start(int i, int d, bool isHedge) {
    auto& state = requests_[i];
    Attempt a;
    a.request = i;
    a.deployment = d;
    a.startUs = now_;
    a.truth = truthOf(s_, *deployments_[d], d, static_cast<size_t>(i), static_cast<double>(now_) / 1e6, state.attempts);
    state.attempts++;
    state.active++;
    result_.attempts++;
    int id = static_cast<int>(attempts_.size());
    // The simulated provider's own RPM limit: 429 with Retry-After.
    const SimDeployment& sim = *deployments_[d];
    bool limited = false;
    if (sim.rpm > 0 && a.truth.ok) {
      auto& window = windows_[d];
      while (!window.empty() && window.front() <= now_ - 60'000'000) window.pop_front();
      if (static_cast<int64_t>(window.size()) >= sim.rpm) {
        limited = true;
        a.retryAfter = static_cast<int>((window.front() + 60'000'000 - now_ + 999'999) / 1'000'000);
      } else {
        window.push_back(now_);
      }
    }
    state.attemptIds.push_back(id);
    attempts_.push_back(a);
    if (limited) {
      result_.rateLimited++;
      attempts_[id].truth.ok = false;
      attempts_[id].truth.status = 429;
      push(now_ + 30'000, EventKind::Fail, id);
    } else if (!a.truth.ok) {
      push(now_ + (a.truth.status == 503 ? 100'000 : 150'000), EventKind::Fail, id);
    } else {
      push(now_ + static_cast<int64_t>(a.truth.ttftMs * 1000), EventKind::FirstToken, id);
    }
    if (!isHedge && state.attempts == 1 && state.plan.hedgeAfterMs > 0) {
      push(now_ + static_cast<int64_t>(state.plan.hedgeAfterMs * 1000), EventKind::Hedge, i);
    }
  }

  void firstToken(int id) {
    Attempt& a = attempts_[id];
    if (a.cancelled) return;
    auto& state = requests_[a.request];
    state.winner = id;
    state.firstTokenUs = now_;
    router_->firstToken(a.deployment, static_cast<double>(now_ - a.startUs) / 1000.0, now_);
    const TraceRequest& r = trace_[a.request];
    for (int other : state.attemptIds) {
      Attempt& o = attempts_[other];
      if (other == id || !o.open || o.cancelled) continue;
      o.cancelled = true;
      o.open = false;
      state.active--;
      router_->cancel(o.deployment);
      result_.costPico += r.inputTokens * o.truth.inputPico;  // the loser bills its prompt
    }
    double genUs = static_cast<double>(std::max<int64_t>(0, r.outputTokens - 1)) / a.truth.tokensPerSecond * 1e6;
    push(now_ + static_cast<int64_t>(genUs), EventKind::Finish, id);
  }

  void finish(int id) {
    Attempt& a = attempts_[id];
    a.open = false;
    auto& state = requests_[a.request];
    state.active--;
    state.done = true;
    const TraceRequest& r = trace_[a.request];
    double generationMs = static_cast<double>(now_ - state.firstTokenUs) / 1000.0;
    router_->finish(state.plan.group, a.deployment, r.outputTokens, generationMs, now_);
    result_.costPico += r.inputTokens * a.truth.inputPico + r.outputTokens * a.truth.outputPico;
    result_.served++;
    double ttft = static_cast<double>(state.firstTokenUs) / 1000.0 - r.t * 1000.0;
    ttfts_.push_back(static_cast<float>(ttft));
    if (meets(r, ttft, a.truth.tokensPerSecond)) result_.metBar++;
  }

  void failed(int id) {
    Attempt& a = attempts_[id];
    if (a.cancelled) return;
    a.open = false;
    auto& state = requests_[a.request];
    state.active--;
    router::Failure kind = a.truth.status == 429 ? router::Failure::RateLimited : router::Failure::Server;
    std::optional<int> retryAfter;
    if (a.retryAfter > 0) retryAfter = a.retryAfter;
    router_->fail(a.deployment, kind, retryAfter, now_);
    if (state.winner >= 0 || state.done) return;
    if (state.active == 0) launch(a.request, false);
  }

  void hedge(int i) {
    auto& state = requests_[i];
    if (state.winner >= 0 || state.done || state.active != 1) return;
    if (launch(i, true)) result_.hedges++;
  }

  void lose(int i) {
    requests_[i].done = true;
    result_.failed++;
  }

  const Scenario& s_;
  const std::vector<TraceRequest>& trace_;
  router::PolicyRegistry registry_;
  std::vector<config::ModelConfig> models_;
  std::unique_ptr<router::Router> router_;
  std::vector<const SimDeployment*> deployments_;
  std::vector<std::deque<int64_t>> windows_;
  std::vector<RequestState> requests_;
  std::vector<Attempt> attempts_;
  std::vector<PriceChange> priceChanges_;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> queue_;
  std::vector<float> ttfts_;
  uint64_t seq_ = 0;
  int64_t now_ = 0;
  Result result_;
};

}  // namespace

Result run(const Scenario& scenario, const std::vector<TraceRequest>& trace, const std::string& policy) {
  Simulation simulation(scenario, trace, policy);
  return simulation.run();
}

Result oracle(const Scenario& scenario, const std::vector<TraceRequest>& trace) {
  Result result;
  result.policy = "oracle";
  result.requests = static_cast<int64_t>(trace.size());
  std::vector<float> ttfts;
  std::vector<const SimDeployment*> all;
  for (const auto& g : scenario.groups) {
    for (const auto& d : g.deployments) all.push_back(&d);
  }
  std::vector<std::deque<int64_t>> windows(all.size());
  auto hasRoom = [&](size_t d, int64_t nowUs) {
    if (all[d]->rpm <= 0) return true;
    auto& window = windows[d];
    while (!window.empty() && window.front() <= nowUs - 60'000'000) window.pop_front();
    return static_cast<int64_t>(window.size()) < all[d]->rpm;
  };
  for (size_t i = 0; i < trace.size(); ++i) {
    const TraceRequest& r = trace[i];
    int64_t nowUs = static_cast<int64_t>(r.t * 1e6);
    int global = 0;
    int64_t best = -1, fallback = -1;
    int bestAt = -1, fallbackAt = -1;
    double bestTtft = 0, fallbackTtft = 0;
    for (const auto& g : scenario.groups) {
      for (const auto& d : g.deployments) {
        int index = global++;
        if (g.name != r.model) continue;
        if (d.contextWindow > 0 && r.inputTokens + r.maxTokens > d.contextWindow) continue;
        if (!hasRoom(static_cast<size_t>(index), nowUs)) continue;
        Truth t = truthOf(scenario, d, index, i, r.t, 0);
        if (!t.ok) continue;
        int64_t cost = r.inputTokens * t.inputPico + r.outputTokens * t.outputPico;
        if (meets(r, t.ttftMs, t.tokensPerSecond) && (best < 0 || cost < best))
          best = cost, bestTtft = t.ttftMs, bestAt = index;
        if (fallback < 0 || cost < fallback) fallback = cost, fallbackTtft = t.ttftMs, fallbackAt = index;
      }
    }
    result.attempts++;
    if (best >= 0) {
      result.costPico += best;
      result.metBar++;
      result.served++;
      ttfts.push_back(static_cast<float>(bestTtft));
      if (all[bestAt]->rpm > 0) windows[bestAt].push_back(nowUs);
    } else if (fallback >= 0) {
      result.costPico += fallback;
      result.served++;
      ttfts.push_back(static_cast<float>(fallbackTtft));
      if (all[fallbackAt]->rpm > 0) windows[fallbackAt].push_back(nowUs);
    } else {
      result.failed++;
    }
  }
  result.p50TtftMs = percentile(ttfts, 0.5);
  result.p99TtftMs = percentile(ttfts, 0.99);
  return result;
}

std::string renderTable(const std::vector<Result>& results, const Result& oracleResult) {
  std::string out =
      "| policy | cost ($) | × oracle | met the bar | failed | attempts/request | hedges | 429s | p50 TTFT | p99 TTFT "
      "|\n"
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  auto row = [&](const Result& r) {
    char line[320];
    double ratio =
        oracleResult.costPico > 0 ? static_cast<double>(r.costPico) / static_cast<double>(oracleResult.costPico) : 0;
    std::snprintf(line, sizeof line, "| %s | %.4f | %.3f | %.2f%% | %lld | %.3f | %lld | %lld | %.0f ms | %.0f ms |\n",
                  r.policy.c_str(), static_cast<double>(r.costPico) / 1e12, ratio,
                  r.requests > 0 ? 100.0 * static_cast<double>(r.metBar) / static_cast<double>(r.requests) : 0.0,
                  static_cast<long long>(r.failed),
                  r.requests > 0 ? static_cast<double>(r.attempts) / static_cast<double>(r.requests) : 0.0,
                  static_cast<long long>(r.hedges), static_cast<long long>(r.rateLimited), r.p50TtftMs, r.p99TtftMs);
    out += line;
  };
  for (const auto& r : results) row(r);
  row(oracleResult);
  return out;
}

}  // namespace arbitra::replay
