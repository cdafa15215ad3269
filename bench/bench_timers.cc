// SPDX-License-Identifier: MIT
//
// bench_timers - Google Benchmark micro-benchmarks of coil's delayed calls
// (core/include/coil/clock.h) on a fake clock, through the public API only:
//   BM_ScheduleCancel/N  schedule one call and cancel it, N calls already pending
//   BM_ScheduleFire/N    schedule N calls, then advance the clock to fire them
//                        all; time_per_call is the cost per call (schedule+fire)
//   BM_Reset/N           reset (reschedule) one pending call, N others pending
// Delays are pseudo-random so calls land all over the heap.
//
// usage: bench_timers [--benchmark_filter=REGEX] [other Google Benchmark flags]
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "coil/clock.h"

namespace {

constexpr size_t kRing = 4096; // size of the recycled delay table (power of 2)

// n pseudo-random delays in [lo, lo + span).
std::vector<double> Delays(size_t n, double lo, double span, uint64_t seed)
{
    std::vector<double> d(n);
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (auto &v : d) {
        x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
        v = lo + span * (double)((x * 0x2545f4914f6cdd1dull) >> 11) / 9007199254740992.0;
    }
    return d;
}

void Noop(void *) {}
void Count(void *arg) { ++*static_cast<size_t *>(arg); }

struct FakeClock {
    coil_clock *c = coil_fake_clock_new();
    FakeClock() = default;
    FakeClock(const FakeClock &) = delete;
    FakeClock &operator=(const FakeClock &) = delete;
    ~FakeClock() { coil_fake_clock_free(c); }
};

// Schedules n calls with delays in [1, 1001) s that never fire during the run.
bool Prefill(coil_clock *c, size_t n)
{
    for (double d : Delays(n, 1.0, 1000.0, 1))
        if (!coil_call_later(c, d, Noop, nullptr))
            return false;
    return true;
}

void BM_ScheduleCancel(benchmark::State &state)
{
    FakeClock clk;
    if (!clk.c || !Prefill(clk.c, (size_t)state.range(0))) {
        state.SkipWithError("out of memory");
        return;
    }
    const auto d = Delays(kRing, 1.0, 1000.0, 2);
    size_t i = 0;
    for (auto _ : state) {
        coil_delayed_call *call = coil_call_later(clk.c, d[i++ & (kRing - 1)], Noop, nullptr);
        benchmark::DoNotOptimize(call);
        if (coil_delayed_call_cancel(call) != 0) {
            state.SkipWithError("cancel failed");
            break;
        }
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ScheduleCancel)->Arg(1)->Arg(1000)->Arg(100000);

void BM_ScheduleFire(benchmark::State &state)
{
    const size_t n = (size_t)state.range(0);
    FakeClock clk;
    const auto d = Delays(n, 0.0, 1.0, 3);
    size_t fired = 0;
    for (auto _ : state) {
        for (double v : d)
            if (!coil_call_later(clk.c, v, Count, &fired)) {
                state.SkipWithError("out of memory");
                return;
            }
        coil_fake_clock_advance(clk.c, 1.0);
    }
    if (fired != n * (size_t)state.iterations() || coil_clock_pending(clk.c) != 0)
        state.SkipWithError("not every call fired exactly once");
    state.SetItemsProcessed((int64_t)(n * (size_t)state.iterations()));
    // seconds per call (shown with an SI prefix, e.g. "40n" = 40 ns)
    state.counters["time_per_call"] = benchmark::Counter(
        (double)n, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_ScheduleFire)->Arg(1)->Arg(1000)->Arg(100000);

void BM_Reset(benchmark::State &state)
{
    FakeClock clk;
    coil_delayed_call *call = nullptr;
    if (!clk.c || !Prefill(clk.c, (size_t)state.range(0)) ||
        !(call = coil_call_later(clk.c, 500.0, Noop, nullptr))) {
        state.SkipWithError("out of memory");
        return;
    }
    const auto d = Delays(kRing, 1.0, 1000.0, 4);
    size_t i = 0;
    for (auto _ : state) {
        if (coil_delayed_call_reset(call, d[i++ & (kRing - 1)]) != 0) {
            state.SkipWithError("reset failed");
            break;
        }
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Reset)->Arg(1)->Arg(1000)->Arg(100000);

} // namespace

BENCHMARK_MAIN();
