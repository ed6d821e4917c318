// libFuzzer target: the Anthropic codec (and the OpenAI one it translates to)
// must never crash on any bytes; see fuzz_codec_common.h for what is checked.
#include "fuzz_codec_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  arbitra::fuzz::exerciseCodecs(arbitra::core::WireFormat::Anthropic, data, size);
  return 0;
}
