/*
 * timers.c -- timers at scale and a periodic timer's jitter.
 *
 *   ntpool-bench-timers oneshot IMPL [N] [SPAN_MS] [WINDOW_MS]
 *       N one-shot timers due at random times (the same ones for every
 *       IMPL: a fixed seed) within SPAN_MS, armed from one thread before
 *       the first is due. Lateness = when the callback started - when the
 *       timer was due. Prints median_ms, p99_ms, max_ms, early (callbacks
 *       that started before their due time: must be 0), threads (the
 *       process's threads besides the main one once all have run) and
 *       arm_ms (arming them all took that long; creating them is not
 *       measured).
 *   ntpool-bench-timers periodic IMPL [TICKS]
 *       one timer every 1 ms: jitter = |interval between two callback
 *       starts - 1 ms|; prints median_ms, p99_ms.
 *
 * IMPL: ntpool (ntp_timer, window WINDOW_MS, callbacks on a pool of as
 * many workers as CPUs), libuv (uv_timer_t on the loop thread; libuv
 * counts in whole milliseconds), glib (GLib timeouts on a main loop;
 * periodic only: GLib walks every source on every loop iteration, so
 * 100,000 of them do not finish in useful time), and floor: one thread, a
 * binary heap of due times and one timerfd armed (absolute, in ns) for
 * the earliest; it runs the callbacks itself. That is the least a timer
 * service can do: the kernel's hrtimer wake-up plus a heap pop. (One
 * timerfd per timer would need 100,000 file descriptors, above this
 * machine's hard limit of open files, and it measures the same kernel
 * wake-up.)
 */
#include "common.h"

#include <ntpool.h>

#include <glib.h>
#include <uv.h>

#include <semaphore.h>
#include <stdatomic.h>
#include <sys/timerfd.h>
#include <unistd.h>

static long n_timers;
static uint64_t *due_at; /* per timer, CLOCK_MONOTONIC ns */
static int64_t *late_ns; /* per timer, written by its callback */
static atomic_long fired;
static sem_t all_fired;
static uint64_t arm_ns; /* arming every timer took this long */

static void
record_fire(long i)
{
    late_ns[i] = (int64_t)(bench_now_ns() - due_at[i]);
    if (atomic_fetch_add(&fired, 1) + 1 == n_timers)
        sem_post(&all_fired);
}

static uint64_t
xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static unsigned span_ms;

/* Due times, planned once every timer is created (creation is not what is
 * measured), far enough ahead that arming them all ends first. */
static void
plan_due_times(void)
{
    uint64_t seed = 0x9e3779b97f4a7c15u;
    uint64_t base = bench_now_ns() + 300 * 1000000u;
    for (long i = 0; i < n_timers; i++)
        due_at[i] = base + xorshift(&seed) % ((uint64_t)span_ms * 1000000u);
}

static uint64_t
until(uint64_t t)
{
    uint64_t now = bench_now_ns();
    return t > now ? t - now : 0;
}

/* ---- ntpool ---- */

static void
on_ntp_timer(ntp_instance *inst, void *ctx, ntp_timer *t)
{
    (void)inst, (void)t;
    record_fire((long)(intptr_t)ctx);
}

static unsigned
oneshot_ntpool(unsigned window_ms)
{
    ntp_pool *pool;
    ntp_env env;
    ntp_pool_create(&pool);
    ntp_pool_set_max_threads(pool, bench_ncpu());
    ntp_pool_set_min_threads(pool, bench_ncpu()); /* started up front */
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);
    ntp_timer **timers = calloc((size_t)n_timers, sizeof *timers);
    for (long i = 0; i < n_timers; i++)
        if (ntp_timer_create(&timers[i], on_ntp_timer, (void *)(intptr_t)i,
                             &env)
            != 0)
            abort();
    plan_due_times();
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n_timers; i++)
        ntp_timer_set(timers[i], ntp_due_in_ns(until(due_at[i])), 0,
                      window_ms);
    arm_ns = bench_now_ns() - t0;
    sem_wait(&all_fired);
    unsigned threads = bench_thread_count() - 1;
    for (long i = 0; i < n_timers; i++) {
        ntp_timer_wait(timers[i], false);
        ntp_timer_close(timers[i]);
    }
    ntp_pool_close(pool);
    free(timers);
    return threads;
}

/* ---- libuv ---- */

static void
on_uv_timer(uv_timer_t *t)
{
    record_fire((long)(intptr_t)t->data);
}

static unsigned
oneshot_libuv(void)
{
    uv_loop_t *loop = uv_default_loop();
    uv_timer_t *timers = calloc((size_t)n_timers, sizeof *timers);
    for (long i = 0; i < n_timers; i++) {
        uv_timer_init(loop, &timers[i]);
        timers[i].data = (void *)(intptr_t)i;
    }
    plan_due_times();
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n_timers; i++) {
        /* libuv counts whole milliseconds from a clock it truncates to the
         * millisecond: one more than the due time rounded up is the
         * least that never fires early. */
        uv_update_time(loop);
        uint64_t ms = (until(due_at[i]) + 999999u) / 1000000u + 1;
        uv_timer_start(&timers[i], on_uv_timer, ms, 0);
    }
    arm_ns = bench_now_ns() - t0;
    uv_run(loop, UV_RUN_DEFAULT);
    sem_wait(&all_fired);
    unsigned threads = bench_thread_count() - 1;
    uv_loop_close(loop);
    free(timers);
    return threads;
}

/* ---- the floor: one thread, a heap, one timerfd ---- */

static long *heap; /* timer indexes, ordered by due_at */
static long heap_len;

static void
heap_push(long i)
{
    long k = heap_len++;
    while (k > 0 && due_at[heap[(k - 1) / 2]] > due_at[i]) {
        heap[k] = heap[(k - 1) / 2];
        k = (k - 1) / 2;
    }
    heap[k] = i;
}

static long
heap_pop(void)
{
    long top = heap[0], last = heap[--heap_len], k = 0;
    for (;;) {
        long c = 2 * k + 1;
        if (c >= heap_len)
            break;
        if (c + 1 < heap_len && due_at[heap[c + 1]] < due_at[heap[c]])
            c++;
        if (due_at[last] <= due_at[heap[c]])
            break;
        heap[k] = heap[c];
        k = c;
    }
    heap[k] = last;
    return top;
}

static unsigned
oneshot_floor(void)
{
    heap = calloc((size_t)n_timers, sizeof *heap);
    plan_due_times();
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n_timers; i++)
        heap_push(i);
    arm_ns = bench_now_ns() - t0;
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    while (heap_len > 0) {
        uint64_t now = bench_now_ns();
        while (heap_len > 0 && due_at[heap[0]] <= now)
            record_fire(heap_pop());
        if (heap_len == 0)
            break;
        uint64_t next = due_at[heap[0]];
        struct itimerspec its = {.it_value = {(time_t)(next / 1000000000u),
                                              (long)(next % 1000000000u)}};
        timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
        uint64_t expirations;
        if (read(tfd, &expirations, sizeof expirations) < 0)
            abort();
    }
    close(tfd);
    free(heap);
    return 0; /* no thread besides the main one */
}

static int
oneshot(const char *impl, long n, unsigned span, unsigned window_ms)
{
    n_timers = n;
    span_ms = span;
    due_at = calloc((size_t)n, sizeof *due_at);
    late_ns = calloc((size_t)n, sizeof *late_ns);
    sem_init(&all_fired, 0, 0);
    unsigned threads;
    if (!strcmp(impl, "ntpool"))
        threads = oneshot_ntpool(window_ms);
    else if (!strcmp(impl, "libuv"))
        threads = oneshot_libuv();
    else if (!strcmp(impl, "floor"))
        threads = oneshot_floor();
    else
        return 2;
    long early = 0;
    uint64_t *late = calloc((size_t)n, sizeof *late);
    for (long i = 0; i < n; i++) {
        if (late_ns[i] < 0)
            early++;
        late[i] = late_ns[i] < 0 ? 0 : (uint64_t)late_ns[i];
    }
    bench_sort(late, (size_t)n);
    bench_kv("median_ms", (double)bench_pct(late, (size_t)n, 50) / 1e6);
    bench_kv("p99_ms", (double)bench_pct(late, (size_t)n, 99) / 1e6);
    bench_kv("max_ms", (double)late[n - 1] / 1e6);
    bench_kv("early", (double)early);
    bench_kv("threads", (double)threads);
    bench_kv("arm_ms", (double)arm_ns / 1e6);
    bench_kv_end();
    free(late);
    return early == 0 ? 0 : 1;
}

/* ---- periodic ---- */

static long ticks_wanted;
static uint64_t *tick_at;
static atomic_long ticks;
static sem_t ticks_done;

/* True once enough ticks were seen. */
static bool
tick(void)
{
    long k = atomic_fetch_add(&ticks, 1);
    if (k < ticks_wanted)
        tick_at[k] = bench_now_ns();
    if (k + 1 == ticks_wanted)
        sem_post(&ticks_done);
    return k + 1 >= ticks_wanted;
}

static void
on_ntp_tick(ntp_instance *inst, void *ctx, ntp_timer *t)
{
    (void)inst, (void)ctx, (void)t;
    tick();
}

static void
on_uv_tick(uv_timer_t *t)
{
    if (tick())
        uv_timer_stop(t);
}

static gboolean
on_glib_tick(gpointer data)
{
    if (!tick())
        return G_SOURCE_CONTINUE;
    g_main_loop_quit(data);
    return G_SOURCE_REMOVE;
}

static int
periodic(const char *impl, long n)
{
    ticks_wanted = n;
    tick_at = calloc((size_t)n, sizeof *tick_at);
    sem_init(&ticks_done, 0, 0);
    if (!strcmp(impl, "ntpool")) {
        ntp_pool *pool;
        ntp_env env;
        ntp_timer *t;
        ntp_pool_create(&pool);
        ntp_pool_set_max_threads(pool, bench_ncpu());
        ntp_pool_set_min_threads(pool, bench_ncpu()); /* started up front */
        ntp_env_init(&env);
        ntp_env_set_pool(&env, pool);
        ntp_timer_create(&t, on_ntp_tick, NULL, &env);
        ntp_timer_set(t, ntp_due_in_ms(1), 1, 0);
        sem_wait(&ticks_done);
        ntp_timer_set(t, ntp_due_none(), 0, 0);
        ntp_timer_wait(t, true);
        ntp_timer_close(t);
        ntp_pool_close(pool);
    } else if (!strcmp(impl, "libuv")) {
        uv_loop_t *loop = uv_default_loop();
        uv_timer_t t;
        uv_timer_init(loop, &t);
        uv_timer_start(&t, on_uv_tick, 1, 1);
        uv_run(loop, UV_RUN_DEFAULT);
        uv_loop_close(loop);
    } else if (!strcmp(impl, "glib")) {
        GMainLoop *loop = g_main_loop_new(NULL, FALSE);
        g_timeout_add(1, on_glib_tick, loop);
        g_main_loop_run(loop);
        g_main_loop_unref(loop);
    } else if (!strcmp(impl, "floor")) {
        int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
        struct itimerspec its = {.it_value = {0, 1000000},
                                 .it_interval = {0, 1000000}};
        timerfd_settime(tfd, 0, &its, NULL);
        uint64_t expirations;
        do {
            if (read(tfd, &expirations, sizeof expirations) < 0)
                abort();
        } while (!tick());
        close(tfd);
    } else {
        return 2;
    }
    uint64_t *jitter = calloc((size_t)n, sizeof *jitter);
    for (long i = 1; i < n; i++) {
        int64_t d = (int64_t)(tick_at[i] - tick_at[i - 1]) - 1000000;
        jitter[i - 1] = (uint64_t)(d < 0 ? -d : d);
    }
    bench_sort(jitter, (size_t)n - 1);
    bench_kv("median_ms", (double)bench_pct(jitter, (size_t)n - 1, 50) / 1e6);
    bench_kv("p99_ms", (double)bench_pct(jitter, (size_t)n - 1, 99) / 1e6);
    bench_kv_end();
    free(jitter);
    return 0;
}

int
main(int argc, char **argv)
{
    const char *usage = "oneshot ntpool|libuv|floor [N] [SPAN_MS] "
                        "[WINDOW_MS]\n       periodic "
                        "ntpool|libuv|glib|floor [TICKS]";
    if (argc < 3)
        bench_usage(argv[0], usage);
    int rc = 2;
    if (!strcmp(argv[1], "oneshot"))
        rc = oneshot(argv[2], argc > 3 ? atol(argv[3]) : 100000,
                     argc > 4 ? (unsigned)atoi(argv[4]) : 1000,
                     argc > 5 ? (unsigned)atoi(argv[5]) : 0);
    else if (!strcmp(argv[1], "periodic"))
        rc = periodic(argv[2], argc > 3 ? atol(argv[3]) : 2000);
    if (rc == 2)
        bench_usage(argv[0], usage);
    return rc;
}
