// SPDX-License-Identifier: MIT
// Micro-benchmarks of the per-string and per-connection parsing work of the
// endpoint layer: a PROXY v1/v2 header (every connection behind haproxy:
// pays one parse) and an endpoint description (parsed once at start-up, but
// untrusted input whose cost should stay small).
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>

#include <coil/endpoint_desc.h>
#include <coil/proxy_protocol.h>

namespace {

const char kV1[] = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET / HTTP/1.1\r\n";

// sig, v2 PROXY, INET/STREAM, 12 address bytes: 192.0.2.1:56324 -> 198.51.100.2:443
const unsigned char kV2[] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54,
                             0x0A, 0x21, 0x11, 0x00, 0x0C, 192,  0,    2,    1,    198,  51,
                             100,  2,    0xDC, 0x04, 0x01, 0xBB, 'G',  'E',  'T'};

void BM_ProxyV1(benchmark::State &state)
{
    coil_proxy_info info;
    for (auto _ : state) {
        int n = coil_proxy_parse(kV1, sizeof(kV1) - 1, &info);
        benchmark::DoNotOptimize(n);
        if (n <= 0)
            state.SkipWithError("v1 header not accepted");
    }
}
BENCHMARK(BM_ProxyV1);

void BM_ProxyV2(benchmark::State &state)
{
    coil_proxy_info info;
    for (auto _ : state) {
        int n = coil_proxy_parse(kV2, sizeof(kV2), &info);
        benchmark::DoNotOptimize(n);
        if (n <= 0)
            state.SkipWithError("v2 header not accepted");
    }
}
BENCHMARK(BM_ProxyV2);

// An HTTP request where a header was expected: rejected at the first byte.
void BM_ProxyRejectHttp(benchmark::State &state)
{
    const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    coil_proxy_info info;
    for (auto _ : state) {
        int n = coil_proxy_parse(req, sizeof(req) - 1, &info);
        benchmark::DoNotOptimize(n);
    }
}
BENCHMARK(BM_ProxyRejectHttp);

void BM_ServerDescParse(benchmark::State &state)
{
    const char *desc = state.range(0) == 0 ? "tcp:8080:interface=127.0.0.1"
                                            : "haproxy:unix:address=/run/coil/e.sock:mode=600";
    char err[128];
    for (auto _ : state) {
        coil_server_desc *d = nullptr;
        int rc = coil_server_desc_parse(desc, &d, err, sizeof(err));
        benchmark::DoNotOptimize(rc);
        coil_server_desc_free(d);
    }
}
BENCHMARK(BM_ServerDescParse)->Arg(0)->Arg(1);

} // namespace

BENCHMARK_MAIN();
