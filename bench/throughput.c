/*
 * throughput.c -- N trivial callbacks (an atomic increment) posted from
 * one thread, until all have run.
 *
 *   ntpool-bench-throughput IMPL [N]      IMPL: see pools.h
 *
 * Prints seconds=S ns_per_task=T post_ns=P ctx_switches=C: P is the
 * posting thread's time per post (the loop alone), C counts the voluntary
 * and involuntary context switches of the whole process during the run
 * (getrusage), which is how a wake-up policy shows its cost.
 */
#include "common.h"
#include "pools.h"

#include <semaphore.h>
#include <stdatomic.h>
#include <sys/resource.h>

static atomic_long counter;
static long target;
static sem_t all_done;

static void
trivial(void)
{
    if (atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed) + 1
        == target)
        sem_post(&all_done);
}

static long
context_switches(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_nvcsw + ru.ru_nivcsw;
}

int
main(int argc, char **argv)
{
    if (argc < 2)
        bench_usage(argv[0], "ntpool-work|ntpool-try|glib|libuv|plain [N]");
    target = argc > 2 ? atol(argv[2]) : 1000000;
    sem_init(&all_done, 0, 0);
    bench_pool *bp = bench_pool_start(argv[1], trivial, target);
    if (!bp)
        bench_usage(argv[0], "ntpool-work|ntpool-try|glib|libuv|plain [N]");
    long cs0 = context_switches();
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < target; i++)
        bench_pool_post(bp);
    uint64_t posted = bench_now_ns() - t0;
    bench_pool_finish(bp);
    sem_wait(&all_done);
    uint64_t dt = bench_now_ns() - t0;
    long cs = context_switches() - cs0;
    bench_pool_stop(bp);
    if (atomic_load(&counter) != target) {
        fprintf(stderr, "%s ran %ld of %ld callbacks\n", argv[1],
                atomic_load(&counter), target);
        return 1;
    }
    bench_kv("seconds", (double)dt / 1e9);
    bench_kv("ns_per_task", (double)dt / (double)target);
    bench_kv("post_ns", (double)posted / (double)target);
    bench_kv("ctx_switches", (double)cs);
    bench_kv_end();
    return 0;
}
