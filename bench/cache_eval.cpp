// bench/cache_eval: how often the semantic cache is right, per embedder, for a
// static threshold and for learned per-entry thresholds. Not a test: prints
// tables (bench/cache.sh runs it).
//
// Two measurements:
//  1. Pairs (bench/cache_eval/pairs.txt, written for this project): similarity
//     of each labelled pair; for each static threshold, precision (share of
//     pairs at or above it that are paraphrases) and recall (share of
//     paraphrases at or above it).
//  2. Traffic: a stream of requests through the real cache::Cache (one model
//     group, one context), drawn Zipf-like from "intents": each anchor with
//     its paraphrases is one intent, each near-miss its own intent, plus
//     near-duplicate traffic generated from templates (attributes of
//     countries, unit conversions, account actions, order numbers) where
//     different entities and numbers are different intents. The upstream is
//     simulated: the answer is a function of the intent, so a hit is correct
//     iff the entry's intent is the query's. Precision = correct hits / hits,
//     hit rate = hits / requests, extra = upstream calls made only to verify.
//
//   build/arbitra-cache-eval [--pairs FILE] [--word-vectors FILE] [--requests N] [--seed N]
//                            [--exact-index 1]   (brute-force search: what a perfect index would give)
#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <random>
#include <string>
#include <vector>

#include "cache/cache.h"

using namespace arbitra;
using namespace arbitra::cache;

namespace {

struct Pair {
  std::string a, b;
  bool hit;
  std::string kind;
};

struct Intent {
  std::vector<std::string> forms;
};

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  return s.substr(i);
}

bool loadPairs(const std::string& path, std::vector<Pair>& pairs, std::vector<Intent>& intents) {
  std::ifstream in(path);
  if (!in) return false;
  std::string line, anchor;
  while (std::getline(in, line)) {
    if (line.rfind("Q:", 0) == 0) {
      anchor = trim(line.substr(2));
      intents.push_back({{anchor}});
    } else if (line.rfind("+", 0) == 0 && !anchor.empty()) {
      std::string text = trim(line.substr(1));
      pairs.push_back({anchor, text, true, "paraphrase"});
      intents.back().forms.push_back(text);
    } else if (line.rfind("-", 0) == 0 && !anchor.empty()) {
      auto bar = line.find('|');
      std::string kind = trim(line.substr(1, bar - 1));
      std::string text = trim(line.substr(bar + 1));
      pairs.push_back({anchor, text, false, kind});
      intents.push_back({{text}});
    }
  }
  return true;
}

// Near-duplicate traffic from templates: each (template, slots) is an intent
// with several surface forms.
void templateIntents(std::vector<Intent>& intents) {
  const char* countries[] = {"France", "Germany", "Spain", "Italy", "Japan", "Brazil", "Canada", "Mexico",
                             "India", "Egypt", "Kenya", "Norway", "Sweden", "Chile", "Peru", "Vietnam"};
  const char* attrs[] = {"capital", "population", "currency", "official language", "national dish"};
  for (const char* c : countries) {
    for (const char* a : attrs) {
      std::string C = c, A = a;
      intents.push_back({{"What is the " + A + " of " + C + "?", "What's the " + A + " of " + C + "?",
                          "Tell me the " + A + " of " + C, C + "'s " + A + "?", "what is " + C + "'s " + A}});
    }
  }
  const char* units[][2] = {{"miles", "kilometers"}, {"pounds", "kilograms"}, {"feet", "meters"},
                            {"gallons", "liters"}, {"inches", "centimeters"}};
  for (auto& u : units) {
    for (int n : {1, 2, 5, 10, 12, 20, 50, 100}) {
      std::string N = std::to_string(n), a = u[0], b = u[1];
      intents.push_back({{"Convert " + N + " " + a + " to " + b, "How many " + b + " is " + N + " " + a + "?",
                          N + " " + a + " in " + b, "convert " + N + " " + a + " into " + b}});
    }
  }
  const char* actions[] = {"reset", "change", "delete", "verify", "update", "recover"};
  const char* objects[] = {"password", "email address", "phone number", "username", "billing address", "profile photo"};
  for (const char* ac : actions) {
    for (const char* ob : objects) {
      std::string a = ac, o = ob;
      intents.push_back({{"How do I " + a + " my " + o + "?", "How can I " + a + " my " + o + "?",
                          "What's the way to " + a + " my " + o + "?", "steps to " + a + " my " + o}});
    }
  }
  std::mt19937 rng(99);
  for (int i = 0; i < 60; ++i) {
    std::string n = std::to_string(10000 + rng() % 90000);
    intents.push_back({{"Track my order " + n, "Where is my order " + n + "?", "What's the status of order #" + n + "?",
                        "order " + n + " status"}});
  }
}

// The same text (ignoring case and punctuation) in two intents (a template
// form that is also a labelled near-miss) means one intent: merge them.
std::string normalized(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '%') out += static_cast<char>(std::tolower(c));
    else if (c == ' ' && !out.empty() && out.back() != ' ') out += ' ';
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

void mergeSameTexts(std::vector<Intent>& intents) {
  std::map<std::string, size_t> owner;
  std::vector<Intent> merged;
  std::vector<size_t> target(intents.size(), SIZE_MAX);
  for (size_t i = 0; i < intents.size(); ++i) {
    for (const auto& f : intents[i].forms) {
      auto it = owner.find(normalized(f));
      if (it != owner.end()) {
        target[i] = it->second;
        break;
      }
    }
    if (target[i] == SIZE_MAX) {
      target[i] = merged.size();
      merged.push_back({});
    }
    for (const auto& f : intents[i].forms) {
      if (owner.emplace(normalized(f), target[i]).second) merged[target[i]].forms.push_back(f);
    }
  }
  intents = std::move(merged);
}

std::string answerFor(size_t intent) {
  static const char* words[] = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
                                "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa",
                                "quebec", "romeo", "sierra", "tango", "uniform", "victor", "whiskey", "xray"};
  std::mt19937 rng(static_cast<uint32_t>(intent * 7919 + 13));
  std::string out;
  for (int i = 0; i < 14; ++i) out += std::string(i ? " " : "") + words[rng() % 24];
  return out;
}

struct Outcome {
  double precision = 0, hitRate = 0, extra = 0, semanticRate = 0;
  uint64_t hits = 0, wrong = 0, requests = 0, exact = 0, semantic = 0, novelHits = 0, novelRequests = 0;
};

core::ChatRequest requestFor(const std::string& text) {
  core::ChatRequest r;
  r.model = "eval";
  r.system = "You are a helpful assistant.";
  core::Message m;
  m.content.push_back({core::ContentPart::Kind::Text, text, ""});
  r.messages.push_back(std::move(m));
  return r;
}

struct Traffic {
  std::vector<std::pair<size_t, std::string>> requests;  // intent, text
  std::vector<bool> novel;                              // the text's first appearance in the stream
  std::vector<Vector> vectors;                          // embedded once per embedder
};

Traffic makeTraffic(const std::vector<Intent>& intents, size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  // Zipf(s = 0.9) over a random permutation of intents.
  std::vector<size_t> order(intents.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<double> weights(order.size());
  for (size_t i = 0; i < weights.size(); ++i) weights[i] = 1.0 / std::pow(double(i + 1), 0.9);
  std::discrete_distribution<size_t> pick(weights.begin(), weights.end());
  Traffic t;
  for (size_t i = 0; i < n; ++i) {
    size_t intent = order[pick(rng)];
    const auto& forms = intents[intent].forms;
    t.requests.emplace_back(intent, forms[rng() % forms.size()]);
  }
  std::set<std::string> seen;
  for (const auto& [intent, text] : t.requests) t.novel.push_back(seen.insert(text).second);
  return t;
}

bool exactIndex = false;  // --exact-index: no HNSW, to tell index misses from embedder errors

Outcome run(const Traffic& traffic, const ThresholdPolicy& policy, uint64_t seed) {
  CacheOptions o;
  o.defaults.mode = Mode::Semantic;
  o.defaults.threshold = policy;
  o.seed = seed;
  o.maxBytes = 1ull << 30;
  if (exactIndex) o.index.flatLimit = SIZE_MAX;  // brute-force search in every namespace
  Cache cache(o);
  Outcome out;
  uint64_t verifies = 0;
  for (size_t i = 0; i < traffic.requests.size(); ++i) {
    const auto& [intent, text] = traffic.requests[i];
    auto r = requestFor(text);
    auto lookup = cache.begin(r, "tenant", {}, 1000);
    if (lookup.needsEmbedding) cache.semantic(lookup, traffic.vectors[i], 1000);
    ++out.requests;
    if (traffic.novel[i]) ++out.novelRequests;
    if (lookup.hit()) {
      ++out.hits;
      if (traffic.novel[i]) ++out.novelHits;
      if (lookup.kind == Lookup::Kind::HitExact) {
        ++out.exact;
        continue;
      }
      ++out.semantic;
      // Exact hits of the same text are trivially right; semantic ones are
      // right when the entry's answer is this intent's answer.
      if (lookup.entry->answer.text != answerFor(intent)) {
        ++out.wrong;
        if (std::getenv("EVAL_DEBUG") && policy.learn && out.wrong < 25)
          std::fprintf(stderr, "wrong sim=%.3f thr=%.3f q=[%s] entry=[%s]\n", lookup.similarity, lookup.threshold,
                       text.c_str(), lookup.entry->query.c_str());
      }
      continue;
    }
    if (lookup.ticket.verifying) ++verifies;
    StoredAnswer a;
    a.text = answerFor(intent);
    cache.complete(lookup.ticket, a, "sim", 0, 1000);
  }
  if (std::getenv("EVAL_DEBUG")) {
    auto m = cache.metrics();
    std::fprintf(stderr, "learn=%d t=%.2f exact=%llu sem=%llu miss=%llu probes=%llu same=%llu verif=%llu entries=%llu\n", policy.learn,
                 policy.staticThreshold, (unsigned long long)m.hitsExact, (unsigned long long)m.hitsSemantic,
                 (unsigned long long)m.misses, (unsigned long long)m.probes, (unsigned long long)m.probesSame,
                 (unsigned long long)m.verifications, (unsigned long long)m.entries);
  }
  // Precision of semantic hits (exact hits are right by construction).
  out.precision = out.semantic ? 1.0 - double(out.wrong) / out.semantic : 1.0;
  out.hitRate = double(out.hits) / out.requests;
  // Hits on texts never seen before in the stream: only meaning can serve them.
  out.semanticRate = double(out.novelHits) / double(out.novelRequests);
  out.extra = double(verifies) / out.requests;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string pairsPath = std::string(ARBITRA_SOURCE_DIR) + "/bench/cache_eval/pairs.txt";
  std::string wordVectors;
  size_t requests = 20000;
  uint64_t seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--pairs")) pairsPath = argv[i + 1];
    if (!std::strcmp(argv[i], "--word-vectors")) wordVectors = argv[i + 1];
    if (!std::strcmp(argv[i], "--requests")) requests = std::stoul(argv[i + 1]);
    if (!std::strcmp(argv[i], "--seed")) seed = std::stoull(argv[i + 1]);
    if (!std::strcmp(argv[i], "--exact-index")) exactIndex = std::strcmp(argv[i + 1], "0") != 0;
  }
  std::vector<Pair> pairs;
  std::vector<Intent> intents;
  if (!loadPairs(pairsPath, pairs, intents)) {
    std::fprintf(stderr, "cannot read %s\n", pairsPath.c_str());
    return 1;
  }
  size_t labelledIntents = intents.size();
  templateIntents(intents);
  mergeSameTexts(intents);
  size_t positives = std::count_if(pairs.begin(), pairs.end(), [](const Pair& p) { return p.hit; });
  std::printf("pairs: %zu labelled (%zu must hit, %zu must not); intents: %zu from pairs + %zu from templates; "
              "traffic: %zu requests, Zipf 0.9\n\n",
              pairs.size(), positives, pairs.size() - positives, labelledIntents, intents.size() - labelledIntents,
              requests);

  std::vector<std::unique_ptr<Embedder>> embedders;
  embedders.push_back(makeNgramEmbedder());
  if (!wordVectors.empty()) {
    auto words = makeWordsEmbedder(wordVectors);
    if (words) {
      embedders.push_back(std::move(*words));
    } else {
      std::fprintf(stderr, "words embedder skipped: %s\n", words.error().message.c_str());
    }
  }
  auto traffic = makeTraffic(intents, requests, seed);

  for (const auto& embedder : embedders) {
    std::printf("## embedder %s (%zu dims, default threshold %.2f)\n\n", embedder->name().c_str(),
                embedder->dimensions(), embedder->defaultThreshold());
    // 1. Pairs.
    std::vector<std::pair<float, const Pair*>> scored;
    std::map<std::string, std::vector<float>> byKind;
    for (const auto& p : pairs) {
      float s = cosine(*embedder->embed(p.a), *embedder->embed(p.b));
      scored.emplace_back(s, &p);
      byKind[p.kind].push_back(s);
    }
    std::printf("pairs: similarity by kind (mean / min / max)\n\n| kind | pairs | mean | min | max |\n|---|---:|---:|---:|---:|\n");
    for (auto& [kind, v] : byKind) {
      double mean = 0;
      for (float x : v) mean += x;
      std::printf("| %s | %zu | %.3f | %.3f | %.3f |\n", kind.c_str(), v.size(), mean / v.size(),
                  *std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end()));
    }
    std::printf("\npairs: static threshold sweep\n\n| threshold | precision | recall |\n|---:|---:|---:|\n");
    double bestRecall = 0, bestT = 1;
    for (int ti = 50; ti <= 99; ++ti) {
      double t = ti / 100.0;
      size_t tp = 0, fp = 0;
      for (auto& [s, p] : scored) {
        if (s >= t) (p->hit ? tp : fp)++;
      }
      double precision = tp + fp ? double(tp) / (tp + fp) : 1.0;
      double recall = double(tp) / positives;
      if (precision >= 0.99 && recall > bestRecall) bestRecall = recall, bestT = t;
      if (ti % 5 == 0 || std::fabs(t - embedder->defaultThreshold()) < 1e-9) {
        std::printf("| %.2f | %.1f%% | %.1f%% |\n", t, 100 * precision, 100 * recall);
      }
    }
    std::printf("\nlowest threshold with pair precision >= 99%%: %.2f (recall %.1f%%)\n\n", bestT, 100 * bestRecall);

    // 2. Traffic.
    traffic.vectors.clear();
    for (const auto& [intent, text] : traffic.requests) traffic.vectors.push_back(*embedder->embed(text));
    std::printf("traffic: static thresholds vs learned (delta 1%%, verify 5%%)\n\n"
                "| policy | threshold | precision (semantic hits) | hit rate, new texts | hit rate, all | extra upstream calls |\n|---|---:|---:|---:|---:|---:|\n");
    Outcome bestStatic;
    double bestStaticT = 0;
    std::vector<std::pair<double, Outcome>> statics;
    for (int ti = 60; ti <= 99; ++ti) {
      ThresholdPolicy p;
      p.learn = false;
      p.verifyFraction = 0;
      p.staticThreshold = ti / 100.0;
      statics.emplace_back(p.staticThreshold, run(traffic, p, seed));
    }
    for (auto& [t, o] : statics) {
      if (int(std::lround(t * 100)) % 5 == 0 || std::fabs(t - embedder->defaultThreshold()) < 1e-9) {
        std::printf("| static | %.2f | %.2f%% | %.1f%% | %.1f%% | 0 |\n", t, 100 * o.precision, 100 * o.semanticRate,
                    100 * o.hitRate);
      }
    }
    Outcome l;
    for (double delta : {0.01, 0.005, 0.02}) {
      ThresholdPolicy learned;
      learned.staticThreshold = embedder->defaultThreshold();
      learned.delta = delta;
      auto o = run(traffic, learned, seed);
      if (delta == 0.01) l = o;
      std::printf("| %slearned, delta %.1f%%%s | from %.2f | %.2f%% | %.1f%% | %.1f%% | %.1f%% |\n", delta == 0.01 ? "**" : "",
                  100 * delta, delta == 0.01 ? " (default)**" : "", learned.staticThreshold, 100 * o.precision,
                  100 * o.semanticRate, 100 * o.hitRate, 100 * o.extra);
    }
    for (auto& [t, o] : statics) {
      if (o.precision >= l.precision && o.semanticRate > bestStatic.semanticRate) bestStatic = o, bestStaticT = t;
    }
    std::printf("\nbest static threshold with precision >= learned's (%.2f%%): %.2f, hit rate on new texts %.1f%% "
                "(learned: %.1f%%)\n\n",
                100 * l.precision, bestStaticT, 100 * bestStatic.semanticRate, 100 * l.semanticRate);
  }
  return 0;
}
