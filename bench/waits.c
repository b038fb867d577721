/*
 * waits.c -- waits at scale: N waits, each on its own event, all armed;
 * then one thread signals every event, and the clock stops when every
 * callback has run.
 *
 *   ntpool-bench-waits IMPL [N]
 *
 * IMPL: ntpool (ntp_wait on an auto-reset ntpool event each, callbacks on
 * a pool of as many workers as CPUs), libuv (uv_poll_t on an eventfd each,
 * callbacks on the loop thread, which starts once every event is
 * signalled: libuv's loop cannot be signalled into from outside while it
 * runs without an async handle per wake-up), glib (g_unix_fd_add on an
 * eventfd each, the same way on GLib's main loop), floor (an eventfd each in
 * one epoll set, one thread taking the events in batches and running the
 * callbacks, signalled from the main thread: what the kernel allows).
 * Prints seconds, ns_per_wait, threads (the process's threads besides
 * the main one while the callbacks run) and n_measured: the fd-based
 * implementations need a descriptor per wait, and where the process may
 * not open N of them they are measured at the largest round N it may.
 */
#include "common.h"

#include <ntpool.h>

#include <glib-unix.h>
#include <glib.h>
#include <uv.h>

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

static long n_waits;
static atomic_long done;
static sem_t all_done;
static atomic_uint threads_seen; /* the thread count, read by a callback */

static void
one_done(void)
{
    long k = atomic_fetch_add(&done, 1) + 1;
    if (k == n_waits / 2)
        atomic_store(&threads_seen, bench_thread_count() - 1);
    if (k == n_waits)
        sem_post(&all_done);
}

/* Raise the soft limit of open files as far as allowed, and return how
 * many waits of one descriptor each fit: n, or fewer (a round thousand)
 * when the hard limit is lower. */
static long
waits_that_fit(long n)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    long room = (long)rl.rlim_cur - 64;
    if (room >= n)
        return n;
    return room >= 1000 ? room / 1000 * 1000 : room;
}

/* ---- ntpool ---- */

static void
on_ntp_wait(ntp_instance *inst, void *ctx, ntp_wait *w, uint32_t result)
{
    (void)inst, (void)ctx, (void)w, (void)result;
    one_done();
}

static uint64_t
waits_ntpool(void)
{
    ntp_pool *pool;
    ntp_env env;
    ntp_pool_create(&pool);
    ntp_pool_set_max_threads(pool, bench_ncpu());
    ntp_pool_set_min_threads(pool, bench_ncpu()); /* started up front */
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);
    ntp_handle **events = calloc((size_t)n_waits, sizeof *events);
    ntp_wait **waits = calloc((size_t)n_waits, sizeof *waits);
    for (long i = 0; i < n_waits; i++) {
        if (ntp_event_create(&events[i], false, false) != 0
            || ntp_wait_create(&waits[i], on_ntp_wait, NULL, &env) != 0)
            abort();
        ntp_wait_set(waits[i], events[i], NTP_INFINITE);
    }
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n_waits; i++)
        ntp_event_set(events[i]);
    sem_wait(&all_done);
    uint64_t dt = bench_now_ns() - t0;
    for (long i = 0; i < n_waits; i++) {
        ntp_wait_wait(waits[i], false);
        ntp_wait_close(waits[i]);
        ntp_handle_close(events[i]);
    }
    ntp_pool_close(pool);
    free(waits);
    free(events);
    return dt;
}

/* ---- libuv ---- */

static void
on_uv_poll(uv_poll_t *h, int status, int events)
{
    (void)status, (void)events;
    uint64_t v;
    if (read((int)(intptr_t)h->data, &v, sizeof v) != sizeof v)
        abort();
    uv_poll_stop(h);
    one_done();
}

static uint64_t
waits_libuv(void)
{
    uv_loop_t *loop = uv_default_loop();
    uv_poll_t *polls = calloc((size_t)n_waits, sizeof *polls);
    int *fds = calloc((size_t)n_waits, sizeof *fds);
    for (long i = 0; i < n_waits; i++) {
        fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        uv_poll_init(loop, &polls[i], fds[i]);
        polls[i].data = (void *)(intptr_t)fds[i];
        uv_poll_start(&polls[i], UV_READABLE, on_uv_poll);
    }
    uint64_t one = 1;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n_waits; i++)
        if (write(fds[i], &one, sizeof one) != sizeof one)
            abort();
    uv_run(loop, UV_RUN_DEFAULT);
    sem_wait(&all_done);
    uint64_t dt = bench_now_ns() - t0;
    for (long i = 0; i < n_waits; i++)
        uv_close((uv_handle_t *)&polls[i], NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    for (long i = 0; i < n_waits; i++)
        close(fds[i]);
    free(polls);
    free(fds);
    return dt;
}

/* ---- GLib ---- */

static gboolean
on_glib_fd(gint fd, GIOCondition condition, gpointer data)
{
    (void)condition, (void)data;
    uint64_t v;
    if (read(fd, &v, sizeof v) != sizeof v)
        abort();
    one_done();
    return G_SOURCE_REMOVE;
}

static uint64_t
waits_glib(void)
{
    int *fds = calloc((size_t)n_waits, sizeof *fds);
    for (long i = 0; i < n_waits; i++) {
        fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        g_unix_fd_add(fds[i], G_IO_IN, on_glib_fd, NULL);
    }
    uint64_t one = 1;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n_waits; i++)
        if (write(fds[i], &one, sizeof one) != sizeof one)
            abort();
    while (atomic_load(&done) < n_waits)
        g_main_context_iteration(NULL, TRUE);
    uint64_t dt = bench_now_ns() - t0;
    for (long i = 0; i < n_waits; i++)
        close(fds[i]);
    free(fds);
    return dt;
}

/* ---- the floor: eventfd + epoll, one thread ---- */

static int floor_epfd;
static int *floor_fds;

static void *
floor_loop(void *arg)
{
    (void)arg;
    struct epoll_event events[1024];
    while (atomic_load(&done) < n_waits) {
        int n = epoll_wait(floor_epfd, events, 1024, -1);
        for (int k = 0; k < n; k++) {
            uint64_t v;
            if (read(floor_fds[events[k].data.u64], &v, sizeof v) != sizeof v)
                abort();
            one_done();
        }
    }
    return NULL;
}

static uint64_t
waits_floor(void)
{
    floor_epfd = epoll_create1(EPOLL_CLOEXEC);
    floor_fds = calloc((size_t)n_waits, sizeof *floor_fds);
    for (long i = 0; i < n_waits; i++) {
        floor_fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        /* One-shot, as a wait is: the callback would re-arm it. */
        struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT,
                                 .data.u64 = (uint64_t)i};
        epoll_ctl(floor_epfd, EPOLL_CTL_ADD, floor_fds[i], &ev);
    }
    pthread_t t;
    pthread_create(&t, NULL, floor_loop, NULL);
    uint64_t one = 1;
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n_waits; i++)
        if (write(floor_fds[i], &one, sizeof one) != sizeof one)
            abort();
    sem_wait(&all_done);
    uint64_t dt = bench_now_ns() - t0;
    pthread_join(t, NULL);
    for (long i = 0; i < n_waits; i++)
        close(floor_fds[i]);
    close(floor_epfd);
    free(floor_fds);
    return dt;
}

int
main(int argc, char **argv)
{
    const char *usage = "ntpool|libuv|glib|floor [N]";
    if (argc < 2)
        bench_usage(argv[0], usage);
    n_waits = argc > 2 ? atol(argv[2]) : 1000;
    sem_init(&all_done, 0, 0);
    const char *impl = argv[1];
    uint64_t dt;
    if (!strcmp(impl, "ntpool")) {
        dt = waits_ntpool();
    } else if (!strcmp(impl, "libuv") || !strcmp(impl, "glib")
               || !strcmp(impl, "floor")) {
        n_waits = waits_that_fit(n_waits);
        if (n_waits < 1)
            return 1;
        dt = impl[0] == 'l'   ? waits_libuv()
             : impl[0] == 'g' ? waits_glib()
                              : waits_floor();
    } else {
        bench_usage(argv[0], usage);
        return 2;
    }
    bench_kv("seconds", (double)dt / 1e9);
    bench_kv("ns_per_wait", (double)dt / (double)n_waits);
    bench_kv("threads", (double)atomic_load(&threads_seen));
    bench_kv("n_measured", (double)n_waits);
    bench_kv_end();
    return 0;
}
