// The local machine's cost model (engine/machine_cost.h) on hand-worked
// numbers: each term of the hourly cost, their sum, one rounding per request.
#include <gtest/gtest.h>

#include <cstdint>

#include "engine/machine_cost.h"

namespace arbitra::engine {
namespace {

// $1,500 machine over 3 years (26,280 h), 200 W at $0.15/kWh, $20/month hosting.
MachineCost owned() {
  MachineCost c;
  c.capexMicros = 1'500'000'000;
  c.lifetimeHours = 26'280;
  c.watts = 200;
  c.perKwhMicros = 150'000;
  c.hostingPerMonthMicros = 20'000'000;
  return c;
}

TEST(MachineCost, EachTermOfTheHourlyCost) {
  MachineCost capex;
  capex.capexMicros = 1'500'000'000;
  capex.lifetimeHours = 26'280;
  // 1500 / 26280 = 0.057077625570776... $/h
  EXPECT_EQ(machinePicoPerHour(capex), 57'077'625'571);
  MachineCost power;
  power.watts = 200;
  power.perKwhMicros = 150'000;
  EXPECT_EQ(machinePicoPerHour(power), 30'000'000'000);  // 0.2 kW x $0.15 = $0.03/h
  MachineCost hosting;
  hosting.hostingPerMonthMicros = 20'000'000;
  EXPECT_EQ(machinePicoPerHour(hosting), 27'397'260'274);  // 20 / 730 = 0.0273972602739...
  MachineCost rented;
  rented.perHourMicros = 350'000;
  EXPECT_EQ(machinePicoPerHour(rented), 350'000'000'000);
}

TEST(MachineCost, TheTermsAddUpExactlyBeforeRounding) {
  // 0.057077625570776 + 0.03 + 0.027397260273972 = 0.114474885844748 $/h
  EXPECT_EQ(machinePicoPerHour(owned()), 114'474'885'845);
  auto both = owned();
  both.perHourMicros = 100'000;  // plus a rented part: $0.10/h
  EXPECT_EQ(machinePicoPerHour(both), 214'474'885'845);
}

TEST(MachineCost, RequestCostIsMachineTimeAtTheMeasuredThroughput) {
  // 1000 tokens decoded in 50 s: 20 tokens/s. 100 tokens = 5 s of the machine:
  // 0.114474885844748 $/h x 5 / 3600 = $0.000158992897006... = 158,992,897 pico.
  EXPECT_EQ(requestCostPico(owned(), 100, 1000, 50'000'000), 158'992'897);
  // Twice the throughput, half the cost.
  EXPECT_EQ(requestCostPico(owned(), 100, 2000, 50'000'000), 79'496'449);  // 79,496,448.503
}

TEST(MachineCost, RoundedOncePerRequestNotPerToken) {
  MachineCost rented;
  rented.perHourMicros = 350'000;  // $0.35/h at 20 tokens/s: 4,861,111.1 pico per token
  EXPECT_EQ(requestCostPico(rented, 1, 20, 1'000'000), 4'861'111);
  EXPECT_EQ(requestCostPico(rented, 7, 20, 1'000'000), 34'027'778);  // not 7 x 4,861,111
}

TEST(MachineCost, NothingPricedOrMeasuredCostsNothing) {
  EXPECT_EQ(requestCostPico(MachineCost{}, 100, 1000, 50'000'000), 0);
  EXPECT_EQ(requestCostPico(owned(), 100, 0, 0), 0);
  EXPECT_EQ(requestCostPico(owned(), 0, 1000, 50'000'000), 0);
  MachineCost wattsOnly;  // watts without a price per kWh price nothing
  wattsOnly.watts = 200;
  EXPECT_FALSE(wattsOnly.priced());
  EXPECT_TRUE(owned().priced());
}

TEST(MachineCost, HugeCountersKeepTheirRatioAndDoNotOverflow) {
  // A long-lived engine: 2^45 tokens in 2^45 x 50 ms. Same 20 tokens/s.
  const int64_t decoded = int64_t{1} << 45;
  EXPECT_EQ(requestCostPico(owned(), 100, decoded, decoded * 50'000), 158'992'897);
  // The largest amounts config accepts, a context-sized request.
  MachineCost most;
  most.perHourMicros = 1'000'000'000;
  most.capexMicros = 10'000'000'000'000;
  most.lifetimeHours = 1;
  most.watts = 100'000;
  most.perKwhMicros = 10'000'000;
  most.hostingPerMonthMicros = 100'000'000'000;
  // $/h = 1000 + 10,000,000 + 1000 + 136.98630136... = 10,002,136.98630136...;
  // 1000 tokens at 1000 tokens/s: one second = $2,778.371385083713...
  EXPECT_EQ(requestCostPico(most, 1000, 1000, 1'000'000), 2'778'371'385'083'714);
  // A cost beyond int64 (~$9.2M) saturates instead of wrapping.
  EXPECT_EQ(requestCostPico(most, 1'000'000, 1, 1'000'000), INT64_MAX);
}

}  // namespace
}  // namespace arbitra::engine
