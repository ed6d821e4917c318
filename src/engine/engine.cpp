// The engine thread and its scheduler (see engine.h for the contract).
//
// One step of the loop:
//   1. take what callers posted (requests, cancels, embeddings)
//   2. cancel, then admit waiting requests into free slots (longest cached
//      prefix first), trimming each slot's KV cache to the shared prefix
//   3. propose draft tokens for greedy generating slots (draft model: batched
//      draft decodes; n-gram: lookup in the slot's own tokens)
//   4. one batch: each generating slot's next token (+ its drafts), then
//      prompt chunks with the remaining budget; one llama_decode
//   5. sample / verify per slot, emit text, finish requests
// Everything llama-related stays on the engine thread; callers only touch the
// inbox under its mutex.
#include "engine/engine.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_set>

#include "engine/draft_length.h"
#include "engine/huge_pages.h"
#include "engine/llama_handles.h"
#include "engine/ngram_lookup.h"
#include "engine/text_stream.h"

namespace arbitra::engine {
namespace {

using Clock = std::chrono::steady_clock;
using core::ErrorKind;
using core::makeError;

double msBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

size_t commonPrefix(const std::vector<llama_token>& a, const std::vector<llama_token>& b) {
  size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

llama_token argmax(const float* logits, int n) {
  return static_cast<llama_token>(std::max_element(logits, logits + n) - logits);
}

SamplerPtr makeSampler(const GenerateParams& p, uint64_t seed) {
  SamplerPtr chain(llama_sampler_chain_init(llama_sampler_chain_default_params()));
  if (p.temperature <= 0) {
    llama_sampler_chain_add(chain.get(), llama_sampler_init_greedy());
    return chain;
  }
  if (p.topK > 0) llama_sampler_chain_add(chain.get(), llama_sampler_init_top_k(p.topK));
  if (p.topP < 1.0f) llama_sampler_chain_add(chain.get(), llama_sampler_init_top_p(p.topP, 1));
  llama_sampler_chain_add(chain.get(), llama_sampler_init_temp(p.temperature));
  llama_sampler_chain_add(chain.get(), llama_sampler_init_dist(static_cast<uint32_t>(seed ^ (seed >> 32))));
  return chain;
}

struct Request {
  uint64_t id = 0;
  GenerateParams params;
  OutputSink sink;
  std::vector<llama_token> prompt;
  Clock::time_point submitted;
};

struct EmbedJob {
  std::vector<std::string> inputs;
  EmbedSink sink;
};

struct Slot {
  int seq = 0;
  std::vector<llama_token> cache;       // tokens whose KV is in the target context
  std::vector<llama_token> draftCache;  // same for the draft context
  // The running request (null when the slot is free).
  std::unique_ptr<Request> req;
  SamplerPtr sampler;
  std::vector<llama_token> history;  // prompt + generated; cache is a prefix of it
  bool prefill = true;
  llama_token pending = -1;          // sampled, not yet decoded (last of history)
  std::vector<llama_token> drafts;   // proposed for this step
  int draftWant = 0;                 // this step: tokens to propose (adapted, within budget)
  DraftLength draftLength;           // adapts draftWant to the acceptance rate
  int batchFirst = -1;               // this step: index of its first token in the batch
  int batchCount = 0;
  std::unique_ptr<TextStream> text;
  std::string out;                   // text to deliver after this step
  GenerateStats stats;
  Clock::time_point started;
  bool greedy = false;
};

}  // namespace

struct Engine::Impl {
  EngineOptions options;
  ModelInfo info;
  ModelPtr model;
  ModelPtr draftModel;
  ContextPtr ctx;
  ContextPtr draftCtx;
  ContextPtr embedCtx;
  const llama_vocab* vocab = nullptr;
  int nVocab = 0;
  std::string chatTemplate;
  std::unique_ptr<Batch> batch;
  std::unique_ptr<Batch> draftBatch;
  std::vector<Slot> slots;

  // Inbox (guarded by mu).
  std::mutex mu;
  std::condition_variable wake;
  std::deque<std::unique_ptr<Request>> incoming;
  std::vector<uint64_t> cancels;
  std::deque<EmbedJob> embedJobs;
  std::atomic<bool> stopping{false};  // written under mu, read by the engine thread
  int admitted = 0;  // requests submitted and not yet finished (for back-pressure)

  std::deque<std::unique_ptr<Request>> waiting;  // engine thread only
  std::atomic<uint64_t> nextId{1};
  std::mt19937_64 seeds{std::random_device{}()};

  std::atomic<int64_t> steps{0}, decoded{0}, generated{0}, drafted{0}, accepted{0}, busyMicros{0};
  std::atomic<int> activeCount{0}, queuedCount{0};
  std::thread thread;

  ~Impl() {
    {
      std::lock_guard lock(mu);
      stopping = true;
    }
    wake.notify_all();
    if (thread.joinable()) thread.join();
  }

  // ---- callers' side --------------------------------------------------------

  core::Result<std::vector<llama_token>> tokenize(const std::string& text, bool addSpecial) const {
    std::vector<llama_token> tokens(text.size() + 8);
    int n = llama_tokenize(vocab, text.data(), static_cast<int32_t>(text.size()), tokens.data(),
                           static_cast<int32_t>(tokens.size()), addSpecial, /*parse_special=*/true);
    if (n < 0) {
      if (n == INT32_MIN) return makeError(ErrorKind::InvalidRequest, "prompt too long to tokenize");
      tokens.resize(static_cast<size_t>(-n));
      n = llama_tokenize(vocab, text.data(), static_cast<int32_t>(text.size()), tokens.data(),
                         static_cast<int32_t>(tokens.size()), addSpecial, true);
      if (n < 0) return makeError(ErrorKind::InvalidRequest, "prompt could not be tokenized");
    }
    tokens.resize(static_cast<size_t>(n));
    return tokens;
  }

  std::string render(const std::vector<ChatTurn>& messages) const {
    std::vector<llama_chat_message> chat;
    size_t chars = 0;
    for (const auto& m : messages) {
      chat.push_back({m.role.c_str(), m.content.c_str()});
      chars += m.role.size() + m.content.size();
    }
    if (!chatTemplate.empty()) {
      std::string buf(2 * chars + 256, '\0');
      int n = llama_chat_apply_template(chatTemplate.c_str(), chat.data(), chat.size(), true, buf.data(),
                                        static_cast<int32_t>(buf.size()));
      if (n > static_cast<int>(buf.size())) {
        buf.resize(static_cast<size_t>(n));
        n = llama_chat_apply_template(chatTemplate.c_str(), chat.data(), chat.size(), true, buf.data(), n);
      }
      if (n >= 0) {
        buf.resize(static_cast<size_t>(n));
        return buf;
      }
    }
    // No (supported) template in the GGUF: a plain transcript.
    std::string text;
    for (const auto& m : messages) text += m.role + ": " + m.content + "\n";
    return text + "assistant:";
  }

  core::Result<uint64_t> submit(GenerateParams params, OutputSink sink) {
    std::string text = params.messages.empty() ? params.prompt : render(params.messages);
    auto tokens = tokenize(text, /*addSpecial=*/true);
    if (!tokens) return tokens.error();
    if (tokens->empty()) return makeError(ErrorKind::InvalidRequest, "the prompt is empty");
    if (static_cast<int>(tokens->size()) >= options.contextSize) {
      return makeError(ErrorKind::InvalidRequest, "the prompt has " + std::to_string(tokens->size()) +
                                                      " tokens; this model's context holds " +
                                                      std::to_string(options.contextSize) + " per request");
    }
    auto req = std::make_unique<Request>();
    req->id = nextId.fetch_add(1);
    req->params = std::move(params);
    req->sink = std::move(sink);
    req->prompt = std::move(*tokens);
    req->submitted = Clock::now();
    uint64_t id = req->id;
    {
      std::lock_guard lock(mu);
      int limit = options.parallel + (options.maxQueued < 0 ? options.parallel : options.maxQueued);
      if (admitted >= limit) {
        auto error = makeError(ErrorKind::Overloaded, "the local model is busy: " + std::to_string(options.parallel) +
                                                          " slots running and the queue is full");
        error.retryAfterSeconds = 1;
        return error;
      }
      ++admitted;
      incoming.push_back(std::move(req));
    }
    wake.notify_one();
    return id;
  }

  void cancel(uint64_t id) {
    {
      std::lock_guard lock(mu);
      cancels.push_back(id);
    }
    wake.notify_one();
  }

  void embed(std::vector<std::string> inputs, EmbedSink sink) {
    if (!options.embeddings) {
      sink(makeError(ErrorKind::InvalidRequest, "embeddings are disabled for this local model"));
      return;
    }
    {
      std::lock_guard lock(mu);
      embedJobs.push_back({std::move(inputs), std::move(sink)});
    }
    wake.notify_one();
  }

  // ---- the engine thread ----------------------------------------------------

  bool busy() const {
    for (const auto& s : slots) {
      if (s.req) return true;
    }
    return false;
  }

  void run() {
    for (;;) {
      std::vector<uint64_t> cancelIds;
      std::deque<EmbedJob> jobs;
      {
        std::unique_lock lock(mu);
        wake.wait(lock, [&] {
          return stopping || !incoming.empty() || !cancels.empty() || !embedJobs.empty() || busy() ||
                 !waiting.empty();
        });
        if (stopping) break;
        while (!incoming.empty()) {
          waiting.push_back(std::move(incoming.front()));
          incoming.pop_front();
        }
        cancelIds.swap(cancels);
        jobs.swap(embedJobs);
      }
      applyCancels(cancelIds);
      admit();
      publishCounts();
      for (auto& job : jobs) runEmbed(job);
      if (busy()) {
        auto begin = Clock::now();
        step();
        busyMicros += std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - begin).count();
      }
      publishCounts();
    }
    // Shutting down: every request still known gets its one `done`.
    for (auto& s : slots) {
      if (s.req) finishSlot(s, Finish::Cancelled, std::nullopt);
    }
    for (auto& r : waiting) finishWaiting(*r, Finish::Cancelled);
    std::lock_guard lock(mu);
    for (auto& r : incoming) finishWaiting(*r, Finish::Cancelled);
    for (auto& job : embedJobs) job.sink(makeError(ErrorKind::Overloaded, "the engine is shutting down"));
  }

  void publishCounts() {
    activeCount = static_cast<int>(std::count_if(slots.begin(), slots.end(), [](const Slot& s) { return s.req != nullptr; }));
    queuedCount = static_cast<int>(waiting.size());
  }

  void released() {
    std::lock_guard lock(mu);
    --admitted;
  }

  void finishWaiting(Request& r, Finish finish) {
    Output out;
    out.done = true;
    out.finish = finish;
    out.stats.promptTokens = static_cast<int>(r.prompt.size());
    out.stats.totalMs = msBetween(r.submitted, Clock::now());
    r.sink(std::move(out));
    if (!stopping) released();
  }

  void applyCancels(const std::vector<uint64_t>& ids) {
    if (ids.empty()) return;
    std::unordered_set<uint64_t> set(ids.begin(), ids.end());
    for (auto it = waiting.begin(); it != waiting.end();) {
      if (set.contains((*it)->id)) {
        finishWaiting(**it, Finish::Cancelled);
        it = waiting.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& s : slots) {
      if (s.req && set.contains(s.req->id)) finishSlot(s, Finish::Cancelled, std::nullopt);
    }
  }

  void admit() {
    while (!waiting.empty()) {
      Slot* best = nullptr;
      size_t bestPrefix = 0;
      const auto& prompt = waiting.front()->prompt;
      for (auto& s : slots) {
        if (s.req) continue;
        size_t prefix = commonPrefix(s.cache, prompt);
        if (!best || prefix > bestPrefix) {
          best = &s;
          bestPrefix = prefix;
        }
      }
      if (!best) return;
      start(*best, std::move(waiting.front()));
      waiting.pop_front();
    }
  }

  // Trims a sequence's KV cache to `keep` tokens; false if it had to drop all.
  static size_t trimCache(llama_context* c, int seq, std::vector<llama_token>& cache, size_t keep) {
    if (keep >= cache.size()) return cache.size();
    llama_memory_t mem = llama_get_memory(c);
    if (!llama_memory_seq_rm(mem, seq, static_cast<llama_pos>(keep), -1)) {
      llama_memory_seq_rm(mem, seq, -1, -1);
      keep = 0;
    }
    cache.resize(keep);
    return keep;
  }

  void start(Slot& s, std::unique_ptr<Request> req) {
    const auto& p = req->params;
    size_t reuse = commonPrefix(s.cache, req->prompt);
    if (reuse == req->prompt.size()) --reuse;  // the last prompt token must be decoded for its logits
    reuse = trimCache(ctx.get(), s.seq, s.cache, reuse);
    if (draftCtx) trimCache(draftCtx.get(), s.seq, s.draftCache, commonPrefix(s.draftCache, req->prompt));
    uint64_t seed = p.seed ? *p.seed : seeds();
    s.sampler = makeSampler(p, seed);
    s.greedy = p.temperature <= 0;
    s.history = req->prompt;
    s.prefill = true;
    s.pending = -1;
    s.drafts.clear();
    s.draftLength = DraftLength(options.draftTokens);
    s.text = std::make_unique<TextStream>(p.stop);
    s.out.clear();
    s.stats = GenerateStats{};
    s.stats.promptTokens = static_cast<int>(req->prompt.size());
    s.stats.cachedTokens = static_cast<int>(reuse);
    s.started = Clock::now();
    s.stats.queueMs = msBetween(req->submitted, s.started);
    s.req = std::move(req);
  }

  void finishSlot(Slot& s, Finish finish, std::optional<core::Error> error) {
    Output out;
    out.text = std::move(s.out);
    if (finish != Finish::Error && finish != Finish::Cancelled && s.text) out.text += s.text->finish();
    out.done = true;
    out.finish = finish;
    out.error = std::move(error);
    s.stats.totalMs = msBetween(s.req->submitted, Clock::now());
    out.stats = s.stats;
    auto req = std::move(s.req);
    s.out.clear();
    s.sampler.reset();
    s.text.reset();
    // Keep the KV cache only for tokens actually decoded (the pending token is not).
    s.history.clear();
    s.drafts.clear();
    req->sink(std::move(out));
    if (!stopping) released();
  }

  // ---- speculation ----------------------------------------------------------

  int draftBudget(const Slot& s) const {
    const auto& p = s.req->params;
    int left = p.maxTokens - s.stats.outputTokens - 1;
    int room = options.contextSize - static_cast<int>(s.history.size()) - 2;
    return std::max(0, std::min({options.draftTokens, left, room}));
  }

  // Draft model: catch each slot's draft context up to its history, then run
  // the draft greedily, all slots batched per draft step.
  void modelDraft(std::vector<Slot*>& drafting) {
    std::vector<int> budgets;
    for (auto* s : drafting) budgets.push_back(s->draftWant);
    int maxBudget = *std::max_element(budgets.begin(), budgets.end());
    const int dVocab = llama_vocab_n_tokens(llama_model_get_vocab(draftModel.get()));
    for (int round = 0; round < maxBudget; ++round) {
      draftBatch->clear();
      std::vector<int> logitIndex(drafting.size(), -1);
      for (size_t i = 0; i < drafting.size(); ++i) {
        Slot& s = *drafting[i];
        if (static_cast<int>(s.drafts.size()) >= budgets[i] || static_cast<int>(s.drafts.size()) < round) continue;
        if (round == 0) {
          size_t keep = trimCache(draftCtx.get(), s.seq, s.draftCache, commonPrefix(s.draftCache, s.history));
          // A long catch-up (the prompt) goes in chunks; the slot drafts once caught up.
          size_t room = static_cast<size_t>(std::max(0, options.batchSize - draftBatch->size()));
          size_t end = std::min(s.history.size(), keep + room);
          for (size_t j = keep; j < end; ++j) {
            int at = draftBatch->add(s.history[j], static_cast<llama_pos>(j), s.seq, j + 1 == s.history.size());
            if (j + 1 == s.history.size()) logitIndex[i] = at;
            s.draftCache.push_back(s.history[j]);
          }
        } else {
          llama_token last = s.drafts.back();
          logitIndex[i] = draftBatch->add(last, static_cast<llama_pos>(s.draftCache.size()), s.seq, true);
          s.draftCache.push_back(last);
        }
      }
      if (draftBatch->size() == 0) break;
      int rc = llama_decode(draftCtx.get(), draftBatch->get());
      if (rc != 0) {
        // The draft is an optimisation: on failure, forget its state and go on without it.
        for (auto* s : drafting) trimCache(draftCtx.get(), s->seq, s->draftCache, 0);
        return;
      }
      for (size_t i = 0; i < drafting.size(); ++i) {
        if (logitIndex[i] < 0) continue;
        const float* logits = llama_get_logits_ith(draftCtx.get(), logitIndex[i]);
        drafting[i]->drafts.push_back(argmax(logits, std::min(dVocab, nVocab)));
      }
    }
  }

  void propose() {
    if (options.speculation == Speculation::None) return;
    std::vector<Slot*> drafting;
    for (auto& s : slots) {
      s.drafts.clear();
      if (!s.req || s.prefill || !s.greedy || !s.req->params.speculative) continue;
      int budget = draftBudget(s);
      if (budget <= 0) continue;
      int want = s.draftLength.next();
      if (want == 0) {  // paused: the draft has been missing
        s.draftLength.skipped();
        continue;
      }
      budget = std::min(budget, want);
      s.draftWant = budget;
      if (options.speculation == Speculation::NGram) {
        ngramLookup(s.history, budget, s.drafts);  // prompt lookup: engine/ngram_lookup.h
      } else {
        drafting.push_back(&s);
      }
    }
    if (!drafting.empty()) modelDraft(drafting);
  }

  // ---- one decode step ------------------------------------------------------

  void step() {
    propose();
    batch->clear();
    // Generation first: one token (+ drafts) per generating slot.
    for (auto& s : slots) {
      s.batchFirst = -1;
      s.batchCount = 0;
      if (!s.req || s.prefill) continue;
      s.batchFirst = batch->add(s.pending, static_cast<llama_pos>(s.cache.size()), s.seq, true);
      for (size_t j = 0; j < s.drafts.size(); ++j) {
        batch->add(s.drafts[j], static_cast<llama_pos>(s.cache.size() + 1 + j), s.seq, true);
      }
      s.batchCount = 1 + static_cast<int>(s.drafts.size());
    }
    // Then prompt chunks with what is left of the batch.
    for (auto& s : slots) {
      if (!s.req || !s.prefill) continue;
      int room = options.batchSize - batch->size();
      if (room <= 0) break;
      size_t from = s.cache.size();
      size_t n = std::min(static_cast<size_t>(room), s.history.size() - from);
      s.batchFirst = batch->size();
      s.batchCount = static_cast<int>(n);
      for (size_t j = from; j < from + n; ++j) {
        batch->add(s.history[j], static_cast<llama_pos>(j), s.seq, j + 1 == s.history.size());
      }
    }
    if (batch->size() == 0) return;
    int rc = llama_decode(ctx.get(), batch->get());
    steps++;
    if (rc != 0) {
      auto error = decodeError(rc);
      for (auto& s : slots) {
        if (!s.req || s.batchCount == 0) continue;
        trimCache(ctx.get(), s.seq, s.cache, 0);
        finishSlot(s, Finish::Error, error);
      }
      return;
    }
    decoded += batch->size();
    for (auto& s : slots) {
      if (!s.req || s.batchCount == 0) continue;
      if (s.prefill) afterPrefill(s);
      else afterGenerate(s);
    }
    deliver();
  }

  void afterPrefill(Slot& s) {
    for (int j = 0; j < s.batchCount; ++j) s.cache.push_back(s.history[s.cache.size()]);
    if (s.cache.size() < s.history.size()) return;  // more prompt next step
    s.prefill = false;
    s.stats.decodeSteps++;
    llama_token t = llama_sampler_sample(s.sampler.get(), ctx.get(), s.batchFirst + s.batchCount - 1);
    accept(s, t);
  }

  void afterGenerate(Slot& s) {
    s.cache.push_back(s.pending);
    s.pending = -1;
    s.stats.decodeSteps++;
    const size_t nDrafts = s.drafts.size();
    s.stats.draftedTokens += static_cast<int>(nDrafts);
    drafted += static_cast<int64_t>(nDrafts);
    int agreed = 0;  // leading drafts equal to the target's choice
    for (size_t j = 0;; ++j) {
      llama_token t = llama_sampler_sample(s.sampler.get(), ctx.get(), s.batchFirst + static_cast<int>(j));
      const bool hit = j < nDrafts && t == s.drafts[j];
      if (hit) ++agreed;
      if (!accept(s, t)) break;  // finished
      if (hit) {
        s.cache.push_back(t);  // already decoded as a draft: keep its KV
        s.pending = -1;
        s.stats.acceptedTokens++;
        accepted++;
        continue;
      }
      break;
    }
    if (nDrafts > 0) s.draftLength.record(static_cast<int>(nDrafts), agreed);
    // Drop the KV of rejected drafts (also when the request just finished:
    // the slot's cache must match its KV for the next request's prefix reuse).
    if (nDrafts > 0) {
      llama_memory_seq_rm(llama_get_memory(ctx.get()), s.seq, static_cast<llama_pos>(s.cache.size()), -1);
    }
  }

  // A new token for the slot; false when the request has finished.
  bool accept(Slot& s, llama_token t) {
    if (llama_vocab_is_eog(vocab, t)) {
      finishSlot(s, Finish::Stop, std::nullopt);
      return false;
    }
    s.history.push_back(t);
    s.pending = t;
    s.stats.outputTokens++;
    generated++;
    if (s.stats.outputTokens == 1) s.stats.firstTokenMs = msBetween(s.req->submitted, Clock::now());
    char piece[256];
    int n = llama_token_to_piece(vocab, t, piece, sizeof piece, 0, /*special=*/false);
    bool stopped = false;
    if (n > 0) s.out += s.text->push(std::string(piece, static_cast<size_t>(n)), stopped);
    if (stopped) {
      finishSlot(s, Finish::Stop, std::nullopt);
      return false;
    }
    if (s.stats.outputTokens >= s.req->params.maxTokens ||
        static_cast<int>(s.history.size()) + 1 >= options.contextSize) {
      finishSlot(s, Finish::Length, std::nullopt);
      return false;
    }
    return true;
  }

  void deliver() {
    for (auto& s : slots) {
      if (!s.req || s.out.empty()) continue;
      Output out;
      out.text = std::move(s.out);
      s.out.clear();
      s.req->sink(std::move(out));
    }
  }

  // ---- embeddings -------------------------------------------------------------

  core::Result<llama_context*> embeddingContext() {
    if (embedCtx) return embedCtx.get();
    auto params = llama_context_default_params();
    params.embeddings = true;
    params.n_ctx = static_cast<uint32_t>(std::min(options.contextSize, 4096));
    params.n_batch = params.n_ctx;
    params.n_ubatch = params.n_ctx;
    params.n_seq_max = 1;
    params.n_threads = params.n_threads_batch = options.threads;
    params.pooling_type = LLAMA_POOLING_TYPE_UNSPECIFIED;
    ContextPtr c(llama_init_from_model(model.get(), params));
    if (c && llama_pooling_type(c.get()) == LLAMA_POOLING_TYPE_NONE) {
      // A generative model has no pooling of its own: mean over the tokens.
      c.reset();
      params.pooling_type = LLAMA_POOLING_TYPE_MEAN;
      c.reset(llama_init_from_model(model.get(), params));
    }
    if (!c) return makeError(ErrorKind::Internal, "could not create the embedding context: " + lastLlamaError());
    embedCtx = std::move(c);
    return embedCtx.get();
  }

  void runEmbed(EmbedJob& job) {
    auto c = embeddingContext();
    if (!c) {
      job.sink(c.error());
      return;
    }
    EmbedResult result;
    const int dim = llama_model_n_embd(model.get());
    const int limit = static_cast<int>(llama_n_ctx(*c));
    Batch eb(limit);
    for (size_t i = 0; i < job.inputs.size(); ++i) {
      auto tokens = tokenize(job.inputs[i], true);
      if (!tokens) {
        job.sink(tokens.error());
        return;
      }
      if (tokens->empty() || static_cast<int>(tokens->size()) > limit) {
        job.sink(makeError(ErrorKind::InvalidRequest, "input[" + std::to_string(i) + "] has " +
                                                          std::to_string(tokens->size()) + " tokens; 1 to " +
                                                          std::to_string(limit) + " are accepted"));
        return;
      }
      llama_memory_clear(llama_get_memory(*c), true);
      eb.clear();
      for (size_t j = 0; j < tokens->size(); ++j) eb.add((*tokens)[j], static_cast<llama_pos>(j), 0, true);
      int rc = llama_decode(*c, eb.get());
      if (rc != 0) {
        job.sink(decodeError(rc));
        return;
      }
      const float* v = llama_get_embeddings_seq(*c, 0);
      if (!v) {
        job.sink(makeError(ErrorKind::Internal, "the model produced no pooled embedding"));
        return;
      }
      std::vector<float> vec(v, v + dim);
      double norm = 0;
      for (float x : vec) norm += static_cast<double>(x) * x;
      norm = std::sqrt(norm);
      if (norm > 0) {
        for (float& x : vec) x = static_cast<float>(x / norm);
      }
      result.vectors.push_back(std::move(vec));
      result.promptTokens += static_cast<int>(tokens->size());
    }
    job.sink(std::move(result));
  }
};

// ---- loading --------------------------------------------------------------------

namespace {

// With hugePages, the weights are read into memory (not mmapped: file pages
// get no huge pages) and, once llama.cpp has allocated its buffers and before
// it reads the first tensor into them (its progress callback), the memory
// mapped since the load began is advised MADV_HUGEPAGE; `advised` gets the bytes.
core::Result<ModelPtr> loadModel(const std::string& path, const char* what, bool hugePages, int64_t& advised) {
  auto checked = checkGgufFile(path);
  if (!checked) return checked.error();
  clearLlamaError();
  auto params = llama_model_default_params();
  params.n_gpu_layers = 0;
  struct Advice {
    std::vector<AddressRange> before;
    bool done = false;
    size_t bytes = 0;
  } advice;
  if (hugePages) {
    params.load_mode = LLAMA_LOAD_MODE_NONE;
    advice.before = anonymousMappings();
    params.progress_callback = [](float, void* user) {
      auto* a = static_cast<Advice*>(user);
      if (!a->done) {
        a->done = true;
        a->bytes = adviseHugePages(a->before);
      }
      return true;
    };
    params.progress_callback_user_data = &advice;
  }
  ModelPtr model(llama_model_load_from_file(path.c_str(), params));
  advised += static_cast<int64_t>(advice.bytes);
  if (!model) {
    std::string why = lastLlamaError();
    return makeError(ErrorKind::InvalidRequest, std::string(what) + " " + path + ": llama.cpp could not load it" +
                                                    (why.empty() ? "" : ": " + why));
  }
  return model;
}

std::string metaString(const llama_model* model, const char* key) {
  char buf[512];
  int n = llama_model_meta_val_str(model, key, buf, sizeof buf);
  return n >= 0 ? std::string(buf, static_cast<size_t>(std::min<int>(n, sizeof buf - 1))) : std::string();
}

ContextPtr makeContext(llama_model* model, const EngineOptions& o, int capacity) {
  auto params = llama_context_default_params();
  params.n_ctx = static_cast<uint32_t>(o.contextSize * o.parallel);
  params.n_batch = static_cast<uint32_t>(capacity);
  params.n_seq_max = static_cast<uint32_t>(o.parallel);
  params.n_threads = o.threads;
  params.n_threads_batch = o.threads;
  params.kv_unified = false;
  params.no_perf = true;
  return ContextPtr(llama_init_from_model(model, params));
}

}  // namespace

core::Result<std::unique_ptr<Engine>> Engine::load(const EngineOptions& given) {
  quietLlamaLogs();
  EngineOptions o = given;
  if (o.threads <= 0) o.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (o.parallel < 1 || o.parallel > 64) return makeError(ErrorKind::InvalidRequest, "parallel must be 1..64");
  if (o.contextSize < 16) return makeError(ErrorKind::InvalidRequest, "context size must be at least 16");
  if (o.speculation == Speculation::Draft && o.draftPath.empty()) {
    return makeError(ErrorKind::InvalidRequest, "draft speculation needs a draft model");
  }
  if (!o.draftPath.empty() && o.speculation == Speculation::None) o.speculation = Speculation::Draft;
  o.draftTokens = std::clamp(o.draftTokens, 1, 32);
  o.batchSize = std::max(o.batchSize, 32);

  auto impl = std::make_unique<Impl>();
  int64_t advised = 0;
  auto model = loadModel(o.modelPath, "model", o.hugePages, advised);
  if (!model) return model.error();
  impl->model = std::move(*model);
  impl->vocab = llama_model_get_vocab(impl->model.get());
  impl->nVocab = llama_vocab_n_tokens(impl->vocab);
  if (o.speculation == Speculation::Draft) {
    auto draft = loadModel(o.draftPath, "draft model", o.hugePages, advised);
    if (!draft) return draft.error();
    const auto* dv = llama_model_get_vocab(draft->get());
    if (llama_vocab_n_tokens(dv) != impl->nVocab) {
      return makeError(ErrorKind::InvalidRequest, "draft model " + o.draftPath + " has a different vocabulary (" +
                                                      std::to_string(llama_vocab_n_tokens(dv)) + " tokens, the model has " +
                                                      std::to_string(impl->nVocab) + ")");
    }
    impl->draftModel = std::move(*draft);
  }
  const int capacity = o.batchSize + o.parallel * (o.draftTokens + 1);
  impl->ctx = makeContext(impl->model.get(), o, capacity);
  if (!impl->ctx) return makeError(ErrorKind::Internal, "could not create a context for " + o.modelPath + ": " + lastLlamaError());
  if (impl->draftModel) {
    impl->draftCtx = makeContext(impl->draftModel.get(), o, capacity);
    if (!impl->draftCtx) return makeError(ErrorKind::Internal, "could not create a context for the draft model");
    impl->draftBatch = std::make_unique<Batch>(capacity);
  }
  impl->batch = std::make_unique<Batch>(capacity);
  if (const char* t = llama_model_chat_template(impl->model.get(), nullptr)) impl->chatTemplate = t;

  auto& info = impl->info;
  char desc[256];
  llama_model_desc(impl->model.get(), desc, sizeof desc);
  info.description = desc;
  info.name = metaString(impl->model.get(), "general.name");
  info.parameters = static_cast<int64_t>(llama_model_n_params(impl->model.get()));
  info.sizeBytes = static_cast<int64_t>(llama_model_size(impl->model.get()));
  info.embeddingSize = llama_model_n_embd(impl->model.get());
  info.trainedContext = llama_model_n_ctx_train(impl->model.get());
  info.vocabSize = impl->nVocab;
  info.hasChatTemplate = !impl->chatTemplate.empty();
  info.hugePageBytes = advised;

  impl->slots.resize(static_cast<size_t>(o.parallel));
  for (int i = 0; i < o.parallel; ++i) impl->slots[static_cast<size_t>(i)].seq = i;
  impl->options = o;
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->run(); });
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;

core::Result<uint64_t> Engine::submit(GenerateParams params, OutputSink sink) {
  return impl_->submit(std::move(params), std::move(sink));
}
void Engine::cancel(uint64_t id) { impl_->cancel(id); }
void Engine::embed(std::vector<std::string> inputs, EmbedSink sink) { impl_->embed(std::move(inputs), std::move(sink)); }

core::Result<std::vector<int32_t>> Engine::tokenize(const std::string& text, bool addSpecial) const {
  auto tokens = impl_->tokenize(text, addSpecial);
  if (!tokens) return tokens.error();
  return std::vector<int32_t>(tokens->begin(), tokens->end());
}
std::string Engine::render(const std::vector<ChatTurn>& messages) const { return impl_->render(messages); }
const ModelInfo& Engine::info() const { return impl_->info; }
const EngineOptions& Engine::options() const { return impl_->options; }

EngineCounters Engine::counters() const {
  EngineCounters c;
  c.steps = impl_->steps;
  c.decodedTokens = impl_->decoded;
  c.generatedTokens = impl_->generated;
  c.draftedTokens = impl_->drafted;
  c.acceptedTokens = impl_->accepted;
  c.busyMicros = impl_->busyMicros;
  c.active = impl_->activeCount;
  c.queued = impl_->queuedCount;
  return c;
}

}  // namespace arbitra::engine
