// Deferred requests sent through a provider's batch API (providers/batch.h).
//
// A deferred job whose first-choice deployment's provider has `batch: true`
// calls submit(): its request joins that provider's open batch. A batch is
// closed `deferred.window_ms` after its first request arrived, or as soon as
// `deferred.max_batch` requests wait, and then runs in its own coroutine:
// upload (OpenAI), create, poll every `deferred.poll_ms` until it has ended,
// download the results, and hand each waiting submit() its own result
// (matched by custom_id). One batch per provider per window.
//
// Guarantees: every submit() returns exactly once: with the request's own
// result (a 2xx answer body in the upstream's format, or that request's
// error), or with an error for the whole batch (submission refused, batch
// failed or expired, results unreadable, no result for this request, no end
// within 25 hours). Upstream messages are scrubbed of the provider's key.
// Nothing is persisted: a restart loses batches in flight (see README).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "config/config.h"
#include "core/error.h"
#include "core/types.h"
#include "gateway/deployments.h"
#include "http/client.h"

namespace arbitra::gateway {

class Batcher {
 public:
  struct Answer {
    int status = 0;       // the request's own HTTP status within the batch
    std::string body;     // its answer (2xx) or error body, in the upstream's format
    std::string error;    // non-2xx: a readable message
    std::string batchId;  // the upstream batch that served it
  };
  // Progress of the request's batch: "submitted" (created upstream) or
  // "running" (the provider is processing it), with the upstream batch id.
  using OnState = std::function<void(const std::string& state, const std::string& batchId)>;

  Batcher(http::HttpClient& client, const config::DeferredConfig& options);
  ~Batcher();

  // Waits for the request's result (see above). `deployment.provider->batch()` must be set.
  // `keepAlive` owns the deployment's provider (the request's config
  // generation, reload.h): the batch holds it until it ends, even if the
  // request that joined it has gone.
  http::Task<core::Result<Answer>> submit(const Deployment& deployment, const core::ChatRequest& request,
                                          OnState onState, std::shared_ptr<const void> keepAlive = nullptr);
  // Batches created upstream so far.
  int64_t batchesSubmitted() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace arbitra::gateway
