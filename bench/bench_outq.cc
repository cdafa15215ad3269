// SPDX-License-Identifier: MIT
// Micro-benchmarks of a transport's output queue (core/outq.c): the cost of
// queueing a write and of consuming it after a send completion, which every
// echoed message pays once.
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

extern "C" {
#include "outq.h"
}

namespace {

// write(len) then consume everything: one echo's worth of queue work.
void BM_WriteConsume(benchmark::State &state)
{
    coil__pool pool = {};
    pool.max_free = 256;
    coil__outq q = {};
    std::vector<char> msg(static_cast<size_t>(state.range(0)), 'x');
    for (auto _ : state) {
        coil__outq_write(&q, &pool, msg.data(), msg.size());
        struct iovec iov[64];
        size_t total;
        int n = coil__outq_peek(&q, iov, 64, &total);
        benchmark::DoNotOptimize(n);
        coil__outq_consume(&q, &pool, total);
    }
    coil__outq_clear(&q, &pool);
    coil__pool_fini(&pool);
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_WriteConsume)->Arg(64)->Arg(1024)->Arg(16384)->Arg(65536);

// Many small writes coalesce into pooled blocks before one send drains them.
void BM_CoalesceSmallWrites(benchmark::State &state)
{
    coil__pool pool = {};
    pool.max_free = 256;
    coil__outq q = {};
    const int writes = static_cast<int>(state.range(0));
    char msg[64];
    std::memset(msg, 'y', sizeof(msg));
    for (auto _ : state) {
        for (int i = 0; i < writes; i++)
            coil__outq_write(&q, &pool, msg, sizeof(msg));
        struct iovec iov[64];
        size_t total = 0, sent = 0;
        while (q.bytes) {
            coil__outq_peek(&q, iov, 64, &total);
            coil__outq_consume(&q, &pool, total);
            sent += total;
        }
        benchmark::DoNotOptimize(sent);
    }
    coil__pool_fini(&pool);
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * writes);
}
BENCHMARK(BM_CoalesceSmallWrites)->Arg(16)->Arg(1024);

void release_nothing(void *, const void *, size_t)
{
}

// Borrowed (zero-copy) buffers: queue and release.
void BM_BorrowRelease(benchmark::State &state)
{
    coil__pool pool = {};
    coil__outq q = {};
    static char big[1 << 20];
    for (auto _ : state) {
        coil__outq_borrow(&q, big, sizeof(big), release_nothing, nullptr);
        coil__outq_consume(&q, &pool, sizeof(big));
    }
    coil__pool_fini(&pool);
}
BENCHMARK(BM_BorrowRelease);

} // namespace

BENCHMARK_MAIN();
