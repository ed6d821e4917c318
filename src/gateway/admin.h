// The admin API, behind the master key (ledger.master_key or
// ARBITRA_MASTER_KEY, sent as Authorization: Bearer or x-api-key):
//
//   GET    /admin/keys                 list keys (never their values) with today's spend
//   POST   /admin/keys                 create: {name, models, budget_day, budget_month,
//                                      rpm, tpm, tags}; the key's value is in this answer only
//   DELETE /admin/keys/{id}            revoke
//   GET    /admin/report?group_by=day&from=YYYY-MM-DD&until=YYYY-MM-DD&format=json|csv|table
//   POST   /admin/reload               re-read the config file (reload.h; works without a ledger)
//
// Errors are OpenAI-format bodies. Key changes reach the gateway's key ring
// at once (and other processes within a second).
#pragma once

#include "gateway/accounting.h"
#include "http/server.h"

namespace arbitra::gateway {

http::Task<void> serveAdmin(Accounting& accounting, http::Request& request, http::ResponseWriter& out);

// The admin API's gate: false after answering 403 (no master key configured:
// the admin API is off) or 401 (the request does not carry it).
http::Task<bool> adminAllowed(const Accounting& accounting, const http::Request& request, http::ResponseWriter& out);

}  // namespace arbitra::gateway
