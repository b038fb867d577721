/*
 * test-simple.c -- simple callbacks (TrySubmitThreadpoolCallback): one-shot
 * objects that free themselves, their release hook and their membership in
 * a cleanup group (SPEC 6, CONFORMANCE C29-C35).
 */
#include "helpers.h"

#include <pthread.h>
#include <stdatomic.h>

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

static uint64_t
queued_total(ntp_pool *pool)
{
    ntp_pool_stats st;
    ASSERT_OK(ntp_pool_stats_get(pool, &st));
    return st.queued[0] + st.queued[1] + st.queued[2];
}

static pthread_t main_thread;
static atomic_int runs;
static atomic_int ran_on_main;
static _Atomic(void *) last_ctx;
static _Atomic(ntp_instance *) last_inst;

static void
count_cb(ntp_instance *inst, void *ctx)
{
    if (pthread_equal(pthread_self(), main_thread)) {
        atomic_fetch_add(&ran_on_main, 1);
    }
    atomic_store(&last_ctx, ctx);
    atomic_store(&last_inst, inst);
    atomic_fetch_add(&runs, 1);
}

/* ------------------------------------------------------------------------ */
/* Running                                                                   */
/* ------------------------------------------------------------------------ */

TEST_IMPL(simple_try_submit_runs_once)
{
    main_thread = pthread_self();
    int ctx;
    /* The default pool (NULL environment)... */
    ASSERT_OK(ntp_try_submit(count_cb, &ctx, NULL));
    TEST_WAIT_UNTIL(atomic_load(&runs) == 1, 5000);
    ASSERT_PTR_EQ(atomic_load(&last_ctx), &ctx);
    ASSERT_NOT_NULL(atomic_load(&last_inst));

    /* ...and a private pool (C29). */
    ntp_pool *pool = make_pool(2);
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);
    int ctx2;
    ASSERT_OK(ntp_try_submit(count_cb, &ctx2, &env));
    TEST_WAIT_UNTIL(atomic_load(&runs) == 2, 5000);
    ASSERT_PTR_EQ(atomic_load(&last_ctx), &ctx2);

    /* Once each, on another thread; and gone after running (C30). */
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
    ASSERT_EQ(atomic_load(&runs), 2);
    ASSERT_EQ(atomic_load(&ran_on_main), 0);
}

TEST_IMPL(simple_three_calls_three_runs)
{
    main_thread = pthread_self();
    /* Three independent one-shot objects, even with the same ctx. */
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(ntp_try_submit(count_cb, NULL, NULL));
    }
    TEST_WAIT_UNTIL(atomic_load(&runs) == 3, 5000);
    ASSERT_NO_LIVE_OBJECTS();
    ASSERT_EQ(atomic_load(&runs), 3);
    ASSERT_EQ(atomic_load(&ran_on_main), 0);
}

TEST_IMPL(simple_frees_itself)
{
    ntp_pool *pool = make_pool(2);
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);
    for (int i = 0; i < 50; i++) {
        ASSERT_OK(ntp_try_submit(count_cb, NULL, &env));
    }
    /* Nobody closes them: after running, only the pool is left. */
    TEST_WAIT_UNTIL(atomic_load(&runs) == 50, 5000);
    TEST_WAIT_UNTIL(ntp_debug_live_objects() == 1, 5000);
    ntp_pool_stats st;
    ASSERT_OK(ntp_pool_stats_get(pool, &st));
    ASSERT_EQ(st.objects, 0);
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}

static atomic_int releases;
static atomic_int runs_at_release = -1;
static _Atomic(void *) released_ctx;

static void
release_cb(void *ctx)
{
    atomic_store(&runs_at_release, atomic_load(&runs));
    atomic_store(&released_ctx, ctx);
    atomic_fetch_add(&releases, 1);
}

TEST_IMPL(simple_release_hook)
{
    int ctx;
    ASSERT_OK(ntp_try_submit_ex(count_cb, &ctx, NULL, release_cb));
    TEST_WAIT_UNTIL(atomic_load(&releases) == 1, 5000);
    /* Once, with the ctx, after the callback. */
    ASSERT_EQ(atomic_load(&runs_at_release), 1);
    ASSERT_PTR_EQ(atomic_load(&released_ctx), &ctx);
    ASSERT_NO_LIVE_OBJECTS();
    ASSERT_EQ(atomic_load(&releases), 1);

    /* A NULL hook is allowed. */
    ASSERT_OK(ntp_try_submit_ex(count_cb, &ctx, NULL, NULL));
    TEST_WAIT_UNTIL(atomic_load(&runs) == 2, 5000);
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(simple_null_callback_rejected)
{
    ASSERT_STATUS(ntp_try_submit(NULL, NULL, NULL), NTP_EINVAL);
    ASSERT_STATUS(ntp_try_submit_ex(NULL, NULL, NULL, release_cb),
                  NTP_EINVAL);
    /* A failed submit is not a submit: no release either. */
    test_sleep_ms(20);
    ASSERT_EQ(atomic_load(&releases), 0);
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* Cleanup groups                                                            */
/* ------------------------------------------------------------------------ */

static atomic_int slow_done;

static void
slow_cb(ntp_instance *inst, void *ctx)
{
    test_sleep_ms(30);
    atomic_fetch_add(&slow_done, 1);
}

static atomic_int cancels;

static void
count_cancel_cb(void *object_ctx, void *cleanup_ctx)
{
    atomic_fetch_add(&cancels, 1);
}

TEST_IMPL(simple_group_member_until_run)
{
    ntp_pool *pool = make_pool(2);
    ntp_cleanup_group *group = NULL;
    ASSERT_OK(ntp_cleanup_group_create(&group));
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);
    ntp_env_set_cleanup_group(&env, group, count_cancel_cb);

    /* Members until they have run: close_members(false) waits for all of
     * them, running and queued (C31). */
    for (int i = 0; i < 4; i++) {
        ASSERT_OK(ntp_try_submit(slow_cb, NULL, &env));
    }
    ASSERT_OK(ntp_cleanup_group_close_members(group, false, NULL));
    ASSERT_EQ(atomic_load(&slow_done), 4);
    ASSERT_EQ(atomic_load(&cancels), 0);

    ntp_cleanup_group_close(group);
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}

/* Per-submission bookkeeping for the cancel tests. */
#define N_SIMPLE 100
static atomic_int ran[N_SIMPLE];
static atomic_int cancelled[N_SIMPLE];
static atomic_int bad_cancel_args;
static atomic_int cancel_off_thread;
static void *const CLEANUP_CTX = (void *)0xc1ea;

static void
indexed_cb(ntp_instance *inst, void *ctx)
{
    atomic_fetch_add(&ran[(intptr_t)ctx], 1);
    test_sleep_ms(1);
}

static void
indexed_cancel_cb(void *object_ctx, void *cleanup_ctx)
{
    intptr_t i = (intptr_t)object_ctx;
    if (i < 0 || i >= N_SIMPLE || cleanup_ctx != CLEANUP_CTX) {
        atomic_fetch_add(&bad_cancel_args, 1);
        return;
    }
    if (!pthread_equal(pthread_self(), main_thread)) {
        atomic_fetch_add(&cancel_off_thread, 1);
    }
    atomic_fetch_add(&cancelled[i], 1);
}

static int
sum(atomic_int *a)
{
    int s = 0;
    for (int i = 0; i < N_SIMPLE; i++) {
        s += atomic_load(&a[i]);
    }
    return s;
}

TEST_IMPL(simple_group_cancel_drops_unstarted)
{
    main_thread = pthread_self();
    ntp_pool *pool = make_pool(1);
    ntp_cleanup_group *group = NULL;
    ASSERT_OK(ntp_cleanup_group_create(&group));
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);
    ntp_env_set_cleanup_group(&env, group, indexed_cancel_cb);

    for (intptr_t i = 0; i < N_SIMPLE; i++) {
        ASSERT_OK(ntp_try_submit(indexed_cb, (void *)i, &env));
    }
    /* Let a few run, then cancel the rest while they are still queued
     * (100 callbacks of >= 1 ms on one thread cannot all be done). */
    TEST_WAIT_UNTIL(sum(ran) >= 3, 5000);
    ASSERT_OK(ntp_cleanup_group_close_members(group, true, CLEANUP_CTX));

    /* Every submission either ran or got its own cancel call with its own
     * ctx, never both, never twice (C32, C33). */
    int n_ran = sum(ran), n_cancelled = sum(cancelled);
    ASSERT_EQ(n_ran + n_cancelled, N_SIMPLE);
    ASSERT_GT(n_cancelled, 0);
    for (int i = 0; i < N_SIMPLE; i++) {
        ASSERT_EQ(atomic_load(&ran[i]) + atomic_load(&cancelled[i]), 1);
    }
    ASSERT_EQ(atomic_load(&bad_cancel_args), 0);
    ASSERT_EQ(atomic_load(&cancel_off_thread), 0);

    /* The dropped ones never run later. */
    test_sleep_ms(50);
    ASSERT_EQ(sum(ran), n_ran);

    ntp_cleanup_group_close(group);
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}

/* Holds the only worker; not a member of the group. */
static ntp_handle *block_started;
static ntp_handle *block_release;

static void
blocker_cb(ntp_instance *inst, void *ctx)
{
    ASSERT_OK(ntp_event_set(block_started));
    wait_signalled(block_release);
}

TEST_IMPL(simple_group_cancel_all_queued)
{
    main_thread = pthread_self();
    ntp_pool *pool = make_pool(1);
    block_started = make_event();
    block_release = make_event();
    ntp_env plain;
    ntp_env_init(&plain);
    ntp_env_set_pool(&plain, pool);
    ASSERT_OK(ntp_try_submit(blocker_cb, NULL, &plain));
    wait_signalled(block_started);

    ntp_cleanup_group *group = NULL;
    ASSERT_OK(ntp_cleanup_group_create(&group));
    ntp_env env = plain;
    ntp_env_set_cleanup_group(&env, group, indexed_cancel_cb);
    for (intptr_t i = 0; i < N_SIMPLE; i++) {
        ASSERT_OK(ntp_try_submit(indexed_cb, (void *)i, &env));
    }
    ASSERT_EQ(queued_total(pool), N_SIMPLE);

    /* Nothing of the group runs: all 100 are dropped, each with exactly
     * one cancel call, and the group does not wait for the blocker. */
    ASSERT_OK(ntp_cleanup_group_close_members(group, true, CLEANUP_CTX));
    ASSERT_EQ(sum(cancelled), N_SIMPLE);
    for (int i = 0; i < N_SIMPLE; i++) {
        ASSERT_EQ(atomic_load(&cancelled[i]), 1);
    }
    ASSERT_EQ(queued_total(pool), 0);

    ASSERT_OK(ntp_event_set(block_release));
    test_sleep_ms(50);
    ASSERT_EQ(sum(ran), 0);
    ASSERT_EQ(atomic_load(&bad_cancel_args), 0);
    ASSERT_EQ(atomic_load(&cancel_off_thread), 0);

    ntp_cleanup_group_close(group);
    ntp_pool_close(pool);
    TEST_WAIT_UNTIL(ntp_debug_live_objects() == 2, 5000);
    ASSERT_OK(ntp_handle_close(block_started));
    ASSERT_OK(ntp_handle_close(block_release));
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(simple_group_cancel_release_hook)
{
    ntp_pool *pool = make_pool(1);
    block_started = make_event();
    block_release = make_event();
    ntp_env plain;
    ntp_env_init(&plain);
    ntp_env_set_pool(&plain, pool);
    ASSERT_OK(ntp_try_submit(blocker_cb, NULL, &plain));
    wait_signalled(block_started);

    ntp_cleanup_group *group = NULL;
    ASSERT_OK(ntp_cleanup_group_create(&group));
    ntp_env env = plain;
    ntp_env_set_cleanup_group(&env, group, count_cancel_cb);
    int ctx;
    ASSERT_OK(ntp_try_submit_ex(count_cb, &ctx, &env, release_cb));

    /* A cancelled simple callback still gets its release hook, once. */
    ASSERT_OK(ntp_cleanup_group_close_members(group, true, NULL));
    ASSERT_EQ(atomic_load(&cancels), 1);
    TEST_WAIT_UNTIL(atomic_load(&releases) == 1, 2000);
    ASSERT_PTR_EQ(atomic_load(&released_ctx), &ctx);

    ASSERT_OK(ntp_event_set(block_release));
    ntp_cleanup_group_close(group);
    ntp_pool_close(pool);
    TEST_WAIT_UNTIL(ntp_debug_live_objects() == 2, 5000);
    ASSERT_EQ(atomic_load(&runs), 0);
    ASSERT_EQ(atomic_load(&releases), 1);
    ASSERT_OK(ntp_handle_close(block_started));
    ASSERT_OK(ntp_handle_close(block_release));
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(simple_group_finished_no_cancel)
{
    ntp_pool *pool = make_pool(2);
    ntp_cleanup_group *group = NULL;
    ASSERT_OK(ntp_cleanup_group_create(&group));
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);
    ntp_env_set_cleanup_group(&env, group, count_cancel_cb);
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(ntp_try_submit_ex(count_cb, NULL, &env, release_cb));
    }
    /* Wait until they have run and their one-shot objects are gone. */
    TEST_WAIT_UNTIL(atomic_load(&releases) == 3, 5000);
    TEST_WAIT_UNTIL(ntp_debug_live_objects() == 2, 5000);

    /* Finished: no longer members, so no cancel callback (C33). */
    ASSERT_OK(ntp_cleanup_group_close_members(group, true, NULL));
    ASSERT_EQ(atomic_load(&cancels), 0);
    ASSERT_EQ(atomic_load(&runs), 3);

    ntp_cleanup_group_close(group);
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
    ASSERT_EQ(atomic_load(&releases), 3);
}

/* ------------------------------------------------------------------------ */
/* The fast path: no cleanup group, library or persistent flag               */
/* ------------------------------------------------------------------------ */

static void
idle_work_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    (void)inst, (void)ctx, (void)work;
}

/* A closed pool refuses new one-shot objects (SPEC 3), on the fast path as
 * on the common one; a work object keeps the closed pool alive meanwhile. */
TEST_IMPL(simple_try_submit_on_closed_pool_refused)
{
    ntp_pool *pool = make_pool(1);
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);
    ntp_work *keep = NULL;
    ASSERT_OK(ntp_work_create(&keep, idle_work_cb, NULL, &env));
    ntp_pool_close(pool);
    ASSERT_STATUS(ntp_try_submit(count_cb, NULL, &env), NTP_EINVAL);
    ASSERT_STATUS(ntp_try_submit_ex(count_cb, NULL, &env, release_cb),
                  NTP_EINVAL);
    test_sleep_ms(50);
    ASSERT_EQ(atomic_load(&runs), 0);
    ASSERT_EQ(atomic_load(&releases), 0); /* refused: nothing to release */
    ntp_work_close(keep);
    ASSERT_NO_LIVE_OBJECTS();
}

enum { PER_THREAD = 5000 };

static void *
submit_many(void *arg)
{
    const ntp_env *env = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        ASSERT_OK(ntp_try_submit(count_cb, NULL, env));
    }
    return NULL;
}

/* Two threads submit at once while the workers run and retire the objects:
 * every one runs once and is freed, and the pool counts none left. */
TEST_IMPL(simple_two_submitters_all_run_and_freed)
{
    ntp_pool *pool = make_pool(2);
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        ASSERT_EQ(pthread_create(&t[i], NULL, submit_many, &env), 0);
    }
    for (int i = 0; i < 2; i++) {
        ASSERT_EQ(pthread_join(t[i], NULL), 0);
    }
    TEST_WAIT_UNTIL(atomic_load(&runs) == 2 * PER_THREAD, 10000);
    TEST_WAIT_UNTIL(ntp_debug_live_objects() == 1, 5000);
    ntp_pool_stats st;
    ASSERT_OK(ntp_pool_stats_get(pool, &st));
    ASSERT_EQ(st.objects, 0);
    ASSERT_EQ(queued_total(pool), 0);
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
    ASSERT_EQ(atomic_load(&runs), 2 * PER_THREAD);
}
