/*
 * test-legacy.c -- the original thread-pool API (SPEC 11, CONFORMANCE
 * K112-K137): QueueUserWorkItem and its flags, RegisterWaitForSingleObject
 * with re-arm, ONLYONCE and timeouts, UnregisterWait[Ex] in its three
 * completion modes, timer queues (periodic, change, delete in the three
 * modes, the default queue), and bad arguments.
 */
#include "task.h"

#include "sync.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#define LONG_WAIT_MS (10000u * test_timeout_multiplier())

/* ------------------------------------------------------------------------ */
/* QueueUserWorkItem                                                         */
/* ------------------------------------------------------------------------ */

static atomic_int items_run;

static uint32_t
count_item(void *ctx)
{
    (void)ctx;
    atomic_fetch_add(&items_run, 1);
    return 0;
}

/* CONFORMANCE K112: items queued with every accepted flag all run. */
TEST_IMPL(legacy_queue_user_work_item_all_run)
{
    static const uint32_t flags[] = {
        NTP_WT_EXECUTEDEFAULT, NTP_WT_EXECUTEINIOTHREAD,
        NTP_WT_EXECUTEINPERSISTENTTHREAD, NTP_WT_EXECUTELONGFUNCTION,
        NTP_WT_TRANSFER_IMPERSONATION};
    atomic_store(&items_run, 0);
    for (int i = 0; i < 100; i++) {
        ASSERT_OK(ntp_queue_user_work_item(count_item, NULL,
                                           flags[i % 5]));
    }
    TEST_WAIT_UNTIL(atomic_load(&items_run) == 100, 5000);
    ASSERT_NO_LIVE_OBJECTS();
}

static ntp_handle *gate;
static atomic_int blocked_items;

static uint32_t
blocking_item(void *ctx)
{
    (void)ctx;
    atomic_fetch_add(&blocked_items, 1);
    ASSERT_STATUS(ntp_wait_for_single(gate, LONG_WAIT_MS, false),
                  NTP_WAIT_OBJECT_0);
    atomic_fetch_add(&items_run, 1);
    return 0;
}

/* CONFORMANCE K112: four LONGFUNCTION items that block until all four
 * have started all complete: they ran at the same time. */
TEST_IMPL(legacy_queue_user_work_item_long_functions)
{
    atomic_store(&items_run, 0);
    atomic_store(&blocked_items, 0);
    ASSERT_OK(ntp_event_create(&gate, true, false));
    for (int i = 0; i < 4; i++) {
        ASSERT_OK(ntp_queue_user_work_item(blocking_item, NULL,
                                           NTP_WT_EXECUTELONGFUNCTION));
    }
    TEST_WAIT_UNTIL(atomic_load(&blocked_items) == 4, 5000);
    ASSERT_OK(ntp_event_set(gate));
    TEST_WAIT_UNTIL(atomic_load(&items_run) == 4, 5000);
    ASSERT_OK(ntp_handle_close(gate));
    ASSERT_NO_LIVE_OBJECTS();
}

static pthread_t item_threads[8];
static atomic_int item_index, items_recorded;

static uint32_t
record_thread_item(void *ctx)
{
    (void)ctx;
    int i = atomic_fetch_add(&item_index, 1);
    if (i < 8) {
        item_threads[i] = pthread_self();
    }
    atomic_fetch_add(&items_recorded, 1);
    return 0;
}

/* WT_EXECUTEINPERSISTENTTHREAD: the pool's persistent thread, the same
 * one every time. The max-threads bits raise the default pool's limit. */
TEST_IMPL(legacy_queue_user_work_item_persistent_and_limit)
{
    atomic_store(&item_index, 0);
    atomic_store(&items_recorded, 0);
    for (int i = 0; i < 8; i++) {
        ASSERT_OK(ntp_queue_user_work_item(
            record_thread_item, NULL, NTP_WT_EXECUTEINPERSISTENTTHREAD));
    }
    TEST_WAIT_UNTIL(atomic_load(&items_recorded) == 8, 5000);
    for (int i = 1; i < 8; i++) {
        ASSERT(pthread_equal(item_threads[i], item_threads[0]));
    }
    ntp_pool_stats st;
    ASSERT_OK(ntp_pool_stats_get(ntp_pool_default(), &st));
    ASSERT_EQ(st.persistent_thread, 1);
    uint32_t flags = NTP_WT_EXECUTEDEFAULT;
    NTP_WT_SET_MAX_THREADPOOL_THREADS(flags, st.max_threads + 100);
    atomic_store(&items_run, 0);
    ASSERT_OK(ntp_queue_user_work_item(count_item, NULL, flags));
    TEST_WAIT_UNTIL(atomic_load(&items_run) == 1, 5000);
    ntp_pool_stats st2;
    ASSERT_OK(ntp_pool_stats_get(ntp_pool_default(), &st2));
    ASSERT_EQ(st2.max_threads, st.max_threads + 100);
    ASSERT_NO_LIVE_OBJECTS();
}

static atomic_int apc_ran;
static pthread_t apc_thread, queuing_thread;

static void
self_apc(void *arg)
{
    (void)arg;
    apc_thread = pthread_self();
    atomic_store(&apc_ran, 1);
}

static uint32_t
queue_apc_to_self(void *ctx)
{
    (void)ctx;
    queuing_thread = pthread_self();
    ASSERT_OK(ntp_queue_apc(NTP_CURRENT_THREAD, self_apc, NULL));
    return 0;
}

/* CONFORMANCE K123: Vista and later run an APC a work item queued to its
 * own worker (after the item returns). */
TEST_IMPL(legacy_queue_user_work_item_runs_apcs)
{
    atomic_store(&apc_ran, 0);
    ASSERT_OK(ntp_queue_user_work_item(queue_apc_to_self, NULL, 0));
    TEST_WAIT_UNTIL(atomic_load(&apc_ran) == 1, 5000);
    ASSERT(pthread_equal(apc_thread, queuing_thread));
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(legacy_queue_user_work_item_bad_arguments)
{
    ASSERT_STATUS(ntp_queue_user_work_item(NULL, NULL, 0), NTP_EINVAL);
    ASSERT_STATUS(ntp_queue_user_work_item(count_item, NULL, 0x200),
                  NTP_EINVAL);
    ASSERT_STATUS(ntp_queue_user_work_item(count_item, NULL, 0x8000),
                  NTP_EINVAL);
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* RegisterWaitForSingleObject                                               */
/* ------------------------------------------------------------------------ */

typedef struct wait_log {
    atomic_int calls;
    atomic_int timeouts; /* calls with timer_or_wait_fired true */
    atomic_int running;
    ntp_handle *block_on;  /* if set, each callback waits for it */
    ntp_registered_wait *self_unregister; /* unregister from inside */
    atomic_int self_result;
} wait_log;

static void
wait_cb(void *ctx, bool fired)
{
    wait_log *l = ctx;
    atomic_fetch_add(&l->running, 1);
    atomic_fetch_add(&l->calls, 1);
    if (fired) {
        atomic_fetch_add(&l->timeouts, 1);
    }
    if (l->block_on != NULL) {
        ASSERT_STATUS(ntp_wait_for_single(l->block_on, LONG_WAIT_MS, false),
                      NTP_WAIT_OBJECT_0);
    }
    if (l->self_unregister != NULL) {
        atomic_store(&l->self_result,
                     ntp_unregister_wait(l->self_unregister));
    }
    atomic_fetch_sub(&l->running, 1);
}

static void
wait_log_init(wait_log *l)
{
    memset(l, 0, sizeof *l);
    atomic_store(&l->self_result, 1);
}

/* CONFORMANCE K113: register then unregister at once: TRUE, no callback. */
TEST_IMPL(legacy_register_then_unregister)
{
    wait_log l;
    wait_log_init(&l);
    ntp_handle *ev;
    ASSERT_OK(ntp_event_create(&ev, false, false));
    ntp_registered_wait *rw = NULL;
    ASSERT_OK(ntp_register_wait(&rw, ev, wait_cb, &l, NTP_INFINITE, 0));
    ASSERT_NOT_NULL(rw);
    ASSERT_OK(ntp_unregister_wait(rw));
    ASSERT_OK(ntp_event_set(ev));
    test_sleep_ms(50);
    ASSERT_EQ(atomic_load(&l.calls), 0);
    /* The signal was not consumed. */
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_OK(ntp_handle_close(ev));
    ASSERT_NO_LIVE_OBJECTS();
}

/* CONFORMANCE K114: without ONLYONCE the wait re-arms itself: one
 * callback (fired false) per signal, each signal consumed. */
TEST_IMPL(legacy_register_wait_rearms)
{
    wait_log l;
    wait_log_init(&l);
    ntp_handle *ev;
    ASSERT_OK(ntp_event_create(&ev, false, false));
    ntp_registered_wait *rw;
    ASSERT_OK(ntp_register_wait(&rw, ev, wait_cb, &l, NTP_INFINITE, 0));
    for (int i = 1; i <= 3; i++) {
        ASSERT_OK(ntp_event_set(ev));
        TEST_WAIT_UNTIL(atomic_load(&l.calls) == i, 5000);
        /* Consumed by the wait. */
        TEST_WAIT_UNTIL(ntp_wait_for_single(ev, 0, false) == NTP_WAIT_TIMEOUT,
                        5000);
    }
    ASSERT_EQ(atomic_load(&l.timeouts), 0);
    ASSERT_OK(ntp_unregister_wait_ex(rw, NTP_COMPLETION_WAIT));
    ASSERT_OK(ntp_event_set(ev));
    test_sleep_ms(30);
    ASSERT_EQ(atomic_load(&l.calls), 3);
    ASSERT_OK(ntp_handle_close(ev));
    ASSERT_NO_LIVE_OBJECTS();
}

/* CONFORMANCE K115, K117: with ONLYONCE one callback; later signals stay
 * unconsumed. Timeout 0 gives an immediate callback with TRUE; an
 * already-signalled handle one with FALSE. */
TEST_IMPL(legacy_register_wait_only_once)
{
    wait_log l;
    wait_log_init(&l);
    ntp_handle *ev;
    ASSERT_OK(ntp_event_create(&ev, false, false));
    ntp_registered_wait *rw;
    ASSERT_OK(ntp_register_wait(&rw, ev, wait_cb, &l, NTP_INFINITE,
                                NTP_WT_EXECUTEONLYONCE));
    ASSERT_OK(ntp_event_set(ev));
    TEST_WAIT_UNTIL(atomic_load(&l.calls) == 1, 5000);
    ASSERT_OK(ntp_event_set(ev));
    test_sleep_ms(50);
    ASSERT_EQ(atomic_load(&l.calls), 1);
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_OK(ntp_unregister_wait_ex(rw, NTP_COMPLETION_WAIT));

    wait_log_init(&l);
    ASSERT_OK(ntp_register_wait(&rw, ev, wait_cb, &l, 0,
                                NTP_WT_EXECUTEONLYONCE));
    TEST_WAIT_UNTIL(atomic_load(&l.calls) == 1, 5000);
    ASSERT_EQ(atomic_load(&l.timeouts), 1);
    ASSERT_OK(ntp_unregister_wait_ex(rw, NTP_COMPLETION_WAIT));

    wait_log_init(&l);
    ASSERT_OK(ntp_event_set(ev));
    ASSERT_OK(ntp_register_wait(&rw, ev, wait_cb, &l, 0,
                                NTP_WT_EXECUTEONLYONCE));
    TEST_WAIT_UNTIL(atomic_load(&l.calls) == 1, 5000);
    ASSERT_EQ(atomic_load(&l.timeouts), 0);
    ASSERT_OK(ntp_unregister_wait_ex(rw, NTP_COMPLETION_WAIT));
    ASSERT_OK(ntp_handle_close(ev));
    ASSERT_NO_LIVE_OBJECTS();
}

/* CONFORMANCE K116: a finite timeout gives callbacks with TRUE, and
 * without ONLYONCE the wait re-arms after each timeout (Windows; not
 * Wine 8.0). A later signal still gives a FALSE callback. */
TEST_IMPL(legacy_register_wait_timeout_rearms)
{
    wait_log l;
    wait_log_init(&l);
    ntp_handle *sem;
    ASSERT_OK(ntp_semaphore_create(&sem, 0, 10));
    ntp_registered_wait *rw;
    ASSERT_OK(ntp_register_wait(&rw, sem, wait_cb, &l, 20, 0));
    TEST_WAIT_UNTIL(atomic_load(&l.timeouts) >= 3, 5000);
    int before = atomic_load(&l.calls) - atomic_load(&l.timeouts);
    ASSERT_EQ(before, 0);
    ASSERT_OK(ntp_semaphore_release(sem, 1, NULL));
    TEST_WAIT_UNTIL(atomic_load(&l.calls) - atomic_load(&l.timeouts) == 1,
                    5000);
    ASSERT_OK(ntp_unregister_wait_ex(rw, NTP_COMPLETION_WAIT));
    /* The semaphore's count was taken by the wait. */
    ASSERT_STATUS(ntp_wait_for_single(sem, 0, false), NTP_WAIT_TIMEOUT);
    ASSERT_OK(ntp_handle_close(sem));
    ASSERT_NO_LIVE_OBJECTS();
}

static atomic_int unblock_done;
static void *
set_gate_later(void *arg)
{
    test_sleep_ms(100);
    atomic_store(&unblock_done, 1);
    ASSERT_OK(ntp_event_set((ntp_handle *)arg));
    return NULL;
}

/* CONFORMANCE K119: UnregisterWaitEx(INVALID_HANDLE_VALUE) blocks until a
 * running callback has returned. */
TEST_IMPL(legacy_unregister_wait_ex_waits_for_callback)
{
    wait_log l;
    wait_log_init(&l);
    ntp_handle *ev;
    ASSERT_OK(ntp_event_create(&ev, false, true));
    ASSERT_OK(ntp_event_create(&l.block_on, true, false));
    ntp_registered_wait *rw;
    ASSERT_OK(ntp_register_wait(&rw, ev, wait_cb, &l, NTP_INFINITE,
                                NTP_WT_EXECUTEONLYONCE));
    TEST_WAIT_UNTIL(atomic_load(&l.running) == 1, 5000);
    atomic_store(&unblock_done, 0);
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, set_gate_later, l.block_on), 0);
    ASSERT_OK(ntp_unregister_wait_ex(rw, NTP_COMPLETION_WAIT));
    ASSERT_EQ(atomic_load(&unblock_done), 1);
    ASSERT_EQ(atomic_load(&l.running), 0);
    ASSERT_EQ(pthread_join(t, NULL), 0);
    ASSERT_OK(ntp_handle_close(l.block_on));
    ASSERT_OK(ntp_handle_close(ev));
    ASSERT_NO_LIVE_OBJECTS();
}

/* CONFORMANCE K118, K120: while the callback runs, UnregisterWait and
 * UnregisterWaitEx(event) answer ERROR_IO_PENDING (NTP_EINPROGRESS), the
 * registration is gone anyway, and the event is set after the callback
 * returns. With nothing running: 0, and the event is set. */
TEST_IMPL(legacy_unregister_wait_pending_and_event)
{
    wait_log l;
    wait_log_init(&l);
    ntp_handle *ev, *done;
    ASSERT_OK(ntp_event_create(&ev, false, true));
    ASSERT_OK(ntp_event_create(&done, true, false));
    ASSERT_OK(ntp_event_create(&l.block_on, true, false));
    ntp_registered_wait *rw;
    ASSERT_OK(ntp_register_wait(&rw, ev, wait_cb, &l, NTP_INFINITE, 0));
    TEST_WAIT_UNTIL(atomic_load(&l.running) == 1, 5000);
    ASSERT_STATUS(ntp_unregister_wait_ex(rw, done), NTP_EINPROGRESS);
    test_sleep_ms(30);
    ASSERT_STATUS(ntp_wait_for_single(done, 0, false), NTP_WAIT_TIMEOUT);
    ASSERT_OK(ntp_event_set(l.block_on));
    ASSERT_STATUS(ntp_wait_for_single(done, LONG_WAIT_MS, false),
                  NTP_WAIT_OBJECT_0);
    ASSERT_EQ(atomic_load(&l.running), 0);
    ASSERT_EQ(atomic_load(&l.calls), 1);

    /* Plain UnregisterWait while a callback runs. */
    ASSERT_OK(ntp_handle_close(l.block_on));
    wait_log_init(&l);
    ASSERT_OK(ntp_event_create(&l.block_on, true, false));
    ASSERT_OK(ntp_event_set(ev));
    ASSERT_OK(ntp_register_wait(&rw, ev, wait_cb, &l, NTP_INFINITE, 0));
    TEST_WAIT_UNTIL(atomic_load(&l.running) == 1, 5000);
    ASSERT_STATUS(ntp_unregister_wait(rw), NTP_EINPROGRESS);
    ASSERT_OK(ntp_event_set(l.block_on));
    TEST_WAIT_UNTIL(atomic_load(&l.running) == 0, 5000);

    /* Idle: 0 and the event set. */
    ntp_handle *first_gate = l.block_on;
    wait_log_init(&l);
    ASSERT_OK(ntp_event_reset(done));
    ASSERT_OK(ntp_register_wait(&rw, ev, wait_cb, &l, NTP_INFINITE, 0));
    ASSERT_OK(ntp_unregister_wait_ex(rw, done));
    ASSERT_STATUS(ntp_wait_for_single(done, LONG_WAIT_MS, false),
                  NTP_WAIT_OBJECT_0);
    ASSERT_EQ(atomic_load(&l.calls), 0);
    ASSERT_OK(ntp_handle_close(first_gate));
    ASSERT_OK(ntp_handle_close(done));
    ASSERT_OK(ntp_handle_close(ev));
    ASSERT_NO_LIVE_OBJECTS();
}

/* CONFORMANCE K125: UnregisterWait from inside the wait's own callback
 * succeeds (the running callback does not count), and no further
 * callback comes. */
TEST_IMPL(legacy_unregister_wait_from_own_callback)
{
    wait_log l;
    wait_log_init(&l);
    ntp_handle *ev;
    ASSERT_OK(ntp_event_create(&ev, false, false));
    ntp_registered_wait *rw;
    ASSERT_OK(ntp_register_wait(&rw, ev, wait_cb, &l, NTP_INFINITE, 0));
    l.self_unregister = rw;
    ASSERT_OK(ntp_event_set(ev));
    TEST_WAIT_UNTIL(atomic_load(&l.self_result) != 1, 5000);
    ASSERT_EQ(atomic_load(&l.self_result), 0);
    ASSERT_OK(ntp_event_set(ev));
    test_sleep_ms(50);
    ASSERT_EQ(atomic_load(&l.calls), 1);
    ASSERT_OK(ntp_handle_close(ev));
    ASSERT_NO_LIVE_OBJECTS();
}

static void *
thread_waits_for_gate(void *arg)
{
    ntp_handle **h = arg;
    ASSERT_OK(ntp_thread_current(&h[1]));
    ASSERT_STATUS(ntp_wait_for_single(h[0], LONG_WAIT_MS, false),
                  NTP_WAIT_OBJECT_0);
    return NULL;
}

/* A registered wait on a thread handle fires when the thread ends (SPEC
 * 11 lists threads among the supported objects). */
TEST_IMPL(legacy_register_wait_on_thread_handle)
{
    wait_log l;
    wait_log_init(&l);
    ntp_handle *h[2] = {NULL, NULL};
    ASSERT_OK(ntp_event_create(&h[0], true, false));
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, thread_waits_for_gate, h), 0);
    TEST_WAIT_UNTIL(ntp__handle_waiter_count(h[0]) == 1, 5000);
    ntp_registered_wait *rw;
    ASSERT_OK(ntp_register_wait(&rw, h[1], wait_cb, &l, NTP_INFINITE,
                                NTP_WT_EXECUTEONLYONCE));
    test_sleep_ms(30);
    ASSERT_EQ(atomic_load(&l.calls), 0);
    ASSERT_OK(ntp_event_set(h[0]));
    ASSERT_EQ(pthread_join(t, NULL), 0);
    TEST_WAIT_UNTIL(atomic_load(&l.calls) == 1, 5000);
    ASSERT_EQ(atomic_load(&l.timeouts), 0);
    ASSERT_OK(ntp_unregister_wait_ex(rw, NTP_COMPLETION_WAIT));
    ASSERT_OK(ntp_handle_close(h[1]));
    ASSERT_OK(ntp_handle_close(h[0]));
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(legacy_register_wait_bad_arguments)
{
    wait_log l;
    wait_log_init(&l);
    ntp_handle *ev, *mutex, *sem;
    ASSERT_OK(ntp_event_create(&ev, false, false));
    ASSERT_OK(ntp_mutex_create(&mutex, false));
    ASSERT_OK(ntp_semaphore_create(&sem, 0, 1));
    ntp_registered_wait *rw = NULL;
    ASSERT_STATUS(ntp_register_wait(NULL, ev, wait_cb, &l, 0, 0),
                  NTP_EINVAL);
    ASSERT_STATUS(ntp_register_wait(&rw, ev, NULL, &l, 0, 0), NTP_EINVAL);
    ASSERT_STATUS(ntp_register_wait(&rw, NULL, wait_cb, &l, 0, 0),
                  NTP_EINVAL);
    /* Not a handle at all (another kind of object). */
    ntp_timer_queue *q;
    ASSERT_OK(ntp_timer_queue_create(&q));
    ASSERT_STATUS(ntp_register_wait(&rw, (ntp_handle *)q, wait_cb, &l, 0, 0),
                  NTP_EBADF);
    ASSERT_OK(ntp_timer_queue_delete(q));
    ASSERT_STATUS(ntp_register_wait(&rw, mutex, wait_cb, &l, 0, 0),
                  NTP_ENOTSUP);
    ASSERT_STATUS(ntp_register_wait(&rw, ev, wait_cb, &l, 0, 0x4000),
                  NTP_EINVAL);
    ASSERT_NULL(rw);
    /* CONFORMANCE K121. */
    ASSERT_STATUS(ntp_unregister_wait(NULL), NTP_EINVAL);
    ASSERT_STATUS(ntp_unregister_wait_ex(NULL, NTP_COMPLETION_WAIT),
                  NTP_EINVAL);
    /* A completion handle that is not an event leaves it registered. */
    ASSERT_OK(ntp_register_wait(&rw, ev, wait_cb, &l, NTP_INFINITE, 0));
    ASSERT_STATUS(ntp_unregister_wait_ex(rw, sem), NTP_EBADF);
    ASSERT_OK(ntp_event_set(ev));
    TEST_WAIT_UNTIL(atomic_load(&l.calls) == 1, 5000);
    ASSERT_OK(ntp_unregister_wait_ex(rw, NTP_COMPLETION_WAIT));
    ASSERT_EQ(atomic_load(&l.calls), 1);
    ASSERT_OK(ntp_handle_close(ev));
    ASSERT_OK(ntp_handle_close(mutex));
    ASSERT_OK(ntp_handle_close(sem));
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* Timer queues                                                              */
/* ------------------------------------------------------------------------ */

typedef struct timer_log {
    atomic_int calls;
    atomic_int not_fired; /* callbacks with timer_or_wait_fired false */
    atomic_int running;
    ntp_handle *block_on;
    _Atomic(ntp_timer_queue_timer *) self_delete;
    atomic_int self_result;
    bool record_thread; /* only for timers whose callbacks never overlap */
    pthread_t thread;
} timer_log;

static void
timer_cb(void *ctx, bool fired)
{
    timer_log *l = ctx;
    atomic_fetch_add(&l->running, 1);
    if (l->record_thread) {
        l->thread = pthread_self();
    }
    if (!fired) {
        atomic_fetch_add(&l->not_fired, 1);
    }
    if (l->block_on != NULL) {
        ASSERT_STATUS(ntp_wait_for_single(l->block_on, LONG_WAIT_MS, false),
                      NTP_WAIT_OBJECT_0);
    }
    ntp_timer_queue_timer *t = atomic_exchange(&l->self_delete, NULL);
    if (t != NULL) {
        atomic_store(&l->self_result,
                     ntp_timer_queue_timer_delete(NULL, t, NULL));
    }
    atomic_fetch_add(&l->calls, 1);
    atomic_fetch_sub(&l->running, 1);
}

static void
timer_log_init(timer_log *l)
{
    memset(l, 0, sizeof *l);
    atomic_store(&l->self_result, 1);
}

/* CONFORMANCE K127, K132: a periodic timer keeps firing (always TRUE);
 * changing it to (10 s, 0) stops it; a one-shot fires once; a far-future
 * one-shot changed to 0 fires at once; an expired one-shot is not
 * updated by a change, which still succeeds. */
TEST_IMPL(legacy_timer_queue_periodic_and_change)
{
    ntp_timer_queue *q;
    ASSERT_OK(ntp_timer_queue_create(&q));
    timer_log per, once, far;
    timer_log_init(&per);
    timer_log_init(&once);
    timer_log_init(&far);
    ntp_timer_queue_timer *tp, *to, *tf;
    ASSERT_OK(ntp_timer_queue_timer_create(&tp, q, timer_cb, &per, 10, 20, 0));
    ASSERT_OK(ntp_timer_queue_timer_create(&to, q, timer_cb, &once, 10, 0, 0));
    ASSERT_OK(ntp_timer_queue_timer_create(&tf, q, timer_cb, &far, 100000, 0,
                                           0));
    TEST_WAIT_UNTIL(atomic_load(&per.calls) >= 3, 5000);
    ASSERT_EQ(atomic_load(&per.not_fired), 0);
    ASSERT_OK(ntp_timer_queue_timer_change(q, tp, 100000, 0));
    test_sleep_ms(30); /* a callback queued just before may still run */
    int n = atomic_load(&per.calls);
    test_sleep_ms(100);
    ASSERT_EQ(atomic_load(&per.calls), n);

    ASSERT_EQ(atomic_load(&once.calls), 1);
    ASSERT_OK(ntp_timer_queue_timer_change(q, to, 0, 0));
    test_sleep_ms(60);
    ASSERT_EQ(atomic_load(&once.calls), 1);

    ASSERT_EQ(atomic_load(&far.calls), 0);
    ASSERT_OK(ntp_timer_queue_timer_change(NULL, tf, 0, 0));
    TEST_WAIT_UNTIL(atomic_load(&far.calls) == 1, 5000);

    /* A periodic timer's period can be changed. */
    ASSERT_OK(ntp_timer_queue_timer_change(q, tp, 0, 15));
    TEST_WAIT_UNTIL(atomic_load(&per.calls) >= n + 3, 5000);

    ASSERT_OK(ntp_timer_queue_timer_delete(q, to, NTP_COMPLETION_WAIT));
    ASSERT_OK(ntp_timer_queue_delete_ex(q, NTP_COMPLETION_WAIT));
    ASSERT_NO_LIVE_OBJECTS();
}

/* CONFORMANCE K128: DeleteTimerQueueEx(q, event) while a callback runs
 * answers pending, and sets the event only once every callback of every
 * timer of the queue has returned; INVALID_HANDLE_VALUE blocks until
 * then. */
TEST_IMPL(legacy_timer_queue_delete_ex_event_and_wait)
{
    ntp_timer_queue *q;
    ASSERT_OK(ntp_timer_queue_create(&q));
    timer_log a, b;
    timer_log_init(&a);
    timer_log_init(&b);
    ASSERT_OK(ntp_event_create(&a.block_on, true, false));
    ntp_timer_queue_timer *ta, *tb;
    ASSERT_OK(ntp_timer_queue_timer_create(&ta, q, timer_cb, &a, 0, 0, 0));
    ASSERT_OK(ntp_timer_queue_timer_create(&tb, q, timer_cb, &b, 5, 5, 0));
    TEST_WAIT_UNTIL(atomic_load(&a.running) == 1, 5000);
    TEST_WAIT_UNTIL(atomic_load(&b.calls) >= 1, 5000);
    ntp_handle *done;
    ASSERT_OK(ntp_event_create(&done, true, false));
    ASSERT_STATUS(ntp_timer_queue_delete_ex(q, done), NTP_EINPROGRESS);
    test_sleep_ms(30);
    ASSERT_STATUS(ntp_wait_for_single(done, 0, false), NTP_WAIT_TIMEOUT);
    int nb = atomic_load(&b.calls);
    ASSERT_OK(ntp_event_set(a.block_on));
    ASSERT_STATUS(ntp_wait_for_single(done, LONG_WAIT_MS, false),
                  NTP_WAIT_OBJECT_0);
    ASSERT_EQ(atomic_load(&a.running), 0);
    ASSERT_EQ(atomic_load(&b.running), 0);
    test_sleep_ms(30);
    ASSERT_LE(atomic_load(&b.calls), nb + 1);

    /* Blocking deletion. */
    ASSERT_OK(ntp_handle_close(a.block_on));
    ASSERT_OK(ntp_timer_queue_create(&q));
    timer_log_init(&a);
    ASSERT_OK(ntp_event_create(&a.block_on, true, false));
    ASSERT_OK(ntp_timer_queue_timer_create(&ta, q, timer_cb, &a, 0, 0, 0));
    TEST_WAIT_UNTIL(atomic_load(&a.running) == 1, 5000);
    atomic_store(&unblock_done, 0);
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, set_gate_later, a.block_on), 0);
    ASSERT_OK(ntp_timer_queue_delete_ex(q, NTP_COMPLETION_WAIT));
    ASSERT_EQ(atomic_load(&unblock_done), 1);
    ASSERT_EQ(atomic_load(&a.running), 0);
    ASSERT_EQ(pthread_join(t, NULL), 0);

    /* An empty queue with an event: set at once. NULL: TRUE (K126). */
    ASSERT_OK(ntp_event_reset(done));
    ASSERT_OK(ntp_timer_queue_create(&q));
    ASSERT_OK(ntp_timer_queue_delete_ex(q, done));
    ASSERT_STATUS(ntp_wait_for_single(done, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_OK(ntp_timer_queue_create(&q));
    ASSERT_OK(ntp_timer_queue_timer_create(&ta, q, timer_cb, &b, 100000, 0,
                                           0));
    ASSERT_OK(ntp_timer_queue_delete(q));

    ASSERT_OK(ntp_handle_close(done));
    ASSERT_OK(ntp_handle_close(a.block_on));
    ASSERT_NO_LIVE_OBJECTS();
}

/* CONFORMANCE K129-K131, K133: DeleteTimerQueueTimer with NULL while the
 * callback runs: pending; with an event on an idle timer: 0 and the event
 * set; with INVALID_HANDLE_VALUE: waits for the running callback; from
 * its own callback with NULL: pending, and no further callbacks. */
TEST_IMPL(legacy_timer_queue_timer_delete_modes)
{
    timer_log a;
    timer_log_init(&a);
    ASSERT_OK(ntp_event_create(&a.block_on, true, false));
    ntp_timer_queue_timer *t;
    ASSERT_OK(ntp_timer_queue_timer_create(&t, NULL, timer_cb, &a, 0, 0, 0));
    TEST_WAIT_UNTIL(atomic_load(&a.running) == 1, 5000);
    ASSERT_STATUS(ntp_timer_queue_timer_delete(NULL, t, NULL),
                  NTP_EINPROGRESS);
    ASSERT_OK(ntp_event_set(a.block_on));
    TEST_WAIT_UNTIL(atomic_load(&a.running) == 0, 5000);
    ASSERT_OK(ntp_handle_close(a.block_on));

    /* Idle, with an event. */
    timer_log_init(&a);
    ntp_handle *done;
    ASSERT_OK(ntp_event_create(&done, true, false));
    ASSERT_OK(ntp_timer_queue_timer_create(&t, NULL, timer_cb, &a, 100000, 0,
                                           0));
    ASSERT_OK(ntp_timer_queue_timer_delete(NULL, t, done));
    ASSERT_STATUS(ntp_wait_for_single(done, LONG_WAIT_MS, false),
                  NTP_WAIT_OBJECT_0);

    /* Blocking, while the callback runs. */
    timer_log_init(&a);
    ASSERT_OK(ntp_event_create(&a.block_on, true, false));
    ASSERT_OK(ntp_timer_queue_timer_create(&t, NULL, timer_cb, &a, 0, 0, 0));
    TEST_WAIT_UNTIL(atomic_load(&a.running) == 1, 5000);
    atomic_store(&unblock_done, 0);
    pthread_t th;
    ASSERT_EQ(pthread_create(&th, NULL, set_gate_later, a.block_on), 0);
    ASSERT_OK(ntp_timer_queue_timer_delete(NULL, t, NTP_COMPLETION_WAIT));
    ASSERT_EQ(atomic_load(&unblock_done), 1);
    ASSERT_EQ(atomic_load(&a.running), 0);
    ASSERT_EQ(pthread_join(th, NULL), 0);
    ASSERT_OK(ntp_handle_close(a.block_on));

    /* From its own callback: pending, and the periodic timer stops. */
    timer_log_init(&a);
    ntp_timer_queue *q;
    ASSERT_OK(ntp_timer_queue_create(&q));
    ASSERT_OK(ntp_timer_queue_timer_create(&t, q, timer_cb, &a, 100000, 10,
                                           0));
    atomic_store(&a.self_delete, t);
    ASSERT_OK(ntp_timer_queue_timer_change(q, t, 0, 10));
    TEST_WAIT_UNTIL(atomic_load(&a.self_result) != 1, 5000);
    ASSERT_EQ(atomic_load(&a.self_result), NTP_EINPROGRESS);
    test_sleep_ms(60);
    ASSERT_EQ(atomic_load(&a.calls), 1);
    ASSERT_OK(ntp_timer_queue_delete_ex(q, NTP_COMPLETION_WAIT));

    ASSERT_OK(ntp_handle_close(done));
    ASSERT_NO_LIVE_OBJECTS();
}

/* CONFORMANCE K134, K126: the default queue (NULL) works for create,
 * change and delete, but cannot itself be deleted. WT_EXECUTEINTIMERTHREAD
 * callbacks of different timers share one thread (K136). */
TEST_IMPL(legacy_default_timer_queue_and_timer_thread)
{
    timer_log a, b;
    timer_log_init(&a);
    timer_log_init(&b);
    a.record_thread = b.record_thread = true;
    ntp_timer_queue_timer *ta, *tb;
    ASSERT_OK(ntp_timer_queue_timer_create(&ta, NULL, timer_cb, &a, 0, 0,
                                           NTP_WT_EXECUTEINTIMERTHREAD));
    ASSERT_OK(ntp_timer_queue_timer_create(&tb, NULL, timer_cb, &b, 5, 0,
                                           NTP_WT_EXECUTEINTIMERTHREAD
                                               | NTP_WT_EXECUTEONLYONCE));
    TEST_WAIT_UNTIL(atomic_load(&a.calls) == 1 && atomic_load(&b.calls) == 1,
                    5000);
    ASSERT(pthread_equal(a.thread, b.thread));
    ASSERT(!pthread_equal(a.thread, pthread_self()));
    ASSERT_OK(ntp_timer_queue_timer_delete(NULL, ta, NTP_COMPLETION_WAIT));
    ASSERT_OK(ntp_timer_queue_timer_delete(NULL, tb, NTP_COMPLETION_WAIT));
    ASSERT_STATUS(ntp_timer_queue_delete_ex(NULL, NULL), NTP_EINVAL);
    ASSERT_STATUS(ntp_timer_queue_delete(NULL), NTP_EINVAL);
    ASSERT_NO_LIVE_OBJECTS();
}

/* CONFORMANCE K135: a timer with due 0 and period 300, deleted without
 * waiting right after its creation, has still run once. */
TEST_IMPL(legacy_timer_due_zero_deleted_at_once_still_runs)
{
    timer_log a;
    timer_log_init(&a);
    ntp_timer_queue_timer *t;
    ASSERT_OK(ntp_timer_queue_timer_create(&t, NULL, timer_cb, &a, 0, 300,
                                           0));
    ntp_status st = ntp_timer_queue_timer_delete(NULL, t, NULL);
    ASSERT(st == 0 || st == NTP_EINPROGRESS);
    TEST_WAIT_UNTIL(atomic_load(&a.calls) == 1, 5000);
    test_sleep_ms(50);
    ASSERT_EQ(atomic_load(&a.calls), 1);
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(legacy_timer_queue_bad_arguments)
{
    timer_log a;
    timer_log_init(&a);
    ntp_timer_queue_timer *t = NULL;
    ntp_timer_queue *q;
    ntp_handle *sem;
    ASSERT_OK(ntp_semaphore_create(&sem, 0, 1));
    ASSERT_STATUS(ntp_timer_queue_create(NULL), NTP_EINVAL);
    ASSERT_OK(ntp_timer_queue_create(&q));
    ASSERT_STATUS(ntp_timer_queue_timer_create(NULL, q, timer_cb, &a, 0, 0,
                                               0),
                  NTP_EINVAL);
    ASSERT_STATUS(ntp_timer_queue_timer_create(&t, q, NULL, &a, 0, 0, 0),
                  NTP_EINVAL);
    ASSERT_STATUS(ntp_timer_queue_timer_create(&t, q, timer_cb, &a, 0, 10,
                                               NTP_WT_EXECUTEONLYONCE),
                  NTP_EINVAL);
    ASSERT_STATUS(ntp_timer_queue_timer_create(&t, q, timer_cb, &a, 0, 0,
                                               0x1000),
                  NTP_EINVAL);
    ASSERT_STATUS(ntp_timer_queue_timer_create(&t, (ntp_timer_queue *)sem,
                                               timer_cb, &a, 0, 0, 0),
                  NTP_EINVAL);
    ASSERT_NULL(t);
    ASSERT_STATUS(ntp_timer_queue_timer_change(q, NULL, 0, 0), NTP_EINVAL);
    ASSERT_STATUS(ntp_timer_queue_timer_delete(q, NULL, NULL), NTP_EINVAL);
    ASSERT_OK(ntp_timer_queue_timer_create(&t, q, timer_cb, &a, 100000, 0,
                                           0));
    /* Not an event: nothing happens, the timer lives on. */
    ASSERT_STATUS(ntp_timer_queue_timer_delete(q, t, sem), NTP_EBADF);
    ASSERT_STATUS(ntp_timer_queue_delete_ex(q, sem), NTP_EBADF);
    ASSERT_OK(ntp_timer_queue_timer_change(q, t, 0, 0));
    TEST_WAIT_UNTIL(atomic_load(&a.calls) == 1, 5000);
    ASSERT_OK(ntp_timer_queue_delete_ex(q, NTP_COMPLETION_WAIT));
    ASSERT_OK(ntp_handle_close(sem));
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* Allocation failure                                                        */
/* ------------------------------------------------------------------------ */

static atomic_long alloc_calls;
static atomic_long fail_at = -1;  /* -1: never */
static atomic_long outstanding;   /* allocated, not yet freed */

static void *
counting_malloc(size_t size, void *data)
{
    (void)data;
    long k = atomic_fetch_add(&alloc_calls, 1);
    if (k == atomic_load(&fail_at)) {
        return NULL;
    }
    void *p = malloc(size);
    if (p != NULL) {
        atomic_fetch_add(&outstanding, 1);
    }
    return p;
}

static void
counting_free(void *p, void *data)
{
    (void)data;
    if (p != NULL) {
        atomic_fetch_sub(&outstanding, 1);
    }
    free(p);
}

static ntp_handle *fault_event;

static ntp_status
try_work_item(void)
{
    return ntp_queue_user_work_item(count_item, NULL, 0);
}

static ntp_status
try_register(void)
{
    wait_log l;
    wait_log_init(&l);
    ntp_registered_wait *rw;
    ntp_status st = ntp_register_wait(&rw, fault_event, wait_cb, &l,
                                      NTP_INFINITE, 0);
    if (st == 0) {
        ASSERT_OK(ntp_unregister_wait_ex(rw, NTP_COMPLETION_WAIT));
    }
    return st;
}

static ntp_status
try_queue(void)
{
    ntp_timer_queue *q;
    ntp_status st = ntp_timer_queue_create(&q);
    if (st == 0) {
        timer_log l;
        timer_log_init(&l);
        ntp_timer_queue_timer *t;
        st = ntp_timer_queue_timer_create(&t, q, timer_cb, &l, 100000, 0, 0);
        ASSERT_OK(ntp_timer_queue_delete_ex(q, NTP_COMPLETION_WAIT));
    }
    return st;
}

static ntp_status
try_apc(void)
{
    ntp_handle *self;
    ntp_status st = ntp_thread_current(&self);
    if (st == 0) {
        st = ntp_queue_apc(self, self_apc, NULL);
        if (st == 0) {
            ASSERT_EQ(ntp_sleep_ex(0, true), NTP_WAIT_IO_COMPLETION);
        }
        ASSERT_OK(ntp_handle_close(self));
    }
    return st;
}

/* Every allocation of each fallible call of this API fails in turn: the
 * call returns NTP_ENOMEM and leaves nothing behind; then it works. */
TEST_IMPL(legacy_and_apc_allocation_failures)
{
    ntp_set_allocator(counting_malloc, counting_free, NULL);
    ASSERT_OK(ntp_event_create(&fault_event, false, false));
    ASSERT_NOT_NULL(ntp_pool_default());
    /* Warm up: the reactor and the default pool's threads. */
    atomic_store(&items_run, 0);
    ASSERT_OK(try_work_item());
    TEST_WAIT_UNTIL(atomic_load(&items_run) == 1, 5000);
    ASSERT_OK(try_register());
    ASSERT_OK(try_queue());
    ASSERT_OK(try_apc());
    long live0 = ntp_debug_live_objects();
    ntp_status (*const calls[])(void) = {try_work_item, try_register,
                                         try_queue, try_apc};
    for (size_t c = 0; c < sizeof calls / sizeof calls[0]; c++) {
        for (long n = 0;; n++) {
            TEST_WAIT_UNTIL(ntp_debug_live_objects() == live0, 5000);
            long alloc0 = atomic_load(&outstanding);
            atomic_store(&alloc_calls, 0);
            atomic_store(&fail_at, n);
            ntp_status st = calls[c]();
            atomic_store(&fail_at, -1);
            TEST_WAIT_UNTIL(ntp_debug_live_objects() == live0, 5000);
            TEST_WAIT_UNTIL(atomic_load(&outstanding) == alloc0, 5000);
            if (st == 0) {
                ASSERT_GT(n, 0);
                break;
            }
            ASSERT_STATUS(st, NTP_ENOMEM);
            ASSERT_LT(n, 50);
        }
    }
    ASSERT_OK(ntp_handle_close(fault_event));
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* BindIoCompletionCallback                                                  */
/* ------------------------------------------------------------------------ */

typedef struct bind_log {
    atomic_int calls;
    atomic_int result;
    atomic_long bytes;
    _Atomic(ntp_overlapped *) ov;
} bind_log;

static void
bound_cb(void *ctx, ntp_status result, size_t nbytes, ntp_overlapped *ov)
{
    bind_log *l = ctx;
    atomic_store(&l->result, result);
    atomic_store(&l->bytes, (long)nbytes);
    atomic_store(&l->ov, ov);
    atomic_fetch_add(&l->calls, 1);
}

/* CONFORMANCE K138: a bound fd's completions run the routine on a worker
 * with (result, bytes, overlapped); binding it again, a NULL routine or
 * nonzero flags are refused with ERROR_INVALID_PARAMETER; a bad fd too. */
TEST_IMPL(legacy_bind_io_completion_callback)
{
    bind_log l;
    memset(&l, 0, sizeof l);
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    ntp_io *io = NULL, *io2 = NULL;
    ASSERT_OK(ntp_bind_io_completion_callback(&io, p[0], bound_cb, &l, 0));
    ASSERT_NOT_NULL(io);
    ASSERT_STATUS(ntp_bind_io_completion_callback(&io2, p[0], bound_cb, &l,
                                                  0),
                  NTP_EINVAL);
    ASSERT_STATUS(ntp_bind_io_completion_callback(&io2, p[1], NULL, &l, 0),
                  NTP_EINVAL);
    ASSERT_STATUS(ntp_bind_io_completion_callback(&io2, p[1], bound_cb, &l,
                                                  1),
                  NTP_EINVAL);
    ASSERT_STATUS(ntp_bind_io_completion_callback(NULL, p[1], bound_cb, &l,
                                                  0),
                  NTP_EINVAL);
    ASSERT_STATUS(ntp_bind_io_completion_callback(&io2, -1, bound_cb, &l, 0),
                  NTP_EBADF);
    ASSERT_NULL(io2);

    ntp_overlapped ov;
    memset(&ov, 0, sizeof ov);
    ov.offset = NTP_IO_STREAM;
    char buf[16];
    ntp_io_start(io);
    ASSERT_OK(ntp_io_read(io, &ov, buf, sizeof buf));
    test_sleep_ms(20);
    ASSERT_EQ(atomic_load(&l.calls), 0);
    ASSERT_EQ(write(p[1], "hello", 5), 5);
    TEST_WAIT_UNTIL(atomic_load(&l.calls) == 1, 5000);
    ASSERT_EQ(atomic_load(&l.result), 0);
    ASSERT_EQ(atomic_load(&l.bytes), 5);
    ASSERT_PTR_EQ(atomic_load(&l.ov), &ov);
    ASSERT_EQ(memcmp(buf, "hello", 5), 0);

    /* Closing the I/O object (an extension) ends the binding. */
    ntp_io_wait(io, false);
    ntp_io_close(io);
    TEST_WAIT_UNTIL(ntp_debug_live_objects() == 0, 5000);
    ASSERT_OK(ntp_bind_io_completion_callback(&io2, p[0], bound_cb, &l, 0));
    ntp_io_close(io2);
    ASSERT_NO_LIVE_OBJECTS();
    close(p[0]);
    close(p[1]);
}
