// Writes random-weight llama-architecture GGUF files with a real tokenizer
// (see test_model.h). Uses ggml's gguf API for the metadata and tensor table,
// then streams each tensor's bytes after it, padded to the file's alignment.
#include "engine/test_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <numbers>
#include <string_view>
#include <vector>

#include "ggml.h"
#include "gguf.h"

namespace arbitra::engine {
namespace {

using core::ErrorKind;
using core::makeError;

// splitmix64: tiny, fast, and the same on every platform.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return (static_cast<double>(next() >> 11) + 0.5) * (1.0 / 9007199254740992.0); }
  // Box-Muller; deterministic sequence of standard normals.
  float normal() {
    if (hasSpare_) {
      hasSpare_ = false;
      return spare_;
    }
    double r = std::sqrt(-2.0 * std::log(uniform()));
    double theta = 2.0 * std::numbers::pi * uniform();
    spare_ = static_cast<float>(r * std::sin(theta));
    hasSpare_ = true;
    return static_cast<float>(r * std::cos(theta));
  }

 private:
  uint64_t state_;
  float spare_ = 0;
  bool hasSpare_ = false;
};

struct TensorPlan {
  std::string name;
  int64_t cols = 0;  // ne[0]
  int64_t rows = 1;  // ne[1]
  bool norm = false; // all ones, F32
  float scale = 0;   // standard deviation of the random values
};

struct GgufDeleter {
  void operator()(gguf_context* ctx) const { gguf_free(ctx); }
};
struct GgmlDeleter {
  void operator()(ggml_context* ctx) const { ggml_free(ctx); }
};
struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};

// The residual branches of a confident model: small, so the token embedding
// dominates the final hidden state (see TestModelShape::confident).
constexpr float kConfidentResidual = 0.05f;

std::vector<TensorPlan> planTensors(const TestModelShape& s, int64_t vocab) {
  const int64_t headDim = s.embedding / s.heads;
  const int64_t kvWidth = headDim * s.kvHeads;
  const float inScale = 1.0f / std::sqrt(static_cast<float>(s.embedding));
  const float ffScale = 1.0f / std::sqrt(static_cast<float>(s.feedForward));
  const float residual = s.confident ? kConfidentResidual : 1.0f;
  std::vector<TensorPlan> plan;
  // An untied output: tied to the input embeddings, a random model's residual
  // stream would make every token predict itself. logits = h . W with
  // |h| ~ sqrt(n_embd), so std(logit) ~ 6: peaked, no near-ties.
  // With tiedOutput the residual stream makes each token predict itself:
  // repetitive output on purpose (what n-gram lookup feeds on).
  plan.push_back({"token_embd.weight", s.embedding, vocab, false, s.tiedOutput ? 6.0f * inScale : 1.0f});
  plan.push_back({"output_norm.weight", s.embedding, 1, true, 0});
  if (!s.tiedOutput) plan.push_back({"output.weight", s.embedding, vocab, false, 6.0f * inScale});
  for (int i = 0; i < s.layers; ++i) {
    std::string p = "blk." + std::to_string(i) + ".";
    plan.push_back({p + "attn_norm.weight", s.embedding, 1, true, 0});
    plan.push_back({p + "attn_q.weight", s.embedding, s.embedding, false, inScale});
    plan.push_back({p + "attn_k.weight", s.embedding, kvWidth, false, inScale});
    plan.push_back({p + "attn_v.weight", s.embedding, kvWidth, false, inScale});
    plan.push_back({p + "attn_output.weight", s.embedding, s.embedding, false, residual * inScale});
    plan.push_back({p + "ffn_norm.weight", s.embedding, 1, true, 0});
    plan.push_back({p + "ffn_gate.weight", s.embedding, s.feedForward, false, inScale});
    plan.push_back({p + "ffn_up.weight", s.embedding, s.feedForward, false, inScale});
    plan.push_back({p + "ffn_down.weight", s.feedForward, s.embedding, false, residual * ffScale});
  }
  return plan;
}

// Llama 3's chat template; llama_chat_apply_template recognises it.
constexpr std::string_view kChatTemplate =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + "
    "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

// GPT-2 byte-level BPE: token text is bytes mapped to printable code points.
// Returns false when the token does not decode to complete UTF-8 text.
bool decodesToValidUtf8(std::string_view text) {
  std::vector<unsigned char> bytes;
  // The unprintable bytes, in order, map to code points 256, 257, ...
  static const std::vector<int> unmapped = [] {
    std::vector<int> out;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      if (!printable) out.push_back(b);
    }
    return out;
  }();
  for (size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > text.size()) return false;
    uint32_t cp = len == 1 ? c : c & (0xFF >> (len + 1));
    for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
    i += static_cast<size_t>(len);
    if (cp < 256) bytes.push_back(static_cast<unsigned char>(cp));
    else if (cp - 256 < unmapped.size()) bytes.push_back(static_cast<unsigned char>(unmapped[cp - 256]));
    else return false;
  }
  for (size_t i = 0; i < bytes.size();) {
    unsigned char c = bytes[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > bytes.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((bytes[i + k] & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

// Tokens a generated model never chooses: control/special tokens and byte
// tokens that are not text on their own (their output rows are zero, so
// their logit is 0 while real tokens peak near +25). Keeps random output
// valid UTF-8 text, which some servers' response parsers require.
std::vector<bool> silencedTokens(gguf_context* vocab, int64_t tokensKey, int64_t nVocab) {
  std::vector<bool> silenced(static_cast<size_t>(nVocab), false);
  int64_t typesKey = gguf_find_key(vocab, "tokenizer.ggml.token_type");
  const auto* types = typesKey >= 0 ? static_cast<const int32_t*>(gguf_get_arr_data(vocab, typesKey)) : nullptr;
  for (int64_t t = 0; t < nVocab; ++t) {
    bool normal = !types || types[t] == 1;  // LLAMA_TOKEN_TYPE_NORMAL
    silenced[static_cast<size_t>(t)] = !normal || !decodesToValidUtf8(gguf_get_arr_str(vocab, tokensKey, t));
  }
  return silenced;
}

// A confident model's output row r: seeded per row, so the embedding of the
// token that maps to r can regenerate it (the output matrix is written after
// the embeddings and is too large to keep).
void confidentOutputRow(uint64_t seed, int64_t row, float scale, bool silenced, float* out, int64_t cols) {
  if (silenced) {
    std::fill_n(out, cols, 0.0f);
    return;
  }
  Random random(seed ^ (0xd1b54a32d192ed03ULL * static_cast<uint64_t>(row + 1)));
  for (int64_t i = 0; i < cols; ++i) out[i] = random.normal() * scale;
}

// Fills a confident model's token_embd or output.weight (see TestModelShape::confident).
void confidentValues(const TensorPlan& t, uint64_t seed, const std::vector<bool>& silenced, float outputScale,
                     std::vector<float>& values) {
  const uint64_t rowSeed = seed * 0x9e3779b97f4a7c15ULL + 1;
  if (t.name == "output.weight") {
    for (int64_t r = 0; r < t.rows; ++r) {
      confidentOutputRow(rowSeed, r, t.scale, silenced[static_cast<size_t>(r)], values.data() + r * t.cols, t.cols);
    }
    return;
  }
  // token_embd: row t = sqrt(n) * (0.8 * unit(output row of next(t)) + 0.6 * unit noise).
  std::vector<int64_t> text;  // tokens a model may choose
  for (int64_t r = 0; r < t.rows; ++r) {
    if (!silenced[static_cast<size_t>(r)]) text.push_back(r);
  }
  Random pick(seed ^ 0x5851f42d4c957f2dULL);
  Random noise(seed ^ 0x14057b7ef767814fULL);
  std::vector<float> target(static_cast<size_t>(t.cols));
  std::vector<float> extra(static_cast<size_t>(t.cols));
  const double width = std::sqrt(static_cast<double>(t.cols));
  for (int64_t r = 0; r < t.rows; ++r) {
    int64_t next = text[static_cast<size_t>(pick.next() % text.size())];
    confidentOutputRow(rowSeed, next, outputScale, false, target.data(), t.cols);
    double tn = 0, en = 0;
    for (int64_t i = 0; i < t.cols; ++i) {
      extra[static_cast<size_t>(i)] = noise.normal();
      tn += static_cast<double>(target[static_cast<size_t>(i)]) * target[static_cast<size_t>(i)];
      en += static_cast<double>(extra[static_cast<size_t>(i)]) * extra[static_cast<size_t>(i)];
    }
    const double a = 0.8 * width / std::sqrt(tn), b = 0.6 * width / std::sqrt(en);
    float* row = values.data() + r * t.cols;
    for (int64_t i = 0; i < t.cols; ++i) {
      row[i] = static_cast<float>(a * target[static_cast<size_t>(i)] + b * extra[static_cast<size_t>(i)]);
    }
  }
}

}  // namespace

TestModelShape TestModelShape::tiny() { return TestModelShape{}; }

TestModelShape TestModelShape::oneB() {
  TestModelShape s;
  s.embedding = 2048;
  s.layers = 16;
  s.heads = 32;
  s.kvHeads = 8;
  s.feedForward = 8192;
  s.contextLength = 8192;
  s.name = "arbitra-random-1b";
  return s;
}

TestModelShape TestModelShape::halfB() {
  TestModelShape s;
  s.embedding = 896;
  s.layers = 24;
  s.heads = 14;
  s.kvHeads = 2;
  s.feedForward = 4864;
  s.contextLength = 8192;
  s.name = "arbitra-random-500m";
  return s;
}

TestModelShape TestModelShape::smol135m() {
  TestModelShape s;
  s.embedding = 576;
  s.layers = 30;
  s.heads = 9;
  s.kvHeads = 3;
  s.feedForward = 1536;
  s.contextLength = 8192;
  s.name = "arbitra-random-135m";
  return s;
}

std::optional<TestModelShape> TestModelShape::named(const std::string& name) {
  if (name == "tiny") return tiny();
  if (name == "135m") return smol135m();
  if (name == "500m") return halfB();
  if (name == "1b") return oneB();
  return std::nullopt;
}

core::Result<int64_t> writeTestModel(const std::string& vocabPath, const std::string& outPath,
                                     const TestModelShape& shape, uint64_t seed) {
  if (shape.confident && shape.tiedOutput) {
    return makeError(ErrorKind::InvalidRequest, "test model: a confident model has an untied output");
  }
  if (shape.embedding % shape.heads != 0 || shape.heads % shape.kvHeads != 0 || shape.embedding % 32 != 0) {
    return makeError(ErrorKind::InvalidRequest, "test model: embedding must divide by heads and by 32; heads by kv heads");
  }
  gguf_init_params vocabParams{/*no_alloc=*/true, /*ctx=*/nullptr};
  std::unique_ptr<gguf_context, GgufDeleter> vocab(gguf_init_from_file(vocabPath.c_str(), vocabParams));
  if (!vocab) return makeError(ErrorKind::InvalidRequest, vocabPath + ": not a readable GGUF vocabulary file");
  int64_t tokensKey = gguf_find_key(vocab.get(), "tokenizer.ggml.tokens");
  if (tokensKey < 0) return makeError(ErrorKind::InvalidRequest, vocabPath + ": has no tokenizer.ggml.tokens");
  const auto nVocab = static_cast<int64_t>(gguf_get_arr_n(vocab.get(), tokensKey));

  std::unique_ptr<gguf_context, GgufDeleter> out(gguf_init_empty());
  gguf_context* g = out.get();
  gguf_set_val_str(g, "general.architecture", "llama");
  gguf_set_val_str(g, "general.name", shape.name.c_str());
  gguf_set_val_u32(g, "general.file_type", shape.f16 ? 1 : 0);  // LLAMA_FTYPE_MOSTLY_F16 / ALL_F32
  gguf_set_val_u32(g, "llama.context_length", static_cast<uint32_t>(shape.contextLength));
  gguf_set_val_u32(g, "llama.embedding_length", static_cast<uint32_t>(shape.embedding));
  gguf_set_val_u32(g, "llama.block_count", static_cast<uint32_t>(shape.layers));
  gguf_set_val_u32(g, "llama.feed_forward_length", static_cast<uint32_t>(shape.feedForward));
  gguf_set_val_u32(g, "llama.attention.head_count", static_cast<uint32_t>(shape.heads));
  gguf_set_val_u32(g, "llama.attention.head_count_kv", static_cast<uint32_t>(shape.kvHeads));
  gguf_set_val_u32(g, "llama.rope.dimension_count", static_cast<uint32_t>(shape.embedding / shape.heads));
  gguf_set_val_f32(g, "llama.rope.freq_base", 500000.0f);
  gguf_set_val_f32(g, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
  gguf_set_val_u32(g, "llama.vocab_size", static_cast<uint32_t>(nVocab));
  gguf_set_val_u64(g, "arbitra.test_model.seed", seed);
  // The tokenizer, key by key (only tokenizer.*: the vocab file's other keys
  // describe the model it came from, not this one).
  for (int64_t i = 0; i < gguf_get_n_kv(vocab.get()); ++i) {
    std::string_view key = gguf_get_key(vocab.get(), i);
    if (!key.starts_with("tokenizer.") || key == "tokenizer.chat_template") continue;
    std::string k(key);
    switch (gguf_get_kv_type(vocab.get(), i)) {
      case GGUF_TYPE_STRING: gguf_set_val_str(g, k.c_str(), gguf_get_val_str(vocab.get(), i)); break;
      case GGUF_TYPE_UINT32: gguf_set_val_u32(g, k.c_str(), gguf_get_val_u32(vocab.get(), i)); break;
      case GGUF_TYPE_INT32: gguf_set_val_i32(g, k.c_str(), gguf_get_val_i32(vocab.get(), i)); break;
      case GGUF_TYPE_BOOL: gguf_set_val_bool(g, k.c_str(), gguf_get_val_bool(vocab.get(), i)); break;
      case GGUF_TYPE_FLOAT32: gguf_set_val_f32(g, k.c_str(), gguf_get_val_f32(vocab.get(), i)); break;
      case GGUF_TYPE_ARRAY: {
        auto type = gguf_get_arr_type(vocab.get(), i);
        size_t n = gguf_get_arr_n(vocab.get(), i);
        if (type == GGUF_TYPE_STRING) {
          std::vector<const char*> items(n);
          for (size_t j = 0; j < n; ++j) items[j] = gguf_get_arr_str(vocab.get(), i, j);
          gguf_set_arr_str(g, k.c_str(), items.data(), n);
        } else {
          gguf_set_arr_data(g, k.c_str(), type, gguf_get_arr_data(vocab.get(), i), n);
        }
        break;
      }
      default:
        return makeError(ErrorKind::InvalidRequest, vocabPath + ": unsupported value type for " + k);
    }
  }
  gguf_set_val_str(g, "tokenizer.chat_template", std::string(kChatTemplate).c_str());

  auto plan = planTensors(shape, nVocab);
  const auto silenced = silencedTokens(vocab.get(), tokensKey, nVocab);
  ggml_init_params metaParams{/*mem_size=*/ggml_tensor_overhead() * (plan.size() + 8), /*mem_buffer=*/nullptr,
                              /*no_alloc=*/true};
  std::unique_ptr<ggml_context, GgmlDeleter> meta(ggml_init(metaParams));
  for (const auto& t : plan) {
    ggml_type type = (t.norm || !shape.f16) ? GGML_TYPE_F32 : GGML_TYPE_F16;
    ggml_tensor* tensor = t.rows == 1 ? ggml_new_tensor_1d(meta.get(), type, t.cols)
                                      : ggml_new_tensor_2d(meta.get(), type, t.cols, t.rows);
    ggml_set_name(tensor, t.name.c_str());
    gguf_add_tensor(g, tensor);
  }

  std::string tmpPath = outPath + ".partial";
  std::unique_ptr<FILE, FileCloser> file(std::fopen(tmpPath.c_str(), "wb"));
  if (!file) return makeError(ErrorKind::Internal, "cannot write " + tmpPath);
  std::vector<uint8_t> header(gguf_get_meta_size(g));
  gguf_get_meta_data(g, header.data());
  bool ok = std::fwrite(header.data(), 1, header.size(), file.get()) == header.size();

  const size_t alignment = gguf_get_alignment(g);
  Random random(seed);
  std::vector<float> values;
  std::vector<ggml_fp16_t> halves;
  for (size_t i = 0; ok && i < plan.size(); ++i) {
    const auto& t = plan[i];
    const int64_t n = t.cols * t.rows;
    values.resize(static_cast<size_t>(n));
    const bool confidentRows = shape.confident && (t.name == "token_embd.weight" || t.name == "output.weight");
    if (confidentRows) {
      const float outputScale = 6.0f / std::sqrt(static_cast<float>(shape.embedding));
      confidentValues(t, seed, silenced, outputScale, values);
    } else {
      for (auto& v : values) v = t.norm ? 1.0f : random.normal() * t.scale;
    }
    const bool outputRows = t.name == "output.weight" || (shape.tiedOutput && t.name == "token_embd.weight");
    if (outputRows) {
      for (int64_t row = 0; row < t.rows; ++row) {
        if (silenced[static_cast<size_t>(row)]) std::fill_n(values.begin() + row * t.cols, t.cols, 0.0f);
      }
    }
    size_t bytes = 0;
    if (t.norm || !shape.f16) {
      bytes = values.size() * sizeof(float);
      ok = std::fwrite(values.data(), 1, bytes, file.get()) == bytes;
    } else {
      halves.resize(values.size());
      ggml_fp32_to_fp16_row(values.data(), halves.data(), n);
      bytes = halves.size() * sizeof(ggml_fp16_t);
      ok = std::fwrite(halves.data(), 1, bytes, file.get()) == bytes;
    }
    size_t pad = (alignment - bytes % alignment) % alignment;
    static const uint8_t zeros[64] = {};
    if (ok && pad) ok = std::fwrite(zeros, 1, pad, file.get()) == pad;
  }
  if (!ok) {
    file.reset();
    std::remove(tmpPath.c_str());
    return makeError(ErrorKind::Internal, "short write to " + tmpPath);
  }
  long size = std::ftell(file.get());
  file.reset();
  if (std::rename(tmpPath.c_str(), outPath.c_str()) != 0) {
    return makeError(ErrorKind::Internal, "cannot rename " + tmpPath + " to " + outPath);
  }
  return static_cast<int64_t>(size);
}

}  // namespace arbitra::engine
