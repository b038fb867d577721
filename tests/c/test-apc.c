/*
 * test-apc.c -- APCs and alertable waits (SPEC 12, CONFORMANCE K139-K143):
 * per-thread FIFO queues on ntpool and non-ntpool threads, alertable and
 * non-alertable sleeps and waits, waking a blocked thread, thread handles
 * and thread exit, and waitable timer completion routines (SPEC 13.7).
 */
#include "task.h"

#include "sync.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#define LONG_WAIT_MS (10000u * test_timeout_multiplier())

/* A log of APC runs: which arg, on which thread. */
#define LOG_MAX 64
static atomic_int log_len;
static int log_vals[LOG_MAX];
static pthread_t log_threads[LOG_MAX];

static void
log_apc(void *arg)
{
    int i = atomic_fetch_add(&log_len, 1);
    if (i < LOG_MAX) {
        log_vals[i] = (int)(intptr_t)arg;
        log_threads[i] = pthread_self();
    }
}

static void
log_reset(void)
{
    atomic_store(&log_len, 0);
}

/* CONFORMANCE K139: an APC queued to the calling (main, non-ntpool) thread
 * does not run until the thread waits alertably; non-alertable sleeps and
 * waits never run it; SleepEx(.., TRUE) runs all of them, FIFO, on this
 * thread, and returns WAIT_IO_COMPLETION; with nothing queued it returns 0
 * after the timeout. */
TEST_IMPL(apc_main_thread_sleep_ex)
{
    log_reset();
    ntp_handle *ev;
    ASSERT_OK(ntp_event_create(&ev, true, false));
    for (int i = 1; i <= 3; i++) {
        ASSERT_OK(ntp_queue_apc(NTP_CURRENT_THREAD, log_apc,
                                (void *)(intptr_t)i));
    }
    ASSERT_EQ(ntp_sleep_ex(20, false), 0);
    ASSERT_EQ(ntp_sleep_ex(0, false), 0);
    ASSERT_STATUS(ntp_wait_for_single(ev, 20, false), NTP_WAIT_TIMEOUT);
    ASSERT_STATUS(ntp_wait_for_multiple(1, &ev, false, 0, false),
                  NTP_WAIT_TIMEOUT);
    ASSERT_EQ(atomic_load(&log_len), 0);

    uint64_t start = test_now_ms();
    ASSERT_EQ(ntp_sleep_ex(LONG_WAIT_MS, true), NTP_WAIT_IO_COMPLETION);
    ASSERT_LT(test_now_ms() - start, LONG_WAIT_MS / 2); /* did not sleep */
    ASSERT_EQ(atomic_load(&log_len), 3);
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(log_vals[i], i + 1);
        ASSERT(pthread_equal(log_threads[i], pthread_self()));
    }
    /* Nothing queued any more: a plain timed sleep. */
    start = test_now_ms();
    ASSERT_EQ(ntp_sleep_ex(30, true), 0);
    ASSERT_GE(test_now_ms() - start, 29);
    ASSERT_EQ(ntp_sleep_ex(0, true), 0);
    ASSERT_EQ(atomic_load(&log_len), 3);
    ASSERT_OK(ntp_handle_close(ev));
    ASSERT_NO_LIVE_OBJECTS();
}

/* CONFORMANCE K140: alertable WaitForSingleObjectEx and
 * WaitForMultipleObjectsEx on unsignalled objects run pending APCs and
 * return WAIT_IO_COMPLETION; after that a wait works normally (K141). */
TEST_IMPL(apc_alertable_waits_return_io_completion)
{
    log_reset();
    ntp_handle *ev[2];
    ASSERT_OK(ntp_event_create(&ev[0], false, false));
    ASSERT_OK(ntp_event_create(&ev[1], true, false));
    ASSERT_OK(ntp_queue_apc(NTP_CURRENT_THREAD, log_apc, (void *)1));
    ASSERT_STATUS(ntp_wait_for_single(ev[0], LONG_WAIT_MS, true),
                  NTP_WAIT_IO_COMPLETION);
    ASSERT_EQ(atomic_load(&log_len), 1);
    ASSERT_OK(ntp_queue_apc(NTP_CURRENT_THREAD, log_apc, (void *)2));
    ASSERT_STATUS(ntp_wait_for_multiple(2, ev, false, LONG_WAIT_MS, true),
                  NTP_WAIT_IO_COMPLETION);
    ASSERT_OK(ntp_queue_apc(NTP_CURRENT_THREAD, log_apc, (void *)3));
    ASSERT_STATUS(ntp_wait_for_multiple(2, ev, true, LONG_WAIT_MS, true),
                  NTP_WAIT_IO_COMPLETION);
    ASSERT_EQ(atomic_load(&log_len), 3);
    ASSERT_EQ(log_vals[2], 3);
    /* Normal waits afterwards. */
    ASSERT_STATUS(ntp_wait_for_single(ev[0], 10, true), NTP_WAIT_TIMEOUT);
    ASSERT_OK(ntp_event_set(ev[1]));
    ASSERT_STATUS(ntp_wait_for_multiple(2, ev, false, 10, true),
                  NTP_WAIT_OBJECT_0 + 1);
    ASSERT_OK(ntp_handle_close(ev[0]));
    ASSERT_OK(ntp_handle_close(ev[1]));
    ASSERT_NO_LIVE_OBJECTS();
}

/* SPEC 12 [proj]: when an object is signalled and APCs are pending at the
 * start of an alertable wait, the object wins and the APCs stay queued for
 * the next alertable wait. */
TEST_IMPL(apc_signalled_object_wins_apc_stays_queued)
{
    log_reset();
    ntp_handle *ev;
    ASSERT_OK(ntp_event_create(&ev, true, true));
    ASSERT_OK(ntp_queue_apc(NTP_CURRENT_THREAD, log_apc, (void *)7));
    ASSERT_STATUS(ntp_wait_for_single(ev, LONG_WAIT_MS, true),
                  NTP_WAIT_OBJECT_0);
    ASSERT_EQ(atomic_load(&log_len), 0);
    ASSERT_EQ(ntp_sleep_ex(0, true), NTP_WAIT_IO_COMPLETION);
    ASSERT_EQ(atomic_load(&log_len), 1);
    ASSERT_EQ(log_vals[0], 7);
    ASSERT_OK(ntp_handle_close(ev));
    ASSERT_NO_LIVE_OBJECTS();
}

/* A thread blocked alertably, for the tests that wake it from outside. */
typedef struct sleeper {
    pthread_t thread;
    ntp_handle *self;     /* its thread handle, made by itself */
    ntp_handle *ev;       /* what it waits on (NULL: ntp_sleep_ex) */
    bool alertable;
    atomic_int ready;     /* self is published */
    atomic_int result;
    atomic_int phase;     /* 1 before the wait, 2 after */
} sleeper;

#define NOT_YET (-99999)

static void *
sleeper_main(void *arg)
{
    sleeper *s = arg;
    ASSERT_OK(ntp_thread_current(&s->self));
    ASSERT_EQ(ntp_handle_kind_of(s->self), NTP_HANDLE_THREAD);
    atomic_store(&s->ready, 1);
    atomic_store(&s->phase, 1);
    int r;
    if (s->ev == NULL) {
        r = ntp_sleep_ex(NTP_INFINITE, s->alertable);
    } else {
        r = ntp_wait_for_single(s->ev, LONG_WAIT_MS, s->alertable);
    }
    atomic_store(&s->result, r);
    atomic_store(&s->phase, 2);
    return NULL;
}

static void
start_sleeper(sleeper *s, ntp_handle *ev, bool alertable)
{
    s->ev = ev;
    s->alertable = alertable;
    atomic_store(&s->ready, 0);
    atomic_store(&s->phase, 0);
    atomic_store(&s->result, NOT_YET);
    ASSERT_EQ(pthread_create(&s->thread, NULL, sleeper_main, s), 0);
    TEST_WAIT_UNTIL(atomic_load(&s->ready), 5000);
}

/* Is the sleeper's thread blocked in an alertable wait (white box)? */
static bool
sleeper_blocked_alertably(sleeper *s)
{
    return ntp__thread_handle_in_alertable_wait(s->self) == 1;
}

/* A gate for APCs that must block until the test lets them go. */
static ntp_handle *gate;

static void
gated_apc(void *arg)
{
    log_apc(arg);
    ASSERT_STATUS(ntp_wait_for_single(gate, LONG_WAIT_MS, false),
                  NTP_WAIT_OBJECT_0);
}

/* CONFORMANCE K140/K141: an APC queued from another thread wakes a
 * (non-ntpool) thread blocked in an alertable wait; APCs queued while
 * the first runs also run, FIFO, before that wait returns, all on the
 * target thread. */
TEST_IMPL(apc_from_other_thread_wakes_alertable_wait)
{
    log_reset();
    ntp_handle *ev;
    ASSERT_OK(ntp_event_create(&ev, false, false));
    ASSERT_OK(ntp_event_create(&gate, true, false));
    sleeper s;
    start_sleeper(&s, ev, true);
    TEST_WAIT_UNTIL(sleeper_blocked_alertably(&s), 5000);
    ASSERT_OK(ntp_queue_apc(s.self, gated_apc, (void *)1));
    TEST_WAIT_UNTIL(atomic_load(&log_len) == 1, 5000);
    for (int i = 2; i <= 5; i++) {
        ASSERT_OK(ntp_queue_apc(s.self, log_apc, (void *)(intptr_t)i));
    }
    ASSERT_EQ(atomic_load(&s.phase), 1); /* still inside APC 1 */
    ASSERT_OK(ntp_event_set(gate));
    ASSERT_EQ(pthread_join(s.thread, NULL), 0);
    ASSERT_EQ(atomic_load(&s.result), NTP_WAIT_IO_COMPLETION);
    ASSERT_EQ(atomic_load(&log_len), 5);
    for (int i = 0; i < 5; i++) {
        ASSERT_EQ(log_vals[i], i + 1);
        ASSERT(pthread_equal(log_threads[i], s.thread));
    }
    /* The event was not consumed by the interrupted wait. */
    ASSERT_OK(ntp_event_set(ev));
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_OK(ntp_handle_close(s.self));
    ASSERT_OK(ntp_handle_close(ev));
    ASSERT_OK(ntp_handle_close(gate));
    ASSERT_NO_LIVE_OBJECTS();
}

/* An APC wakes an infinite alertable ntp_sleep_ex on another thread. */
TEST_IMPL(apc_wakes_infinite_alertable_sleep)
{
    log_reset();
    sleeper s;
    start_sleeper(&s, NULL, true);
    TEST_WAIT_UNTIL(sleeper_blocked_alertably(&s), 5000);
    ASSERT_OK(ntp_queue_apc(s.self, log_apc, (void *)42));
    ASSERT_EQ(pthread_join(s.thread, NULL), 0);
    ASSERT_EQ(atomic_load(&s.result), NTP_WAIT_IO_COMPLETION);
    ASSERT_EQ(atomic_load(&log_len), 1);
    ASSERT_EQ(log_vals[0], 42);
    ASSERT(pthread_equal(log_threads[0], s.thread));
    ASSERT_OK(ntp_handle_close(s.self));
    ASSERT_NO_LIVE_OBJECTS();
}

/* CONFORMANCE K140: a thread in a non-alertable wait is not woken by an
 * APC and does not run it; the wait ends normally. */
TEST_IMPL(apc_not_run_by_non_alertable_wait)
{
    log_reset();
    ntp_handle *ev;
    ASSERT_OK(ntp_event_create(&ev, false, false));
    sleeper s;
    start_sleeper(&s, ev, false);
    TEST_WAIT_UNTIL(ntp__handle_waiter_count(ev) == 1, 5000);
    ASSERT_OK(ntp_queue_apc(s.self, log_apc, (void *)1));
    test_sleep_ms(50);
    ASSERT_EQ(atomic_load(&s.phase), 1);
    ASSERT_OK(ntp_event_set(ev));
    ASSERT_EQ(pthread_join(s.thread, NULL), 0);
    ASSERT_EQ(atomic_load(&s.result), NTP_WAIT_OBJECT_0);
    /* The thread ended with the APC still queued: discarded, never run
     * (SPEC 12), and freed (ASan would see a leak). */
    ASSERT_EQ(atomic_load(&log_len), 0);
    ASSERT_OK(ntp_handle_close(s.self));
    ASSERT_OK(ntp_handle_close(ev));
    ASSERT_NO_LIVE_OBJECTS();
}

static void *
exit_at_once(void *arg)
{
    ntp_handle **out = arg;
    ASSERT_OK(ntp_thread_current(out));
    return NULL;
}

/* CONFORMANCE K142: an APC to a thread that has ended is refused
 * (ERROR_GEN_FAILURE: NTP_ESRCH). A thread handle is signalled once its
 * thread has ended, for waits and thread-pool waits alike. */
TEST_IMPL(apc_to_exited_thread_refused)
{
    log_reset();
    ntp_handle *h = NULL;
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, exit_at_once, &h), 0);
    ASSERT_EQ(pthread_join(t, NULL), 0);
    ASSERT_NOT_NULL(h);
    ASSERT_STATUS(ntp_queue_apc(h, log_apc, NULL), NTP_ESRCH);
    ASSERT_STATUS(ntp_wait_for_single(h, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_STATUS(ntp_wait_for_single(h, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_OK(ntp_handle_close(h));

    /* A handle to a live thread is not signalled; one being waited on
     * becomes signalled when the thread ends. */
    ntp_handle *ev;
    ASSERT_OK(ntp_event_create(&ev, false, false));
    sleeper s;
    start_sleeper(&s, ev, false);
    ASSERT_STATUS(ntp_wait_for_single(s.self, 0, false), NTP_WAIT_TIMEOUT);
    ASSERT_OK(ntp_event_set(ev));
    ASSERT_STATUS(ntp_wait_for_single(s.self, LONG_WAIT_MS, false),
                  NTP_WAIT_OBJECT_0);
    ASSERT_EQ(pthread_join(s.thread, NULL), 0);
    ASSERT_STATUS(ntp_queue_apc(s.self, log_apc, NULL), NTP_ESRCH);
    ASSERT_OK(ntp_handle_close(s.self));
    ASSERT_OK(ntp_handle_close(ev));
    ASSERT_EQ(atomic_load(&log_len), 0);
    ASSERT_NO_LIVE_OBJECTS();
}

/* Each ntp_thread_current is a handle of its own: closing one leaves the
 * others working. */
TEST_IMPL(apc_thread_current_handles_are_independent)
{
    log_reset();
    ntp_handle *a, *b;
    ASSERT_OK(ntp_thread_current(&a));
    ASSERT_OK(ntp_thread_current(&b));
    ASSERT_PTR_NE(a, b);
    ASSERT_OK(ntp_handle_close(a));
    ASSERT_OK(ntp_queue_apc(b, log_apc, (void *)5));
    ASSERT_EQ(ntp_sleep_ex(0, true), NTP_WAIT_IO_COMPLETION);
    ASSERT_EQ(atomic_load(&log_len), 1);
    ASSERT_OK(ntp_handle_close(b));
    ASSERT_NO_LIVE_OBJECTS();
}

/* Bad input gets clear errors and queues nothing. */
TEST_IMPL(apc_bad_arguments)
{
    log_reset();
    ntp_handle *self, *ev;
    ASSERT_OK(ntp_thread_current(&self));
    ASSERT_OK(ntp_event_create(&ev, false, false));
    ASSERT_STATUS(ntp_thread_current(NULL), NTP_EINVAL);
    ASSERT_STATUS(ntp_queue_apc(NULL, log_apc, NULL), NTP_EINVAL);
    ASSERT_STATUS(ntp_queue_apc(self, NULL, NULL), NTP_EINVAL);
    ASSERT_STATUS(ntp_queue_apc(NTP_CURRENT_THREAD, NULL, NULL), NTP_EINVAL);
    ASSERT_STATUS(ntp_queue_apc(ev, log_apc, NULL), NTP_EBADF);
    ASSERT_EQ(ntp_sleep_ex(0, true), 0);
    ASSERT_EQ(atomic_load(&log_len), 0);
    ASSERT_STATUS(ntp_waitable_timer_set_apc(ev, ntp_due_in_ms(1), 0,
                                             NULL, NULL),
                  NTP_EBADF);
    ASSERT_OK(ntp_handle_close(self));
    ASSERT_OK(ntp_handle_close(ev));
    ASSERT_NO_LIVE_OBJECTS();
}

/* An APC that itself waits alertably runs the rest of the queue (nested
 * dispatch, SPEC 12); the outer wait still returns IO_COMPLETION. */
static void
nested_apc(void *arg)
{
    log_apc(arg);
    ASSERT_EQ(ntp_sleep_ex(0, true), NTP_WAIT_IO_COMPLETION);
}

TEST_IMPL(apc_nested_alertable_wait)
{
    log_reset();
    ASSERT_OK(ntp_queue_apc(NTP_CURRENT_THREAD, nested_apc, (void *)1));
    ASSERT_OK(ntp_queue_apc(NTP_CURRENT_THREAD, log_apc, (void *)2));
    ASSERT_OK(ntp_queue_apc(NTP_CURRENT_THREAD, log_apc, (void *)3));
    ASSERT_EQ(ntp_sleep_ex(LONG_WAIT_MS, true), NTP_WAIT_IO_COMPLETION);
    ASSERT_EQ(atomic_load(&log_len), 3);
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(log_vals[i], i + 1);
    }
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* Waitable timer completion routines                                        */
/* ------------------------------------------------------------------------ */

static atomic_int routine_runs;
static pthread_t routine_thread;
static void *routine_arg;
static uint64_t routine_filetime;

static void
routine(void *arg, uint32_t lo, uint32_t hi)
{
    atomic_fetch_add(&routine_runs, 1);
    routine_thread = pthread_self();
    routine_arg = arg;
    routine_filetime = ((uint64_t)hi << 32) | lo;
}

static uint64_t
filetime_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 10000000u + (uint64_t)ts.tv_nsec / 100u
           + UINT64_C(116444736000000000);
}

/* SPEC 13.7: on expiry the completion routine is queued to the thread
 * that set the timer, with the expiry time as a FILETIME, and runs at its
 * next alertable wait; the timer is signalled as well. */
TEST_IMPL(apc_waitable_timer_completion_routine)
{
    atomic_store(&routine_runs, 0);
    ntp_handle *t;
    ASSERT_OK(ntp_waitable_timer_create(&t, true));
    uint64_t before = filetime_now();
    ASSERT_OK(ntp_waitable_timer_set_apc(t, ntp_due_in_ms(30), 0, routine,
                                         (void *)0x1234));
    /* Not run by a non-alertable wait on the timer itself. */
    ASSERT_STATUS(ntp_wait_for_single(t, LONG_WAIT_MS, false),
                  NTP_WAIT_OBJECT_0);
    ASSERT_EQ(atomic_load(&routine_runs), 0);
    ASSERT_EQ(ntp_sleep_ex(LONG_WAIT_MS, true), NTP_WAIT_IO_COMPLETION);
    ASSERT_EQ(atomic_load(&routine_runs), 1);
    ASSERT(pthread_equal(routine_thread, pthread_self()));
    ASSERT_PTR_EQ(routine_arg, (void *)0x1234);
    ASSERT_GE(routine_filetime, before + 30 * 10000 - 20 * 10000);
    ASSERT_LE(routine_filetime, filetime_now());
    /* One-shot: nothing more. */
    ASSERT_EQ(ntp_sleep_ex(50, true), 0);
    ASSERT_EQ(atomic_load(&routine_runs), 1);
    ASSERT_OK(ntp_handle_close(t));
    ASSERT_NO_LIVE_OBJECTS();
}

/* A periodic timer queues at most one completion APC at a time; set and
 * cancel remove a queued one; closing the timer with one queued keeps it
 * alive until the APC ran. */
TEST_IMPL(apc_waitable_timer_periodic_cancel_close)
{
    atomic_store(&routine_runs, 0);
    ntp_handle *t;
    ASSERT_OK(ntp_waitable_timer_create(&t, false));
    ASSERT_OK(ntp_waitable_timer_set_apc(t, ntp_due_in_ms(0), 20, routine,
                                         NULL));
    test_sleep_ms(200); /* about ten periods, not alertable */
    ASSERT_EQ(ntp_sleep_ex(0, true), NTP_WAIT_IO_COMPLETION);
    /* One queued APC, plus at most one more if a period ended while it
     * ran (the run loop takes APCs queued meanwhile too). */
    int runs = atomic_load(&routine_runs);
    ASSERT_GE(runs, 1);
    ASSERT_LE(runs, 2);
    /* And it keeps coming. */
    ASSERT_EQ(ntp_sleep_ex(LONG_WAIT_MS, true), NTP_WAIT_IO_COMPLETION);
    ASSERT_GT(atomic_load(&routine_runs), runs);

    /* Cancel removes the queued APC. */
    test_sleep_ms(50);
    ASSERT_OK(ntp_waitable_timer_cancel(t));
    runs = atomic_load(&routine_runs);
    ASSERT_EQ(ntp_sleep_ex(60, true), 0);
    ASSERT_EQ(atomic_load(&routine_runs), runs);

    /* Set again (due now, queued at once) then set without a routine:
     * the queued one is removed too. */
    ASSERT_OK(ntp_waitable_timer_set_apc(t, ntp_due_in_ms(0), 0, routine,
                                         NULL));
    ASSERT_OK(ntp_waitable_timer_set(t, ntp_due_in_ms(0), 0));
    ASSERT_EQ(ntp_sleep_ex(30, true), 0);
    ASSERT_EQ(atomic_load(&routine_runs), runs);

    /* Closed with its APC queued: the APC still runs, then the timer is
     * freed. */
    ASSERT_OK(ntp_waitable_timer_set_apc(t, ntp_due_in_ms(0), 0, routine,
                                         (void *)9));
    ASSERT_OK(ntp_handle_close(t));
    ASSERT_EQ(ntp_debug_live_objects(), 1);
    ASSERT_EQ(ntp_sleep_ex(0, true), NTP_WAIT_IO_COMPLETION);
    ASSERT_EQ(atomic_load(&routine_runs), runs + 1);
    ASSERT_PTR_EQ(routine_arg, (void *)9);
    ASSERT_NO_LIVE_OBJECTS();
}

typedef struct owner_args {
    ntp_handle *timer;
    bool queue_now; /* expire at once, leaving the APC queued at exit */
} owner_args;

static void *
set_and_exit(void *arg)
{
    owner_args *a = arg;
    ASSERT_OK(ntp_waitable_timer_set_apc(
        a->timer, ntp_due_in_ms(a->queue_now ? 0 : 50), 0, routine, NULL));
    return NULL;
}

/* SPEC 13.7: when the thread that set a timer with a completion routine
 * exits, the timer is cancelled (its state unchanged) and its queued APC
 * is discarded. */
TEST_IMPL(apc_waitable_timer_owner_exit_cancels)
{
    atomic_store(&routine_runs, 0);
    ntp_handle *t;
    ASSERT_OK(ntp_waitable_timer_create(&t, true));
    owner_args a = {t, false};
    pthread_t th;
    ASSERT_EQ(pthread_create(&th, NULL, set_and_exit, &a), 0);
    ASSERT_EQ(pthread_join(th, NULL), 0);
    ASSERT_STATUS(ntp_wait_for_single(t, 150, false), NTP_WAIT_TIMEOUT);

    /* Expired (signalled) with the APC queued, then the thread exits:
     * the APC is discarded, its reference dropped, the state kept. */
    a.queue_now = true;
    ASSERT_EQ(pthread_create(&th, NULL, set_and_exit, &a), 0);
    ASSERT_EQ(pthread_join(th, NULL), 0);
    ASSERT_STATUS(ntp_wait_for_single(t, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_EQ(atomic_load(&routine_runs), 0);
    ASSERT_OK(ntp_handle_close(t));
    ASSERT_NO_LIVE_OBJECTS();
}

/* APCs to a pool's persistent thread: queued from a callback there, run
 * by an alertable wait in a later callback on the same thread. */
static _Atomic(ntp_handle *) persistent_self;

static void
grab_self(ntp_instance *inst, void *ctx)
{
    (void)inst;
    (void)ctx;
    ntp_handle *h;
    ASSERT_OK(ntp_thread_current(&h));
    atomic_store(&persistent_self, h);
}

static void
alertable_sleep_cb(ntp_instance *inst, void *ctx)
{
    (void)inst;
    atomic_int *res = ctx;
    atomic_store(res, ntp_sleep_ex(LONG_WAIT_MS, true));
}

TEST_IMPL(apc_to_persistent_pool_thread)
{
    log_reset();
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_persistent(&env);
    ASSERT_OK(ntp_try_submit(grab_self, NULL, &env));
    TEST_WAIT_UNTIL(atomic_load(&persistent_self) != NULL, 5000);
    atomic_int res = NOT_YET;
    ASSERT_OK(ntp_try_submit(alertable_sleep_cb, &res, &env));
    ASSERT_OK(ntp_queue_apc(atomic_load(&persistent_self), log_apc,
                            (void *)3));
    TEST_WAIT_UNTIL(atomic_load(&res) != NOT_YET, 5000);
    ASSERT_EQ(atomic_load(&res), NTP_WAIT_IO_COMPLETION);
    ASSERT_EQ(atomic_load(&log_len), 1);
    ASSERT(!pthread_equal(log_threads[0], pthread_self()));
    ASSERT_OK(ntp_handle_close(atomic_load(&persistent_self)));
    ASSERT_NO_LIVE_OBJECTS();
}
