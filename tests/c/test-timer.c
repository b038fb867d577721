/*
 * test-timer.c -- thread-pool timers (SPEC 7, CONFORMANCE H66-H82 and the
 * "Timers" notes of M and N): due times, periods, windows, set_ex and
 * is_set, stopping, waiting, closing (also from the callback and with
 * callbacks queued), cleanup groups, races with expiry, and scale.
 *
 * Times are measured on CLOCK_MONOTONIC (ntp__now_ns, white-box) except
 * for absolute due times, which are wall-clock. Lower bounds are exact (a
 * timer never fires early); upper bounds allow for a loaded machine and
 * are scaled by test_timeout_multiplier().
 */
#include "helpers.h"

#include "reactor.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#define MS 1000000u
/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

/* Lateness allowed for a callback on a loaded machine. */
static uint64_t
late_ns(void)
{
    return (uint64_t)80 * MS * test_timeout_multiplier();
}

static uint64_t
queued_total(ntp_pool *pool)
{
    ntp_pool_stats st;
    ASSERT_OK(ntp_pool_stats_get(pool, &st));
    return st.queued[0] + st.queued[1] + st.queued[2];
}

/* What a test timer's callback records. */
#define MAX_RUNS 64
typedef struct rec {
    atomic_int runs;
    _Atomic uint64_t at_ns[MAX_RUNS]; /* monotonic time of each run */
    _Atomic uint64_t real_at_ns;      /* wall-clock time of the last */
    _Atomic(ntp_timer *) self_seen;
    _Atomic(void *) ctx_seen;
    /* Optional behaviour. */
    ntp_handle *gate;      /* the first run waits for it */
    int reset_until;       /* re-set itself (20 ms) until this many runs */
    bool close_in_cb;      /* the first run closes the timer */
    atomic_int released;   /* release hook calls */
} rec;

static void
rec_cb(ntp_instance *inst, void *ctx, ntp_timer *timer)
{
    rec *r = ctx;
    int n = atomic_fetch_add(&r->runs, 1);
    if (n < MAX_RUNS) {
        atomic_store(&r->at_ns[n], ntp__now_ns());
    }
    atomic_store(&r->real_at_ns, ntp__realtime_ns());
    atomic_store(&r->self_seen, timer);
    atomic_store(&r->ctx_seen, ctx);
    if (n == 0 && r->gate != NULL) {
        ASSERT_STATUS(ntp_wait_for_single(r->gate, LONG_WAIT_MS, false),
                      NTP_WAIT_OBJECT_0);
    }
    if (n + 1 < r->reset_until) {
        ntp_timer_set(timer, ntp_due_in_ms(20), 0, 0);
    }
    if (n == 0 && r->close_in_cb) {
        ntp_timer_close(timer);
    }
}

static void
rec_release(void *ctx)
{
    atomic_fetch_add(&((rec *)ctx)->released, 1);
}

static rec *
rec_new(void)
{
    rec *r = calloc(1, sizeof *r);
    ASSERT_NOT_NULL(r);
    return r;
}

static ntp_timer *
make_timer(rec *r, ntp_pool *pool, ntp_cleanup_group *group)
{
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);
    if (group != NULL) {
        ntp_env_set_cleanup_group(&env, group, NULL);
    }
    ntp_timer *t = NULL;
    ASSERT_OK(ntp_timer_create(&t, rec_cb, r, &env));
    ASSERT_NOT_NULL(t);
    ASSERT_OK(ntp_timer_set_release(t, rec_release));
    return t;
}

/* When run i started. The callback counts the run before it writes the
 * time, so a test that saw the count may have to wait a moment for it. */
static uint64_t
run_at(rec *r, int i)
{
    TEST_WAIT_UNTIL(atomic_load(&r->at_ns[i]) != 0, 5000);
    return atomic_load(&r->at_ns[i]);
}

static int
thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    ASSERT_NOT_NULL(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            n++;
        }
    }
    closedir(d);
    return n;
}

/* Sets an event after a delay, from its own thread. */
typedef struct delayed_set {
    pthread_t thread;
    ntp_handle *event;
    unsigned delay_ms;
} delayed_set;

static void *
delayed_set_main(void *arg)
{
    delayed_set *d = arg;
    test_sleep_ms(d->delay_ms);
    ASSERT_OK(ntp_event_set(d->event));
    return NULL;
}

static atomic_int diag_count;

static void
count_diag(const char *message, void *data)
{
    atomic_fetch_add(&diag_count, 1);
}

/* ------------------------------------------------------------------------ */
/* Due times                                                                 */
/* ------------------------------------------------------------------------ */

/* H66-H68: fresh timer unset; a relative due time fires once, not early. */
TEST_IMPL(timer_fires_once_after_relative_due)
{
    ntp_pool *pool = make_pool(4);
    rec *r = rec_new();
    ntp_timer *t = make_timer(r, pool, NULL);
    ASSERT(!ntp_timer_is_set(t));
    ASSERT_PTR_EQ(ntp_timer_context(t), r);

    uint64_t start = ntp__now_ns();
    ntp_timer_set(t, ntp_due_in_ms(200), 0, 0);
    ASSERT(ntp_timer_is_set(t));
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 1, 5000);
    ASSERT_GE(run_at(r, 0), start + 200 * MS);
    ASSERT_LE(run_at(r, 0), start + 200 * MS + late_ns());
    ASSERT_PTR_EQ(atomic_load(&r->self_seen), t); /* H78 */
    ASSERT_PTR_EQ(atomic_load(&r->ctx_seen), r);
    test_sleep_ms(200);
    ASSERT_EQ(atomic_load(&r->runs), 1);
    ASSERT(ntp_timer_is_set(t)); /* N1: still "set" after firing */

    ntp_timer_close(t);
    TEST_WAIT_UNTIL(atomic_load(&r->released) == 1, 5000);
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/* H69: a zero due time fires at once, and is_set stays true. */
TEST_IMPL(timer_zero_due_fires_at_once)
{
    ntp_pool *pool = make_pool(4);
    rec *r = rec_new();
    ntp_timer *t = make_timer(r, pool, NULL);
    uint64_t start = ntp__now_ns();
    ntp_timer_set(t, ntp_due_in_ms(0), 0, 0);
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 1, 5000);
    ASSERT_LE(run_at(r, 0), start + 50 * MS * test_timeout_multiplier());
    ASSERT(ntp_timer_is_set(t));
    test_sleep_ms(100);
    ASSERT_EQ(atomic_load(&r->runs), 1);
    ntp_timer_close(t);
    TEST_WAIT_UNTIL(atomic_load(&r->released) == 1, 5000);
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/* H67, H70: an absolute due time is wall-clock time; one in the past
 * fires at once. */
TEST_IMPL(timer_absolute_due_follows_wall_clock)
{
    ntp_pool *pool = make_pool(4);
    rec *r = rec_new();
    rec *past = rec_new();
    ntp_timer *t = make_timer(r, pool, NULL);
    ntp_timer *tp = make_timer(past, pool, NULL);

    uint64_t due = ntp__realtime_ns() + 200 * MS;
    ntp_timer_set(t, ntp_due_at_unix_ns(due), 0, 0);
    uint64_t start = ntp__now_ns();
    ntp_timer_set(tp, ntp_due_at_unix_ns(due - 10000 * MS), 0, 0);
    TEST_WAIT_UNTIL(atomic_load(&past->runs) == 1, 5000);
    ASSERT_LE(run_at(past, 0), start + 50 * MS * test_timeout_multiplier());
    ASSERT_EQ(atomic_load(&r->runs), 0);

    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 1, 5000);
    TEST_WAIT_UNTIL(atomic_load(&r->real_at_ns) != 0, 5000); /* see run_at */
    ASSERT_GE(atomic_load(&r->real_at_ns), due);
    ASSERT_LE(atomic_load(&r->real_at_ns), due + late_ns());
    ASSERT(ntp_timer_is_set(t));

    ntp_timer_close(t);
    ntp_timer_close(tp);
    TEST_WAIT_UNTIL(atomic_load(&r->released) == 1
                        && atomic_load(&past->released) == 1,
                    5000);
    ntp_pool_close(pool);
    free(r);
    free(past);
    ASSERT_NO_LIVE_OBJECTS();
}

/* H75: setting again replaces the due time (5 s becomes 100 ms). */
TEST_IMPL(timer_set_replaces_due_time)
{
    ntp_pool *pool = make_pool(4);
    rec *r = rec_new();
    ntp_timer *t = make_timer(r, pool, NULL);
    ntp_timer_set(t, ntp_due_in_ms(5000), 0, 0);
    uint64_t start = ntp__now_ns();
    ntp_timer_set(t, ntp_due_in_ms(100), 0, 0);
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 1, 5000);
    ASSERT_GE(run_at(r, 0), start + 100 * MS);
    ASSERT_LE(run_at(r, 0), start + 100 * MS + late_ns());
    ntp_timer_close(t);
    TEST_WAIT_UNTIL(atomic_load(&r->released) == 1, 5000);
    ASSERT_EQ(atomic_load(&r->runs), 1);
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* Periods                                                                   */
/* ------------------------------------------------------------------------ */

/* H73: the first run at the due time, then one per period, no drift. */
TEST_IMPL(timer_periodic_fires_with_spacing)
{
    ntp_pool *pool = make_pool(4);
    rec *r = rec_new();
    ntp_timer *t = make_timer(r, pool, NULL);
    uint64_t start = ntp__now_ns();
    ntp_timer_set(t, ntp_due_in_ms(100), 100, 0);
    TEST_WAIT_UNTIL(atomic_load(&r->runs) >= 5, 5000);
    ntp_timer_set(t, ntp_due_none(), 0, 0);
    ASSERT(!ntp_timer_is_set(t));
    for (int i = 0; i < 5; i++) {
        uint64_t due = start + (uint64_t)(i + 1) * 100 * MS;
        ASSERT_GE(run_at(r, i), due);
        ASSERT_LE(run_at(r, i), due + late_ns());
    }
    ntp_timer_close(t);
    TEST_WAIT_UNTIL(atomic_load(&r->released) == 1, 5000);
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/* H74: a zero due time with a period runs at once, then every period. */
TEST_IMPL(timer_periodic_zero_due_runs_at_once)
{
    ntp_pool *pool = make_pool(4);
    rec *r = rec_new();
    ntp_timer *t = make_timer(r, pool, NULL);
    uint64_t start = ntp__now_ns();
    ntp_timer_set(t, ntp_due_in_ms(0), 100, 0);
    TEST_WAIT_UNTIL(atomic_load(&r->runs) >= 3, 5000);
    ntp_timer_close(t);
    ASSERT_LE(run_at(r, 0), start + 50 * MS * test_timeout_multiplier());
    ASSERT_GE(run_at(r, 1), start + 100 * MS);
    ASSERT_GE(run_at(r, 2), start + 200 * MS);
    ASSERT_LE(run_at(r, 2), start + 200 * MS + late_ns());
    TEST_WAIT_UNTIL(atomic_load(&r->released) == 1, 5000);
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/* Stalls the reactor thread: a reactor timer whose fire() sleeps. */
typedef struct staller {
    ntp__rtimer rt;
    unsigned ms;
    _Atomic uint64_t ended_ns;
} staller;

static void
stall_fire(ntp__rtimer *rt)
{
    staller *s = ntp__container_of(rt, staller, rt);
    test_sleep_ms(s->ms);
    atomic_store(&s->ended_ns, ntp__now_ns());
}

/*
 * CONFORMANCE M: when the timer thread falls behind, missed periods are
 * skipped, not fired in a burst. The reactor is stalled for ten periods;
 * after it, the timer fires once late and once to catch up, then keeps
 * its period, so a handful of runs follow instead of ten at once.
 */
TEST_IMPL(timer_periodic_skips_missed_periods)
{
    ntp_pool *pool = make_pool(4);
    rec *r = rec_new();
    ntp_timer *t = make_timer(r, pool, NULL);
    ntp_timer_set(t, ntp_due_in_ms(60), 60, 0);
    TEST_WAIT_UNTIL(atomic_load(&r->runs) >= 2, 5000);

    staller s;
    memset(&s, 0, sizeof s);
    s.ms = 600;
    ntp__rtimer_init(&s.rt, stall_fire);
    ntp__rtimer_arm(&s.rt, NTP__CLOCK_MONOTONIC, ntp__now_ns(), 0);
    TEST_WAIT_UNTIL(atomic_load(&s.ended_ns) != 0, 5000);
    int before = atomic_load(&r->runs);
    uint64_t ended = atomic_load(&s.ended_ns);

    /* Until 200 ms after the stall: 2 catch-up runs and at most 3 on
     * schedule (ten would be a burst). Lateness only lowers the count. */
    while (ntp__now_ns() < ended + 200 * MS) {
        test_sleep_ms(5);
    }
    int after = atomic_load(&r->runs);
    ASSERT_LE(after - before, 6);
    ASSERT_GE(after - before, 1);
    TEST_WAIT_UNTIL(atomic_load(&r->runs) >= after + 2, 5000);
    ntp__rtimer_disarm(&s.rt);
    ntp_timer_close(t);
    TEST_WAIT_UNTIL(atomic_load(&r->released) == 1, 5000);
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* Stopping, waiting, closing                                                */
/* ------------------------------------------------------------------------ */

/*
 * Start a periodic timer on a one-thread pool whose first callback blocks
 * on `gate`, and return once at least three more runs are queued.
 */
static ntp_timer *
start_piling(rec *r, ntp_pool *pool)
{
    ASSERT_OK(ntp_event_create(&r->gate, true, false));
    ntp_timer *t = make_timer(r, pool, NULL);
    ntp_timer_set(t, ntp_due_in_ms(5), 5, 0);
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 1 && queued_total(pool) >= 3,
                    5000);
    return t;
}

/* H71, SPEC 7: a due time of none stops new callbacks; queued ones still
 * run. */
TEST_IMPL(timer_stop_keeps_queued_callbacks)
{
    ntp_pool *pool = make_pool(1);
    rec *r = rec_new();
    ntp_timer *t = start_piling(r, pool);
    ntp_timer_set(t, ntp_due_none(), 0, 0);
    ASSERT(!ntp_timer_is_set(t));
    uint64_t queued = queued_total(pool);
    test_sleep_ms(100);
    ASSERT_EQ(queued_total(pool), queued); /* nothing new was queued */
    ASSERT_OK(ntp_event_set(r->gate));
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 1 + (int)queued, 5000);
    test_sleep_ms(50);
    ASSERT_EQ(atomic_load(&r->runs), 1 + (int)queued);
    ntp_timer_close(t);
    TEST_WAIT_UNTIL(atomic_load(&r->released) == 1, 5000);
    ASSERT_OK(ntp_handle_close(r->gate));
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/* Closing with callbacks queued: they still run, then the release hook
 * runs exactly once. */
TEST_IMPL(timer_close_with_callbacks_queued)
{
    ntp_pool *pool = make_pool(1);
    rec *r = rec_new();
    ntp_timer *t = start_piling(r, pool);
    ntp_timer_close(t);
    uint64_t queued = queued_total(pool);
    ASSERT_GE(queued, 3);
    test_sleep_ms(50);
    ASSERT_EQ(queued_total(pool), queued);
    ASSERT_EQ(atomic_load(&r->released), 0);
    ASSERT_OK(ntp_event_set(r->gate));
    TEST_WAIT_UNTIL(atomic_load(&r->released) == 1, 5000);
    ASSERT_EQ(atomic_load(&r->runs), 1 + (int)queued);
    test_sleep_ms(50);
    ASSERT_EQ(atomic_load(&r->released), 1);
    ASSERT_OK(ntp_handle_close(r->gate));
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/* Wait with cancel drops the queued runs and waits for the running one;
 * it does not stop the timer (H72, N4). */
TEST_IMPL(timer_wait_cancel_pending)
{
    ntp_pool *pool = make_pool(1);
    rec *r = rec_new();
    ntp_timer *t = start_piling(r, pool);
    ntp_timer_set(t, ntp_due_none(), 0, 0);
    delayed_set d = {.event = r->gate, .delay_ms = 100};
    ASSERT_EQ(pthread_create(&d.thread, NULL, delayed_set_main, &d), 0);
    uint64_t start = ntp__now_ns();
    ntp_timer_wait(t, true);
    ASSERT_GE(ntp__now_ns(), start + 50 * MS); /* it waited for the run */
    ASSERT_EQ(atomic_load(&r->runs), 1);
    ASSERT_EQ(queued_total(pool), 0);
    ASSERT_EQ(pthread_join(d.thread, NULL), 0);
    test_sleep_ms(50);
    ASSERT_EQ(atomic_load(&r->runs), 1);
    ntp_timer_close(t);
    TEST_WAIT_UNTIL(atomic_load(&r->released) == 1, 5000);
    ASSERT_OK(ntp_handle_close(r->gate));
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/* H72: waiting on a timer that is set but not due returns at once, and
 * the timer still fires afterwards. */
TEST_IMPL(timer_wait_does_not_disarm)
{
    ntp_pool *pool = make_pool(4);
    rec *r = rec_new();
    ntp_timer *t = make_timer(r, pool, NULL);
    ntp_timer_set(t, ntp_due_in_ms(200), 0, 0);
    uint64_t start = ntp__now_ns();
    ntp_timer_wait(t, false);
    ntp_timer_wait(t, true);
    ASSERT_LT(ntp__now_ns(), start + 100 * MS);
    ASSERT_EQ(atomic_load(&r->runs), 0);
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 1, 5000);
    ntp_timer_close(t);
    TEST_WAIT_UNTIL(atomic_load(&r->released) == 1, 5000);
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/* H76: a callback may re-arm its own one-shot timer. */
TEST_IMPL(timer_reset_from_own_callback)
{
    ntp_pool *pool = make_pool(4);
    rec *r = rec_new();
    r->reset_until = 5;
    ntp_timer *t = make_timer(r, pool, NULL);
    uint64_t start = ntp__now_ns();
    ntp_timer_set(t, ntp_due_in_ms(20), 0, 0);
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 5, 5000);
    test_sleep_ms(100);
    ASSERT_EQ(atomic_load(&r->runs), 5);
    for (int i = 0; i < 5; i++) {
        ASSERT_GE(run_at(r, i), start + (uint64_t)(i + 1) * 20 * MS);
    }
    ASSERT(ntp_timer_is_set(t));
    ntp_timer_close(t);
    TEST_WAIT_UNTIL(atomic_load(&r->released) == 1, 5000);
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/* H77, SPEC 2: closing from inside its own callback stops a periodic
 * timer; the object goes after that callback, release hook once. */
TEST_IMPL(timer_close_from_own_callback)
{
    ntp_pool *pool = make_pool(4);
    rec *r = rec_new();
    r->close_in_cb = true;
    ntp_timer *t = make_timer(r, pool, NULL);
    ntp_timer_set(t, ntp_due_in_ms(10), 1000, 0);
    TEST_WAIT_UNTIL(atomic_load(&r->released) == 1, 5000);
    ASSERT_EQ(atomic_load(&r->runs), 1);
    test_sleep_ms(1200);
    ASSERT_EQ(atomic_load(&r->runs), 1);
    ASSERT_EQ(atomic_load(&r->released), 1);
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/* SPEC 7: "not needed for members released by their cleanup group": the
 * group's release stops a periodic timer. */
TEST_IMPL(timer_cleanup_group_release_stops_periodic)
{
    ntp_pool *pool = make_pool(4);
    ntp_cleanup_group *g = NULL;
    ASSERT_OK(ntp_cleanup_group_create(&g));
    rec *r = rec_new();
    ntp_timer *t = make_timer(r, pool, g);
    ntp_timer_set(t, ntp_due_in_ms(10), 10, 0);
    TEST_WAIT_UNTIL(atomic_load(&r->runs) >= 3, 5000);
    ASSERT_OK(ntp_cleanup_group_close_members(g, false, NULL));
    int runs = atomic_load(&r->runs);
    TEST_WAIT_UNTIL(atomic_load(&r->released) == 1, 5000);
    test_sleep_ms(100);
    ASSERT_EQ(atomic_load(&r->runs), runs);
    ntp_cleanup_group_close(g);
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/* H81: a timer closed inside its own callback while its group releases
 * it, with cancel; the release hook still runs once. */
TEST_IMPL(timer_close_in_callback_during_group_release)
{
    ntp_pool *pool = make_pool(4);
    ntp_cleanup_group *g = NULL;
    ASSERT_OK(ntp_cleanup_group_create(&g));
    rec *r = rec_new();
    ASSERT_OK(ntp_event_create(&r->gate, true, false));
    r->close_in_cb = true;
    ntp_timer *t = make_timer(r, pool, g);
    ntp_timer_set(t, ntp_due_in_ms(0), 5, 0);
    /* At least: while the first run waits for the gate, the next expiries
     * run on the other workers, and a slow poll (valgrind) misses 1. */
    TEST_WAIT_UNTIL(atomic_load(&r->runs) >= 1, 5000);
    delayed_set d = {.event = r->gate, .delay_ms = 50};
    ASSERT_EQ(pthread_create(&d.thread, NULL, delayed_set_main, &d), 0);
    ASSERT_OK(ntp_cleanup_group_close_members(g, true, NULL));
    ASSERT_EQ(pthread_join(d.thread, NULL), 0);
    TEST_WAIT_UNTIL(atomic_load(&r->released) == 1, 5000);
    int runs = atomic_load(&r->runs);
    test_sleep_ms(50);
    ASSERT_EQ(atomic_load(&r->runs), runs);
    ASSERT_EQ(atomic_load(&r->released), 1);
    ntp_cleanup_group_close(g);
    ASSERT_OK(ntp_handle_close(r->gate));
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/*
 * Closing races with expiry: timers due within microseconds, one-shot or
 * periodic, closed at once. Every one is freed exactly once (release hook
 * count), and ASan/TSan see no use after free or race.
 */
static atomic_int race_released;

static void
race_cb(ntp_instance *inst, void *ctx, ntp_timer *timer)
{
}

static void
race_release(void *ctx)
{
    atomic_fetch_add(&race_released, 1);
}

TEST_IMPL(timer_close_races_with_expiry)
{
    enum { N = 3000 };
    ntp_pool *pool = make_pool(4);
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);
    atomic_store(&race_released, 0);
    srand(4242);
    for (int i = 0; i < N; i++) {
        ntp_timer *t = NULL;
        ASSERT_OK(ntp_timer_create(&t, race_cb, NULL, &env));
        ASSERT_OK(ntp_timer_set_release(t, race_release));
        uint32_t period = (i % 2) ? 1 : 0;
        ntp_timer_set(t, ntp_due_in_ns((uint64_t)(rand() % 200000)), period,
                      0);
        for (volatile int spin = rand() % 20000; spin > 0; spin--) {
            continue;
        }
        if (i % 5 == 0) {
            ntp_timer_set(t, ntp_due_in_ns((uint64_t)(rand() % 50000)),
                          period, 0);
        }
        ntp_timer_close(t);
    }
    TEST_WAIT_UNTIL(atomic_load(&race_released) == N, 10000);
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* Windows, set_ex, is_set                                                   */
/* ------------------------------------------------------------------------ */

/*
 * H79/H80: A (due 100, window 200), B (150, 200) and C (200, 200)
 * overlap, so they fire together at C's due time: A and B late, inside
 * their windows, none early. (reactor_window_coalesces_in_one_wakeup
 * checks the single wake-up itself.)
 */
TEST_IMPL(timer_window_coalesces_expiries)
{
    ntp_pool *pool = make_pool(4);
    rec *ra = rec_new(), *rb = rec_new(), *rc = rec_new();
    ntp_timer *a = make_timer(ra, pool, NULL);
    ntp_timer *b = make_timer(rb, pool, NULL);
    ntp_timer *c = make_timer(rc, pool, NULL);
    uint64_t start = ntp__now_ns();
    ntp_timer_set(a, ntp_due_in_ms(100), 0, 200);
    ntp_timer_set(b, ntp_due_in_ms(150), 0, 200);
    ntp_timer_set(c, ntp_due_in_ms(200), 0, 200);
    TEST_WAIT_UNTIL(atomic_load(&ra->runs) && atomic_load(&rb->runs)
                        && atomic_load(&rc->runs),
                    5000);
    ASSERT_GE(run_at(ra, 0), start + 200 * MS); /* delayed to C */
    ASSERT_GE(run_at(rb, 0), start + 200 * MS);
    ASSERT_GE(run_at(rc, 0), start + 200 * MS);
    ASSERT_LE(run_at(ra, 0), start + 300 * MS + late_ns());

    /* Without a window, no delay. */
    rec *rd = rec_new();
    ntp_timer *dd = make_timer(rd, pool, NULL);
    start = ntp__now_ns();
    ntp_timer_set(dd, ntp_due_in_ms(100), 0, 0);
    ntp_timer_set(c, ntp_due_in_ms(300), 0, 0);
    TEST_WAIT_UNTIL(atomic_load(&rd->runs), 5000);
    ASSERT_GE(run_at(rd, 0), start + 100 * MS);
    ASSERT_LT(run_at(rd, 0), start + 300 * MS);

    ntp_timer_close(a);
    ntp_timer_close(b);
    ntp_timer_close(c);
    ntp_timer_close(dd);
    TEST_WAIT_UNTIL(atomic_load(&ra->released) && atomic_load(&rb->released)
                        && atomic_load(&rc->released)
                        && atomic_load(&rd->released),
                    5000);
    ntp_pool_close(pool);
    free(ra);
    free(rb);
    free(rc);
    free(rd);
    ASSERT_NO_LIVE_OBJECTS();
}

/* SPEC 7 SetThreadpoolTimerEx: true only when a pending setting was
 * cancelled before it expired. */
TEST_IMPL(timer_set_ex_reports_pending)
{
    ntp_pool *pool = make_pool(4);
    rec *r = rec_new();
    ntp_timer *t = make_timer(r, pool, NULL);

    ASSERT(!ntp_timer_set_ex(t, ntp_due_in_ms(5000), 0, 0)); /* fresh */
    ASSERT(ntp_timer_set_ex(t, ntp_due_none(), 0, 0));  /* cancelled */
    ASSERT(!ntp_timer_set_ex(t, ntp_due_none(), 0, 0)); /* not set */

    /* Zero due time: queued at once, nothing pending afterwards. */
    ASSERT(!ntp_timer_set_ex(t, ntp_due_in_ms(0), 0, 0));
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 1, 5000);
    ASSERT(!ntp_timer_set_ex(t, ntp_due_in_ms(20), 0, 0));
    /* Expired one-shot: false. */
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 2, 5000);
    ASSERT(!ntp_timer_set_ex(t, ntp_due_in_ms(10), 20, 0));
    /* Periodic, between expiries: true. */
    TEST_WAIT_UNTIL(atomic_load(&r->runs) >= 4, 5000);
    ASSERT(ntp_timer_set_ex(t, ntp_due_none(), 0, 0));
    ntp_timer_close(t);
    TEST_WAIT_UNTIL(atomic_load(&r->released) == 1, 5000);
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/* N1: is_set means "last set had a due time", not "will fire". */
TEST_IMPL(timer_is_set_stays_after_fire)
{
    ntp_pool *pool = make_pool(4);
    rec *r = rec_new();
    ntp_timer *t = make_timer(r, pool, NULL);
    ASSERT(!ntp_timer_is_set(t));
    ntp_timer_set(t, ntp_due_in_ms(10), 0, 0);
    ASSERT(ntp_timer_is_set(t));
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 1, 5000);
    ASSERT(ntp_timer_is_set(t));
    ntp_timer_set(t, ntp_due_none(), 0, 0);
    ASSERT(!ntp_timer_is_set(t));
    ntp_timer_set(t, ntp_due_at_unix_ns(0), 0, 0); /* long past */
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 2, 5000);
    ASSERT(ntp_timer_is_set(t));
    ntp_timer_close(t);
    TEST_WAIT_UNTIL(atomic_load(&r->released) == 1, 5000);
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* Resources and misuse                                                      */
/* ------------------------------------------------------------------------ */

static atomic_long alloc_count;

static void *
counting_malloc(size_t size, void *data)
{
    atomic_fetch_add(&alloc_count, 1);
    return malloc(size);
}

static void
plain_free(void *p, void *data)
{
    free(p);
}

/* SPEC 2: setting a timer never allocates (so it cannot fail). */
TEST_IMPL(timer_set_never_allocates)
{
    ntp_pool *pool = make_pool(4);
    rec *r = rec_new();
    ntp_timer *t = make_timer(r, pool, NULL);
    ntp_set_allocator(counting_malloc, plain_free, NULL);
    atomic_store(&alloc_count, 0);
    for (int i = 0; i < 1000; i++) {
        ntp_timer_set(t, ntp_due_in_ms(1000 + (uint64_t)i), 10, 5);
        ntp_timer_set(t, ntp_due_at_unix_ns(ntp__realtime_ns() + 5000 * MS),
                      0, 0);
        (void)ntp_timer_set_ex(t, ntp_due_none(), 0, 0);
        (void)ntp_timer_is_set(t);
    }
    ntp_timer_set(t, ntp_due_in_ms(0), 0, 0);
    ASSERT_EQ(atomic_load(&alloc_count), 0);
    ntp_set_allocator(NULL, NULL, NULL);
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 1, 5000);
    ntp_timer_close(t);
    TEST_WAIT_UNTIL(atomic_load(&r->released) == 1, 5000);
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

static void
work_noop(ntp_instance *inst, void *ctx, ntp_work *work)
{
}

TEST_IMPL(timer_misuse_is_reported)
{
    ntp_timer *t = NULL;
    ASSERT_STATUS(ntp_timer_create(NULL, rec_cb, NULL, NULL), NTP_EINVAL);
    ASSERT_STATUS(ntp_timer_create(&t, NULL, NULL, NULL), NTP_EINVAL);
    ASSERT_NULL(t);
    ntp_env env;
    ntp_env_init(&env);
    env.version = 42;
    ASSERT_STATUS(ntp_timer_create(&t, rec_cb, NULL, &env), NTP_EINVAL);

    ntp_set_diagnostic_handler(count_diag, NULL);
    atomic_store(&diag_count, 0);
    ntp_timer_set(NULL, ntp_due_in_ms(1), 0, 0);
    ASSERT(!ntp_timer_set_ex(NULL, ntp_due_in_ms(1), 0, 0));
    ASSERT(!ntp_timer_is_set(NULL));
    ntp_timer_wait(NULL, false);
    ASSERT_EQ(atomic_load(&diag_count), 4);
    ntp_timer_close(NULL); /* harmless, silent */
    ASSERT_EQ(atomic_load(&diag_count), 4);
    ASSERT_NULL(ntp_timer_context(NULL));
    ASSERT_STATUS(ntp_timer_set_release(NULL, rec_release), NTP_EINVAL);

    /* Another kind of object is refused. */
    ntp_work *w = NULL;
    ASSERT_OK(ntp_work_create(&w, work_noop, NULL, NULL));
    ntp_timer_set((ntp_timer *)w, ntp_due_in_ms(1), 0, 0);
    ASSERT_EQ(atomic_load(&diag_count), 5);
    ntp_work_close(w);

    /* A bad due-time kind is refused. */
    rec *r = rec_new();
    ASSERT_OK(ntp_timer_create(&t, rec_cb, r, NULL));
    ntp_due bad = {7, 0};
    ntp_timer_set(t, bad, 0, 0);
    ASSERT_EQ(atomic_load(&diag_count), 6);
    ASSERT(!ntp_timer_is_set(t));
    ntp_timer_close(t);
    ntp_set_diagnostic_handler(NULL, NULL);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/*
 * Scale: 100,000 armed timers on one pool all fire exactly once, within a
 * few seconds, with no thread per timer: the pool's workers and the
 * reactor are all there is.
 */
typedef struct many {
    atomic_int total;
    atomic_uchar *hits;
} many;

static many many_state;

static void
many_cb(ntp_instance *inst, void *ctx, ntp_timer *timer)
{
    size_t i = (size_t)(uintptr_t)ctx;
    atomic_fetch_add(&many_state.hits[i], 1);
    atomic_fetch_add(&many_state.total, 1);
}

TEST_IMPL(timer_many_armed_fire_once)
{
    enum { N = 100000, WORKERS = 2 };
    ntp_pool *pool = make_pool(WORKERS);
    /* All workers up front, so the count cannot change later. */
    ASSERT_OK(ntp_pool_set_min_threads(pool, WORKERS));
    many_state.hits = calloc(N, sizeof *many_state.hits);
    ASSERT_NOT_NULL(many_state.hits);
    atomic_store(&many_state.total, 0);
    ntp_timer **timers = calloc(N, sizeof *timers);
    ASSERT_NOT_NULL(timers);
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);

    ASSERT_OK(ntp_timer_create(&timers[0], many_cb, (void *)(uintptr_t)0,
                               &env));
    /* The reactor runs now: every thread we will ever need exists. */
    int baseline = thread_count();

    srand(99);
    uint64_t start = ntp__now_ns();
    for (size_t i = 1; i < N; i++) {
        ASSERT_OK(ntp_timer_create(&timers[i], many_cb, (void *)(uintptr_t)i,
                                   &env));
    }
    for (size_t i = 0; i < N; i++) {
        /* Spread over 0.5-1.5 s, a few with windows. */
        uint32_t window = (i % 4 == 0) ? (uint32_t)(rand() % 50) : 0;
        uint64_t due_ms = 500 + (uint64_t)(rand() % 1000);
        ntp_timer_set(timers[i], ntp_due_in_ms(due_ms), 0, window);
    }
    uint64_t armed = ntp__now_ns();
    int peak = thread_count();
    uint64_t end_ms = test_now_ms() + 20000u * test_timeout_multiplier();
    while (atomic_load(&many_state.total) < N) {
        int n = thread_count();
        peak = n > peak ? n : peak;
        ASSERT_LT(test_now_ms(), end_ms);
        test_sleep_ms(20);
    }
    uint64_t done = ntp__now_ns();
    test_sleep_ms(100);
    ASSERT_EQ(atomic_load(&many_state.total), N);
    for (size_t i = 0; i < N; i++) {
        ASSERT_EQ(atomic_load(&many_state.hits[i]), 1);
    }
    ASSERT_LE(peak, baseline);
    /* Arming 100,000 is cheap, and they are all done soon after the
     * last due time (1.5 s). */
    ASSERT_LT(armed - start, (uint64_t)2000 * MS * test_timeout_multiplier());
    ASSERT_LT(done - start, (uint64_t)4000 * MS * test_timeout_multiplier());

    for (size_t i = 0; i < N; i++) {
        ntp_timer_close(timers[i]);
    }
    ntp_pool_close(pool);
    free(timers);
    free(many_state.hits);
    ASSERT_NO_LIVE_OBJECTS();
}
