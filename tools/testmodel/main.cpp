// arbitra-testmodel: writes a random-weight GGUF test model with a real
// tokenizer (see src/engine/test_model.h). Deterministic under --seed.
//
//   arbitra-testmodel --vocab ggml-vocab-llama-bpe.gguf --shape tiny|135m|500m|1b --seed 42 --out tiny.gguf [--tied 1] [--confident 1] [--layers N]
//   (--confident 1: a synthetic model whose Q4 copy agrees with it, for
//   speculative-decoding benchmarks; see TestModelShape::confident.
//   --layers N: the shape with N layers; a confident model's embeddings and
//   output depend on the seed alone, so a shallow copy with the same seed is
//   a small draft that agrees with its deep target, as a small model of the
//   same family drafts for a large one)
#include <cstdio>
#include <cstdlib>
#include <string>

#include "engine/test_model.h"

int main(int argc, char** argv) {
  std::string vocab, out, shapeName = "tiny";
  uint64_t seed = 42;
  bool tied = false;
  bool confident = false;
  int layers = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    std::string value = argv[i + 1];
    if (flag == "--vocab") vocab = value;
    else if (flag == "--out") out = value;
    else if (flag == "--shape") shapeName = value;
    else if (flag == "--tied") tied = value == "1";
    else if (flag == "--confident") confident = value == "1";
    else if (flag == "--layers") layers = std::atoi(value.c_str());
    else if (flag == "--seed") seed = std::strtoull(value.c_str(), nullptr, 10);
    else {
      std::fprintf(stderr, "arbitra-testmodel: unknown option %s\n", flag.c_str());
      return 2;
    }
  }
  auto named = arbitra::engine::TestModelShape::named(shapeName);
  if (vocab.empty() || out.empty() || !named || layers < 0) {
    std::fprintf(stderr,
                 "usage: arbitra-testmodel --vocab VOCAB.gguf --out OUT.gguf [--shape tiny|135m|500m|1b] [--seed N] [--tied 1] [--confident 1] [--layers N]\n"
                 "shapes (Llama architecture, Llama-3 tokenizer, random weights, F16):\n"
                 "  tiny  32 wide, 2 layers (tests)                                         ~25 MB\n"
                 "  135m  SmolLM2-135M's layers (576 wide, 30 layers, 9/3 heads), untied   254M params, ~0.5 GB\n"
                 "  500m  Qwen2.5-0.5B's layers (896 wide, 24 layers, 14/2 heads), untied  588M params, ~1.2 GB\n"
                 "  1b    Llama-3.2-1B's shape (2048 wide, 16 layers, 32/8 heads), untied  1.5B params, ~3.0 GB\n");
    return 2;
  }
  auto shape = *named;
  shape.tiedOutput = tied;
  if (tied) shape.name += "-tied";
  shape.confident = confident;
  if (confident) shape.name += "-confident";
  if (layers > 0) {
    shape.layers = layers;
    shape.name += "-" + std::to_string(layers) + "l";
  }
  auto written = arbitra::engine::writeTestModel(vocab, out, shape, seed);
  if (!written) {
    std::fprintf(stderr, "arbitra-testmodel: %s\n", written.error().message.c_str());
    return 1;
  }
  std::printf("%s: %.1f MB (%s, seed %llu)\n", out.c_str(), static_cast<double>(*written) / 1e6, shape.name.c_str(),
              static_cast<unsigned long long>(seed));
  return 0;
}
