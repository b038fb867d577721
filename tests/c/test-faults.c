/*
 * test-faults.c -- fault injection: allocation failure walked over every
 * allocation of each fallible call, and worker threads that cannot start.
 *
 * Each fallible call must return NTP_ENOMEM, leave nothing half-built (no
 * live object, no allocation outstanding) and work once allocation works
 * again. The calls that cannot fail (submit, set a timer, set a wait, the
 * close and wait-for-callbacks calls) must be unaffected while every
 * allocation fails. The allocator hook is installed before anything else so
 * every allocation ntpool makes in the test's process is counted.
 */
#include "task.h"
#include "internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#define NEVER (-1L)
#define FAIL_ALL (-2L)

static atomic_long alloc_calls;       /* allocations since the last reset */
static atomic_long fail_at = NEVER;   /* which one fails, NEVER or FAIL_ALL */
static atomic_long outstanding;       /* allocated and not yet freed */
static atomic_long injected;          /* failures handed out */

static void *
faulty_malloc(size_t size, void *data)
{
    (void)data;
    long k = atomic_fetch_add(&alloc_calls, 1);
    long f = atomic_load(&fail_at);
    if (f == FAIL_ALL || k == f) {
        atomic_fetch_add(&injected, 1);
        return NULL;
    }
    void *p = malloc(size);
    if (p)
        atomic_fetch_add(&outstanding, 1);
    return p;
}

static void
faulty_free(void *p, void *data)
{
    (void)data;
    atomic_fetch_sub(&outstanding, 1);
    free(p);
}

static void
install(void)
{
    ntp_set_allocator(faulty_malloc, faulty_free, NULL);
}

static void
fail_nth(long n)
{
    atomic_store(&alloc_calls, 0);
    atomic_store(&fail_at, n);
}

/* Everything freed again: objects are freed asynchronously by workers, so
 * wait for the counts to come back to their baselines. */
static void
expect_back_to(long live_baseline, long alloc_baseline)
{
    TEST_WAIT_UNTIL(ntp_debug_live_objects() == live_baseline, 5000);
    TEST_WAIT_UNTIL(atomic_load(&outstanding) == alloc_baseline, 5000);
}

/*
 * Walk the failure over allocation 0, 1, 2, ... of `attempt` until it
 * succeeds. `attempt` returns its status and, on success, undoes itself.
 * Returns how many allocations the call makes.
 */
static long
walk(const char *what, ntp_status (*attempt)(void))
{
    long live = ntp_debug_live_objects();
    long baseline = atomic_load(&outstanding);
    for (long n = 0;; n++) {
        ASSERT_LT(n, 64); /* no call makes that many allocations */
        fail_nth(n);
        ntp_status st = attempt();
        long made = atomic_load(&alloc_calls);
        atomic_store(&fail_at, NEVER);
        if (st == 0) {
            expect_back_to(live, baseline);
            printf("  %s: %ld allocation(s), each failure handled\n", what,
                   n);
            return n;
        }
        ASSERT_STATUS(st, NTP_ENOMEM);
        ASSERT_GE(made, n + 1); /* it did reach the failing allocation */
        expect_back_to(live, baseline);
    }
}

/* ---- the fallible calls ---- */

static void
noop_work(ntp_instance *i, void *c, ntp_work *w)
{
    (void)i, (void)c, (void)w;
}
static void
noop_simple(ntp_instance *i, void *c)
{
    (void)i, (void)c;
}
static void
noop_timer(ntp_instance *i, void *c, ntp_timer *t)
{
    (void)i, (void)c, (void)t;
}
static void
noop_wait(ntp_instance *i, void *c, ntp_wait *w, uint32_t r)
{
    (void)i, (void)c, (void)w, (void)r;
}

static ntp_status
try_pool(void)
{
    ntp_pool *p = NULL;
    ntp_status st = ntp_pool_create(&p);
    if (st == 0)
        ntp_pool_close(p);
    else
        ASSERT_NULL(p);
    return st;
}

static ntp_status
try_group(void)
{
    ntp_cleanup_group *g = NULL;
    ntp_status st = ntp_cleanup_group_create(&g);
    if (st == 0)
        ntp_cleanup_group_close(g);
    return st;
}

/* A work object in a private pool and a cleanup group: the environment
 * makes creation join the group too. */
static ntp_pool *env_pool;
static ntp_cleanup_group *env_group;

static ntp_env
member_env(void)
{
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, env_pool);
    ntp_env_set_cleanup_group(&env, env_group, NULL);
    return env;
}

static ntp_status
try_work(void)
{
    ntp_env env = member_env();
    ntp_work *w = NULL;
    ntp_status st = ntp_work_create(&w, noop_work, NULL, &env);
    if (st == 0)
        ntp_work_close(w);
    return st;
}

static ntp_status
try_simple(void)
{
    ntp_env env = member_env();
    ntp_status st = ntp_try_submit(noop_simple, NULL, &env);
    if (st == 0)
        ntp_cleanup_group_close_members(env_group, false, NULL);
    return st;
}

static ntp_status
try_timer(void)
{
    ntp_env env = member_env();
    ntp_timer *t = NULL;
    ntp_status st = ntp_timer_create(&t, noop_timer, NULL, &env);
    if (st == 0)
        ntp_timer_close(t);
    return st;
}

static ntp_status
try_wait(void)
{
    ntp_env env = member_env();
    ntp_wait *w = NULL;
    ntp_status st = ntp_wait_create(&w, noop_wait, NULL, &env);
    if (st == 0)
        ntp_wait_close(w);
    return st;
}

/* Takes the handle by address: it is read after the constructor ran. */
static ntp_status
close_if_ok(ntp_status st, ntp_handle **h)
{
    if (st == 0)
        ASSERT_OK(ntp_handle_close(*h));
    return st;
}

static ntp_status
try_event(void)
{
    ntp_handle *h = NULL;
    return close_if_ok(ntp_event_create(&h, true, false), &h);
}
static ntp_status
try_semaphore(void)
{
    ntp_handle *h = NULL;
    return close_if_ok(ntp_semaphore_create(&h, 0, 5), &h);
}
static ntp_status
try_mutex(void)
{
    ntp_handle *h = NULL;
    return close_if_ok(ntp_mutex_create(&h, false), &h);
}
static ntp_status
try_waitable_timer(void)
{
    ntp_handle *h = NULL;
    return close_if_ok(ntp_waitable_timer_create(&h, true), &h);
}
static int fd_for_handle = -1;
static ntp_status
try_fd_handle(void)
{
    ntp_handle *h = NULL;
    return close_if_ok(ntp_fd_handle_create(&h, fd_for_handle), &h);
}

TEST_IMPL(faults_every_allocation_of_every_constructor)
{
    install();
    ASSERT_GE(walk("ntp_pool_create", try_pool), 1);
    ASSERT_GE(walk("ntp_cleanup_group_create", try_group), 1);

    ASSERT_OK(ntp_pool_create(&env_pool));
    ASSERT_OK(ntp_cleanup_group_create(&env_group));
    ASSERT_GE(walk("ntp_work_create", try_work), 1);
    ASSERT_GE(walk("ntp_try_submit", try_simple), 1);
    ASSERT_GE(walk("ntp_timer_create", try_timer), 1);
    ASSERT_GE(walk("ntp_wait_create", try_wait), 1);
    ntp_cleanup_group_close(env_group);
    ntp_pool_close(env_pool);
    /* The pool is freed when its last worker has left: let that happen
     * before the next walks take their baselines. */
    TEST_WAIT_UNTIL(ntp_debug_live_objects() == 0, 5000);

    ASSERT_GE(walk("ntp_event_create", try_event), 1);
    ASSERT_GE(walk("ntp_semaphore_create", try_semaphore), 1);
    ASSERT_GE(walk("ntp_mutex_create", try_mutex), 1);
    ASSERT_GE(walk("ntp_waitable_timer_create", try_waitable_timer), 1);
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    fd_for_handle = fds[0];
    ASSERT_GE(walk("ntp_fd_handle_create", try_fd_handle), 1);
    close(fds[0]);
    close(fds[1]);
    ASSERT_NO_LIVE_OBJECTS();
}

/* ---- the calls that cannot fail, while every allocation fails ---- */

static atomic_int work_runs, timer_runs, wait_runs;
static atomic_uint wait_result = 99;

static void
count_work(ntp_instance *i, void *c, ntp_work *w)
{
    (void)i, (void)c, (void)w;
    atomic_fetch_add(&work_runs, 1);
}
static void
count_timer(ntp_instance *i, void *c, ntp_timer *t)
{
    (void)i, (void)c, (void)t;
    atomic_fetch_add(&timer_runs, 1);
}
static void
count_wait(ntp_instance *i, void *c, ntp_wait *w, uint32_t r)
{
    (void)i, (void)c, (void)w;
    atomic_store(&wait_result, r);
    atomic_fetch_add(&wait_runs, 1);
}

TEST_IMPL(faults_submit_set_and_close_never_allocate)
{
    install();
    ntp_pool *pool = NULL;
    ASSERT_OK(ntp_pool_create(&pool));
    ntp_pool_set_max_threads(pool, 4);
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);
    ntp_work *work = NULL;
    ntp_timer *timer = NULL;
    ntp_wait *wait = NULL;
    ntp_handle *ev = NULL;
    ASSERT_OK(ntp_work_create(&work, count_work, NULL, &env));
    ASSERT_OK(ntp_timer_create(&timer, count_timer, NULL, &env));
    ASSERT_OK(ntp_wait_create(&wait, count_wait, NULL, &env));
    ASSERT_OK(ntp_event_create(&ev, false, false));

    fail_nth(FAIL_ALL);
    for (int i = 0; i < 1000; i++)
        ntp_work_submit(work);
    ntp_timer_set(timer, ntp_due_in_ms(1), 0, 0);
    ntp_wait_set(wait, ev, NTP_INFINITE);
    ASSERT_OK(ntp_event_set(ev));
    ntp_work_wait(work, false);
    TEST_WAIT_UNTIL(atomic_load(&timer_runs) == 1, 5000);
    TEST_WAIT_UNTIL(atomic_load(&wait_runs) == 1, 5000);
    ntp_timer_wait(timer, false);
    ntp_wait_wait(wait, false);
    ASSERT_EQ(atomic_load(&work_runs), 1000);
    ASSERT_EQ(atomic_load(&wait_result), NTP_WAIT_OBJECT_0);

    ntp_work_close(work);
    ntp_timer_close(timer);
    ntp_wait_close(wait);
    ASSERT_OK(ntp_handle_close(ev));
    ntp_pool_close(pool);
    TEST_WAIT_UNTIL(ntp_debug_live_objects() == 0, 5000);
    ASSERT_EQ(atomic_load(&injected), 0); /* none of it even tried */
    atomic_store(&fail_at, NEVER);
    ASSERT_NO_LIVE_OBJECTS();
}

/* ---- worker threads that cannot start ---- */

static atomic_int diag_spawn_reports;

static void
count_diag(const char *message, void *data)
{
    (void)data;
    if (strstr(message, "could not start a worker thread"))
        atomic_fetch_add(&diag_spawn_reports, 1);
}

TEST_IMPL(faults_worker_spawn_failure_is_reported_and_retried)
{
    ntp_set_diagnostic_handler(count_diag, NULL);
    ntp_pool *pool = NULL;
    ASSERT_OK(ntp_pool_create(&pool));
    ntp_pool_set_max_threads(pool, 2);
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);
    ntp_work *work = NULL;
    ASSERT_OK(ntp_work_create(&work, count_work, NULL, &env));

    /* The one post finds no thread and cannot start one: it stays queued,
     * the failure is reported and counted. */
    atomic_store(&ntp__spawn_failures_to_inject, 1);
    ntp_work_submit(work);
    ASSERT_EQ(atomic_load(&ntp__spawn_failures_to_inject), 0);
    ASSERT_GE(atomic_load(&diag_spawn_reports), 1);

    /* With no further post, the starvation monitor retries the spawn and
     * the post runs, exactly once. */
    ntp_work_wait(work, false);
    ASSERT_EQ(atomic_load(&work_runs), 1);
    ntp_pool_stats st;
    ASSERT_OK(ntp_pool_stats_get(pool, &st));
    ASSERT_EQ(st.spawn_failures, 1);
    ASSERT_EQ(st.starvation_adds, 1);

    /* Failures while workers exist: the running ones take the queue. */
    atomic_store(&ntp__spawn_failures_to_inject, 5);
    for (int i = 0; i < 100; i++)
        ntp_work_submit(work);
    ntp_work_wait(work, false);
    ASSERT_EQ(atomic_load(&work_runs), 101);
    atomic_store(&ntp__spawn_failures_to_inject, 0);

    ntp_work_close(work);
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}

/* A pool minimum that cannot be met fails with the error and leaves the
 * pool usable (SPEC 3: SetThreadpoolThreadMinimum returns FALSE). */
TEST_IMPL(faults_min_threads_spawn_failure)
{
    ntp_pool *pool = NULL;
    ASSERT_OK(ntp_pool_create(&pool));
    atomic_store(&ntp__spawn_failures_to_inject, 1);
    ntp_status st = ntp_pool_set_min_threads(pool, 2);
    ASSERT_STATUS(st, NTP_EAGAIN);
    atomic_store(&ntp__spawn_failures_to_inject, 0);
    ASSERT_OK(ntp_pool_set_min_threads(pool, 2));
    ntp_pool_stats ps;
    ASSERT_OK(ntp_pool_stats_get(pool, &ps));
    ASSERT_GE(ps.threads, 2);
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}
