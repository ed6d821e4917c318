// A hit never crosses tenants, model groups, system prompts, earlier turns,
// tools or sampling parameters; semantic hits only where they are safe.
#include <gtest/gtest.h>

#include "cache/cache.h"

namespace arbitra::cache {
namespace {

core::Message user(const std::string& text) {
  core::Message m;
  m.role = core::Role::User;
  m.content.push_back({core::ContentPart::Kind::Text, text, ""});
  return m;
}

core::Message assistant(const std::string& text) {
  core::Message m;
  m.role = core::Role::Assistant;
  m.content.push_back({core::ContentPart::Kind::Text, text, ""});
  return m;
}

core::ChatRequest request(const std::string& question, const std::string& group = "fast") {
  core::ChatRequest r;
  r.model = group;
  r.system = "You are a helpful support agent.";
  r.messages.push_back(user("Hello"));
  r.messages.push_back(assistant("Hi! How can I help?"));
  r.messages.push_back(user(question));
  r.temperature = 0;
  return r;
}

StoredAnswer answer(const std::string& text) {
  StoredAnswer a;
  a.text = text;
  a.usage = core::Usage{10, 20, 0, 0, 0};
  return a;
}

class ScopeTest : public ::testing::Test {
 protected:
  ScopeTest() : cache_(options()) {}

  static CacheOptions options() {
    CacheOptions o;
    o.defaults.mode = Mode::Semantic;
    o.defaults.threshold.staticThreshold = 0.75;
    o.defaults.threshold.learn = false;
    o.defaults.threshold.verifyFraction = 0;
    o.groups["shared"] = o.defaults;
    o.groups["shared"].shared = true;
    o.groups["exactonly"] = o.defaults;
    o.groups["exactonly"].mode = Mode::Exact;
    o.groups["cold"] = o.defaults;
    o.groups["cold"].maxTemperature = 0.2;
    o.groups["tools"] = o.defaults;
    o.groups["tools"].tools = true;
    return o;
  }

  // Full lookup as the gateway does it (embedding in line).
  Lookup find(const core::ChatRequest& r, const std::string& tenant = "t1", Control control = {}) {
    auto lookup = cache_.begin(r, tenant, control, now_);
    if (lookup.needsEmbedding) cache_.semantic(lookup, *embedder_->embed(lookup.ticket.query), now_);
    return lookup;
  }

  void put(const core::ChatRequest& r, const std::string& text, const std::string& tenant = "t1") {
    auto lookup = find(r, tenant);
    ASSERT_EQ(lookup.kind, Lookup::Kind::Miss);
    cache_.complete(lookup.ticket, answer(text), "sim/fast", 1234, now_);
  }

  Cache cache_;
  std::unique_ptr<Embedder> embedder_ = makeNgramEmbedder();
  int64_t now_ = 1'000'000;
};

TEST_F(ScopeTest, SameRequestHitsExactly) {
  put(request("How do I reset my password?"), "Use the reset link.");
  auto hit = find(request("How do I reset my password?"));
  ASSERT_EQ(hit.kind, Lookup::Kind::HitExact);
  EXPECT_EQ(hit.entry->answer.text, "Use the reset link.");
  EXPECT_EQ(hit.entry->costPico, 1234);
  EXPECT_EQ(hit.header(), "hit-exact");
}

TEST_F(ScopeTest, ParaphraseHitsSemanticallyAndReportsSimilarityAndThreshold) {
  put(request("How do I reset my password?"), "Use the reset link.");
  auto hit = find(request("how can I reset my password"));
  ASSERT_EQ(hit.kind, Lookup::Kind::HitSemantic);
  EXPECT_GE(hit.similarity, 0.75);
  EXPECT_DOUBLE_EQ(hit.threshold, 0.75);
  EXPECT_NE(hit.header().find("hit-semantic; sim="), std::string::npos);
}

TEST_F(ScopeTest, NeverCrossesTenants) {
  put(request("How do I reset my password?"), "A");
  EXPECT_EQ(find(request("How do I reset my password?"), "t2").kind, Lookup::Kind::Miss);
  EXPECT_EQ(find(request("how can I reset my password"), "t2").kind, Lookup::Kind::Miss);
}

TEST_F(ScopeTest, SharedGroupCrossesTenants) {
  put(request("How do I reset my password?", "shared"), "A", "t1");
  EXPECT_EQ(find(request("How do I reset my password?", "shared"), "t2").kind, Lookup::Kind::HitExact);
}

TEST_F(ScopeTest, NeverCrossesModelGroups) {
  put(request("How do I reset my password?", "fast"), "A");
  EXPECT_EQ(find(request("How do I reset my password?", "shared")).kind, Lookup::Kind::Miss);
  EXPECT_EQ(find(request("How do I reset my password?", "tools")).kind, Lookup::Kind::Miss);
}

TEST_F(ScopeTest, NeverCrossesSystemPrompts) {
  put(request("How do I reset my password?"), "A");
  auto other = request("How do I reset my password?");
  other.system = "You are a pirate.";
  EXPECT_EQ(find(other).kind, Lookup::Kind::Miss);
  auto paraphrase = request("how can I reset my password");
  paraphrase.system = "You are a pirate.";
  EXPECT_EQ(find(paraphrase).kind, Lookup::Kind::Miss);
}

TEST_F(ScopeTest, NeverCrossesEarlierTurns) {
  put(request("How do I reset my password?"), "A");
  auto other = request("How do I reset my password?");
  other.messages[1] = assistant("Hello, what do you need?");
  EXPECT_EQ(find(other).kind, Lookup::Kind::Miss);
  auto paraphrase = request("how can I reset my password");
  paraphrase.messages[0] = user("Hey");
  EXPECT_EQ(find(paraphrase).kind, Lookup::Kind::Miss);
}

TEST_F(ScopeTest, NeverCrossesTools) {
  put(request("How do I reset my password?"), "A");
  auto other = request("How do I reset my password?");
  core::Tool tool;
  tool.name = "lookup_account";
  tool.parameters = boost::json::object{{"type", "object"}};
  other.tools.push_back(tool);
  EXPECT_EQ(find(other).kind, Lookup::Kind::Miss);
  auto paraphrase = request("how can I reset my password");
  paraphrase.tools.push_back(tool);
  EXPECT_EQ(find(paraphrase).kind, Lookup::Kind::Miss);
}

TEST_F(ScopeTest, NeverCrossesSamplingParameters) {
  put(request("How do I reset my password?"), "A");
  auto hotter = request("How do I reset my password?");
  hotter.temperature = 0.7;
  EXPECT_EQ(find(hotter).kind, Lookup::Kind::Miss);
  auto shorter = request("how can I reset my password");
  shorter.maxTokens = 5;
  EXPECT_EQ(find(shorter).kind, Lookup::Kind::Miss);
  auto seeded = request("How do I reset my password?");
  seeded.raw["seed"] = 7;
  EXPECT_EQ(find(seeded).kind, Lookup::Kind::Miss);
  auto formatted = request("How do I reset my password?");
  formatted.responseFormat = boost::json::object{{"type", "json_object"}};
  EXPECT_EQ(find(formatted).kind, Lookup::Kind::Miss);
}

TEST_F(ScopeTest, WireFormatAndStreamingDoNotChangeTheKey) {
  put(request("How do I reset my password?"), "A");
  auto other = request("How do I reset my password?");
  other.format = core::WireFormat::Anthropic;
  other.stream = true;
  EXPECT_EQ(find(other).kind, Lookup::Kind::HitExact);
}

TEST_F(ScopeTest, ExactModeNeverServesByMeaning) {
  put(request("How do I reset my password?", "exactonly"), "A");
  EXPECT_EQ(find(request("how can I reset my password", "exactonly")).kind, Lookup::Kind::Miss);
  EXPECT_EQ(find(request("How do I reset my password?", "exactonly")).kind, Lookup::Kind::HitExact);
}

TEST_F(ScopeTest, ToolResultsAreNotServedSemanticallyUnlessEnabled) {
  auto withResult = [](const std::string& group, const std::string& question) {
    auto r = request(question, group);
    core::Message call;
    call.role = core::Role::Assistant;
    call.toolCalls.push_back({"call_1", "lookup_account", "{}"});
    core::Message result;
    result.role = core::Role::Tool;
    result.toolCallId = "call_1";
    result.content.push_back({core::ContentPart::Kind::Text, "account ok", ""});
    r.messages.insert(r.messages.end() - 1, call);
    r.messages.insert(r.messages.end() - 1, result);
    return r;
  };
  auto keys = keysFor(withResult("fast", "How do I reset my password?"), {"t1", "fast", false}, false);
  EXPECT_FALSE(keys.ns.has_value());
  put(withResult("fast", "How do I reset my password?"), "A");
  EXPECT_EQ(find(withResult("fast", "how can I reset my password")).kind, Lookup::Kind::Miss);
  EXPECT_EQ(find(withResult("fast", "How do I reset my password?")).kind, Lookup::Kind::HitExact);
  put(withResult("tools", "How do I reset my password?"), "A");
  EXPECT_EQ(find(withResult("tools", "how can I reset my password")).kind, Lookup::Kind::HitSemantic);
}

TEST_F(ScopeTest, ToolCallAnswersAreNotServedSemanticallyUnlessEnabled) {
  auto lookup = find(request("Show my account"));
  StoredAnswer call = answer("");
  call.toolCalls.push_back({"call_1", "lookup_account", "{}"});
  call.finish = core::FinishReason::ToolCalls;
  cache_.complete(lookup.ticket, call, "sim/fast", 1, now_);
  EXPECT_EQ(find(request("show my account")).kind, Lookup::Kind::Miss);
  EXPECT_EQ(find(request("Show my account")).kind, Lookup::Kind::HitExact);
}

TEST_F(ScopeTest, TemperatureAboveTheGroupMaximumBypasses) {
  auto r = request("How do I reset my password?", "cold");
  r.temperature = 0.9;
  EXPECT_EQ(find(r).kind, Lookup::Kind::Bypass);
  r.temperature = 0.1;
  EXPECT_EQ(find(r).kind, Lookup::Kind::Miss);
}

TEST_F(ScopeTest, NoCacheRefreshesAndNoStoreDoesNotStore) {
  put(request("How do I reset my password?"), "old");
  Control noCache;
  noCache.noCache = true;
  auto refresh = find(request("How do I reset my password?"), "t1", noCache);
  ASSERT_EQ(refresh.kind, Lookup::Kind::Miss);
  cache_.complete(refresh.ticket, answer("new"), "sim/fast", 1, now_);
  EXPECT_EQ(find(request("How do I reset my password?")).entry->answer.text, "new");

  Control noStore;
  noStore.noStore = true;
  auto skip = find(request("Where is my invoice?"), "t1", noStore);
  cache_.complete(skip.ticket, answer("x"), "sim/fast", 1, now_);
  EXPECT_EQ(find(request("Where is my invoice?")).kind, Lookup::Kind::Miss);
}

TEST_F(ScopeTest, TtlExpires) {
  Control shortTtl;
  shortTtl.ttlSeconds = 5;
  auto lookup = find(request("Where is my invoice?"), "t1", shortTtl);
  cache_.complete(lookup.ticket, answer("x"), "sim/fast", 1, now_);
  EXPECT_EQ(find(request("Where is my invoice?")).kind, Lookup::Kind::HitExact);
  now_ += 6'000;
  EXPECT_EQ(find(request("Where is my invoice?")).kind, Lookup::Kind::Miss);
}

TEST_F(ScopeTest, MetricsCountHitsSavingsAndVerifiedFalseHits) {
  put(request("How do I reset my password?"), "Use the reset link.");
  auto hit = find(request("How do I reset my password?"));
  cache_.served(hit);
  auto semantic = find(request("how can I reset my password"));
  ASSERT_EQ(semantic.kind, Lookup::Kind::HitSemantic);
  cache_.served(semantic);
  auto m = cache_.metrics();
  EXPECT_EQ(m.hitsExact, 1u);
  EXPECT_EQ(m.hitsSemantic, 1u);
  EXPECT_EQ(m.savedPico, 2 * 1234);
  std::string text;
  cache_.appendPrometheus(text);
  EXPECT_NE(text.find("arbitra_cache_hits_total{kind=\"exact\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("arbitra_cache_saved_dollars_total 0.000000002468\n"), std::string::npos) << text;
  EXPECT_NE(text.find("arbitra_cache_false_hit_estimate 0.000000\n"), std::string::npos) << text;
}

TEST(VerificationTest, AWrongVerifiedHitIsCountedAndRaisesTheEntry) {
  CacheOptions o;
  o.defaults.mode = Mode::Semantic;
  o.defaults.threshold.staticThreshold = 0.75;
  o.defaults.threshold.verifyFraction = 1.0;  // verify every would-be hit
  Cache cache(o);
  auto embedder = makeNgramEmbedder();
  auto find = [&](const std::string& q) {
    core::ChatRequest r;
    r.model = "g";
    core::Message m;
    m.content.push_back({core::ContentPart::Kind::Text, q, ""});
    r.messages.push_back(m);
    auto l = cache.begin(r, "t", {}, 1000);
    if (l.needsEmbedding) cache.semantic(l, *embedder->embed(l.ticket.query), 1000);
    return l;
  };
  auto first = find("How do I reset my password?");
  cache.complete(first.ticket, answer("Use the reset link."), "d", 1, 1000);
  auto probe = find("how can I reset my password");
  ASSERT_EQ(probe.kind, Lookup::Kind::Miss);  // verified: sent upstream
  ASSERT_TRUE(probe.ticket.verifying);
  cache.complete(probe.ticket, answer("Something else entirely, about billing."), "d", 1, 1000);
  auto m = cache.metrics();
  EXPECT_EQ(m.verifications, 1u);
  EXPECT_EQ(m.verifiedWrong, 1u);
  EXPECT_DOUBLE_EQ(m.falseHitEstimate(), 1.0);
  // The first entry now needs more than that similarity.
  bool raised = false;
  cache.store().forEach([&](const Entry& e, const Evidence& ev, const Vector&) {
    if (e.answer.text == "Use the reset link.") raised = ev.highestWrong >= float(probe.similarity) - 1e-6f;
  });
  EXPECT_TRUE(raised);
}

TEST(ControlTest, Parses) {
  auto c = parseControl("no-store, ttl=60");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->noStore);
  EXPECT_FALSE(c->noCache);
  EXPECT_EQ(c->ttlSeconds, 60);
  EXPECT_TRUE(parseControl("No-Cache")->noCache);
  EXPECT_FALSE(parseControl("ttl=-1"));
  EXPECT_FALSE(parseControl("forever"));
  EXPECT_TRUE(parseControl(""));
}

}  // namespace
}  // namespace arbitra::cache
