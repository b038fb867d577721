/*
 * bench.c -- one benchmark case per run, for bench/run.py to repeat and
 * compare side by side.
 *
 *   ntpool-bench throughput <impl> [N]   N trivial callbacks (an atomic
 *                                        increment) posted from one thread,
 *                                        until all have run: seconds
 *   ntpool-bench latency <impl> [N]      submit on an idle pool to the first
 *                                        instruction of the callback, N
 *                                        samples: median and p99 in us
 *   ntpool-bench floor <what> [N]        what the hardware allows: a
 *                                        condvar ping-pong between two
 *                                        threads (one-way us), an
 *                                        uncontended queue push+pop (ns)
 *
 * impl: ntpool-work (one work object posted N times), ntpool-try (one
 * TrySubmitThreadpoolCallback per callback), glib (GThreadPool), libuv
 * (uv_queue_work from the loop thread), plain (a mutex+condvar pool written
 * here, signalling after unlocking). Every pool gets as many threads as
 * there are CPUs. Output: one line, numbers only, for the runner.
 */
#define _GNU_SOURCE
#include <ntpool.h>

#include <glib.h>
#include <uv.h>

#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static unsigned
ncpu(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        return (unsigned)CPU_COUNT(&set);
    return 2;
}

/* ---- the callback every implementation runs ---- */

static atomic_long counter;
static long target;
static sem_t all_done;
/* Latency: when the callback started. */
static _Atomic uint64_t t_start;

static inline void
trivial(void)
{
    if (atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed) + 1 ==
        target)
        sem_post(&all_done);
}

static inline void
stamp(void)
{
    atomic_store(&t_start, now_ns());
    sem_post(&all_done);
}

/* ---- a plain mutex+condvar pool, the baseline a programmer writes ---- */

typedef struct plain_pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    void (**fns)(void);
    size_t head, tail, cap;
    bool quit;
    unsigned idle;
    pthread_t threads[64];
    unsigned nthreads;
} plain_pool;

static void *
plain_worker(void *arg)
{
    plain_pool *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (p->head == p->tail && !p->quit) {
            p->idle++;
            pthread_cond_wait(&p->cond, &p->lock);
            p->idle--;
        }
        if (p->head == p->tail)
            break;
        void (*fn)(void) = p->fns[p->head++ % p->cap];
        pthread_mutex_unlock(&p->lock);
        fn();
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void
plain_start(plain_pool *p, unsigned n, size_t cap)
{
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->cap = cap;
    p->fns = calloc(cap, sizeof *p->fns);
    p->nthreads = n > 64 ? 64 : n;
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_create(&p->threads[i], NULL, plain_worker, p);
}

static void
plain_post(plain_pool *p, void (*fn)(void))
{
    pthread_mutex_lock(&p->lock);
    p->fns[p->tail++ % p->cap] = fn;
    bool wake = p->idle > 0;
    pthread_mutex_unlock(&p->lock);
    if (wake)
        pthread_cond_signal(&p->cond); /* after unlocking: DESIGN 7 */
}

static void
plain_stop(plain_pool *p)
{
    pthread_mutex_lock(&p->lock);
    p->quit = true;
    pthread_mutex_unlock(&p->lock);
    pthread_cond_broadcast(&p->cond);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    free(p->fns);
}

/* ---- adapters: each runs `count` posts of fn and waits ---- */

static void
ntp_work_trivial(ntp_instance *i, void *c, ntp_work *w)
{
    (void)i, (void)c, (void)w;
    trivial();
}
static void
ntp_work_stamp(ntp_instance *i, void *c, ntp_work *w)
{
    (void)i, (void)c, (void)w;
    stamp();
}
static void
ntp_simple_trivial(ntp_instance *i, void *c)
{
    (void)i, (void)c;
    trivial();
}
static void
ntp_simple_stamp(ntp_instance *i, void *c)
{
    (void)i, (void)c;
    stamp();
}
static void
glib_trivial(gpointer data, gpointer user)
{
    (void)data, (void)user;
    trivial();
}
static void
glib_stamp(gpointer data, gpointer user)
{
    (void)data, (void)user;
    stamp();
}
static void
uv_trivial(uv_work_t *req)
{
    (void)req;
    trivial();
}
static void
uv_stamp(uv_work_t *req)
{
    (void)req;
    stamp();
}
static void
uv_after(uv_work_t *req, int status)
{
    (void)req, (void)status;
}

typedef struct impl {
    const char *name;
    void (*setup)(bool latency);
    void (*post)(void);
    void (*teardown)(void);
} impl;

static bool latency_mode;

/* ntpool, one work object */
static ntp_pool *np;
static ntp_work *nw;
static ntp_env nenv;
static void
ntpw_setup(bool lat)
{
    ntp_pool_create(&np);
    ntp_pool_set_max_threads(np, ncpu());
    ntp_env_init(&nenv);
    ntp_env_set_pool(&nenv, np);
    ntp_work_create(&nw, lat ? ntp_work_stamp : ntp_work_trivial, NULL,
                    &nenv);
}
static void
ntpw_post(void)
{
    ntp_work_submit(nw);
}
static void
ntpw_teardown(void)
{
    ntp_work_wait(nw, false);
    ntp_work_close(nw);
    ntp_pool_close(np);
}

/* ntpool, TrySubmitThreadpoolCallback */
static void
ntpt_setup(bool lat)
{
    (void)lat;
    ntp_pool_create(&np);
    ntp_pool_set_max_threads(np, ncpu());
    ntp_env_init(&nenv);
    ntp_env_set_pool(&nenv, np);
}
static void
ntpt_post(void)
{
    if (ntp_try_submit(latency_mode ? ntp_simple_stamp : ntp_simple_trivial,
                       NULL, &nenv) != 0)
        abort();
}
static void
ntpt_teardown(void)
{
    ntp_pool_close(np);
}

/* GLib */
static GThreadPool *gp;
static void
glib_setup(bool lat)
{
    gp = g_thread_pool_new(lat ? glib_stamp : glib_trivial, NULL,
                           (gint)ncpu(), FALSE, NULL);
}
static void
glib_post(void)
{
    g_thread_pool_push(gp, GINT_TO_POINTER(1), NULL);
}
static void
glib_teardown(void)
{
    g_thread_pool_free(gp, FALSE, TRUE);
}

/* plain */
static plain_pool pp;
static void
plain_setup(bool lat)
{
    (void)lat;
    plain_start(&pp, ncpu(), 1u << 21);
}
static void
plain_post_one(void)
{
    plain_post(&pp, latency_mode ? stamp : trivial);
}
static void
plain_teardown(void)
{
    plain_stop(&pp);
}

static const impl impls[] = {
    {"ntpool-work", ntpw_setup, ntpw_post, ntpw_teardown},
    {"ntpool-try", ntpt_setup, ntpt_post, ntpt_teardown},
    {"glib", glib_setup, glib_post, glib_teardown},
    {"plain", plain_setup, plain_post_one, plain_teardown},
};

/* libuv: requests must be queued from the loop's thread, and the loop
 * runs the after-work callbacks; both are part of what a libuv user
 * pays, so they are inside the measurement. */
static double
libuv_throughput(long n)
{
    char threads[16];
    snprintf(threads, sizeof threads, "%u", ncpu());
    setenv("UV_THREADPOOL_SIZE", threads, 1);
    uv_loop_t *loop = uv_default_loop();
    uv_work_t *reqs = calloc((size_t)n, sizeof *reqs);
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++)
        uv_queue_work(loop, &reqs[i], uv_trivial, uv_after);
    uv_run(loop, UV_RUN_DEFAULT);
    sem_wait(&all_done);
    double s = (double)(now_ns() - t0) / 1e9;
    free(reqs);
    return s;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void
report_latency(uint64_t *lat, long n)
{
    qsort(lat, (size_t)n, sizeof *lat, cmp_u64);
    printf("%.2f %.2f\n", (double)lat[n / 2] / 1000.0,
           (double)lat[(n * 99) / 100] / 1000.0);
}

static void
idle_gap(void)
{
    /* Long enough for every worker to be parked again. */
    struct timespec ts = {0, 300 * 1000};
    nanosleep(&ts, NULL);
}

static int
libuv_latency(long n)
{
    char threads[16];
    snprintf(threads, sizeof threads, "%u", ncpu());
    setenv("UV_THREADPOOL_SIZE", threads, 1);
    uv_loop_t *loop = uv_default_loop();
    uint64_t *lat = calloc((size_t)n, sizeof *lat);
    uv_work_t req;
    for (long i = 0; i < n; i++) {
        idle_gap();
        uint64_t t0 = now_ns();
        uv_queue_work(loop, &req, uv_stamp, uv_after);
        sem_wait(&all_done);
        lat[i] = atomic_load(&t_start) - t0;
        uv_run(loop, UV_RUN_DEFAULT); /* reap it */
    }
    report_latency(lat, n);
    free(lat);
    return 0;
}

/* ---- the floor ---- */

static pthread_mutex_t pp_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pp_cond = PTHREAD_COND_INITIALIZER;
static long pp_turn, pp_rounds;

static void *
pingpong_peer(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&pp_lock);
    for (long i = 0; i < pp_rounds; i++) {
        while (pp_turn % 2 == 0)
            pthread_cond_wait(&pp_cond, &pp_lock);
        pp_turn++;
        pthread_cond_signal(&pp_cond);
    }
    pthread_mutex_unlock(&pp_lock);
    return NULL;
}

static int
floor_case(const char *what, long n)
{
    if (!strcmp(what, "pingpong")) {
        pp_rounds = n;
        pthread_t peer;
        pthread_create(&peer, NULL, pingpong_peer, NULL);
        uint64_t t0 = now_ns();
        pthread_mutex_lock(&pp_lock);
        for (long i = 0; i < n; i++) {
            pp_turn++;
            pthread_cond_signal(&pp_cond);
            while (pp_turn % 2 == 1)
                pthread_cond_wait(&pp_cond, &pp_lock);
        }
        pthread_mutex_unlock(&pp_lock);
        uint64_t dt = now_ns() - t0;
        pthread_join(peer, NULL);
        printf("%.3f\n", (double)dt / (double)n / 2.0 / 1000.0);
        return 0;
    }
    if (!strcmp(what, "queue")) {
        /* An uncontended mutex-protected ring: push, then pop. */
        plain_pool q;
        memset(&q, 0, sizeof q);
        pthread_mutex_init(&q.lock, NULL);
        q.cap = 1024;
        q.fns = calloc(q.cap, sizeof *q.fns);
        volatile uintptr_t sink = 0;
        uint64_t t0 = now_ns();
        for (long i = 0; i < n; i++) {
            pthread_mutex_lock(&q.lock);
            q.fns[q.tail++ % q.cap] = trivial;
            pthread_mutex_unlock(&q.lock);
            pthread_mutex_lock(&q.lock);
            sink += (uintptr_t)q.fns[q.head++ % q.cap];
            pthread_mutex_unlock(&q.lock);
        }
        uint64_t dt = now_ns() - t0;
        free(q.fns);
        (void)sink;
        printf("%.2f\n", (double)dt / (double)n);
        return 0;
    }
    fprintf(stderr, "unknown floor case %s\n", what);
    return 2;
}

int
main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s throughput|latency|floor CASE [N]\n",
                argv[0]);
        return 2;
    }
    const char *mode = argv[1], *which = argv[2];
    sem_init(&all_done, 0, 0);
    if (!strcmp(mode, "floor"))
        return floor_case(which, argc > 3 ? atol(argv[3]) : 1000000);

    latency_mode = !strcmp(mode, "latency");
    long n = argc > 3 ? atol(argv[3]) : (latency_mode ? 10000 : 1000000);
    target = n;
    if (!strcmp(which, "libuv"))
        return latency_mode ? libuv_latency(n)
                            : (printf("%.4f\n", libuv_throughput(n)), 0);

    const impl *im = NULL;
    for (size_t i = 0; i < sizeof impls / sizeof impls[0]; i++)
        if (!strcmp(impls[i].name, which))
            im = &impls[i];
    if (im == NULL) {
        fprintf(stderr, "unknown implementation %s\n", which);
        return 2;
    }
    im->setup(latency_mode);
    if (latency_mode) {
        uint64_t *lat = calloc((size_t)n, sizeof *lat);
        /* Warm up: let the pool create its threads first. */
        for (int i = 0; i < 100; i++) {
            im->post();
            sem_wait(&all_done);
        }
        for (long i = 0; i < n; i++) {
            idle_gap();
            uint64_t t0 = now_ns();
            im->post();
            sem_wait(&all_done);
            lat[i] = atomic_load(&t_start) - t0;
        }
        im->teardown();
        report_latency(lat, n);
        free(lat);
        return 0;
    }
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++)
        im->post();
    sem_wait(&all_done);
    double s = (double)(now_ns() - t0) / 1e9;
    im->teardown();
    if (atomic_load(&counter) != n) {
        fprintf(stderr, "%s ran %ld of %ld callbacks\n", which,
                atomic_load(&counter), n);
        return 1;
    }
    printf("%.4f\n", s);
    return 0;
}
