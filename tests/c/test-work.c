/*
 * test-work.c -- work objects: submit, wait (with and without cancel),
 * scheduling between objects, closing, release hooks and misuse (SPEC 6,
 * CONFORMANCE B16-B28).
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
    ntp_pool_stats st = stats_of(pool);
    return st.queued[0] + st.queued[1] + st.queued[2];
}

static ntp_work *
make_work(ntp_work_cb cb, void *ctx, ntp_pool *pool)
{
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);
    ntp_work *work = NULL;
    ASSERT_OK(ntp_work_create(&work, cb, ctx, &env));
    ASSERT_NOT_NULL(work);
    return work;
}

/* Diagnostics are captured so a test can tell that one was issued. */
static atomic_int diag_count;

static void
capture_diag(const char *message, void *data)
{
    atomic_fetch_add(&diag_count, 1);
}

/*
 * Sets `event` from another thread once the pool's queue is down to
 * `queued` posts: it lets a test release a blocked callback exactly when a
 * cancelling wait has dropped the queue, which a sleep could only guess.
 */
typedef struct opener {
    pthread_t thread;
    ntp_pool *pool;
    uint64_t queued;
    ntp_handle *event;
} opener;

static void *
opener_main(void *arg)
{
    opener *o = arg;
    uint64_t end = test_now_ms() + LONG_WAIT_MS;
    while (queued_total(o->pool) > o->queued && test_now_ms() < end) {
        test_sleep_ms(1);
    }
    ASSERT_OK(ntp_event_set(o->event));
    return NULL;
}

static void
opener_start(opener *o, ntp_pool *pool, uint64_t queued, ntp_handle *ev)
{
    o->pool = pool;
    o->queued = queued;
    o->event = ev;
    ASSERT_EQ(pthread_create(&o->thread, NULL, opener_main, o), 0);
}

static void
opener_join(opener *o)
{
    ASSERT_EQ(pthread_join(o->thread, NULL), 0);
}

static atomic_int runs;

static void
count_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    atomic_fetch_add(&runs, 1);
}

/* The first run blocks until `release`; later runs just count. */
static ntp_handle *first_started;
static ntp_handle *first_release;

static void
first_blocks_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    if (atomic_fetch_add(&runs, 1) == 0) {
        ASSERT_OK(ntp_event_set(first_started));
        wait_signalled(first_release);
    }
}

/* Occupy one worker of `pool` with a run of a blocker object until
 * ntp_event_set(first_release); free_worker ends it and frees all. */
static ntp_work *
hold_worker(ntp_pool *pool)
{
    first_started = make_event();
    first_release = make_event();
    ntp_work *blocker = make_work(first_blocks_cb, NULL, pool);
    ntp_work_submit(blocker);
    wait_signalled(first_started);
    return blocker;
}

static void
free_worker(ntp_work *blocker)
{
    ASSERT_OK(ntp_event_set(first_release));
    ntp_work_wait(blocker, false);
    ntp_work_close(blocker);
    ASSERT_OK(ntp_handle_close(first_started));
    ASSERT_OK(ntp_handle_close(first_release));
}

/* ------------------------------------------------------------------------ */
/* Submit and wait                                                           */
/* ------------------------------------------------------------------------ */

TEST_IMPL(work_wait_never_submitted)
{
    ntp_work *work = make_work(count_cb, NULL, NULL);
    /* Nothing outstanding: both waits return at once (B16). */
    uint64_t t0 = test_now_ms();
    ntp_work_wait(work, false);
    ntp_work_wait(work, true);
    ASSERT_LT(test_now_ms() - t0, 500);
    ASSERT_EQ(atomic_load(&runs), 0);
    ntp_work_close(work);
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(work_submit_wait)
{
    /* With the default environment, as kernel32's smoke test (B28). */
    ntp_work *work = NULL;
    ASSERT_OK(ntp_work_create(&work, count_cb, NULL, NULL));
    ntp_work_submit(work);
    ntp_work_wait(work, false);
    ASSERT_EQ(atomic_load(&runs), 1);

    /* Posts are not merged: 5 submits, 5 runs (B17). */
    for (int i = 0; i < 5; i++) {
        ntp_work_submit(work);
    }
    ntp_work_wait(work, false);
    ASSERT_EQ(atomic_load(&runs), 6);
    ntp_work_close(work);
    ASSERT_NO_LIVE_OBJECTS();
}

static _Atomic(ntp_instance *) seen_inst;
static _Atomic(void *) seen_ctx;
static _Atomic(ntp_work *) seen_work;

static void
args_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    atomic_store(&seen_inst, inst);
    atomic_store(&seen_ctx, ctx);
    atomic_store(&seen_work, work);
}

TEST_IMPL(work_callback_args)
{
    int ctx_target;
    ntp_work *work = make_work(args_cb, &ctx_target, NULL);
    ASSERT_PTR_EQ(ntp_work_context(work), &ctx_target);
    ntp_work_submit(work);
    ntp_work_wait(work, false);
    /* An instance, the creation context and the object itself (B18). */
    ASSERT_NOT_NULL(atomic_load(&seen_inst));
    ASSERT_PTR_EQ(atomic_load(&seen_ctx), &ctx_target);
    ASSERT_PTR_EQ(atomic_load(&seen_work), work);
    ntp_work_close(work);
    ASSERT_NO_LIVE_OBJECTS();
}

static atomic_int finished;

static void
slow_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    test_sleep_ms(20);
    atomic_fetch_add(&finished, 1);
}

TEST_IMPL(work_wait_waits_for_all)
{
    ntp_pool *pool = make_pool(2);
    ntp_work *work = make_work(slow_cb, NULL, pool);
    for (int i = 0; i < 6; i++) {
        ntp_work_submit(work);
    }
    /* Returns only after every run has finished, queued ones included
     * (B19): 6 runs of 20 ms on 2 threads take ~60 ms. */
    ntp_work_wait(work, false);
    ASSERT_EQ(atomic_load(&finished), 6);
    ntp_work_close(work);
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(work_wait_cancel_pending)
{
    ntp_pool *pool = make_pool(1);
    first_started = make_event();
    first_release = make_event();
    ntp_work *work = make_work(first_blocks_cb, NULL, pool);

    /* One running (blocked), nine queued behind it on the only worker. */
    for (int i = 0; i < 10; i++) {
        ntp_work_submit(work);
    }
    wait_signalled(first_started);
    ASSERT_EQ(queued_total(pool), 9);

    /* The blocked run is released only once the queue has been dropped,
     * so the wait must drop all 9 and wait for the running one (B20). */
    opener o;
    opener_start(&o, pool, 0, first_release);
    ntp_work_wait(work, true);
    ASSERT_EQ(atomic_load(&runs), 1);
    opener_join(&o);

    /* Dropped posts never run later. */
    test_sleep_ms(50);
    ASSERT_EQ(atomic_load(&runs), 1);
    ASSERT_EQ(queued_total(pool), 0);

    ntp_work_close(work);
    ASSERT_OK(ntp_handle_close(first_started));
    ASSERT_OK(ntp_handle_close(first_release));
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(work_reusable_after_cancel)
{
    ntp_pool *pool = make_pool(1);
    first_started = make_event();
    first_release = make_event();
    ntp_work *work = make_work(first_blocks_cb, NULL, pool);
    for (int i = 0; i < 4; i++) {
        ntp_work_submit(work);
    }
    wait_signalled(first_started);
    opener o;
    opener_start(&o, pool, 0, first_release);
    ntp_work_wait(work, true);
    opener_join(&o);
    ASSERT_EQ(atomic_load(&runs), 1);

    /* The object is still usable after a cancelling wait (B21). */
    for (int i = 0; i < 3; i++) {
        ntp_work_submit(work);
    }
    ntp_work_wait(work, false);
    ASSERT_EQ(atomic_load(&runs), 4);
    ntp_work_wait(work, true); /* nothing outstanding: a no-op */
    ntp_work_submit(work);
    ntp_work_wait(work, false);
    ASSERT_EQ(atomic_load(&runs), 5);

    ntp_work_close(work);
    ASSERT_OK(ntp_handle_close(first_started));
    ASSERT_OK(ntp_handle_close(first_release));
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}

static atomic_int finished_at_wait_return = -1;

static void *
waiter_main(void *arg)
{
    ntp_work *work = arg;
    ntp_work_wait(work, false);
    atomic_store(&finished_at_wait_return, atomic_load(&finished));
    return NULL;
}

TEST_IMPL(work_wait_from_other_thread)
{
    ntp_pool *pool = make_pool(2);
    ntp_work *work = make_work(slow_cb, NULL, pool);
    for (int i = 0; i < 4; i++) {
        ntp_work_submit(work);
    }
    /* Two threads wait at once; each returns only after all 4 (B22). */
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, waiter_main, work), 0);
    ntp_work_wait(work, false);
    ASSERT_EQ(atomic_load(&finished), 4);
    ASSERT_EQ(pthread_join(t, NULL), 0);
    ASSERT_EQ(atomic_load(&finished_at_wait_return), 4);
    ntp_work_close(work);
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}

static ntp_handle *waiter_returned;

static void *
cancelling_waiter_main(void *arg)
{
    ntp_work_wait(arg, true);
    return NULL;
}

static void *
signalling_waiter_main(void *arg)
{
    ntp_work_wait(arg, false);
    ASSERT_OK(ntp_event_set(waiter_returned));
    return NULL;
}

TEST_IMPL(work_wait_ends_when_other_thread_cancels)
{
    ntp_pool *pool = make_pool(1);
    waiter_returned = make_event();
    /* The only worker is held by another object, so `work`'s posts stay
     * queued and none of its callbacks ever runs. */
    ntp_work *blocker = hold_worker(pool);
    ntp_work *work = make_work(count_cb, NULL, pool);
    for (int i = 0; i < 3; i++) {
        ntp_work_submit(work);
    }

    /* One thread waits for the three posts; give it time to fall asleep. */
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, signalling_waiter_main, work), 0);
    test_sleep_ms(50);

    /* A cancelling wait elsewhere drops them: with no callback running,
     * nothing is outstanding any more, and the sleeping waiter must see it
     * without any callback finishing to wake it (B20, B22). */
    ntp_work_wait(work, true);
    wait_signalled(waiter_returned);
    ASSERT_EQ(pthread_join(t, NULL), 0);
    ASSERT_EQ(atomic_load(&runs), 1); /* the blocker's run only */

    ntp_work_close(work);
    free_worker(blocker);
    ASSERT_OK(ntp_handle_close(waiter_returned));
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* Scheduling                                                                */
/* ------------------------------------------------------------------------ */

static char order[64];
static atomic_int order_len;

static void
label_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    int i = atomic_fetch_add(&order_len, 1);
    if (i < (int)sizeof order - 1) {
        order[i] = (char)(intptr_t)ctx;
    }
}

TEST_IMPL(work_round_robin)
{
    ntp_pool *pool = make_pool(1);
    ntp_work *blocker = hold_worker(pool);

    ntp_work *a = make_work(label_cb, (void *)(intptr_t)'A', pool);
    ntp_work *b = make_work(label_cb, (void *)(intptr_t)'B', pool);
    for (int i = 0; i < 5; i++) {
        ntp_work_submit(a);
    }
    for (int i = 0; i < 5; i++) {
        ntp_work_submit(b);
    }
    ASSERT_OK(ntp_event_set(first_release));
    ntp_work_wait(a, false);
    ntp_work_wait(b, false);
    ASSERT_EQ(atomic_load(&order_len), 10);

    /* A's burst does not make B wait for all of A (B23): the two take
     * turns. Wine alternates strictly; ntpool requeues an object behind
     * the others after each post, so it does too. */
    ASSERT_STR_EQ(order, "ABABABABAB");

    ntp_work_close(a);
    ntp_work_close(b);
    free_worker(blocker);
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}

/*
 * A worker runs the posts of one object back to back without the pool lock
 * while that object is alone in the queue. Whatever is posted meanwhile
 * still gets the turn the queue would give it: a higher priority at once,
 * another object of the same priority after one more run (B23).
 */
static ntp_work *series_other;
static atomic_int series_posted_at = -1;

static void
series_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    int i = atomic_fetch_add(&order_len, 1);
    if (i < (int)sizeof order - 1)
        order[i] = 'A';
    if (i == 4) {
        atomic_store(&series_posted_at, i);
        ntp_work_submit(series_other);
    }
}

static void
run_series(ntp_pool *pool, int other_priority, const char *expected)
{
    memset(order, 0, sizeof order);
    atomic_store(&order_len, 0);
    ntp_work *blocker = hold_worker(pool);

    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);
    ntp_env_set_priority(&env, other_priority);
    ASSERT_OK(ntp_work_create(&series_other, label_cb, (void *)(intptr_t)'B',
                              &env));
    ntp_work *a = make_work(series_cb, NULL, pool);
    for (int i = 0; i < 10; i++) {
        ntp_work_submit(a);
    }
    ASSERT_OK(ntp_event_set(first_release));
    ntp_work_wait(a, false);
    ntp_work_wait(series_other, false);
    ASSERT_EQ(atomic_load(&order_len), 11);
    ASSERT_EQ(atomic_load(&series_posted_at), 4);
    ASSERT_STR_EQ(order, expected);

    ntp_work_close(a);
    ntp_work_close(series_other);
    free_worker(blocker);
}

TEST_IMPL(work_series_yields_to_higher_priority)
{
    ntp_pool *pool = make_pool(1);
    /* B, posted from A's fifth run, is the next callback. */
    run_series(pool, NTP_PRIORITY_HIGH, "AAAAABAAAAA");
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(work_series_takes_turns_with_new_object)
{
    ntp_pool *pool = make_pool(1);
    /* A had been put back in the queue before B came: A once more, then
     * B, as when every post goes through the queue (B23). */
    run_series(pool, NTP_PRIORITY_NORMAL, "AAAAAABAAAA");
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(work_series_yields_nothing_to_lower_priority)
{
    ntp_pool *pool = make_pool(1);
    run_series(pool, NTP_PRIORITY_LOW, "AAAAAAAAAAB");
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}

/*
 * Batches (worker.c): a worker running a lone object takes several of its
 * posts at once. They have not started, so they stay cancellable, and they
 * never hold back a run that another callback waits for.
 */
static atomic_int batch_runs;
static atomic_bool batch_go;

/* The first run spins (no ntpool wait: that would give the batch back)
 * until batch_go; the others count. */
static void
batch_first_spins_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    if (atomic_fetch_add(&batch_runs, 1) == 0) {
        uint64_t end = test_now_ms() + LONG_WAIT_MS;
        while (!atomic_load(&batch_go) && test_now_ms() < end) {
            test_sleep_ms(1);
        }
        ASSERT(atomic_load(&batch_go));
    }
}

TEST_IMPL(work_cancel_drops_batched_posts)
{
    ntp_pool *pool = make_pool(1);
    ntp_work *blocker = hold_worker(pool);
    ntp_work *work = make_work(batch_first_spins_cb, NULL, pool);
    for (int i = 0; i < 20; i++) {
        ntp_work_submit(work);
    }
    ASSERT_EQ(queued_total(pool), 20);
    ASSERT_OK(ntp_event_set(first_release));
    /* The first run of `work` started, most of the rest in its batch: the
     * statistics still count all 19 as queued. */
    uint64_t end = test_now_ms() + LONG_WAIT_MS;
    while (atomic_load(&batch_runs) == 0 && test_now_ms() < end) {
        test_sleep_ms(1);
    }
    ASSERT_EQ(atomic_load(&batch_runs), 1);
    ASSERT_EQ(queued_total(pool), 19);

    /* A cancelling wait drops them, batch included, then waits for the run
     * in progress, which goes on only once the queue is empty. */
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, cancelling_waiter_main, work), 0);
    end = test_now_ms() + LONG_WAIT_MS;
    while (queued_total(pool) > 0 && test_now_ms() < end) {
        test_sleep_ms(1);
    }
    ASSERT_EQ(queued_total(pool), 0);
    atomic_store(&batch_go, true);
    ASSERT_EQ(pthread_join(t, NULL), 0);
    ASSERT_EQ(atomic_load(&batch_runs), 1);

    ntp_work_close(work);
    free_worker(blocker);
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}

/* The first run waits, polling, for every other run of its own object;
 * nothing in ntpool hears of that wait. */
static atomic_int others_done;
enum { WAITED_RUNS = 40 };

static void
waits_for_siblings_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    if (atomic_fetch_add(&batch_runs, 1) == 0) {
        uint64_t end = test_now_ms() + LONG_WAIT_MS;
        while (atomic_load(&others_done) < WAITED_RUNS - 1 &&
               test_now_ms() < end) {
            test_sleep_ms(1);
        }
        ASSERT_EQ(atomic_load(&others_done), WAITED_RUNS - 1);
        return;
    }
    atomic_fetch_add(&others_done, 1);
}

TEST_IMPL(work_batch_never_holds_back_awaited_runs)
{
    /* Two threads at most: whatever the first run's worker took into its
     * batch must come back to the queue for the other worker. */
    ntp_pool *pool = make_pool(2);
    ntp_work *blocker = hold_worker(pool);
    ntp_work *work = make_work(waits_for_siblings_cb, NULL, pool);
    for (int i = 0; i < WAITED_RUNS; i++) {
        ntp_work_submit(work);
    }
    ASSERT_OK(ntp_event_set(first_release));
    ntp_work_wait(work, false);
    ASSERT_EQ(atomic_load(&batch_runs), WAITED_RUNS);
    ASSERT_EQ(atomic_load(&others_done), WAITED_RUNS - 1);

    ntp_work_close(work);
    free_worker(blocker);
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}

static ntp_handle *both_inside;
static atomic_int inside;
static atomic_int saw_other;

static void
meet_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    /* Each run waits for the other to be inside at the same time. */
    if (atomic_fetch_add(&inside, 1) + 1 == 2) {
        ASSERT_OK(ntp_event_set(both_inside));
    }
    if (ntp_wait_for_single(both_inside, LONG_WAIT_MS, false)
        == NTP_WAIT_OBJECT_0) {
        atomic_fetch_add(&saw_other, 1);
    }
}

TEST_IMPL(work_posts_run_in_parallel)
{
    ntp_pool *pool = make_pool(4);
    both_inside = make_event();
    ntp_work *work = make_work(meet_cb, NULL, pool);
    /* Two posts of one object, each waiting for the other: they finish
     * only if they run at the same time on two threads (B24). */
    ntp_work_submit(work);
    ntp_work_submit(work);
    ntp_work_wait(work, false);
    ASSERT_EQ(atomic_load(&saw_other), 2);
    ntp_work_close(work);
    ASSERT_OK(ntp_handle_close(both_inside));
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}

static void
resubmit_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    if (atomic_fetch_add(&runs, 1) + 1 < 5) {
        ntp_work_submit(work);
    }
}

TEST_IMPL(work_resubmit_from_callback)
{
    ntp_work *work = make_work(resubmit_cb, NULL, NULL);
    ntp_work_submit(work);
    /* Each run posts the next before it returns, so the object is never
     * idle until the fifth run: one wait sees all five (B25). */
    ntp_work_wait(work, false);
    ASSERT_EQ(atomic_load(&runs), 5);
    test_sleep_ms(20);
    ASSERT_EQ(atomic_load(&runs), 5);
    ntp_work_close(work);
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* Closing and the release hook                                              */
/* ------------------------------------------------------------------------ */

static atomic_int releases;
static atomic_int runs_at_release = -1;
static ntp_handle *released_event;

static void
release_cb(void *ctx)
{
    atomic_store(&runs_at_release, atomic_load(&runs));
    atomic_fetch_add(&releases, 1);
    if (released_event != NULL) {
        ASSERT_OK(ntp_event_set(released_event));
    }
}

static void
close_self_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    atomic_fetch_add(&runs, 1);
    ntp_work_close(work);
    /* The object stays valid until this callback returns. */
    ASSERT_PTR_EQ(ntp_work_context(work), ctx);
}

TEST_IMPL(work_close_from_callback)
{
    released_event = make_event();
    int ctx;
    ntp_work *work = make_work(close_self_cb, &ctx, NULL);
    ASSERT_OK(ntp_work_set_release(work, release_cb));
    ntp_work_submit(work);
    /* Closing its own object from its callback is legal (B26); the
     * object is freed after the callback, then the hook runs. */
    wait_signalled(released_event);
    ASSERT_EQ(atomic_load(&runs), 1);
    ASSERT_EQ(atomic_load(&runs_at_release), 1);
    ASSERT_OK(ntp_handle_close(released_event));
    ASSERT_NO_LIVE_OBJECTS();
    ASSERT_EQ(atomic_load(&releases), 1);
}

TEST_IMPL(work_close_with_pending)
{
    ntp_pool *pool = make_pool(1);
    first_started = make_event();
    first_release = make_event();
    released_event = make_event();
    ntp_work *work = make_work(first_blocks_cb, NULL, pool);
    ASSERT_OK(ntp_work_set_release(work, release_cb));
    for (int i = 0; i < 4; i++) {
        ntp_work_submit(work);
    }
    wait_signalled(first_started);

    /* Close returns at once although one run is blocked and three are
     * queued (B27)... */
    uint64_t t0 = test_now_ms();
    ntp_work_close(work);
    ASSERT_LT(test_now_ms() - t0, 1000);
    ASSERT_EQ(atomic_load(&releases), 0);

    /* ...the queued runs still execute, and the hook comes after the last
     * of them, exactly once. */
    ASSERT_OK(ntp_event_set(first_release));
    wait_signalled(released_event);
    ASSERT_EQ(atomic_load(&runs), 4);
    ASSERT_EQ(atomic_load(&runs_at_release), 4);
    test_sleep_ms(20);
    ASSERT_EQ(atomic_load(&releases), 1);

    ASSERT_OK(ntp_handle_close(first_started));
    ASSERT_OK(ntp_handle_close(first_release));
    ASSERT_OK(ntp_handle_close(released_event));
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}

static atomic_int others_done;
static atomic_int others_done_after_self_wait = -1;

static void
self_wait_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    if (atomic_fetch_add(&runs, 1) == 0) {
        /* First run: post another, then wait on our own object. That
         * would wait for ourselves; ntpool waits for the other run only
         * and reports the misuse. */
        ntp_work_submit(work);
        ntp_work_wait(work, false);
        atomic_store(&others_done_after_self_wait,
                     atomic_load(&others_done));
    } else {
        test_sleep_ms(20);
        atomic_fetch_add(&others_done, 1);
    }
}

TEST_IMPL(work_wait_self_from_callback)
{
    ntp_set_diagnostic_handler(capture_diag, NULL);
    ntp_pool *pool = make_pool(4);
    ntp_work *work = make_work(self_wait_cb, NULL, pool);
    ntp_work_submit(work);
    ntp_work_wait(work, false);
    ASSERT_EQ(atomic_load(&runs), 2);
    /* The inner wait returned (no deadlock) after the other run. */
    ASSERT_EQ(atomic_load(&others_done_after_self_wait), 1);
    ASSERT_GE(atomic_load(&diag_count), 1);
    ntp_work_close(work);
    ntp_pool_close(pool);
    ntp_set_diagnostic_handler(NULL, NULL);
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* Misuse                                                                    */
/* ------------------------------------------------------------------------ */

TEST_IMPL(work_null_and_wrong_type)
{
    ntp_set_diagnostic_handler(capture_diag, NULL);
    ntp_work *work = NULL;
    ASSERT_STATUS(ntp_work_create(&work, NULL, NULL, NULL), NTP_EINVAL);
    ASSERT_STATUS(ntp_work_create(NULL, count_cb, NULL, NULL), NTP_EINVAL);
    ASSERT_STATUS(ntp_work_set_release(NULL, release_cb), NTP_EINVAL);
    ASSERT_NULL(ntp_work_context(NULL));
    ASSERT_EQ(ntp_debug_live_objects(), 0);

    /* The void calls report NULL through the diagnostic handler. */
    int before = atomic_load(&diag_count);
    ntp_work_submit(NULL);
    ntp_work_wait(NULL, false);
    ntp_work_wait(NULL, true);
    ASSERT_GE(atomic_load(&diag_count), before + 3);
    ntp_work_close(NULL); /* documented as a harmless no-op */

    /* A live object of another type is recognised by its tag. */
    ntp_pool *pool = make_pool(1);
    ntp_work *not_work = (ntp_work *)(void *)pool;
    before = atomic_load(&diag_count);
    ntp_work_submit(not_work);
    ntp_work_wait(not_work, false);
    ntp_work_close(not_work);
    ASSERT_GE(atomic_load(&diag_count), before + 3);
    ASSERT_STATUS(ntp_work_set_release(not_work, release_cb), NTP_EINVAL);
    ASSERT_EQ(stats_of(pool).callbacks_run, 0);
    ntp_pool_close(pool);

    ntp_set_diagnostic_handler(NULL, NULL);
    ASSERT_NO_LIVE_OBJECTS();
}

static atomic_int diag_after_second_close = -1;
static atomic_int diag_after_late_submit = -1;

static void
close_twice_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    atomic_fetch_add(&runs, 1);
    /* Our running callback keeps the object alive, so these calls are on
     * valid memory: the second close and a submit after close are misuse
     * that must be diagnosed, not acted on. */
    int before = atomic_load(&diag_count);
    ntp_work_close(work);
    ntp_work_close(work);
    atomic_store(&diag_after_second_close, atomic_load(&diag_count) - before);
    before = atomic_load(&diag_count);
    ntp_work_submit(work);
    atomic_store(&diag_after_late_submit, atomic_load(&diag_count) - before);
}

TEST_IMPL(work_double_close_diagnostic)
{
    ntp_set_diagnostic_handler(capture_diag, NULL);
    released_event = make_event();
    ntp_work *work = make_work(close_twice_cb, NULL, NULL);
    ASSERT_OK(ntp_work_set_release(work, release_cb));
    ntp_work_submit(work);
    wait_signalled(released_event);
    ASSERT_EQ(atomic_load(&diag_after_second_close), 1);
    ASSERT_EQ(atomic_load(&diag_after_late_submit), 1);
    ASSERT_OK(ntp_handle_close(released_event));
    ASSERT_NO_LIVE_OBJECTS();
    /* Released once, and the late submit did not run. */
    test_sleep_ms(20);
    ASSERT_EQ(atomic_load(&releases), 1);
    ASSERT_EQ(atomic_load(&runs), 1);
    ntp_set_diagnostic_handler(NULL, NULL);
}
