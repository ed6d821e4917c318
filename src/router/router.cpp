// Decisions and feedback (see router.h).
#include "router/router.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace arbitra::router {
namespace {

constexpr int64_t kProbeEveryUs = 15'000'000;  // a stale, shut-out deployment gets one probe this often
constexpr int64_t kStaleAfterUs = 15'000'000;  // no sample for this long: its estimate may be out of date
constexpr double kDefaultOutputTokens = 256;   // the group's output estimate before any answer
constexpr double kOutputAlpha = 0.02;

}  // namespace

struct Router::Group {
  std::string name;
  config::RoutingConfig routing;
  const Policy* policy = nullptr;
  std::vector<int> deployments;
  std::vector<int> fallbacks;  // group indices
  std::atomic<uint64_t> sequence{0};
  std::atomic<double> outputTokens{kDefaultOutputTokens};
};

struct Router::Slot {
  explicit Slot(std::shared_ptr<DeploymentState> from) : shared(std::move(from)), state(*shared) {}
  DeploymentInfo info;
  std::shared_ptr<DeploymentState> shared;  // also held by the previous router across a reload
  DeploymentState& state;
  std::atomic<int64_t> inputPico{0};
  std::atomic<int64_t> outputPico{0};
};

Router::Router(const std::vector<config::ModelConfig>& models, const PolicyRegistry& registry,
               const std::string& sourceFile, const Router* previous, const CarryOver& carry)
    : registry_(registry) {
  for (const auto& model : models) {
    auto group = std::make_unique<Group>();
    group->name = model.name;
    group->routing = model.routing;
    group->policy = registry.find(model.routing.policy);
    if (group->policy == nullptr) {
      std::string known;
      for (const auto& name : registry.names()) known += (known.empty() ? "" : ", ") + name;
      throw config::ConfigError(sourceFile + ":" + std::to_string(model.routing.policyLine) +
                                ": routing.policy of model '" + model.name +
                                "' is not a known policy (known: " + known + ")");
    }
    BreakerSettings breaker;
    breaker.failures = static_cast<int>(model.routing.breakerFailures);
    breaker.openUs = model.routing.breakerOpenMs * 1000;
    // Doubling stops at 4x: a probe is one fast failure, while a long open
    // period keeps traffic off a provider that has already recovered.
    breaker.maxOpenUs = breaker.openUs * 4;
    int index = 0;
    int before = previous ? previous->findGroup(model.name) : -1;
    if (before >= 0) group->outputTokens = previous->groups_[before]->outputTokens.load(std::memory_order_relaxed);
    for (const auto& d : model.deployments) {
      DeploymentInfo info;
      info.group = static_cast<int>(groups_.size());
      info.index = index++;
      info.label = d.provider + "/" + d.upstreamModel;
      info.provider = d.provider;
      info.model = d.upstreamModel;
      info.contextWindow = d.contextWindow;
      info.rpm = d.rpm;
      info.tpm = d.tpm;
      info.weight = d.weight;
      std::shared_ptr<DeploymentState> carried;
      if (before >= 0 && (!carry || carry(info))) carried = previous->stateToCarry(before, model, info);
      if (carried) carried_++;
      auto slot = std::make_unique<Slot>(carried ? std::move(carried) : std::make_shared<DeploymentState>());
      slot->info = std::move(info);
      slot->inputPico = d.price.inputPerMillion;
      slot->outputPico = d.price.outputPerMillion;
      slot->state.setBreakerSettings(breaker);
      group->deployments.push_back(static_cast<int>(slots_.size()));
      slots_.push_back(std::move(slot));
    }
    groups_.push_back(std::move(group));
  }
  for (auto& group : groups_) {
    for (const auto& name : group->routing.fallbacks) {
      int found = findGroup(name);
      if (found >= 0) group->fallbacks.push_back(found);
    }
  }
}

Router::~Router() = default;

// The state of group `group`'s deployment that matches `info` (same label,
// same occurrence of that label in the group), or null.
std::shared_ptr<DeploymentState> Router::stateToCarry(int group, const config::ModelConfig& model,
                                                      const DeploymentInfo& info) const {
  int nth = 0;
  for (int i = 0; i < info.index; ++i) {
    nth += model.deployments[i].provider + "/" + model.deployments[i].upstreamModel == info.label;
  }
  for (int id : groups_[group]->deployments) {
    const auto& old = *slots_[id];
    if (old.info.label == info.label && nth-- == 0) return old.shared;
  }
  return nullptr;
}

int Router::findGroup(std::string_view name) const {
  for (size_t i = 0; i < groups_.size(); ++i) {
    if (groups_[i]->name == name) return static_cast<int>(i);
  }
  return -1;
}

const std::string& Router::groupName(int group) const {
  return groups_[group]->name;
}
const config::RoutingConfig& Router::routing(int group) const {
  return groups_[group]->routing;
}
const std::vector<int>& Router::deployments(int group) const {
  return groups_[group]->deployments;
}
const DeploymentInfo& Router::info(int deployment) const {
  return slots_[deployment]->info;
}
DeploymentState& Router::state(int deployment) {
  return slots_[deployment]->state;
}
const DeploymentState& Router::state(int deployment) const {
  return slots_[deployment]->state;
}
size_t Router::deploymentCount() const {
  return slots_.size();
}

void Router::setPrice(int deployment, int64_t inputPico, int64_t outputPico) {
  slots_[deployment]->inputPico.store(inputPico, std::memory_order_relaxed);
  slots_[deployment]->outputPico.store(outputPico, std::memory_order_relaxed);
}
int64_t Router::inputPrice(int deployment) const {
  return slots_[deployment]->inputPico.load(std::memory_order_relaxed);
}
int64_t Router::outputPrice(int deployment) const {
  return slots_[deployment]->outputPico.load(std::memory_order_relaxed);
}

std::optional<core::Error> Router::plan(int groupIndex, const RequestFacts& facts, int64_t nowUs, Plan& out) {
  Group& group = *groups_[groupIndex];
  const Policy* policy = group.policy;
  if (!facts.policy.empty()) {
    policy = registry_.find(facts.policy);
    if (policy == nullptr) {
      std::string known;
      for (const auto& name : registry_.names()) known += (known.empty() ? "" : ", ") + name;
      return core::makeError(core::ErrorKind::InvalidRequest,
                             "x-arbitra-route: unknown routing policy (known: " + known + ")", "x-arbitra-route");
    }
  }
  out.group = groupIndex;
  out.policy = policy;
  out.order.clear();
  out.reason = {};
  out.hedgeAfterMs = 0;
  out.contextSkipped = 0;
  out.retries = static_cast<int>(group.routing.retries);
  double average = group.outputTokens.load(std::memory_order_relaxed);
  out.expectedOutputTokens = static_cast<int64_t>(std::llround(average));
  if (facts.maxTokens > 0) out.expectedOutputTokens = std::min(out.expectedOutputTokens, facts.maxTokens);

  Bars bars = facts.bars;
  if (bars.maxTtftMs == 0) bars.maxTtftMs = group.routing.maxTtftMs;
  if (bars.minTokensPerSecond == 0) bars.minTokensPerSecond = group.routing.minTokensPerSecond;
  if (bars.maxPricePerMillion == 0) bars.maxPricePerMillion = group.routing.maxPricePerMillion;
  if (facts.deferred) bars.maxTtftMs = bars.minTokensPerSecond = 0;

  planGroup(groupIndex, *policy, facts, bars, nowUs, false, out);
  size_t own = out.order.size();
  if (!out.order.empty()) {
    const Choice& first = out.order.front();
    if (first.probe) {
      out.reason = "probe of a cheaper deployment with a stale estimate";
    } else if (!first.available) {
      out.reason = "every deployment is cooling down or open: soonest ready";
    } else if (!first.eligible) {
      out.reason = "none met the bar: fastest predicted";
    } else {
      out.reason = policy->reason();
    }
    if (group.routing.hedge && first.measured && out.order.size() > 1) {
      out.hedgeAfterMs = state(first.deployment).ttftP95Ms();
    }
  }
  for (int fallback : group.fallbacks) {
    const Group& other = *groups_[fallback];
    planGroup(fallback, *other.policy, facts, bars, nowUs, true, out);
  }
  if (own == 0 && !out.order.empty()) out.reason = "no deployment of the group fits the request: fallback group";
  if (out.order.empty()) {
    return core::makeError(core::ErrorKind::InvalidRequest,
                           "the request (about " + std::to_string(facts.inputTokens) +
                               " input tokens plus max_tokens) exceeds the context window of every deployment of '" +
                               group.name + "' and its fallbacks");
  }
  return std::nullopt;
}

void Router::planGroup(int groupIndex, const Policy& policy, const RequestFacts& facts, const Bars& bars, int64_t nowUs,
                       bool fallback, Plan& out) {
  Group& group = *groups_[groupIndex];
  size_t begin = out.order.size();
  PolicyContext context;
  context.random = facts.random;
  context.groupSize = static_cast<int>(group.deployments.size());
  context.microDollarsPerSecond = group.routing.microDollarsPerSecond;
  if (!policy.usesMeasurements() || policy.name() == "weighted") {
    context.sequence = group.sequence.fetch_add(1, std::memory_order_relaxed);
  }
  const int64_t input = facts.inputTokens;
  const int64_t output = out.expectedOutputTokens;
  const int64_t tokens = input + (facts.maxTokens > 0 ? facts.maxTokens : output);
  const bool measure = policy.usesMeasurements();

  for (int id : group.deployments) {
    const Slot& slot = *slots_[id];
    const DeploymentInfo& info = slot.info;
    if (info.contextWindow > 0 && input + facts.maxTokens > info.contextWindow) {
      out.contextSkipped++;
      continue;
    }
    if (fallback && std::any_of(out.order.begin(), out.order.begin() + begin,
                                [&](const Choice& c) { return c.deployment == id; })) {
      continue;
    }
    Choice choice;
    choice.deployment = id;
    choice.fallback = fallback;
    choice.costPico = input * slot.inputPico.load(std::memory_order_relaxed) +
                      output * slot.outputPico.load(std::memory_order_relaxed);
    const DeploymentState& st = slot.state;
    choice.measured = st.measured();
    choice.ttftP90Ms = st.ttftP90Ms();
    choice.tokensPerSecond = st.tokensPerSecond();
    CandidateView view;
    view.index = info.index;
    view.costPico = choice.costPico;
    view.ttftP90Ms = choice.ttftP90Ms;
    view.tokensPerSecond = choice.tokensPerSecond;
    view.expectedMs = choice.ttftP90Ms +
                      (choice.tokensPerSecond > 0 ? static_cast<double>(output) * 1000.0 / choice.tokensPerSecond : 0);
    view.weight = info.weight;
    view.inFlight = st.inFlight();
    view.measured = choice.measured;
    choice.eligible = true;
    if (measure) {
      if (bars.maxTtftMs > 0 && choice.measured && choice.ttftP90Ms > static_cast<double>(bars.maxTtftMs)) {
        choice.eligible = false;
      }
      if (bars.minTokensPerSecond > 0 && choice.tokensPerSecond > 0 &&
          choice.tokensPerSecond < static_cast<double>(bars.minTokensPerSecond)) {
        choice.eligible = false;
      }
      if (bars.maxPricePerMillion > 0 && input + output > 0 &&
          choice.costPico > bars.maxPricePerMillion * (input + output)) {
        choice.eligible = false;
      }
    }
    choice.available = st.available(nowUs, tokens, info.rpm, info.tpm, &choice.readyAtUs);
    choice.score = policy.score(view, context);
    // Ineligible ones are ranked by speed; keep expectedMs in `score` for them.
    if (!choice.eligible) choice.score = view.expectedMs;
    out.order.push_back(choice);
  }

  auto first = out.order.begin() + static_cast<std::ptrdiff_t>(begin);
  auto rank = [](const Choice& c) { return c.available ? (c.eligible ? 0 : 1) : 2; };
  // Insertion sort: groups are small and this allocates nothing.
  for (auto it = first + (first == out.order.end() ? 0 : 1); it < out.order.end(); ++it) {
    Choice value = *it;
    auto hole = it;
    auto before = [&](const Choice& a, const Choice& b) {
      int ra = rank(a), rb = rank(b);
      if (ra != rb) return ra < rb;
      if (ra == 2) return a.readyAtUs < b.readyAtUs;
      return a.score < b.score;
    };
    while (hole > first && before(value, *(hole - 1))) {
      *hole = *(hole - 1);
      --hole;
    }
    *hole = value;
  }

  // A probe: a candidate that would win on score but is shut out by a latency
  // estimate nobody has refreshed for a while (it gets no traffic, so the
  // estimate never heals by itself). One real request every kProbeEveryUs.
  if (measure && first != out.order.end() && first + 1 < out.order.end()) {
    for (auto it = first + 1; it < out.order.end(); ++it) {
      if (!it->available || it->eligible || !it->measured) continue;
      const Slot& slot = *slots_[it->deployment];
      if (nowUs - slot.state.lastSampleUs() < kStaleAfterUs) continue;
      CandidateView view;
      view.index = slot.info.index;
      view.costPico = it->costPico;
      view.weight = slot.info.weight;
      if (policy.score(view, context) >= first->score && first->eligible) continue;
      if (!slots_[it->deployment]->state.claimProbe(nowUs, kProbeEveryUs)) continue;
      Choice probe = *it;
      probe.probe = true;
      std::move_backward(first, it, it + 1);
      *first = probe;
      break;
    }
  }
}

bool Router::begin(int deployment, int64_t tokens, int64_t nowUs, bool lastResort) {
  return slots_[deployment]->state.begin(tokens, nowUs, lastResort);
}

void Router::firstToken(int deployment, double ttftMs, int64_t nowUs) {
  slots_[deployment]->state.firstToken(ttftMs, nowUs);
}

void Router::finish(int group, int deployment, int64_t outputTokens, double generationMs, int64_t nowUs) {
  slots_[deployment]->state.finish(outputTokens, generationMs, nowUs);
  if (group >= 0 && outputTokens > 0) {
    auto& average = groups_[group]->outputTokens;
    double current = average.load(std::memory_order_relaxed);
    double next = current + kOutputAlpha * (static_cast<double>(outputTokens) - current);
    average.compare_exchange_weak(current, next, std::memory_order_relaxed);  // a lost update is harmless
  }
}

void Router::fail(int deployment, Failure failure, std::optional<int> retryAfterSeconds, int64_t nowUs) {
  slots_[deployment]->state.fail(failure, retryAfterSeconds, nowUs);
}

void Router::cancel(int deployment) {
  slots_[deployment]->state.cancel();
}

int64_t Router::backoffUs(int group, int retry, uint64_t random) const {
  const auto& routing = groups_[group]->routing;
  int64_t cap = routing.backoffMs * 1000;
  for (int i = 1; i < retry && cap < routing.maxBackoffMs * 1000; ++i) cap *= 2;
  cap = std::min(cap, routing.maxBackoffMs * 1000);
  if (cap <= 0) return 0;
  return static_cast<int64_t>(random % static_cast<uint64_t>(cap));
}

std::string Router::explain(const Plan& plan, size_t chosen, std::string_view reason) const {
  if (chosen >= plan.order.size()) return {};
  const Choice& choice = plan.order[chosen];
  std::string why = !reason.empty() ? std::string(reason)
                    : chosen == 0
                        ? std::string(plan.reason)
                        : "fallback after " + std::to_string(chosen) + " failed attempt" + (chosen == 1 ? "" : "s");
  if (chosen > 0 && choice.fallback) why += " (fallback group)";
  // std::to_chars, not snprintf: this runs on every routed request, and
  // printf's floating-point path is the costlier of the two by far.
  char numbers[96];
  char* end = numbers + sizeof numbers;
  auto append = [&](char* at, std::string_view text) { return std::copy(text.begin(), text.end(), at); };
  char* at = append(numbers, "; expected=$");
  at = std::to_chars(at, end, static_cast<double>(choice.costPico) / 1e12, std::chars_format::fixed, 6).ptr;
  at = append(at, "; p90_ttft=");
  at = std::to_chars(at, end, choice.ttftP90Ms, std::chars_format::fixed, 0).ptr;
  at = append(at, "ms");
  std::string explained = info(choice.deployment).label;
  explained.reserve(explained.size() + why.size() + 64);
  explained += "; policy=";
  if (plan.policy) explained += plan.policy->name();
  explained += "; ";
  explained += why;
  explained.append(numbers, at);
  return explained;
}

}  // namespace arbitra::router
