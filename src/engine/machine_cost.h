// What a local model's tokens cost: the machine's cost per hour divided by
// the throughput the engine measured on it.
//
// Design: the machine's cost per hour is the sum of what config gives:
//   cost_per_hour                              (a rented machine, $/h)
// + capex / lifetime_hours                     (an owned one, amortized)
// + watts / 1000 × price_per_kwh               (its power)
// + hosting_per_month / 730                    (rack space etc.; 730 h = 8760 / 12)
// Money comes in as micro-dollars (exact decimals from config). The sum is
// kept as an exact fraction (numerator over lifetime × 1000 × 730), so a
// request's cost = tokens × $/h ÷ (tokens per hour) is rounded once, to
// integer pico-dollars, like every other cost in the ledger (ledger/cost.h).
// Throughput is a measurement (decoded tokens per busy second of the engine),
// not money; when its counters grow large they are scaled down together
// (their ratio kept to about 1 part in 2^32) so the products fit in 128 bits
// within the bounds config enforces (see config's parseLocal).
//
//   engine::MachineCost cost{.capexMicros = 1'500'000'000, .lifetimeHours = 26'280};
//   int64_t pico = engine::requestCostPico(cost, 100, /*decoded=*/1000, /*busyMicros=*/50'000'000);
#pragma once

#include <cstdint>

namespace arbitra::engine {

struct MachineCost {
  int64_t perHourMicros = 0;          // cost_per_hour
  int64_t capexMicros = 0;            // capex (needs lifetimeHours)
  int64_t lifetimeHours = 0;          // lifetime_hours
  int64_t watts = 0;                  // watts (needs perKwhMicros)
  int64_t perKwhMicros = 0;           // price_per_kwh
  int64_t hostingPerMonthMicros = 0;  // hosting_per_month

  bool priced() const { return perHourMicros > 0 || capexMicros > 0 || (watts > 0 && perKwhMicros > 0) || hostingPerMonthMicros > 0; }
};

inline constexpr int64_t kHoursPerMonth = 730;  // 8760 / 12

// The machine's cost per hour in pico-dollars, rounded half up (for display).
int64_t machinePicoPerHour(const MachineCost& cost);

// The cost of `tokens` tokens, given that the engine decoded `decoded` tokens
// in `busyMicros` of busy time: integer pico-dollars, rounded half up once.
// 0 when nothing is priced or measured yet.
int64_t requestCostPico(const MachineCost& cost, int64_t tokens, int64_t decoded, int64_t busyMicros);

}  // namespace arbitra::engine
