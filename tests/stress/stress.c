/*
 * stress.c -- many threads issue random sequences of pool operations for a
 * bounded time, then the ledger is checked: every post ran exactly once or
 * was reported cancelled, every completion action happened, every release
 * hook ran exactly once, no object and no thread is left behind.
 *
 *   ntpool-stress [--seconds S] [--seed N] [--threads T]
 *
 * The seed is printed first; the same seed replays the same sequence of
 * operations on each driver thread (the interleaving is the scheduler's).
 * The test command runs a short budget; a soak is just a longer one, e.g.
 * `build/ntpool-stress --seconds 600` (README, Tests).
 *
 * The operations on work, timer and wait objects, cleanup groups and the
 * pool are here; I/O objects (stress_io.c) and the original API
 * (stress_legacy.c) are parts of their own, mixed into the same drivers,
 * each with its own ledger (stress.h).
 *
 * Objects live in "bundles", each owned by one driver thread at a time
 * (taken from its slot with an atomic exchange, put back afterwards): a
 * cleanup group (or none) with work objects in it, and a timer, a wait
 * and an event outside it. Disposing a bundle releases the group's
 * members through close_members (cancelling or not) and closes the rest
 * one by one. Besides bundles, "fire and forget" objects close themselves
 * from inside their own callback.
 */
#define _GNU_SOURCE
#include "stress.h"

#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NBUNDLES 8
#define WORKS_PER_BUNDLE 4
#define MAX_DRIVERS 16

atomic_int stress_failures;

/* ---- the ledger ---- */
static atomic_uint_fast64_t posts;      /* work submits + try_submits */
static atomic_uint_fast64_t runs;       /* work + simple callbacks run */
static atomic_uint_fast64_t created;    /* objects given a release hook */
static atomic_uint_fast64_t released;   /* release hooks run */
static atomic_uint_fast64_t sem_asked;  /* release-semaphore actions */
static atomic_uint_fast64_t ff_timers_made, ff_timers_fired;
static atomic_uint_fast64_t ff_waits_made, ff_waits_fired;
static atomic_uint_fast64_t bad_wait_results, ops_done;

/* Process-wide objects the callbacks' completion actions target; they
 * outlive every callback (closed after the final drain). */
/*
 * ntp_debug_cancelled_posts counts the posts dropped by every cancelling
 * call, I/O objects' included, and the I/O part accounts for its own
 * operations. So a cancelling ntp_io_wait runs alone (exclusive) and
 * measures what it dropped; the other cancelling calls share the lock
 * and run concurrently with each other as before.
 */
static pthread_rwlock_t cancel_lock = PTHREAD_RWLOCK_INITIALIZER;
static atomic_uint_fast64_t io_dropped_posts;

void
stress_io_cancelling_wait(ntp_io *io)
{
    pthread_rwlock_wrlock(&cancel_lock);
    uint64_t before = ntp_debug_cancelled_posts();
    ntp_io_wait(io, true);
    atomic_fetch_add(&io_dropped_posts,
                     ntp_debug_cancelled_posts() - before);
    pthread_rwlock_unlock(&cancel_lock);
}

static void
work_wait(ntp_work *w, bool cancel)
{
    pthread_rwlock_rdlock(&cancel_lock);
    ntp_work_wait(w, cancel);
    pthread_rwlock_unlock(&cancel_lock);
}

static ntp_handle *action_sem;
ntp_handle *stress_signalled_event;
ntp_pool *stress_shared_pool;

void *
stress_calloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (p == NULL)
        abort();
    return p;
}

/* ---- callback contexts: allocated per object, freed by its release hook,
 * so a callback or a second release after the object's end is a
 * use-after-free that ASan reports. ---- */
#define CTX_MAGIC 0x5715e55u

typedef struct ctx {
    unsigned magic;
    unsigned expected_runs; /* fire-and-forget work: close after this many */
    atomic_uint runs;
} ctx;

static ctx *
ctx_new(void)
{
    ctx *c = stress_calloc(1, sizeof *c);
    c->magic = CTX_MAGIC;
    atomic_fetch_add(&created, 1);
    return c;
}

static void
ctx_release(void *p)
{
    ctx *c = p;
    CHECK(c->magic == CTX_MAGIC, "release of a dead or foreign context");
    c->magic = 0;
    free(c);
    atomic_fetch_add(&released, 1);
}

/* Some callbacks ask for a completion action; each is counted so the
 * final drain of the semaphore can check every one happened. */
static void
maybe_action(ntp_instance *inst, unsigned r)
{
    if (r % 4 == 0) {
        atomic_fetch_add(&sem_asked, 1);
        MUST(ntp_instance_release_semaphore_on_return(inst, action_sem, 1));
    } else if (r % 4 == 1) {
        MUST(ntp_instance_set_event_on_return(inst, stress_signalled_event));
    }
}

static void
work_cb(ntp_instance *inst, void *p, ntp_work *w)
{
    ctx *c = p;
    CHECK(c->magic == CTX_MAGIC, "work callback after release");
    unsigned n = atomic_fetch_add(&c->runs, 1) + 1;
    atomic_fetch_add(&runs, 1);
    maybe_action(inst, n);
    if (c->expected_runs && n == c->expected_runs)
        ntp_work_close(w); /* closing from inside its own callback */
}

static void
simple_cb(ntp_instance *inst, void *p)
{
    ctx *c = p;
    CHECK(c->magic == CTX_MAGIC, "simple callback after release");
    atomic_fetch_add(&runs, 1);
    maybe_action(inst, (unsigned)(uintptr_t)inst >> 4);
}

static void
timer_cb(ntp_instance *inst, void *p, ntp_timer *t)
{
    ctx *c = p;
    (void)inst, (void)t;
    CHECK(c->magic == CTX_MAGIC, "timer callback after release");
    atomic_fetch_add(&c->runs, 1);
}

static void
ff_timer_cb(ntp_instance *inst, void *p, ntp_timer *t)
{
    ctx *c = p;
    (void)inst;
    CHECK(c->magic == CTX_MAGIC, "timer callback after release");
    CHECK(atomic_fetch_add(&c->runs, 1) == 0, "one-shot timer ran twice");
    atomic_fetch_add(&ff_timers_fired, 1);
    ntp_timer_close(t);
}

static void
wait_cb(ntp_instance *inst, void *p, ntp_wait *w, uint32_t result)
{
    ctx *c = p;
    (void)inst, (void)w;
    CHECK(c->magic == CTX_MAGIC, "wait callback after release");
    if (result != NTP_WAIT_OBJECT_0 && result != NTP_WAIT_TIMEOUT)
        atomic_fetch_add(&bad_wait_results, 1);
}

static void
ff_wait_cb(ntp_instance *inst, void *p, ntp_wait *w, uint32_t result)
{
    ctx *c = p;
    (void)inst;
    CHECK(c->magic == CTX_MAGIC, "wait callback after release");
    CHECK(result == NTP_WAIT_OBJECT_0, "wait on a set event got %u", result);
    CHECK(atomic_fetch_add(&c->runs, 1) == 0, "one-shot wait ran twice");
    atomic_fetch_add(&ff_waits_fired, 1);
    ntp_wait_close(w);
}

static void
group_cancel_cb(void *object_ctx, void *cleanup_ctx)
{
    ctx *c = object_ctx;
    CHECK(c->magic == CTX_MAGIC, "cancel callback for a released object");
    CHECK(cleanup_ctx == &stress_failures, "wrong cleanup context");
}

/* ---- bundles ---- */
typedef struct bundle {
    ntp_cleanup_group *group; /* NULL: the works are closed one by one */
    ntp_env member_env;       /* pool + group (if any) */
    ntp_env plain_env;        /* pool only: for the timer and the wait */
    ntp_work *works[WORKS_PER_BUNDLE];
    ntp_timer *timer;
    ntp_wait *wait;
    ntp_handle *event; /* auto-reset, for the wait */
} bundle;

static _Atomic(bundle *) bundle_slots[NBUNDLES];

static ntp_work *
new_work(const ntp_env *env, unsigned expected_runs)
{
    ctx *c = ctx_new();
    c->expected_runs = expected_runs;
    ntp_work *w = NULL;
    MUST(ntp_work_create(&w, work_cb, c, env));
    MUST(ntp_work_set_release(w, ctx_release));
    return w;
}

static bundle *
bundle_new(rng *r)
{
    bundle *b = stress_calloc(1, sizeof *b);
    /* NULL: the default pool. */
    ntp_pool *pool = rng_below(r, 4) ? stress_shared_pool : NULL;
    ntp_env_init(&b->plain_env);
    ntp_env_set_pool(&b->plain_env, pool);
    b->member_env = b->plain_env;
    if (rng_below(r, 3)) {
        MUST(ntp_cleanup_group_create(&b->group));
        ntp_env_set_cleanup_group(&b->member_env, b->group, group_cancel_cb);
    }
    if (rng_below(r, 4) == 0)
        ntp_env_set_priority(&b->member_env, (int)rng_below(r, 3));
    for (int i = 0; i < WORKS_PER_BUNDLE; i++)
        b->works[i] = new_work(&b->member_env, 0);
    ctx *tc = ctx_new();
    MUST(ntp_timer_create(&b->timer, timer_cb, tc, &b->plain_env));
    MUST(ntp_timer_set_release(b->timer, ctx_release));
    ctx *wc = ctx_new();
    MUST(ntp_wait_create(&b->wait, wait_cb, wc, &b->plain_env));
    MUST(ntp_wait_set_release(b->wait, ctx_release));
    MUST(ntp_event_create(&b->event, false, false));
    return b;
}

static void
bundle_dispose(bundle *b, rng *r)
{
    bool cancel = rng_below(r, 2);
    if (b->group) {
        pthread_rwlock_rdlock(&cancel_lock);
        MUST(ntp_cleanup_group_close_members(b->group, cancel,
                                             &stress_failures));
        pthread_rwlock_unlock(&cancel_lock);
        ntp_cleanup_group_close(b->group);
    } else {
        for (int i = 0; i < WORKS_PER_BUNDLE; i++) {
            if (rng_below(r, 2))
                work_wait(b->works[i], cancel);
            ntp_work_close(b->works[i]);
        }
    }
    if (rng_below(r, 2))
        ntp_timer_wait(b->timer, false);
    ntp_timer_close(b->timer);
    if (rng_below(r, 2))
        ntp_wait_wait(b->wait, false);
    ntp_wait_close(b->wait);
    MUST(ntp_handle_close(b->event)); /* an armed wait keeps its reference */
    free(b);
}

/* One random operation on a bundle the caller owns. Returns false if the
 * bundle was disposed. */
static bool
bundle_op(bundle *b, rng *r)
{
    switch (rng_below(r, 16)) {
    case 0: case 1: case 2: case 3: {
        unsigned k = 1 + rng_below(r, 8);
        ntp_work *w = b->works[rng_below(r, WORKS_PER_BUNDLE)];
        for (unsigned i = 0; i < k; i++)
            ntp_work_submit(w);
        atomic_fetch_add(&posts, k);
        break;
    }
    case 4: {
        ctx *c = ctx_new();
        if (ntp_try_submit_ex(simple_cb, c, &b->member_env, ctx_release) == 0)
            atomic_fetch_add(&posts, 1);
        else
            ctx_release(c); /* refused: it is ours again */
        break;
    }
    case 5:
        work_wait(b->works[rng_below(r, WORKS_PER_BUNDLE)],
                  rng_below(r, 2));
        break;
    case 6: { /* close one work from outside and replace it */
        if (b->group)
            break; /* members go with the group */
        unsigned i = rng_below(r, WORKS_PER_BUNDLE);
        ntp_work_close(b->works[i]);
        b->works[i] = new_work(&b->member_env, 0);
        break;
    }
    case 7: case 8: {
        unsigned kind = rng_below(r, 4);
        if (kind == 0)
            ntp_timer_set(b->timer, ntp_due_none(), 0, 0);
        else if (kind == 1)
            ntp_timer_set(b->timer, ntp_due_in_ms(rng_below(r, 5)),
                          1 + rng_below(r, 3), rng_below(r, 3));
        else
            ntp_timer_set(b->timer, ntp_due_in_ms(rng_below(r, 10)), 0,
                          rng_below(r, 5));
        break;
    }
    case 9: {
        static const uint32_t timeouts[] = {0, 1, 5, NTP_INFINITE};
        ntp_wait_set(b->wait, rng_below(r, 8) ? b->event : NULL,
                     timeouts[rng_below(r, 4)]);
        break;
    }
    case 10:
        MUST(ntp_event_set(b->event));
        break;
    case 11:
        if (rng_below(r, 2))
            ntp_timer_wait(b->timer, false);
        else
            ntp_wait_wait(b->wait, false);
        break;
    case 12: {
        unsigned max = 1 + rng_below(r, 6);
        ntp_pool_set_max_threads(stress_shared_pool, max);
        /* A minimum above the maximum is refused; that is fine too. */
        (void)ntp_pool_set_min_threads(stress_shared_pool, rng_below(r, 2));
        break;
    }
    case 13:
        if (rng_below(r, 8) == 0) {
            bundle_dispose(b, r);
            return false;
        }
        break;
    default:
        break;
    }
    return true;
}

/* Objects that close themselves from inside their callback. */
static void
fire_and_forget(rng *r)
{
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, rng_below(r, 2) ? stress_shared_pool : NULL);
    switch (rng_below(r, 3)) {
    case 0: {
        unsigned k = 1 + rng_below(r, 4);
        ntp_work *w = new_work(&env, k);
        atomic_fetch_add(&posts, k);
        for (unsigned i = 0; i < k; i++)
            ntp_work_submit(w);
        break; /* w is closed by its k-th callback */
    }
    case 1: {
        ntp_timer *t = NULL;
        MUST(ntp_timer_create(&t, ff_timer_cb, ctx_new(), &env));
        MUST(ntp_timer_set_release(t, ctx_release));
        atomic_fetch_add(&ff_timers_made, 1);
        ntp_timer_set(t, ntp_due_in_ms(rng_below(r, 5)), 0,
                      rng_below(r, 3));
        break;
    }
    default: {
        ntp_wait *w = NULL;
        MUST(ntp_wait_create(&w, ff_wait_cb, ctx_new(), &env));
        MUST(ntp_wait_set_release(w, ctx_release));
        atomic_fetch_add(&ff_waits_made, 1);
        ntp_wait_set(w, stress_signalled_event, NTP_INFINITE);
        break;
    }
    }
}

typedef struct driver {
    pthread_t thread;
    rng r;
    uint64_t deadline_ns;
} driver;

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *
driver_main(void *arg)
{
    driver *d = arg;
    while (now_ns() < d->deadline_ns) {
        for (int i = 0; i < 64; i++) {
            atomic_fetch_add(&ops_done, 1);
            switch (rng_below(&d->r, 8)) {
            case 0:
                fire_and_forget(&d->r);
                continue;
            case 1:
                stress_io_op(&d->r);
                continue;
            case 2:
                stress_legacy_op(&d->r);
                continue;
            default:
                break;
            }
            unsigned s = rng_below(&d->r, NBUNDLES);
            bundle *b = atomic_exchange(&bundle_slots[s], NULL);
            if (b == NULL)
                b = bundle_new(&d->r); /* empty, or another driver has it */
            if (bundle_op(b, &d->r)) {
                bundle *expected = NULL;
                if (!atomic_compare_exchange_strong(&bundle_slots[s],
                                                    &expected, b))
                    bundle_dispose(b, &d->r); /* the slot was refilled */
            }
        }
    }
    return NULL;
}

static int
count_threads(void)
{
    DIR *dir = opendir("/proc/self/task");
    if (dir == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(dir);
    return n;
}

static bool
settle(bool (*done)(void), unsigned ms)
{
    for (unsigned waited = 0; !done(); waited += 5) {
        if (waited >= ms)
            return false;
        usleep(5000);
    }
    return true;
}

static int
count_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    if (dir == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(dir);
    return n - 1; /* the directory's own fd */
}

/* Only the two process-wide handles (action_sem, stress_signalled_event)
 * are left, and every callback the parts expect has run. */
static bool
only_shared_handles_alive(void)
{
    return ntp_debug_live_objects() == 2 && stress_io_settled()
           && stress_legacy_settled();
}

static int thread_baseline;

static bool
threads_back(void)
{
    /* Besides the threads we started with: the reactor, the starvation
     * monitor and the default pool's persistent thread (asked for by the
     * WT_EXECUTEINPERSISTENTTHREAD items), process-wide and permanent once
     * started. The kernel's io_uring workers are threads of the process
     * too, and leave after a few idle seconds. */
    return count_threads() <= thread_baseline + 3;
}

static void *
warmup_main(void *arg)
{
    return arg;
}

int
main(int argc, char **argv)
{
    double seconds = 2.0;
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    int nthreads = 4;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = strtod(argv[++i], NULL);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            nthreads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--seconds S] [--seed N] "
                            "[--threads T]\n", argv[0]);
            return 2;
        }
    }
    if (nthreads < 1 || nthreads > MAX_DRIVERS)
        nthreads = 4;
    printf("stress: seed %" PRIu64 ", %d driver threads, %.1f s "
           "(replay with --seed %" PRIu64 ")\n",
           seed, nthreads, seconds, seed);
    fflush(stdout);

    /* Sanitizer runtimes start a helper thread of their own at the first
     * pthread_create: have that happen before the baseline is taken. */
    pthread_t warmup;
    if (pthread_create(&warmup, NULL, warmup_main, NULL) == 0)
        pthread_join(warmup, NULL);
    thread_baseline = count_threads();
    int fd_baseline = count_fds();
    MUST(ntp_pool_create(&stress_shared_pool));
    ntp_pool_set_max_threads(stress_shared_pool, 4);
    MUST(ntp_pool_set_idle_timeout(ntp_pool_default(), 20));
    MUST(ntp_semaphore_create(&action_sem, 0, INT32_MAX));
    MUST(ntp_event_create(&stress_signalled_event, true, true));

    driver drivers[MAX_DRIVERS];
    uint64_t deadline = now_ns() + (uint64_t)(seconds * 1e9);
    for (int i = 0; i < nthreads; i++) {
        drivers[i].r.s = (seed + 0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1))
                         | 1u;
        drivers[i].deadline_ns = deadline;
        if (pthread_create(&drivers[i].thread, NULL, driver_main,
                           &drivers[i]) != 0) {
            fprintf(stderr, "stress: cannot start driver threads\n");
            return 2;
        }
    }
    for (int i = 0; i < nthreads; i++)
        pthread_join(drivers[i].thread, NULL);

    /* Tear down what is left, then let every callback finish. */
    rng r = {seed | 1u};
    for (int s = 0; s < NBUNDLES; s++) {
        bundle *b = atomic_exchange(&bundle_slots[s], NULL);
        if (b)
            bundle_dispose(b, &r);
    }
    stress_io_drain(&r);
    stress_legacy_drain();
    ntp_pool_close(stress_shared_pool);
    bool settled = settle(only_shared_handles_alive, 30000u);
    CHECK(settled, "%ld objects still alive", ntp_debug_live_objects() - 2);

    uint64_t cancelled = ntp_debug_cancelled_posts() - io_dropped_posts;
    CHECK(posts == runs + cancelled,
          "posts %" PRIu64 " != runs %" PRIu64 " + cancelled %" PRIu64,
          (uint64_t)posts, (uint64_t)runs, cancelled);
    CHECK(created == released, "created %" PRIu64 ", released %" PRIu64,
          (uint64_t)created, (uint64_t)released);
    CHECK(ff_timers_made == ff_timers_fired,
          "one-shot timers made %" PRIu64 ", fired %" PRIu64,
          (uint64_t)ff_timers_made, (uint64_t)ff_timers_fired);
    CHECK(ff_waits_made == ff_waits_fired,
          "waits made %" PRIu64 ", fired %" PRIu64, (uint64_t)ff_waits_made,
          (uint64_t)ff_waits_fired);
    CHECK(bad_wait_results == 0, "%" PRIu64 " unexpected wait results",
          (uint64_t)bad_wait_results);
    stress_io_check();
    stress_legacy_check();

    /* Every release-semaphore action released exactly once. */
    uint64_t drained = 0;
    while (ntp_wait_for_single(action_sem, 0, false) == NTP_WAIT_OBJECT_0)
        drained++;
    CHECK(drained == sem_asked, "semaphore released %" PRIu64
          " times, asked %" PRIu64, drained, (uint64_t)sem_asked);
    MUST(ntp_handle_close(action_sem));
    MUST(ntp_handle_close(stress_signalled_event));
    CHECK(ntp_debug_live_objects() == 0, "handles left");

    /* Idle workers of the default pool retire after 20 ms; the private
     * pool's left when it closed. */
    bool back = settle(threads_back, 30000u);
    CHECK(back, "%d threads, started with %d", count_threads(),
          thread_baseline);
    /* The reactor's epoll set, wake-up eventfd and clock-change timerfd,
     * the io_uring ring and its eventfd, made on first use, stay: 5. */
    CHECK(count_fds() <= fd_baseline + 5, "%d fds open, started with %d",
          count_fds(), fd_baseline);

    printf("stress: %" PRIu64 " operations, %" PRIu64 " posts: %" PRIu64
           " ran, %" PRIu64 " cancelled; %" PRIu64 " objects released; "
           "%" PRIu64 " completion releases; %" PRIu64 " self-closing "
           "timers, %" PRIu64 " self-closing waits\n",
           (uint64_t)ops_done, (uint64_t)posts, (uint64_t)runs, cancelled,
           (uint64_t)released, drained, (uint64_t)ff_timers_fired,
           (uint64_t)ff_waits_fired);
    stress_io_report();
    stress_legacy_report();
    if (stress_failures) {
        printf("stress: FAILED (%d checks); replay with --seed %" PRIu64
               "\n", (int)stress_failures, seed);
        return 1;
    }
    printf("stress: ledger balanced\n");
    return 0;
}
