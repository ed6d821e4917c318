// The machine cost arithmetic (see machine_cost.h): one exact fraction, one rounding.
#include "engine/machine_cost.h"

#include <cstdint>

namespace arbitra::engine {
namespace {

using i128 = __int128;

// $/hour as micro-dollars per hour = num / den, exactly.
struct Fraction {
  i128 num = 0;
  i128 den = 1;
};

Fraction perHour(const MachineCost& c) {
  const i128 life = c.capexMicros > 0 && c.lifetimeHours > 0 ? c.lifetimeHours : 1;
  Fraction f;
  f.den = life * 1000 * kHoursPerMonth;
  f.num = static_cast<i128>(c.perHourMicros) * f.den;
  if (c.capexMicros > 0 && c.lifetimeHours > 0) f.num += static_cast<i128>(c.capexMicros) * 1000 * kHoursPerMonth;
  f.num += static_cast<i128>(c.watts) * c.perKwhMicros * life * kHoursPerMonth;  // W/1000 × $/kWh
  f.num += static_cast<i128>(c.hostingPerMonthMicros) * life * 1000;             // / 730 h
  return f;
}

i128 roundedDiv(i128 num, i128 den) { return (num + den / 2) / den; }

}  // namespace

int64_t machinePicoPerHour(const MachineCost& cost) {
  Fraction f = perHour(cost);
  return static_cast<int64_t>(roundedDiv(f.num * 1'000'000, f.den));
}

int64_t requestCostPico(const MachineCost& cost, int64_t tokens, int64_t decoded, int64_t busyMicros) {
  if (tokens <= 0 || decoded <= 0 || busyMicros <= 0 || !cost.priced()) return 0;
  // Keep the measured ratio busy/decoded, in numbers small enough for 128 bits.
  // (Config bounds each amount, so num < 2^72; tokens < 2^21 (a context);
  // busy < 2^32: the products stay below 2^127.)
  while (busyMicros > (int64_t{1} << 32) || decoded > (int64_t{1} << 32)) {
    busyMicros = (busyMicros + 1) / 2;
    decoded = (decoded + 1) / 2;
  }
  // pico = tokens × (µ$/h × 10^6 pico/µ$) × (busy µs per decoded token) / (3600 × 10^6 µs/h)
  //      = tokens × (num/den) × busy / (3600 × decoded)
  Fraction f = perHour(cost);
  i128 num = static_cast<i128>(tokens) * f.num * busyMicros;
  i128 den = f.den * 3600 * decoded;
  i128 pico = roundedDiv(num, den);
  return pico > INT64_MAX ? INT64_MAX : static_cast<int64_t>(pico);  // ~$9.2M: saturate, never wrap
}

}  // namespace arbitra::engine
