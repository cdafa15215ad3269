// SPDX-License-Identifier: MIT
// Micro-benchmark of LineReceiver's line splitting (<coil/basic.h>): 64 KiB
// of CRLF-terminated lines fed to a receiver without a transport, whose
// line_received only counts. Items are lines: items_per_second is lines/s.
//   - whole: one 64 KiB chunk per call, lines parsed in place (the common
//     case: a read full of complete lines);
//   - mtu: the same bytes in 1448-byte chunks, so most chunks end inside a
//     line and the receiver buffers the partial line;
//   - line_only: LineOnlyReceiver on the whole chunk.
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>

#include <coil/basic.h>

namespace
{

struct Counter {
    coil_line_receiver lr;
    size_t lines = 0, bytes = 0;
};

struct OnlyCounter {
    coil_line_only_receiver lr;
    size_t lines = 0;
};

void on_line(coil_line_receiver *lr, const char *line, size_t len)
{
    Counter *c = reinterpret_cast<Counter *>(lr);
    c->lines++;
    c->bytes += len;
    benchmark::DoNotOptimize(line);
}

void on_only_line(coil_line_only_receiver *lr, const char *line, size_t len)
{
    reinterpret_cast<OnlyCounter *>(lr)->lines++;
    benchmark::DoNotOptimize(line);
}

const coil_line_receiver_ops kOps = {nullptr, on_line, nullptr, nullptr, nullptr, nullptr, nullptr};
const coil_line_only_receiver_ops kOnlyOps = {nullptr, on_only_line, nullptr,
                                              nullptr, nullptr,      nullptr};

// 64 KiB (rounded down to whole lines) of lines of `len` bytes plus CRLF.
std::string make_stream(size_t len, size_t *nlines)
{
    std::string line(len, 'x');
    for (size_t i = 0; i < len; i++)
        line[i] = static_cast<char>('a' + i % 26);
    line += "\r\n";
    std::string s;
    *nlines = 0;
    while (s.size() + line.size() <= 65536) {
        s += line;
        ++*nlines;
    }
    return s;
}

void BM_LineReceiver(benchmark::State &state, size_t chunk)
{
    size_t nlines;
    std::string s = make_stream(static_cast<size_t>(state.range(0)), &nlines);
    Counter c;
    coil_line_receiver_init(&c.lr, &kOps);
    for (auto _ : state) {
        for (size_t off = 0; off < s.size(); off += chunk) {
            size_t n = s.size() - off < chunk ? s.size() - off : chunk;
            coil_line_receiver_data_received(&c.lr, s.data() + off, n);
        }
    }
    if (c.lines != nlines * state.iterations())
        state.SkipWithError("wrong line count");
    coil_line_receiver_release(&c.lr);
    state.SetItemsProcessed(static_cast<int64_t>(c.lines));
    state.SetBytesProcessed(static_cast<int64_t>(s.size() * state.iterations()));
}

void BM_LineReceiverWhole(benchmark::State &state)
{
    BM_LineReceiver(state, 65536);
}
BENCHMARK(BM_LineReceiverWhole)->Arg(16)->Arg(64)->Arg(256)->Arg(1024);

void BM_LineReceiverMtu(benchmark::State &state)
{
    BM_LineReceiver(state, 1448);
}
BENCHMARK(BM_LineReceiverMtu)->Arg(16)->Arg(64)->Arg(256)->Arg(1024);

void BM_LineOnlyReceiverWhole(benchmark::State &state)
{
    size_t nlines;
    std::string s = make_stream(static_cast<size_t>(state.range(0)), &nlines);
    OnlyCounter c;
    coil_line_only_receiver_init(&c.lr, &kOnlyOps);
    for (auto _ : state)
        coil_line_only_receiver_data_received(&c.lr, s.data(), s.size());
    if (c.lines != nlines * state.iterations())
        state.SkipWithError("wrong line count");
    coil_line_only_receiver_release(&c.lr);
    state.SetItemsProcessed(static_cast<int64_t>(c.lines));
    state.SetBytesProcessed(static_cast<int64_t>(s.size() * state.iterations()));
}
BENCHMARK(BM_LineOnlyReceiverWhole)->Arg(64);

} // namespace

BENCHMARK_MAIN();
