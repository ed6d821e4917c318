// Hedged requests: send the first choice; if it has not answered after the
// router's hedge delay (its predicted p95 TTFT), send the next choice too, and
// keep whichever answers first (the other is cancelled: its connection is
// closed, not pooled).
//
// Used for non-streamed requests, where a 2xx answer's headers come with the
// whole answer, so the first answer is the first token. A failure of one side
// waits for the other: the race fails only when both have.
//
// Guarantees: `send` is called at most twice (primary, then hedge); `admit`
// is asked once, when the delay has passed and the primary is still out.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>

#include "core/error.h"
#include "gateway/exchange.h"
#include "http/client.h"
#include "http/types.h"

namespace arbitra::gateway {

using UpstreamResponse = core::Result<std::unique_ptr<http::ClientResponse>>;

struct HedgeResult {
  UpstreamResponse response = core::makeError(core::ErrorKind::Internal, "no answer");
  bool hedgeWon = false;
  bool hedgeSent = false;
  Clock::time_point hedgeStartedAt;
  std::optional<core::Error> primaryError;  // set when the primary failed and the hedge was still out
  std::optional<core::Error> hedgeError;    // set when the hedge failed
};

// send(false) sends to the primary, send(true) to the hedge.
http::Task<HedgeResult> sendWithHedge(std::function<http::Task<UpstreamResponse>(bool hedge)> send,
                                      std::chrono::microseconds after, std::function<bool()> admit);

}  // namespace arbitra::gateway
