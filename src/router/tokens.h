// Token counts the router needs before the upstream has counted anything.
//
// The input is estimated from text length (about 4 characters a token for
// English text with the common BPE vocabularies; images count a flat 765, the
// size OpenAI bills a 512x512 tile at). An estimate, used only to predict cost
// and check context windows; the ledger bills the upstream's own counts.
#pragma once

#include <cstdint>

#include "core/types.h"

namespace arbitra::router {

int64_t estimateInputTokens(const core::ChatRequest& request);

}  // namespace arbitra::router
