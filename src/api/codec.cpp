// codecFor(): the one place that maps a wire format to its codec. The codecs
// are stateless singletons; per-stream state lives in the decoders and
// encoders they make.
#include "api/codec.h"

#include "api/anthropic_codec.h"
#include "api/openai_codec.h"

namespace arbitra::api {

const Codec& codecFor(core::WireFormat format) {
  return format == core::WireFormat::Anthropic ? anthropic::codec() : openai::codec();
}

}  // namespace arbitra::api
