/*
 * latency.c -- wake latency on an idle pool: from the post to the first
 * instruction of the callback, N samples, each after a pause long enough
 * for every worker to be parked again.
 *
 *   ntpool-bench-latency IMPL [N]         IMPL: see pools.h
 *
 * Prints median_us=M p99_us=P.
 */
#include "common.h"
#include "pools.h"

#include <semaphore.h>
#include <stdatomic.h>

static _Atomic uint64_t started_at;
static sem_t started;

static void
stamp(void)
{
    atomic_store(&started_at, bench_now_ns());
    sem_post(&started);
}

static void
idle_gap(void)
{
    struct timespec ts = {0, 300 * 1000};
    nanosleep(&ts, NULL);
}

int
main(int argc, char **argv)
{
    const char *usage = "ntpool-work|ntpool-try|glib|libuv|plain [N]";
    if (argc < 2)
        bench_usage(argv[0], usage);
    long n = argc > 2 ? atol(argv[2]) : 10000;
    sem_init(&started, 0, 0);
    /* libuv needs a request per post in flight: one at a time here. */
    bench_pool *bp = bench_pool_start(argv[1], stamp, 1);
    if (!bp)
        bench_usage(argv[0], usage);
    /* Warm up: let the pool start its threads first. */
    for (int i = 0; i < 100; i++) {
        bench_pool_post(bp);
        sem_wait(&started);
        bench_pool_finish(bp);
    }
    uint64_t *lat = calloc((size_t)n, sizeof *lat);
    for (long i = 0; i < n; i++) {
        idle_gap();
        uint64_t t0 = bench_now_ns();
        bench_pool_post(bp);
        sem_wait(&started);
        lat[i] = atomic_load(&started_at) - t0;
        bench_pool_finish(bp);
    }
    bench_pool_stop(bp);
    bench_sort(lat, (size_t)n);
    bench_kv("median_us", (double)bench_pct(lat, (size_t)n, 50) / 1e3);
    bench_kv("p99_us", (double)bench_pct(lat, (size_t)n, 99) / 1e3);
    bench_kv_end();
    free(lat);
    return 0;
}
