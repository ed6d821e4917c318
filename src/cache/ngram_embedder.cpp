// The built-in embedders (see embedder.h): feature hashing of character
// n-grams and words into a fixed-size vector, optionally joined with averaged
// word vectors. Deterministic, allocation-light, ~microseconds per sentence.
//
// Features of a lower-cased, punctuation-split text, each hashed (FNV-1a) to a
// bucket with a hash-derived sign (so collisions cancel rather than add up):
//   character 3- and 4-grams of " word " (spelling variants, plurals)  w=1
//   words                                                              w=2
//   word bigrams                                                       w=1.5
//   numbers, negations (not, no, never, n't, without)                  w=6
//   capitalised words not at the start of a sentence (entities)        w=4
// Stop words get a small weight so "what is the" does not dominate.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <unordered_map>

#include "cache/embedder.h"

namespace arbitra::cache {
namespace {

constexpr size_t kNgramDims = 512;

uint64_t fnv1a(std::string_view s, uint64_t seed = 1469598103934665603ULL) {
  uint64_t h = seed;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

bool isStopWord(std::string_view w) {
  static constexpr std::string_view kStop[] = {
      "a", "an", "the", "is", "are", "was", "were", "be", "to", "of", "in", "on", "for", "and", "or",
      "i", "me", "my", "you", "your", "it", "this", "that", "do", "does", "can", "could", "would",
      "please", "what", "how", "with", "at", "by", "from", "as", "so", "some", "any", "there", "s"};
  return std::find(std::begin(kStop), std::end(kStop), w) != std::end(kStop);
}

bool isNegation(std::string_view w) {
  return w == "not" || w == "no" || w == "never" || w == "without" || w == "none" || w == "nor" ||
         w == "cannot" || w == "n't" || w == "neither" || w == "nothing";
}

// Words that flip what is asked: on/off, am/pm, before/after, more/less...
bool isPolarity(std::string_view w) {
  static constexpr std::string_view kWords[] = {"on", "off", "am", "pm", "before", "after", "more", "less",
                                                "min", "max", "first", "last", "best", "worst", "up", "down"};
  return std::find(std::begin(kWords), std::end(kWords), w) != std::end(kWords);
}

struct Token {
  std::string text;  // lower case
  bool number = false;
  bool capital = false;  // capitalised and not sentence-initial
};

// Splits on anything that is not a letter, digit or UTF-8 byte; "don't" ->
// "do", "n't"; digits with inner . or , stay one number.
std::vector<Token> tokenize(std::string_view text) {
  std::vector<Token> out;
  bool sentenceStart = true;
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = text[i];
    if (std::isalnum(c) || c >= 0x80) {
      size_t j = i;
      bool digits = std::isdigit(c);
      while (j < text.size()) {
        unsigned char d = text[j];
        if (std::isalnum(d) || d >= 0x80) {
          ++j;
        } else if (digits && (d == '.' || d == ',') && j + 1 < text.size() && std::isdigit(static_cast<unsigned char>(text[j + 1]))) {
          ++j;
        } else if (d == '\'' && j + 1 < text.size() && std::isalpha(static_cast<unsigned char>(text[j + 1]))) {
          ++j;
        } else {
          break;
        }
      }
      std::string word(text.substr(i, j - i));
      Token t;
      t.capital = std::isupper(c) && !sentenceStart;
      t.number = digits;
      for (auto& ch : word) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (word.size() > 3 && word.ends_with("n't")) {
        Token stem = t;
        stem.text = word.substr(0, word.size() - 3);
        if (stem.text == "ca") stem.text = "can";
        if (stem.text == "wo") stem.text = "will";
        out.push_back(stem);
        Token neg;
        neg.text = "n't";
        out.push_back(neg);
      } else if (auto apo = word.find('\''); apo != std::string::npos) {
        t.text = word.substr(0, apo);  // "it's" -> "it", "john's" -> "john"
        out.push_back(t);
      } else {
        t.text = std::move(word);
        out.push_back(std::move(t));
      }
      sentenceStart = false;
      i = j;
    } else {
      if (c == '.' || c == '?' || c == '!' || c == '\n') sentenceStart = true;
      ++i;
    }
  }
  return out;
}

void add(float* v, size_t dims, std::string_view feature, uint64_t seed, float weight) {
  uint64_t h = fnv1a(feature, seed);
  size_t bucket = static_cast<size_t>(h % dims);
  float sign = (h >> 63) ? -1.0f : 1.0f;
  v[bucket] += sign * weight;
}

void normalize(float* v, size_t dims) {
  double sum = 0;
  for (size_t i = 0; i < dims; ++i) sum += double(v[i]) * v[i];
  if (sum <= 0) return;
  float inv = static_cast<float>(1.0 / std::sqrt(sum));
  for (size_t i = 0; i < dims; ++i) v[i] *= inv;
}

float tokenWeight(const Token& t) {
  if (t.number || isNegation(t.text) || isPolarity(t.text)) return 6.0f;
  if (isStopWord(t.text)) return 0.3f;  // "I" is not an entity
  if (t.capital) return 4.0f;
  return 3.0f;
}

// Fills v[0..kNgramDims) with the hashed features of `tokens`, unit length.
void ngramFeatures(const std::vector<Token>& tokens, float* v) {
  std::fill(v, v + kNgramDims, 0.0f);
  std::string padded;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const auto& t = tokens[i];
    float w = tokenWeight(t);
    add(v, kNgramDims, t.text, 11, w);
    if (!t.number && t.text.size() > 2) {
      padded = " " + t.text + " ";
      float gw = isStopWord(t.text) ? 0.05f : 0.35f;
      for (size_t n = 3; n <= 4; ++n) {
        for (size_t k = 0; k + n <= padded.size(); ++k) add(v, kNgramDims, std::string_view(padded).substr(k, n), 23 + n, gw);
      }
    }
    if (i + 1 < tokens.size() && !isStopWord(t.text) && !isStopWord(tokens[i + 1].text)) {
      std::string bigram = t.text + " " + tokens[i + 1].text;
      add(v, kNgramDims, bigram, 37, 1.0f);
    }
  }
  // Order of the content words, stop words skipped ("pounds -> dollars" is
  // not "dollars -> pounds"; "15% of 80" is not "80% of 15").
  const Token* previous = nullptr;
  for (const auto& t : tokens) {
    if (isStopWord(t.text)) continue;
    if (previous != nullptr) add(v, kNgramDims, previous->text + ">" + t.text, 41, 1.5f);
    previous = &t;
  }
  normalize(v, kNgramDims);
}

class NgramEmbedder : public Embedder {
 public:
  std::string name() const override { return "ngram"; }
  size_t dimensions() const override { return kNgramDims; }
  double defaultThreshold() const override { return 0.95; }
  core::Result<Vector> embed(std::string_view text) const override {
    Vector v(kNgramDims);
    ngramFeatures(tokenize(text), v.data());
    return v;
  }
};

// Flat binary written by scripts/fetch_word_vectors.sh:
//   "ARBWV1\n", u32 count, u32 dims, then per word: u8 length, bytes, f32[dims] (unit length)
class WordsEmbedder : public Embedder {
 public:
  static constexpr float kWordsWeight = 0.5f;  // share of the word-vector part (by norm)

  static core::Result<std::unique_ptr<Embedder>> load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    auto bad = [&](const std::string& why) {
      return core::makeError(core::ErrorKind::Internal, "word vectors " + path + ": " + why);
    };
    if (!in) return bad("cannot open (run scripts/fetch_word_vectors.sh)");
    char magic[7];
    uint32_t count = 0, dims = 0;
    in.read(magic, 7);
    in.read(reinterpret_cast<char*>(&count), 4);
    in.read(reinterpret_cast<char*>(&dims), 4);
    if (!in || std::string_view(magic, 7) != "ARBWV1\n") return bad("not a word-vector file");
    if (dims == 0 || dims > 4096 || count > 10'000'000) return bad("implausible header");
    auto e = std::make_unique<WordsEmbedder>();
    e->dims_ = dims;
    e->vectors_.resize(size_t(count) * dims);
    e->index_.reserve(count);
    std::string word;
    for (uint32_t i = 0; i < count; ++i) {
      uint8_t len = 0;
      in.read(reinterpret_cast<char*>(&len), 1);
      word.resize(len);
      in.read(word.data(), len);
      in.read(reinterpret_cast<char*>(&e->vectors_[size_t(i) * dims]), dims * sizeof(float));
      if (!in) return bad("truncated at word " + std::to_string(i));
      e->index_.emplace(word, i);
    }
    return std::unique_ptr<Embedder>(std::move(e));
  }

  std::string name() const override { return "words"; }
  size_t dimensions() const override { return kNgramDims + dims_; }
  double defaultThreshold() const override { return 0.96; }
  core::Result<Vector> embed(std::string_view text) const override {
    auto tokens = tokenize(text);
    Vector v(kNgramDims + dims_, 0.0f);
    ngramFeatures(tokens, v.data());
    float* w = v.data() + kNgramDims;
    float total = 0;
    for (const auto& t : tokens) {
      if (t.number || isNegation(t.text) || isStopWord(t.text)) continue;  // carried by the n-gram part
      auto it = index_.find(t.text);
      if (it == index_.end()) continue;
      const float* src = &vectors_[size_t(it->second) * dims_];
      // Rarer words (later in the frequency-ordered list) count more.
      float weight = std::log(2.0f + float(it->second) / 100.0f);
      for (size_t k = 0; k < dims_; ++k) w[k] += weight * src[k];
      total += weight;
    }
    float ngramScale = 1.0f;
    if (total > 0) {
      normalize(w, dims_);
      ngramScale = std::sqrt(1.0f - kWordsWeight * kWordsWeight);
      for (size_t k = 0; k < dims_; ++k) w[k] *= kWordsWeight;
    }
    for (size_t k = 0; k < kNgramDims; ++k) v[k] *= ngramScale;
    normalize(v.data(), v.size());
    return v;
  }

 private:
  size_t dims_ = 0;
  std::vector<float> vectors_;
  std::unordered_map<std::string, uint32_t> index_;
};

}  // namespace

float cosine(const Vector& a, const Vector& b) {
  if (a.size() != b.size()) return 0;
  float sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += a[i] * b[i];
  return sum;
}

std::unique_ptr<Embedder> makeNgramEmbedder() { return std::make_unique<NgramEmbedder>(); }

core::Result<std::unique_ptr<Embedder>> makeWordsEmbedder(const std::string& path) { return WordsEmbedder::load(path); }

core::Result<std::unique_ptr<Embedder>> EmbedderRegistry::create(const EmbedderOptions& options) const {
  auto it = factories_.find(options.kind);
  if (it == factories_.end()) {
    std::string known;
    for (const auto& [name, _] : factories_) known += (known.empty() ? "" : ", ") + name;
    return core::makeError(core::ErrorKind::Internal, "cache embedder '" + options.kind +
                                                          "' is not available in this build (available: " + known + ")");
  }
  return it->second(options);
}

void registerBuiltinEmbedders(EmbedderRegistry& registry) {
  registry.registerFactory("ngram", [](const EmbedderOptions&) -> core::Result<std::unique_ptr<Embedder>> {
    return makeNgramEmbedder();
  });
  registry.registerFactory("words", [](const EmbedderOptions& o) { return makeWordsEmbedder(o.wordVectorsPath); });
}

}  // namespace arbitra::cache
