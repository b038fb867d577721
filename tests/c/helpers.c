/*
 * helpers.c -- fixtures shared by the C tests (helpers.h).
 */
#include "helpers.h"

#include <string.h>

ntp_pool *
make_pool(unsigned max)
{
    ntp_pool *pool = NULL;
    ASSERT_OK(ntp_pool_create(&pool));
    ASSERT_NOT_NULL(pool);
    ntp_pool_set_max_threads(pool, max);
    return pool;
}

ntp_pool_stats
stats_of(ntp_pool *pool)
{
    ntp_pool_stats st;
    memset(&st, 0, sizeof st);
    ASSERT_OK(ntp_pool_stats_get(pool, &st));
    return st;
}

ntp_handle *
make_event(void)
{
    ntp_handle *ev = NULL;
    ASSERT_OK(ntp_event_create(&ev, true, false));
    return ev;
}

void
wait_signalled(ntp_handle *h)
{
    ASSERT_STATUS(ntp_wait_for_single(h, LONG_WAIT_MS, false),
                  NTP_WAIT_OBJECT_0);
}

static void
blocker_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    pool_blocker *b = ctx;
    (void)inst, (void)work;
    ASSERT_OK(ntp_event_set(b->started));
    wait_signalled(b->release);
}

void
blocker_start(pool_blocker *b, ntp_pool *pool)
{
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);
    b->started = make_event();
    b->release = make_event();
    ASSERT_OK(ntp_work_create(&b->work, blocker_cb, b, &env));
    ntp_work_submit(b->work);
    wait_signalled(b->started);
}

void
blocker_release(pool_blocker *b)
{
    ASSERT_OK(ntp_event_set(b->release));
}

void
blocker_finish(pool_blocker *b)
{
    blocker_release(b);
    ntp_work_wait(b->work, false);
    ntp_work_close(b->work);
    ASSERT_OK(ntp_handle_close(b->started));
    ASSERT_OK(ntp_handle_close(b->release));
}
