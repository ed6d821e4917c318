// Input token estimate from text length (see tokens.h).
#include "router/tokens.h"

namespace arbitra::router {

int64_t estimateInputTokens(const core::ChatRequest& request) {
  constexpr int64_t kImageTokens = 765;
  constexpr int64_t kPerMessage = 4;  // role and separators
  int64_t chars = static_cast<int64_t>(request.system.size());
  int64_t extra = 0;
  for (const auto& message : request.messages) {
    extra += kPerMessage;
    for (const auto& part : message.content) {
      if (part.kind == core::ContentPart::Kind::Image) {
        extra += kImageTokens;
      } else {
        chars += static_cast<int64_t>(part.text.size());
      }
    }
    for (const auto& call : message.toolCalls) chars += static_cast<int64_t>(call.name.size() + call.arguments.size());
  }
  for (const auto& tool : request.tools) chars += static_cast<int64_t>(tool.name.size() + tool.description.size());
  return (chars + 3) / 4 + extra;
}

}  // namespace arbitra::router
