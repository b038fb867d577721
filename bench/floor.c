/*
 * floor.c -- what the hardware and kernel allow, to show each pool's
 * overhead against it.
 *
 *   ntpool-bench-floor wake [N]    an idle thread parked in futex_wait,
 *                                  woken by FUTEX_WAKE after the same pause
 *                                  as the latency case: from the wake call
 *                                  to the first instruction of the woken
 *                                  thread, median_us and p99_us. No pool
 *                                  can wake a parked thread faster.
 *   ntpool-bench-floor queue [N]   an uncontended mutex-protected ring,
 *                                  one push then one pop: ns_per_op.
 */
#include "common.h"

#include <linux/futex.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

static atomic_int word; /* 0: park; n > 0: round n may start */
static _Atomic uint64_t woke_at;
static sem_t acked;

static void
futex_wait(atomic_int *addr, int val)
{
    syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void
futex_wake(atomic_int *addr)
{
    syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *
sleeper(void *arg)
{
    long rounds = *(long *)arg;
    for (long r = 1; r <= rounds; r++) {
        while (atomic_load(&word) < r)
            futex_wait(&word, (int)(r - 1));
        atomic_store(&woke_at, bench_now_ns());
        sem_post(&acked);
    }
    return NULL;
}

static int
wake_floor(long n)
{
    sem_init(&acked, 0, 0);
    pthread_t t;
    pthread_create(&t, NULL, sleeper, &n);
    uint64_t *lat = calloc((size_t)n, sizeof *lat);
    for (long r = 1; r <= n; r++) {
        struct timespec gap = {0, 300 * 1000};
        nanosleep(&gap, NULL);
        uint64_t t0 = bench_now_ns();
        atomic_store(&word, (int)r);
        futex_wake(&word);
        sem_wait(&acked);
        lat[r - 1] = atomic_load(&woke_at) - t0;
    }
    pthread_join(t, NULL);
    bench_sort(lat, (size_t)n);
    bench_kv("median_us", (double)bench_pct(lat, (size_t)n, 50) / 1e3);
    bench_kv("p99_us", (double)bench_pct(lat, (size_t)n, 99) / 1e3);
    bench_kv_end();
    free(lat);
    return 0;
}

static int
queue_floor(long n)
{
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    enum { CAP = 1024 };
    static uintptr_t ring[CAP];
    size_t head = 0, tail = 0;
    volatile uintptr_t sink = 0;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        pthread_mutex_lock(&lock);
        ring[tail++ % CAP] = (uintptr_t)i;
        pthread_mutex_unlock(&lock);
        pthread_mutex_lock(&lock);
        sink += ring[head++ % CAP];
        pthread_mutex_unlock(&lock);
    }
    uint64_t dt = bench_now_ns() - t0;
    (void)sink;
    bench_kv("ns_per_op", (double)dt / (double)n);
    bench_kv_end();
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 2)
        bench_usage(argv[0], "wake|queue [N]");
    if (!strcmp(argv[1], "wake"))
        return wake_floor(argc > 2 ? atol(argv[2]) : 10000);
    if (!strcmp(argv[1], "queue"))
        return queue_floor(argc > 2 ? atol(argv[2]) : 10000000);
    bench_usage(argv[0], "wake|queue [N]");
    return 2;
}
