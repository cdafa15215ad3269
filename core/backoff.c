/* SPDX-License-Identifier: MIT */
/* The retry delays of ClientService (Twisted's backoffPolicy) and the
 * default jitter source. */
#include <math.h>
#include <stdint.h>
#include <sys/random.h>
#include <time.h>

#include <coil/client_service.h>

/* splitmix64: small, fast, good enough for jitter; one state per thread so
 * reactors on different threads need no lock. */
static _Thread_local uint64_t rng_state;
static _Thread_local int rng_seeded;

static uint64_t next_u64(void)
{
    if (!rng_seeded) {
        if (getrandom(&rng_state, sizeof(rng_state), GRND_NONBLOCK) != sizeof(rng_state)) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            rng_state = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15u ^ (uint64_t)ts.tv_sec;
        }
        rng_seeded = 1;
    }
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

double coil_random_unit(void *arg)
{
    (void)arg;
    return (double)(next_u64() >> 11) * 0x1.0p-53; /* 53 random bits: [0, 1) */
}

double coil_backoff_policy_delay(const coil_backoff_policy *p, unsigned attempt)
{
    unsigned exp = attempt < 100 ? attempt : 100;
    /* pow() overflows to +inf, which min() turns into max_delay: the same
     * as Twisted's OverflowError branch. */
    double delay = p->initial_delay * pow(p->factor, (double)exp);
    if (isnan(delay) || delay > p->max_delay)
        delay = p->max_delay;
    double jitter = p->jitter ? p->jitter(p->jitter_arg) : coil_random_unit(NULL);
    delay += jitter;
    if (isnan(delay) || delay < 0)
        return 0;
    return delay;
}

double coil_backoff_retry_policy(void *arg, unsigned failed_attempts)
{
    return coil_backoff_policy_delay(arg, failed_attempts);
}
