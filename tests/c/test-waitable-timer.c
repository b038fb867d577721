/*
 * test-waitable-timer.c -- waitable timer handles (SPEC 13.7): manual
 * (notification) and synchronization timers with the wait functions,
 * periods, cancel, absolute due times, the fd mirror, bad arguments, and
 * closing a timer while it is armed.
 */
#include "task.h"

#include "reactor.h"
#include "sync.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#define MS 1000000u
#define LONG_WAIT_MS (10000u * test_timeout_multiplier())

static uint64_t
late_ns(void)
{
    return (uint64_t)80 * MS * test_timeout_multiplier();
}

static ntp_handle *
make_timer(bool manual)
{
    ntp_handle *h = NULL;
    ASSERT_OK(ntp_waitable_timer_create(&h, manual));
    ASSERT_NOT_NULL(h);
    ASSERT_EQ(ntp_handle_kind_of(h), NTP_HANDLE_WAITABLE_TIMER);
    return h;
}

/* A thread that waits once on a handle and records the result. */
typedef struct waiter {
    pthread_t thread;
    ntp_handle *h;
    atomic_int result;
} waiter;

#define NOT_YET (-99999)

static void *
waiter_main(void *arg)
{
    waiter *w = arg;
    atomic_store(&w->result,
                 ntp_wait_for_single(w->h, 500 * test_timeout_multiplier(),
                                     false));
    return NULL;
}

static void
start_waiter(waiter *w, ntp_handle *h)
{
    w->h = h;
    atomic_store(&w->result, NOT_YET);
    ASSERT_EQ(pthread_create(&w->thread, NULL, waiter_main, w), 0);
}

/* SPEC 13.7: a manual-reset timer is created nonsignalled, becomes
 * signalled at its due time (not before), and stays signalled for every
 * wait until it is set again. */
TEST_IMPL(waitable_timer_manual_stays_signalled)
{
    ntp_handle *h = make_timer(true);
    ASSERT_STATUS(ntp_wait_for_single(h, 0, false), NTP_WAIT_TIMEOUT);
    uint64_t start = ntp__now_ns();
    ASSERT_OK(ntp_waitable_timer_set(h, ntp_due_in_ms(100), 0));
    ASSERT_STATUS(ntp_wait_for_single(h, 0, false), NTP_WAIT_TIMEOUT);
    ASSERT_STATUS(ntp_wait_for_single(h, LONG_WAIT_MS, false),
                  NTP_WAIT_OBJECT_0);
    uint64_t woke = ntp__now_ns();
    ASSERT_GE(woke, start + 100 * MS);
    ASSERT_LE(woke, start + 100 * MS + late_ns());
    ASSERT_STATUS(ntp_wait_for_single(h, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_STATUS(ntp_wait_for_single(h, 0, false), NTP_WAIT_OBJECT_0);

    /* Two waiters are both released by one expiry. */
    ASSERT_OK(ntp_waitable_timer_set(h, ntp_due_in_ms(50), 0));
    ASSERT_STATUS(ntp_wait_for_single(h, 0, false), NTP_WAIT_TIMEOUT);
    waiter a, b;
    start_waiter(&a, h);
    start_waiter(&b, h);
    ASSERT_EQ(pthread_join(a.thread, NULL), 0);
    ASSERT_EQ(pthread_join(b.thread, NULL), 0);
    ASSERT_EQ(atomic_load(&a.result), NTP_WAIT_OBJECT_0);
    ASSERT_EQ(atomic_load(&b.result), NTP_WAIT_OBJECT_0);

    /* Setting again resets it, even with a far due time. */
    ASSERT_OK(ntp_waitable_timer_set(h, ntp_due_in_ms(10000), 0));
    ASSERT_STATUS(ntp_wait_for_single(h, 0, false), NTP_WAIT_TIMEOUT);
    ASSERT_OK(ntp_handle_close(h));
    ASSERT_NO_LIVE_OBJECTS();
}

/* SPEC 13.1, 13.7: a synchronization timer is reset by the one wait it
 * satisfies: of two waiters, one is released. */
TEST_IMPL(waitable_timer_sync_resets_on_wait)
{
    ntp_handle *h = make_timer(false);
    ASSERT_OK(ntp_waitable_timer_set(h, ntp_due_in_ms(50), 0));
    ASSERT_STATUS(ntp_wait_for_single(h, LONG_WAIT_MS, false),
                  NTP_WAIT_OBJECT_0);
    ASSERT_STATUS(ntp_wait_for_single(h, 0, false), NTP_WAIT_TIMEOUT);

    waiter a, b;
    start_waiter(&a, h);
    start_waiter(&b, h);
    TEST_WAIT_UNTIL(ntp__handle_waiter_count(h) == 2, 5000);
    ASSERT_OK(ntp_waitable_timer_set(h, ntp_due_in_ms(20), 0));
    ASSERT_EQ(pthread_join(a.thread, NULL), 0);
    ASSERT_EQ(pthread_join(b.thread, NULL), 0);
    int ra = atomic_load(&a.result), rb = atomic_load(&b.result);
    ASSERT((ra == NTP_WAIT_OBJECT_0 && rb == NTP_WAIT_TIMEOUT)
           || (ra == NTP_WAIT_TIMEOUT && rb == NTP_WAIT_OBJECT_0));
    ASSERT_STATUS(ntp_wait_for_single(h, 0, false), NTP_WAIT_TIMEOUT);
    ASSERT_OK(ntp_handle_close(h));
    ASSERT_NO_LIVE_OBJECTS();
}

/* A zero due time expires at once: a wait right after the set finds it
 * signalled. */
TEST_IMPL(waitable_timer_zero_due_signals_at_once)
{
    ntp_handle *h = make_timer(false);
    ASSERT_OK(ntp_waitable_timer_set(h, ntp_due_in_ms(0), 0));
    ASSERT_STATUS(ntp_wait_for_single(h, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_STATUS(ntp_wait_for_single(h, 0, false), NTP_WAIT_TIMEOUT);
    ASSERT_OK(ntp_handle_close(h));
    ASSERT_NO_LIVE_OBJECTS();
}

/* Periodic: it signals again every period, without drift. */
TEST_IMPL(waitable_timer_periodic)
{
    ntp_handle *h = make_timer(false);
    uint64_t start = ntp__now_ns();
    ASSERT_OK(ntp_waitable_timer_set(h, ntp_due_in_ms(50), 50));
    for (int i = 1; i <= 4; i++) {
        ASSERT_STATUS(ntp_wait_for_single(h, LONG_WAIT_MS, false),
                      NTP_WAIT_OBJECT_0);
        ASSERT_GE(ntp__now_ns(), start + (uint64_t)i * 50 * MS);
    }
    ASSERT_LE(ntp__now_ns(), start + 200 * MS + late_ns());
    ASSERT_OK(ntp_waitable_timer_cancel(h));
    ASSERT_OK(ntp_handle_close(h));
    ASSERT_NO_LIVE_OBJECTS();
}

/* SPEC 13.7 CancelWaitableTimer: inactive, signalled state unchanged. */
TEST_IMPL(waitable_timer_cancel_keeps_signalled_state)
{
    /* Signalled stays signalled. */
    ntp_handle *h = make_timer(true);
    ASSERT_OK(ntp_waitable_timer_set(h, ntp_due_in_ms(0), 20));
    ASSERT_OK(ntp_waitable_timer_cancel(h));
    ASSERT_STATUS(ntp_wait_for_single(h, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_OK(ntp_handle_close(h));

    /* Nonsignalled stays so: a cancelled timer never expires. */
    h = make_timer(false);
    ASSERT_OK(ntp_waitable_timer_set(h, ntp_due_in_ms(30), 0));
    ASSERT_OK(ntp_waitable_timer_cancel(h));
    ASSERT_STATUS(ntp_wait_for_single(h, 100, false), NTP_WAIT_TIMEOUT);

    /* A cancelled periodic timer stops. */
    ASSERT_OK(ntp_waitable_timer_set(h, ntp_due_in_ms(10), 10));
    ASSERT_STATUS(ntp_wait_for_single(h, LONG_WAIT_MS, false),
                  NTP_WAIT_OBJECT_0);
    ASSERT_OK(ntp_waitable_timer_cancel(h));
    (void)ntp_wait_for_single(h, 0, false); /* an expiry just before */
    ASSERT_STATUS(ntp_wait_for_single(h, 100, false), NTP_WAIT_TIMEOUT);
    ASSERT_OK(ntp_handle_close(h));
    ASSERT_NO_LIVE_OBJECTS();
}

/* Usable with wait-any and wait-all alongside other handles. */
TEST_IMPL(waitable_timer_in_wait_for_multiple)
{
    ntp_handle *ev = NULL;
    ASSERT_OK(ntp_event_create(&ev, true, false));
    ntp_handle *h = make_timer(false);
    ntp_handle *both[2] = {ev, h};

    ASSERT_OK(ntp_waitable_timer_set(h, ntp_due_in_ms(50), 0));
    ASSERT_STATUS(ntp_wait_for_multiple(2, both, false, LONG_WAIT_MS, false),
                  NTP_WAIT_OBJECT_0 + 1);
    ASSERT_STATUS(ntp_wait_for_single(h, 0, false), NTP_WAIT_TIMEOUT);

    /* Wait-all: the event is set, the timer not yet; both are taken when
     * the timer expires. */
    ASSERT_OK(ntp_event_set(ev));
    ASSERT_OK(ntp_waitable_timer_set(h, ntp_due_in_ms(50), 0));
    uint64_t start = ntp__now_ns();
    ASSERT_STATUS(ntp_wait_for_multiple(2, both, true, LONG_WAIT_MS, false),
                  NTP_WAIT_OBJECT_0);
    ASSERT_GE(ntp__now_ns(), start + 50 * MS - 1 * MS);
    ASSERT_STATUS(ntp_wait_for_single(h, 0, false), NTP_WAIT_TIMEOUT);

    ASSERT_OK(ntp_handle_close(h));
    ASSERT_OK(ntp_handle_close(ev));
    ASSERT_NO_LIVE_OBJECTS();
}

/* An absolute due time is wall-clock time; one in the past expires at
 * once. */
TEST_IMPL(waitable_timer_absolute_due)
{
    ntp_handle *h = make_timer(true);
    uint64_t due = ntp__realtime_ns() + 100 * MS;
    ASSERT_OK(ntp_waitable_timer_set(h, ntp_due_at_unix_ns(due), 0));
    ASSERT_STATUS(ntp_wait_for_single(h, LONG_WAIT_MS, false),
                  NTP_WAIT_OBJECT_0);
    ASSERT_GE(ntp__realtime_ns(), due);
    ASSERT_OK(ntp_waitable_timer_set(h, ntp_due_at_unix_ns(due - 5000 * MS),
                                     0));
    ASSERT_STATUS(ntp_wait_for_single(h, 1000, false), NTP_WAIT_OBJECT_0);
    ASSERT_OK(ntp_handle_close(h));
    ASSERT_NO_LIVE_OBJECTS();
}

/* The fd mirror follows the signalled state. */
TEST_IMPL(waitable_timer_fd_mirror)
{
    ntp_handle *h = make_timer(false);
    int fd = -1;
    ASSERT_OK(ntp_handle_get_fd(h, &fd));
    struct pollfd p = {.fd = fd, .events = POLLIN};
    ASSERT_EQ(poll(&p, 1, 0), 0);
    ASSERT_OK(ntp_waitable_timer_set(h, ntp_due_in_ms(30), 0));
    ASSERT_EQ(poll(&p, 1, (int)LONG_WAIT_MS), 1);
    ASSERT_STATUS(ntp_wait_for_single(h, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_EQ(poll(&p, 1, 0), 0);
    ASSERT_OK(ntp_handle_close(h));
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(waitable_timer_bad_arguments)
{
    ASSERT_STATUS(ntp_waitable_timer_create(NULL, false), NTP_EINVAL);
    ntp_handle *h = make_timer(false);
    ASSERT_STATUS(ntp_waitable_timer_set(h, ntp_due_in_ms(10), -1),
                  NTP_EINVAL);
    ASSERT_STATUS(ntp_waitable_timer_set(h, ntp_due_none(), 0), NTP_EINVAL);
    ASSERT_STATUS(ntp_waitable_timer_set(NULL, ntp_due_in_ms(10), 0),
                  NTP_EINVAL);
    ASSERT_STATUS(ntp_waitable_timer_cancel(NULL), NTP_EINVAL);
    ntp_handle *ev = NULL;
    ASSERT_OK(ntp_event_create(&ev, true, false));
    ASSERT_STATUS(ntp_waitable_timer_set(ev, ntp_due_in_ms(10), 0),
                  NTP_EBADF);
    ASSERT_STATUS(ntp_waitable_timer_cancel(ev), NTP_EBADF);
    ASSERT_STATUS(ntp_event_set(h), NTP_EBADF);
    ASSERT_OK(ntp_handle_close(ev));
    ASSERT_OK(ntp_handle_close(h));
    ASSERT_NO_LIVE_OBJECTS();
}

/*
 * Closing an armed timer stops it and frees it, even while it expires
 * (the reactor may be firing it at that moment): many periodic timers due
 * within microseconds, closed at once, some while a thread waits on them.
 */
TEST_IMPL(waitable_timer_close_while_armed)
{
    srand(31337);
    for (int i = 0; i < 2000; i++) {
        ntp_handle *h = make_timer(i % 2 == 0);
        ASSERT_OK(ntp_waitable_timer_set(
            h, ntp_due_in_ns((uint64_t)(rand() % 100000)), (i % 3) ? 1 : 0));
        for (volatile int spin = rand() % 20000; spin > 0; spin--) {
            continue;
        }
        if (i % 50 == 0) {
            (void)ntp_wait_for_single(h, 5, false);
        }
        ASSERT_OK(ntp_handle_close(h));
    }

    /* Closed while another thread waits on it: the waiter keeps it alive
     * and is still released by the expiry. */
    ntp_handle *h = make_timer(true);
    waiter w;
    start_waiter(&w, h);
    TEST_WAIT_UNTIL(ntp__handle_waiter_count(h) == 1, 5000);
    ASSERT_OK(ntp_waitable_timer_set(h, ntp_due_in_ms(30), 0));
    ASSERT_OK(ntp_handle_close(h));
    ASSERT_EQ(pthread_join(w.thread, NULL), 0);
    ASSERT_EQ(atomic_load(&w.result), NTP_WAIT_OBJECT_0);
    ASSERT_NO_LIVE_OBJECTS();
}
