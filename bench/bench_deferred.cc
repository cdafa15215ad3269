// SPDX-License-Identifier: MIT
//
// Deferred micro-benchmarks (issue #3). Each iteration is one complete
// operation including creating and freeing the Deferreds, so that the numbers
// compare directly with bench/deferred_twisted.py, which times the same four
// operations in Twisted. Run both with bench/deferred_bench.sh.

#include <benchmark/benchmark.h>

#include <coil/deferred.h>

namespace
{

coil_result passthru(coil_result r, void *)
{
    return r;
}

coil_result consume(coil_result r, void *)
{
    coil_result_release(r);
    return coil_result_none();
}

coil_result return_inner(coil_result r, void *inner)
{
    coil_result_release(r);
    return coil_result_deferred(coil_deferred_ref(static_cast<coil_deferred *>(inner)));
}

// d = Deferred(); d.addCallback(f) x n; d.callback(1)
void fire_with_callbacks(benchmark::State &state, int n)
{
    for (auto _ : state) {
        coil_deferred *d = coil_deferred_new(nullptr, nullptr);
        for (int i = 0; i < n; i++)
            coil_deferred_add_callback(d, passthru, nullptr);
        coil_deferred_callback(d, coil_result_int(1));
        benchmark::DoNotOptimize(coil_deferred_peek(d));
        coil_deferred_unref(d);
    }
}

void BM_create_fire_1_callback(benchmark::State &state)
{
    fire_with_callbacks(state, 1);
}
BENCHMARK(BM_create_fire_1_callback);

void BM_create_fire_10_callbacks(benchmark::State &state)
{
    fire_with_callbacks(state, 10);
}
BENCHMARK(BM_create_fire_10_callbacks);

// outer's callback returns the unfired inner; then inner fires and outer
// continues with its result.
void BM_chained_pair(benchmark::State &state)
{
    for (auto _ : state) {
        coil_deferred *inner = coil_deferred_new(nullptr, nullptr);
        coil_deferred *outer = coil_deferred_new(nullptr, nullptr);
        coil_deferred_add_callback(outer, return_inner, inner);
        coil_deferred_callback(outer, coil_result_none());
        coil_deferred_callback(inner, coil_result_int(1));
        benchmark::DoNotOptimize(coil_deferred_peek(outer));
        coil_deferred_unref(outer);
        coil_deferred_unref(inner);
    }
}
BENCHMARK(BM_chained_pair);

// d = Deferred(); d.addErrback(consume); d.cancel()
void BM_cancel(benchmark::State &state)
{
    for (auto _ : state) {
        coil_deferred *d = coil_deferred_new(nullptr, nullptr);
        coil_deferred_add_errback(d, consume, nullptr);
        coil_deferred_cancel(d);
        benchmark::DoNotOptimize(coil_deferred_peek(d));
        coil_deferred_unref(d);
    }
}
BENCHMARK(BM_cancel);

} // namespace

BENCHMARK_MAIN();
