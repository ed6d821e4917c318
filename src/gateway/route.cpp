// The chat walk's "route" step: the router applied to one request (see route.h).
#include "gateway/route.h"

#include <charconv>
#include <random>

#include <boost/json.hpp>

#include "router/tokens.h"

namespace arbitra::gateway {
namespace {

namespace json = boost::json;

int64_t nowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count();
}

uint64_t draw() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return generator();
}

std::optional<int64_t> parseCount(std::string_view text) {
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size() || value < 0) return std::nullopt;
  return value;
}

core::Error badOverride(const std::string& field, const std::string& what) {
  return core::makeError(core::ErrorKind::InvalidRequest, field + " " + what, field);
}

// Reads the per-request overrides: headers first, then the body's "arbitra"
// object (removed from the body so no upstream sees it).
std::optional<core::Error> readOverrides(core::ChatRequest& request, const http::Headers& headers, RoutePlan& out) {
  router::Bars& bars = out.facts.bars;
  if (auto* body = request.raw.if_contains("arbitra")) {
    if (!body->is_object()) return badOverride("arbitra", "must be an object");
    for (const auto& [key, value] : body->as_object()) {
      auto integer = [&](int64_t& into) -> std::optional<core::Error> {
        if (!value.is_int64() || value.as_int64() < 0)
          return badOverride("arbitra." + std::string(key), "must be a non-negative integer");
        into = value.as_int64();
        return std::nullopt;
      };
      if (key == "route") {
        if (!value.is_string()) return badOverride("arbitra.route", "must be a policy name");
        out.policyOverride = std::string(value.as_string());
      } else if (key == "max_ttft_ms") {
        if (auto e = integer(bars.maxTtftMs)) return e;
      } else if (key == "min_tokens_per_second") {
        if (auto e = integer(bars.minTokensPerSecond)) return e;
      } else if (key == "max_price") {
        std::string text = value.is_string()   ? std::string(value.as_string())
                           : value.is_number() ? json::serialize(value)
                                               : std::string();
        auto micros = config::parseMicroDollars(text);
        if (!micros) return badOverride("arbitra.max_price", "must be dollars per million tokens, e.g. \"0.50\"");
        bars.maxPricePerMillion = *micros;
      } else {
        return badOverride("arbitra." + std::string(key),
                           "is not a routing option (route, max_ttft_ms, min_tokens_per_second, max_price)");
      }
    }
    request.raw.erase("arbitra");
    request.rawText.clear();  // edited: the upstream body is serialized from `raw`
  }
  if (auto route = http::findHeader(headers, "x-arbitra-route"); !route.empty())
    out.policyOverride = std::string(route);
  // A deferred job (deferred.h): time does not matter, so cost decides.
  if (http::findHeader(headers, "x-arbitra-deferred") == "true") {
    out.facts.deferred = true;
    if (out.policyOverride.empty()) out.policyOverride = "cost";
  }
  if (auto v = http::findHeader(headers, "x-arbitra-max-ttft-ms"); !v.empty()) {
    auto n = parseCount(v);
    if (!n) return badOverride("x-arbitra-max-ttft-ms", "must be a non-negative integer");
    bars.maxTtftMs = *n;
  }
  if (auto v = http::findHeader(headers, "x-arbitra-min-tps"); !v.empty()) {
    auto n = parseCount(v);
    if (!n) return badOverride("x-arbitra-min-tps", "must be a non-negative integer");
    bars.minTokensPerSecond = *n;
  }
  if (auto v = http::findHeader(headers, "x-arbitra-max-price"); !v.empty()) {
    auto micros = config::parseMicroDollars(std::string(v));
    if (!micros) return badOverride("x-arbitra-max-price", "must be dollars per million tokens, e.g. 0.50");
    bars.maxPricePerMillion = *micros;
  }
  return std::nullopt;
}

router::Failure failureOf(const core::Error& error) {
  switch (error.kind) {
    case core::ErrorKind::RateLimited: return router::Failure::RateLimited;
    case core::ErrorKind::UpstreamTimeout: return router::Failure::Timeout;
    case core::ErrorKind::UpstreamError:
    case core::ErrorKind::Overloaded:
    case core::ErrorKind::Internal: return router::Failure::Server;
    default: return router::Failure::Client;
  }
}

}  // namespace

Routing::Routing(const config::Config& config, const DeploymentTable& table, const Routing* previous)
    : table_(table) {
  router::registerBuiltins(registry_);
  router::Router::CarryOver sameProvider = [&](const router::DeploymentInfo& info) {
    auto now = table.provider(info.provider);
    return now && now == previous->table_.provider(info.provider);
  };
  router_ = std::make_unique<router::Router>(config.models, registry_,
                                             config.sourceFile.empty() ? "config" : config.sourceFile,
                                             previous ? previous->router_.get() : nullptr, sameProvider);
  for (const auto& model : config.models) {
    auto resolved = table.resolve(model.name);
    for (size_t i = 0; i < model.deployments.size(); ++i) {
      // resolve() lists a group's deployments in config order, as the router does.
      byId_.push_back(resolved && i < resolved->size() ? (*resolved)[i] : Deployment{});
    }
  }
}

Routing::~Routing() = default;

core::Result<RoutePlan> Routing::route(core::ChatRequest& request, const http::Headers& headers, Exchange& exchange) {
  RoutePlan out;
  if (auto error = readOverrides(request, headers, out)) return *error;
  int group = router_->findGroup(request.model);
  if (group < 0) {
    auto resolved = table_.resolve(request.model);
    if (!resolved) return resolved.error();
    out.candidates = std::move(*resolved);
    out.ids.assign(out.candidates.size(), -1);
    exchange.route.policy = "";
    exchange.route.reason = "the only deployment";
    return out;
  }
  out.facts.inputTokens = router::estimateInputTokens(request);
  out.facts.maxTokens = request.maxTokens.value_or(0);
  out.facts.policy = out.policyOverride;
  out.facts.random = draw();
  if (auto error = router_->plan(group, out.facts, nowUs(), out.plan)) return *error;
  out.tokens = out.facts.inputTokens + (out.facts.maxTokens > 0 ? out.facts.maxTokens : out.plan.expectedOutputTokens);
  out.retries = out.plan.retries;
  fill(out, exchange);
  return out;
}

bool Routing::replan(RoutePlan& route, Exchange& exchange) {
  if (route.plan.group < 0 || route.retries <= 0) return false;
  route.retries--;
  route.facts.random = draw();
  route.facts.policy = route.policyOverride;
  if (router_->plan(route.plan.group, route.facts, nowUs(), route.plan)) return false;
  // Everything is cooling down (429 Retry-After, open breakers): answer now
  // rather than hammer it; the caller gets the last error and its Retry-After.
  if (route.plan.order.empty() || !route.plan.order.front().available) return false;
  fill(route, exchange);
  return true;
}

void Routing::fill(RoutePlan& route, Exchange& exchange) {
  route.candidates.clear();
  route.ids.clear();
  exchange.route.policy = std::string(route.plan.policy->name());
  exchange.route.reason = std::string(route.plan.reason);
  exchange.route.candidates.clear();
  for (const auto& choice : route.plan.order) {
    route.candidates.push_back(byId_[choice.deployment]);
    route.ids.push_back(choice.deployment);
    RouteCandidate candidate;
    candidate.deployment = router_->info(choice.deployment).label;
    candidate.predictedCostPico = choice.costPico;
    candidate.predictedTtftMs = choice.ttftP90Ms;
    candidate.eligible = choice.eligible && choice.available;
    exchange.route.candidates.push_back(std::move(candidate));
  }
}

bool Routing::begin(const RoutePlan& route, size_t k, bool lastResort) {
  if (route.ids[k] < 0) return true;
  return router_->begin(route.ids[k], route.tokens, nowUs(), lastResort);
}

void Routing::succeeded(const RoutePlan& route, size_t k, Clock::time_point started, const Exchange& exchange) {
  int id = route.ids[k];
  if (id < 0) return;
  auto now = Clock::now();
  auto first = exchange.firstToken.value_or(now);
  double ttftMs = std::chrono::duration<double, std::milli>(first - started).count();
  int64_t firstUs = std::chrono::duration_cast<std::chrono::microseconds>(first.time_since_epoch()).count();
  router_->firstToken(id, ttftMs, firstUs);
  if (!exchange.note.empty()) {
    // Failed mid-stream (reported to the caller, never retried): it answered,
    // but it counts against the deployment's health.
    router_->fail(id, router::Failure::Server, std::nullopt, nowUs());
    return;
  }
  double generationMs = std::chrono::duration<double, std::milli>(now - first).count();
  int64_t output = exchange.usage ? exchange.usage->outputTokens : 0;
  // Non-streamed answers arrive whole: no generation time to measure.
  router_->finish(route.plan.group, id, output, exchange.stream ? generationMs : 0, nowUs());
}

void Routing::failed(const RoutePlan& route, size_t k, const core::Error& error) {
  int id = route.ids[k];
  if (id < 0) return;
  router_->fail(id, failureOf(error), error.retryAfterSeconds, nowUs());
}

void Routing::abandoned(const RoutePlan& route, size_t k) {
  if (route.ids[k] >= 0) router_->cancel(route.ids[k]);
}

int64_t Routing::backoffUs(const RoutePlan& route, int retry) const {
  if (route.plan.group < 0) return 0;
  return router_->backoffUs(route.plan.group, retry, draw());
}

std::string Routing::header(const RoutePlan& route, size_t k, std::string_view why) const {
  if (route.ids[k] < 0) return route.candidates[k].label + "; the only deployment";
  return router_->explain(route.plan, k, why);
}

}  // namespace arbitra::gateway
