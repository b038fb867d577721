/*
 * test-hooks.c -- pool thread hooks: idle before a pool thread sleeps, exit
 * before it ends, on that thread, with no lock held.
 */
#include "task.h"

#include <pthread.h>
#include <stdatomic.h>

static atomic_int idle_calls, exit_calls, work_runs;
static _Thread_local int thread_ran_work;
static atomic_int idle_on_worker_thread, exit_on_worker_thread;

static void
on_idle(void *arg)
{
    ASSERT_PTR_EQ(arg, &idle_calls);
    if (thread_ran_work)
        atomic_fetch_add(&idle_on_worker_thread, 1);
    atomic_fetch_add(&idle_calls, 1);
}

static void
on_exit_hook(void *arg)
{
    ASSERT_PTR_EQ(arg, &idle_calls);
    /* Count the call first: the test waits for exit_on_worker_thread and
     * then reads exit_calls (a TSan run caught it in between). */
    atomic_fetch_add(&exit_calls, 1);
    if (thread_ran_work)
        atomic_fetch_add(&exit_on_worker_thread, 1);
}

static void
work_cb(ntp_instance *inst, void *ctx, ntp_work *w)
{
    (void)inst, (void)w;
    ntp_pool *pool = ctx;
    thread_ran_work = 1;
    /* No ntpool lock is held while hooks run, so calling into the pool from
     * a hook would work; here we only check we can query it. */
    ntp_pool_stats st;
    ASSERT_OK(ntp_pool_stats_get(pool, &st));
    atomic_fetch_add(&work_runs, 1);
}

TEST_IMPL(hooks_idle_and_exit_on_pool_threads)
{
    ntp_thread_hooks hooks = {on_idle, on_exit_hook, &idle_calls};
    ASSERT_OK(ntp_thread_hooks_register(&hooks));

    ntp_pool *pool = NULL;
    ASSERT_OK(ntp_pool_create(&pool));
    ntp_pool_set_max_threads(pool, 1);
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);
    ntp_work *w = NULL;
    ASSERT_OK(ntp_work_create(&w, work_cb, pool, &env));

    /* Several posts in a row on one thread: the idle hook runs once the
     * queue is empty, not between the callbacks. */
    for (int i = 0; i < 5; i++)
        ntp_work_submit(w);
    ntp_work_wait(w, false);
    ASSERT_EQ(atomic_load(&work_runs), 5);
    TEST_WAIT_UNTIL(atomic_load(&idle_on_worker_thread) >= 1, 5000);
    ASSERT_LE(atomic_load(&idle_calls), 5);

    /* A retiring worker runs the exit hook. */
    ntp_pool_set_idle_timeout(pool, 10);
    TEST_WAIT_UNTIL(atomic_load(&exit_on_worker_thread) == 1, 5000);
    ASSERT_EQ(atomic_load(&exit_calls), 1);

    ntp_work_close(w);
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(hooks_register_bad_input_and_limit)
{
    ASSERT_STATUS(ntp_thread_hooks_register(NULL), NTP_EINVAL);
    ntp_thread_hooks none = {NULL, NULL, NULL};
    int accepted = 0;
    ntp_status st = 0;
    while ((st = ntp_thread_hooks_register(&none)) == 0 && accepted < 100)
        accepted++;
    ASSERT_EQ(accepted, 8);
    ASSERT_STATUS(st, NTP_ENOSPC);
}
