/*
 * test-sync.c -- events, semaphores, mutexes, critical sections and the
 * wait functions (SPEC 13).
 *
 * White-box where it must be: ntp__handle_waiter_count (sync.h) tells a
 * test that its threads are really asleep in a wait before it signals, so
 * "exactly one released" and PulseEvent are tested without guessing with
 * sleeps; the thread-pool wait seam (ntp__wait_block_arm) is tested
 * directly because nothing public uses it yet.
 */
#include "task.h"

#include "sync.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

/* A result no wait returns, for "has not returned yet". */
#define NOT_YET (-99999)

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

/* A thread that makes one wait and records its result. */
typedef struct waiter {
    pthread_t thread;
    ntp_handle *handles[NTP_MAXIMUM_WAIT_OBJECTS];
    uint32_t count;
    bool wait_all;
    uint32_t timeout_ms;
    /* Called on the waiting thread after a successful wait, e.g. to
     * release a mutex it acquired. */
    void (*after)(struct waiter *w);
    atomic_int result;
} waiter;

static void *
waiter_main(void *arg)
{
    waiter *w = arg;
    int r = ntp_wait_for_multiple(w->count, w->handles, w->wait_all,
                                  w->timeout_ms, false);
    if (w->after != NULL && r >= 0 && r != NTP_WAIT_TIMEOUT) {
        w->after(w);
    }
    atomic_store(&w->result, r);
    return NULL;
}

static void
start_waiter_ex(waiter *w, uint32_t count, ntp_handle *const *handles,
                bool wait_all, uint32_t timeout_ms,
                void (*after)(waiter *w))
{
    memset(w, 0, sizeof *w);
    w->after = after;
    for (uint32_t i = 0; i < count; i++) {
        w->handles[i] = handles[i];
    }
    w->count = count;
    w->wait_all = wait_all;
    w->timeout_ms = timeout_ms;
    atomic_init(&w->result, NOT_YET);
    ASSERT_EQ(pthread_create(&w->thread, NULL, waiter_main, w), 0);
}

static void
start_waiter_multi(waiter *w, uint32_t count, ntp_handle *const *handles,
                   bool wait_all, uint32_t timeout_ms)
{
    start_waiter_ex(w, count, handles, wait_all, timeout_ms, NULL);
}

static void
start_waiter(waiter *w, ntp_handle *h, uint32_t timeout_ms)
{
    start_waiter_multi(w, 1, &h, false, timeout_ms);
}

static int
join_waiter(waiter *w)
{
    ASSERT_EQ(pthread_join(w->thread, NULL), 0);
    return atomic_load(&w->result);
}

static int
released(waiter *w, int n)
{
    int done = 0;
    for (int i = 0; i < n; i++) {
        if (atomic_load(&w[i].result) != NOT_YET) {
            done++;
        }
    }
    return done;
}

/* Until `n` threads are asleep in a wait on h. */
#define WAIT_FOR_SLEEPERS(h, n)                                              \
    TEST_WAIT_UNTIL(ntp__handle_waiter_count(h) == (n), 5000)

/* Run fn(arg) on a thread of its own and return its result: the way to
 * ask "what would another thread get?". */
typedef struct on_thread_call {
    int (*fn)(void *);
    void *arg;
    int result;
} on_thread_call;

static void *
on_thread_main(void *p)
{
    on_thread_call *c = p;
    c->result = c->fn(c->arg);
    return NULL;
}

static int
on_thread(int (*fn)(void *), void *arg)
{
    on_thread_call c = {fn, arg, NOT_YET};
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, on_thread_main, &c), 0);
    ASSERT_EQ(pthread_join(t, NULL), 0);
    return c.result;
}

static int
try_wait(void *h)
{
    return ntp_wait_for_single(h, 0, false);
}

/* Take and give back, so the caller's thread owns nothing afterwards. */
static int
try_wait_and_release(void *h)
{
    int r = ntp_wait_for_single(h, 0, false);
    if (r == NTP_WAIT_OBJECT_0 || r == NTP_WAIT_ABANDONED_0) {
        ASSERT_OK(ntp_mutex_release(h));
    }
    return r;
}

static int
release_mutex(void *h)
{
    return ntp_mutex_release(h);
}

static void
release_mutex_after(waiter *w)
{
    for (uint32_t i = 0; i < w->count; i++) {
        if (ntp_handle_kind_of(w->handles[i]) == NTP_HANDLE_MUTEX) {
            ASSERT_OK(ntp_mutex_release(w->handles[i]));
        }
    }
}

static bool
readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n = poll(&p, 1, 0);
    ASSERT_GE(n, 0);
    return n == 1 && (p.revents & POLLIN) != 0;
}

/* ------------------------------------------------------------------------ */
/* Events                                                                    */
/* ------------------------------------------------------------------------ */

TEST_IMPL(event_manual_releases_all_waiters)
{
    ntp_handle *ev;
    ASSERT_OK(ntp_event_create(&ev, true, false));
    waiter w[3];
    for (int i = 0; i < 3; i++) {
        start_waiter(&w[i], ev, NTP_INFINITE);
    }
    WAIT_FOR_SLEEPERS(ev, 3);
    ASSERT_OK(ntp_event_set(ev));
    for (int i = 0; i < 3; i++) {
        ASSERT_STATUS(join_waiter(&w[i]), NTP_WAIT_OBJECT_0);
    }
    /* A manual-reset event stays set for later waiters too. */
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_OK(ntp_event_reset(ev));
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_WAIT_TIMEOUT);
    ASSERT_OK(ntp_handle_close(ev));
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(event_auto_releases_exactly_one)
{
    ntp_handle *ev;
    ASSERT_OK(ntp_event_create(&ev, false, false));
    waiter w[2];
    start_waiter(&w[0], ev, NTP_INFINITE);
    start_waiter(&w[1], ev, NTP_INFINITE);
    WAIT_FOR_SLEEPERS(ev, 2);

    ASSERT_OK(ntp_event_set(ev));
    TEST_WAIT_UNTIL(released(w, 2) == 1, 5000);
    test_sleep_ms(50);
    ASSERT_EQ(released(w, 2), 1);
    ASSERT_EQ(ntp__handle_waiter_count(ev), 1);
    /* The release reset it: nothing is left for anybody else. */
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_WAIT_TIMEOUT);

    ASSERT_OK(ntp_event_set(ev));
    ASSERT_STATUS(join_waiter(&w[0]), NTP_WAIT_OBJECT_0);
    ASSERT_STATUS(join_waiter(&w[1]), NTP_WAIT_OBJECT_0);
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_WAIT_TIMEOUT);

    /* With nobody waiting it stays set until one wait takes it; setting a
     * set event changes nothing. */
    ASSERT_OK(ntp_event_set(ev));
    ASSERT_OK(ntp_event_set(ev));
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_WAIT_TIMEOUT);
    ASSERT_OK(ntp_handle_close(ev));
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(event_initial_state_and_reset)
{
    ntp_handle *manual, *autor;
    ASSERT_OK(ntp_event_create(&manual, true, true));
    ASSERT_OK(ntp_event_create(&autor, false, true));
    ASSERT_STATUS(ntp_wait_for_single(manual, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_STATUS(ntp_wait_for_single(autor, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_STATUS(ntp_wait_for_single(autor, 0, false), NTP_WAIT_TIMEOUT);
    ASSERT_OK(ntp_event_reset(manual));
    ASSERT_OK(ntp_event_reset(manual)); /* resetting a reset event: no-op */
    ASSERT_STATUS(ntp_wait_for_single(manual, 0, false), NTP_WAIT_TIMEOUT);
    ASSERT_OK(ntp_event_set(autor));
    ASSERT_OK(ntp_event_reset(autor));
    ASSERT_STATUS(ntp_wait_for_single(autor, 0, false), NTP_WAIT_TIMEOUT);
    ASSERT_OK(ntp_handle_close(manual));
    ASSERT_OK(ntp_handle_close(autor));
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(event_pulse_manual_releases_current_waiters)
{
    ntp_handle *ev;
    ASSERT_OK(ntp_event_create(&ev, true, false));

    /* No waiter: a pulse leaves it reset. */
    ASSERT_OK(ntp_event_pulse(ev));
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_WAIT_TIMEOUT);

    waiter w[2];
    start_waiter(&w[0], ev, NTP_INFINITE);
    start_waiter(&w[1], ev, NTP_INFINITE);
    WAIT_FOR_SLEEPERS(ev, 2);
    ASSERT_OK(ntp_event_pulse(ev));
    ASSERT_STATUS(join_waiter(&w[0]), NTP_WAIT_OBJECT_0);
    ASSERT_STATUS(join_waiter(&w[1]), NTP_WAIT_OBJECT_0);
    /* Reset after the pulse: a wait that starts later does not see it. */
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_WAIT_TIMEOUT);

    /* A pulse on a set event resets it too. */
    ASSERT_OK(ntp_event_set(ev));
    ASSERT_OK(ntp_event_pulse(ev));
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_WAIT_TIMEOUT);
    ASSERT_OK(ntp_handle_close(ev));
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(event_pulse_auto_releases_one)
{
    ntp_handle *ev;
    ASSERT_OK(ntp_event_create(&ev, false, false));
    waiter w[2];
    start_waiter(&w[0], ev, NTP_INFINITE);
    start_waiter(&w[1], ev, NTP_INFINITE);
    WAIT_FOR_SLEEPERS(ev, 2);

    ASSERT_OK(ntp_event_pulse(ev));
    TEST_WAIT_UNTIL(released(w, 2) == 1, 5000);
    test_sleep_ms(50);
    ASSERT_EQ(released(w, 2), 1);
    ASSERT_EQ(ntp__handle_waiter_count(ev), 1);
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_WAIT_TIMEOUT);

    ASSERT_OK(ntp_event_pulse(ev));
    ASSERT_STATUS(join_waiter(&w[0]), NTP_WAIT_OBJECT_0);
    ASSERT_STATUS(join_waiter(&w[1]), NTP_WAIT_OBJECT_0);
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_WAIT_TIMEOUT);
    ASSERT_OK(ntp_handle_close(ev));
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(event_pulse_skips_unsatisfiable_wait_all)
{
    ntp_handle *ev, *other, *sem;
    ASSERT_OK(ntp_event_create(&ev, true, false));
    ASSERT_OK(ntp_event_create(&other, true, false));
    ASSERT_OK(ntp_semaphore_create(&sem, 1, 1));

    /* a waits for {ev, other}: other is not set, so a pulse of ev cannot
     * release it. b waits for {ev, sem}: sem is signalled, so it can. */
    waiter a, b;
    ntp_handle *ha[2] = {ev, other};
    ntp_handle *hb[2] = {ev, sem};
    start_waiter_multi(&a, 2, ha, true, NTP_INFINITE);
    start_waiter_multi(&b, 2, hb, true, NTP_INFINITE);
    WAIT_FOR_SLEEPERS(ev, 2);

    ASSERT_OK(ntp_event_pulse(ev));
    ASSERT_STATUS(join_waiter(&b), NTP_WAIT_OBJECT_0);
    ASSERT_STATUS(ntp_wait_for_single(sem, 0, false), NTP_WAIT_TIMEOUT);
    ASSERT_EQ(ntp__handle_waiter_count(ev), 1);

    /* The pulse is gone: setting `other` now does not complete a. */
    ASSERT_OK(ntp_event_set(other));
    test_sleep_ms(50);
    ASSERT_EQ(atomic_load(&a.result), NOT_YET);
    ASSERT_OK(ntp_event_set(ev));
    ASSERT_STATUS(join_waiter(&a), NTP_WAIT_OBJECT_0);

    ASSERT_OK(ntp_handle_close(ev));
    ASSERT_OK(ntp_handle_close(other));
    ASSERT_OK(ntp_handle_close(sem));
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* Semaphores                                                                */
/* ------------------------------------------------------------------------ */

TEST_IMPL(semaphore_create_bad_args)
{
    ntp_handle *s = NULL;
    ASSERT_STATUS(ntp_semaphore_create(&s, -1, 1), NTP_EINVAL);
    ASSERT_STATUS(ntp_semaphore_create(&s, 0, 0), NTP_EINVAL);
    ASSERT_STATUS(ntp_semaphore_create(&s, 0, -5), NTP_EINVAL);
    ASSERT_STATUS(ntp_semaphore_create(&s, 3, 2), NTP_EINVAL);
    ASSERT_STATUS(ntp_semaphore_create(NULL, 0, 1), NTP_EINVAL);
    ASSERT_NULL(s);
    ASSERT_OK(ntp_semaphore_create(&s, 2, 2));
    ASSERT_OK(ntp_handle_close(s));
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(semaphore_release_overflow)
{
    ntp_handle *s;
    ASSERT_OK(ntp_semaphore_create(&s, 1, 2));
    int32_t prev = 12345;
    ASSERT_STATUS(ntp_semaphore_release(s, 2, &prev), NTP_EOVERFLOW);
    ASSERT_EQ(prev, 12345);
    ASSERT_STATUS(ntp_semaphore_release(s, 0, &prev), NTP_EINVAL);
    ASSERT_STATUS(ntp_semaphore_release(s, -1, &prev), NTP_EINVAL);
    ASSERT_EQ(prev, 12345);
    /* The failed releases changed nothing: the count is still 1. */
    ASSERT_OK(ntp_semaphore_release(s, 1, &prev));
    ASSERT_EQ(prev, 1);
    ASSERT_STATUS(ntp_semaphore_release(s, 1, NULL), NTP_EOVERFLOW);
    ASSERT_STATUS(ntp_wait_for_single(s, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_STATUS(ntp_wait_for_single(s, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_STATUS(ntp_wait_for_single(s, 0, false), NTP_WAIT_TIMEOUT);
    ASSERT_OK(ntp_handle_close(s));

    /* Near INT32_MAX the check must not overflow itself. */
    ASSERT_OK(ntp_semaphore_create(&s, 0, INT32_MAX));
    ASSERT_OK(ntp_semaphore_release(s, INT32_MAX, &prev));
    ASSERT_EQ(prev, 0);
    ASSERT_STATUS(ntp_semaphore_release(s, 1, &prev), NTP_EOVERFLOW);
    ASSERT_STATUS(ntp_semaphore_release(s, INT32_MAX, &prev), NTP_EOVERFLOW);
    ASSERT_EQ(prev, 0);
    ASSERT_OK(ntp_handle_close(s));
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(semaphore_release_wakes_that_many)
{
    ntp_handle *s;
    ASSERT_OK(ntp_semaphore_create(&s, 0, 10));
    waiter w[3];
    for (int i = 0; i < 3; i++) {
        start_waiter(&w[i], s, NTP_INFINITE);
    }
    WAIT_FOR_SLEEPERS(s, 3);

    int32_t prev = -1;
    ASSERT_OK(ntp_semaphore_release(s, 2, &prev));
    ASSERT_EQ(prev, 0);
    TEST_WAIT_UNTIL(released(w, 3) == 2, 5000);
    test_sleep_ms(50);
    ASSERT_EQ(released(w, 3), 2);
    ASSERT_EQ(ntp__handle_waiter_count(s), 1);
    /* Each released waiter took one: the count is back at 0. */
    ASSERT_STATUS(ntp_wait_for_single(s, 0, false), NTP_WAIT_TIMEOUT);

    ASSERT_OK(ntp_semaphore_release(s, 3, &prev));
    ASSERT_EQ(prev, 0);
    for (int i = 0; i < 3; i++) {
        ASSERT_STATUS(join_waiter(&w[i]), NTP_WAIT_OBJECT_0);
    }
    ASSERT_OK(ntp_semaphore_release(s, 1, &prev));
    ASSERT_EQ(prev, 2);
    ASSERT_OK(ntp_handle_close(s));
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* Mutexes                                                                   */
/* ------------------------------------------------------------------------ */

TEST_IMPL(mutex_recursive)
{
    ntp_handle *m;
    ASSERT_OK(ntp_mutex_create(&m, true));
    /* The owner re-waits without blocking, even with an infinite timeout. */
    ASSERT_STATUS(ntp_wait_for_single(m, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_STATUS(ntp_wait_for_single(m, NTP_INFINITE, false),
                  NTP_WAIT_OBJECT_0);
    ASSERT_STATUS(on_thread(try_wait, m), NTP_WAIT_TIMEOUT);

    /* Three acquisitions (creation counted once): three releases. */
    ASSERT_OK(ntp_mutex_release(m));
    ASSERT_OK(ntp_mutex_release(m));
    ASSERT_STATUS(on_thread(try_wait, m), NTP_WAIT_TIMEOUT);
    ASSERT_OK(ntp_mutex_release(m));
    ASSERT_STATUS(ntp_mutex_release(m), NTP_EPERM);

    ASSERT_STATUS(on_thread(try_wait_and_release, m), NTP_WAIT_OBJECT_0);
    ASSERT_OK(ntp_handle_close(m));
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(mutex_initial_owner_counts_once)
{
    ntp_handle *m;
    ASSERT_OK(ntp_mutex_create(&m, true));
    ASSERT_OK(ntp_mutex_release(m));
    ASSERT_STATUS(ntp_mutex_release(m), NTP_EPERM);
    ASSERT_OK(ntp_handle_close(m));

    ASSERT_OK(ntp_mutex_create(&m, false));
    ASSERT_STATUS(ntp_mutex_release(m), NTP_EPERM);
    ASSERT_STATUS(ntp_wait_for_single(m, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_OK(ntp_mutex_release(m));
    ASSERT_OK(ntp_handle_close(m));
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(mutex_release_not_owner)
{
    ntp_handle *m;
    ASSERT_OK(ntp_mutex_create(&m, false));
    ASSERT_STATUS(ntp_mutex_release(m), NTP_EPERM);
    ASSERT_STATUS(ntp_wait_for_single(m, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_STATUS(on_thread(release_mutex, m), NTP_EPERM);
    /* The refused release changed nothing: still ours. */
    ASSERT_STATUS(on_thread(try_wait, m), NTP_WAIT_TIMEOUT);
    ASSERT_OK(ntp_mutex_release(m));
    ASSERT_STATUS(on_thread(try_wait_and_release, m), NTP_WAIT_OBJECT_0);
    ASSERT_OK(ntp_handle_close(m));
    ASSERT_NO_LIVE_OBJECTS();
}

/* Takes the mutex twice, then exits without releasing it. */
static int
take_twice_and_exit(void *h)
{
    ASSERT_STATUS(ntp_wait_for_single(h, NTP_INFINITE, false),
                  NTP_WAIT_OBJECT_0);
    ASSERT_STATUS(ntp_wait_for_single(h, NTP_INFINITE, false),
                  NTP_WAIT_OBJECT_0);
    return 0;
}

typedef struct owner_args {
    ntp_handle *mutex;
    ntp_handle *taken; /* set once the mutex is owned */
    ntp_handle *go;    /* the owner exits once this is set */
} owner_args;

static void *
owner_main(void *p)
{
    owner_args *a = p;
    ASSERT_STATUS(ntp_wait_for_single(a->mutex, NTP_INFINITE, false),
                  NTP_WAIT_OBJECT_0);
    ASSERT_OK(ntp_event_set(a->taken));
    ASSERT_STATUS(ntp_wait_for_single(a->go, NTP_INFINITE, false),
                  NTP_WAIT_OBJECT_0);
    return NULL; /* exits owning the mutex */
}

TEST_IMPL(mutex_abandoned_gives_wait_abandoned)
{
    ntp_handle *m;
    ASSERT_OK(ntp_mutex_create(&m, false));
    ASSERT_OK(on_thread(take_twice_and_exit, m));

    /* The next waiter inherits it, told it was abandoned... */
    ASSERT_STATUS(ntp_wait_for_single(m, 0, false), NTP_WAIT_ABANDONED_0);
    ASSERT_STATUS(on_thread(try_wait, m), NTP_WAIT_TIMEOUT);
    /* ...owns it once (the dead owner's recursion is gone)... */
    ASSERT_OK(ntp_mutex_release(m));
    ASSERT_STATUS(ntp_mutex_release(m), NTP_EPERM);
    /* ...and after that it is an ordinary mutex again. */
    ASSERT_STATUS(on_thread(try_wait_and_release, m), NTP_WAIT_OBJECT_0);
    ASSERT_STATUS(ntp_wait_for_single(m, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_OK(ntp_mutex_release(m));
    ASSERT_OK(ntp_handle_close(m));
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(mutex_abandoned_wakes_blocked_waiter)
{
    owner_args a;
    ASSERT_OK(ntp_mutex_create(&a.mutex, false));
    ASSERT_OK(ntp_event_create(&a.taken, true, false));
    ASSERT_OK(ntp_event_create(&a.go, true, false));
    pthread_t owner;
    ASSERT_EQ(pthread_create(&owner, NULL, owner_main, &a), 0);
    ASSERT_STATUS(ntp_wait_for_single(a.taken, NTP_INFINITE, false),
                  NTP_WAIT_OBJECT_0);

    waiter w;
    start_waiter(&w, a.mutex, NTP_INFINITE);
    WAIT_FOR_SLEEPERS(a.mutex, 1);
    ASSERT_OK(ntp_event_set(a.go));
    ASSERT_EQ(pthread_join(owner, NULL), 0);
    /* The waiter got it at the owner's exit, and then exited owning it
     * itself: the mutex is abandoned once more. */
    ASSERT_STATUS(join_waiter(&w), NTP_WAIT_ABANDONED_0);
    ASSERT_STATUS(ntp_wait_for_single(a.mutex, 0, false),
                  NTP_WAIT_ABANDONED_0);
    ASSERT_OK(ntp_mutex_release(a.mutex));

    ASSERT_OK(ntp_handle_close(a.mutex));
    ASSERT_OK(ntp_handle_close(a.taken));
    ASSERT_OK(ntp_handle_close(a.go));
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(mutex_abandoned_in_wait_multiple)
{
    ntp_handle *ev, *set_ev, *m;
    ASSERT_OK(ntp_event_create(&ev, true, false));
    ASSERT_OK(ntp_event_create(&set_ev, true, true));
    ASSERT_OK(ntp_mutex_create(&m, false));

    /* Wait-any: the abandoned mutex at index 1 gives ABANDONED_0 + 1. */
    ASSERT_OK(on_thread(take_twice_and_exit, m));
    ntp_handle *any[2] = {ev, m};
    ASSERT_STATUS(ntp_wait_for_multiple(2, any, false, 0, false),
                  NTP_WAIT_ABANDONED_0 + 1);
    ASSERT_OK(ntp_mutex_release(m));

    /* Wait-all: one abandoned member makes the result ABANDONED_0. */
    ASSERT_OK(on_thread(take_twice_and_exit, m));
    ntp_handle *all[2] = {set_ev, m};
    ASSERT_STATUS(ntp_wait_for_multiple(2, all, true, 0, false),
                  NTP_WAIT_ABANDONED_0);
    ASSERT_OK(ntp_mutex_release(m));
    ASSERT_STATUS(ntp_wait_for_multiple(2, all, true, 0, false),
                  NTP_WAIT_OBJECT_0);
    ASSERT_OK(ntp_mutex_release(m));

    ASSERT_OK(ntp_handle_close(ev));
    ASSERT_OK(ntp_handle_close(set_ev));
    ASSERT_OK(ntp_handle_close(m));
    ASSERT_NO_LIVE_OBJECTS();
}

/* Creates an owned mutex, closes it, and exits owning nothing alive: the
 * exit must not touch the freed mutex (ASan checks). */
static int
close_owned_mutex(void *unused)
{
    ntp_handle *m;
    ASSERT_OK(ntp_mutex_create(&m, true));
    ASSERT_STATUS(ntp_wait_for_single(m, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_OK(ntp_handle_close(m));
    return 0;
}

TEST_IMPL(handle_close_owned_mutex)
{
    ASSERT_OK(on_thread(close_owned_mutex, NULL));
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* Critical sections                                                         */
/* ------------------------------------------------------------------------ */

static atomic_int diag_count;
static char diag_last[256];

static void
count_diag(const char *message, void *data)
{
    (void)data;
    snprintf(diag_last, sizeof diag_last, "%s", message);
    atomic_fetch_add(&diag_count, 1);
}

static int
cs_try(void *cs)
{
    bool entered = ntp_cs_try_enter(cs);
    if (entered) {
        ASSERT_OK(ntp_cs_leave(cs));
    }
    return entered;
}

static int
cs_leave_other(void *cs)
{
    return ntp_cs_leave(cs);
}

TEST_IMPL(cs_recursive)
{
    ntp_cs cs;
    ntp_cs_init(&cs);
    ntp_cs_enter(&cs);
    ntp_cs_enter(&cs);
    ASSERT(ntp_cs_try_enter(&cs));
    ASSERT_EQ(on_thread(cs_try, &cs), 0);
    ASSERT_OK(ntp_cs_leave(&cs));
    ASSERT_OK(ntp_cs_leave(&cs));
    /* Still held once: another thread cannot enter yet. */
    ASSERT_EQ(on_thread(cs_try, &cs), 0);
    ASSERT_OK(ntp_cs_leave(&cs));
    ASSERT_EQ(on_thread(cs_try, &cs), 1);
    ASSERT(ntp_cs_try_enter(&cs));
    ASSERT_OK(ntp_cs_leave(&cs));
    ntp_cs_destroy(&cs);
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(cs_leave_not_owned)
{
    ntp_set_diagnostic_handler(count_diag, NULL);
    ntp_cs cs;
    ntp_cs_init(&cs);

    atomic_store(&diag_count, 0);
    ASSERT_STATUS(ntp_cs_leave(&cs), NTP_EPERM);
    ASSERT_EQ(atomic_load(&diag_count), 1);
    ASSERT_NOT_NULL(strstr(diag_last, "ntp_cs_leave"));

    ntp_cs_enter(&cs);
    ASSERT_STATUS(on_thread(cs_leave_other, &cs), NTP_EPERM);
    ASSERT_EQ(atomic_load(&diag_count), 2);
    /* The refused leave changed nothing: still ours, once. */
    ASSERT_EQ(on_thread(cs_try, &cs), 0);
    ASSERT_OK(ntp_cs_leave(&cs));
    ASSERT_EQ(on_thread(cs_try, &cs), 1);
    ASSERT_STATUS(ntp_cs_leave(&cs), NTP_EPERM);
    ASSERT_EQ(atomic_load(&diag_count), 3);

    ntp_cs_destroy(&cs);
    /* Use after destroy is diagnosed, not undefined. */
    ASSERT_STATUS(ntp_cs_leave(&cs), NTP_EINVAL);
    ASSERT(!ntp_cs_try_enter(&cs));
    ASSERT_EQ(atomic_load(&diag_count), 5);
    ntp_set_diagnostic_handler(NULL, NULL);
    ASSERT_NO_LIVE_OBJECTS();
}

typedef struct cs_stress {
    ntp_cs cs;
    long counter; /* guarded by cs only: a broken cs loses increments */
} cs_stress;

enum { CS_THREADS = 4, CS_ROUNDS = 20000 };

static void *
cs_stress_main(void *p)
{
    cs_stress *s = p;
    for (int i = 0; i < CS_ROUNDS; i++) {
        ntp_cs_enter(&s->cs);
        ntp_cs_enter(&s->cs); /* recursion inside contention */
        long v = s->counter;
        s->counter = v + 1;
        ASSERT_OK(ntp_cs_leave(&s->cs));
        ASSERT_OK(ntp_cs_leave(&s->cs));
    }
    return NULL;
}

TEST_IMPL(cs_mutual_exclusion)
{
    cs_stress s;
    ntp_cs_init(&s.cs);
    s.counter = 0;
    pthread_t t[CS_THREADS];
    for (int i = 0; i < CS_THREADS; i++) {
        ASSERT_EQ(pthread_create(&t[i], NULL, cs_stress_main, &s), 0);
    }
    for (int i = 0; i < CS_THREADS; i++) {
        ASSERT_EQ(pthread_join(t[i], NULL), 0);
    }
    ASSERT_EQ(s.counter, (long)CS_THREADS * CS_ROUNDS);
    ntp_cs_destroy(&s.cs);
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* Waiting on several handles                                                */
/* ------------------------------------------------------------------------ */

TEST_IMPL(wait_multiple_any_lowest_index)
{
    ntp_handle *ev[4];
    for (int i = 0; i < 4; i++) {
        ASSERT_OK(ntp_event_create(&ev[i], false, false));
    }
    ASSERT_OK(ntp_event_set(ev[3]));
    ASSERT_OK(ntp_event_set(ev[1]));
    /* The lowest signalled index wins, and only it is taken. */
    ASSERT_STATUS(ntp_wait_for_multiple(4, ev, false, 0, false),
                  NTP_WAIT_OBJECT_0 + 1);
    ASSERT_STATUS(ntp_wait_for_multiple(4, ev, false, 0, false),
                  NTP_WAIT_OBJECT_0 + 3);
    ASSERT_STATUS(ntp_wait_for_multiple(4, ev, false, 0, false),
                  NTP_WAIT_TIMEOUT);

    /* A sleeping wait-any is woken by any of them, and reports which. */
    waiter w;
    start_waiter_multi(&w, 4, ev, false, NTP_INFINITE);
    WAIT_FOR_SLEEPERS(ev[2], 1);
    ASSERT_OK(ntp_event_set(ev[2]));
    ASSERT_STATUS(join_waiter(&w), NTP_WAIT_OBJECT_0 + 2);
    /* It left the other handles' waiter lists. */
    ASSERT_EQ(ntp__handle_waiter_count(ev[0]), 0);
    ASSERT_EQ(ntp__handle_waiter_count(ev[3]), 0);
    for (int i = 0; i < 4; i++) {
        ASSERT_STATUS(ntp_wait_for_single(ev[i], 0, false), NTP_WAIT_TIMEOUT);
        ASSERT_OK(ntp_handle_close(ev[i]));
    }
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(wait_multiple_all_atomic)
{
    ntp_handle *m, *ev;
    ASSERT_OK(ntp_event_create(&ev, false, true));
    /* Another thread owns the mutex until it is told to let go. */
    owner_args a;
    ASSERT_OK(ntp_mutex_create(&a.mutex, false));
    ASSERT_OK(ntp_event_create(&a.taken, true, false));
    ASSERT_OK(ntp_event_create(&a.go, true, false));
    m = a.mutex;
    pthread_t owner;
    ASSERT_EQ(pthread_create(&owner, NULL, owner_main, &a), 0);
    ASSERT_STATUS(ntp_wait_for_single(a.taken, NTP_INFINITE, false),
                  NTP_WAIT_OBJECT_0);

    /* A timed-out wait-all takes nothing: the auto event stays set. */
    ntp_handle *both[2] = {m, ev};
    ASSERT_STATUS(ntp_wait_for_multiple(2, both, true, 0, false),
                  NTP_WAIT_TIMEOUT);
    ASSERT_STATUS(ntp_wait_for_multiple(2, both, true, 30, false),
                  NTP_WAIT_TIMEOUT);
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_WAIT_OBJECT_0);

    /* While a wait-all sleeps, others may take its handles one by one. */
    waiter w;
    start_waiter_multi(&w, 2, both, true, NTP_INFINITE);
    WAIT_FOR_SLEEPERS(ev, 1);
    ASSERT_OK(ntp_event_set(ev));
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_OK(ntp_event_set(ev));
    test_sleep_ms(20);
    ASSERT_EQ(atomic_load(&w.result), NOT_YET);
    /* Once the mutex is free too, the wait-all takes both at once. */
    ASSERT_OK(ntp_event_set(a.go));
    ASSERT_EQ(pthread_join(owner, NULL), 0);
    /* The owner exited holding it, so the waiter inherits it abandoned;
     * and exits owning it in turn. */
    ASSERT_STATUS(join_waiter(&w), NTP_WAIT_ABANDONED_0);
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_WAIT_TIMEOUT);

    ASSERT_OK(ntp_handle_close(m));
    ASSERT_OK(ntp_handle_close(ev));
    ASSERT_OK(ntp_handle_close(a.taken));
    ASSERT_OK(ntp_handle_close(a.go));
    ASSERT_NO_LIVE_OBJECTS();
}

/*
 * Stress: one thread takes {A, B} with wait-all (some with timeouts that
 * expire) while two others take A or B alone. Each holder marks what it
 * holds; finding a mark already set means two holders at once, and a
 * wait-all that half-acquired would leave a count missing at the end.
 */
typedef struct all_stress {
    ntp_handle *a, *b;
    atomic_int in_a, in_b;
    atomic_bool stop;
    atomic_long all_taken, a_taken, b_taken;
} all_stress;

static void
hold(atomic_int *flag)
{
    ASSERT_EQ(atomic_exchange(flag, 1), 0);
    atomic_store(flag, 0);
}

static void *
all_stress_all(void *p)
{
    all_stress *s = p;
    ntp_handle *h[2] = {s->a, s->b};
    /* Run until the single takers have had their share of contention
     * too, but not forever if one of them starves. */
    uint64_t end = test_now_ms() + 10000 * test_timeout_multiplier();
    for (int i = 0; test_now_ms() < end; i++) {
        if (i >= 20000 && atomic_load(&s->a_taken) >= 2000
            && atomic_load(&s->b_taken) >= 2000) {
            break;
        }
        uint32_t timeout = (i % 3 == 0) ? 0 : (i % 3 == 1) ? 1 : 20;
        int r = ntp_wait_for_multiple(2, h, true, timeout, false);
        if (r == NTP_WAIT_TIMEOUT) {
            continue;
        }
        ASSERT_STATUS(r, NTP_WAIT_OBJECT_0);
        hold(&s->in_a);
        hold(&s->in_b);
        atomic_fetch_add(&s->all_taken, 1);
        ASSERT_OK(ntp_semaphore_release(s->b, 1, NULL));
        ASSERT_OK(ntp_semaphore_release(s->a, 1, NULL));
    }
    atomic_store(&s->stop, true);
    return NULL;
}

static void
take_single(all_stress *s, ntp_handle *h, atomic_int *flag,
            atomic_long *taken)
{
    while (!atomic_load(&s->stop)) {
        ASSERT_STATUS(ntp_wait_for_single(h, NTP_INFINITE, false),
                      NTP_WAIT_OBJECT_0);
        hold(flag);
        atomic_fetch_add(taken, 1);
        ASSERT_OK(ntp_semaphore_release(h, 1, NULL));
        sched_yield();
    }
}

static void *
all_stress_single_a(void *p)
{
    all_stress *s = p;
    take_single(s, s->a, &s->in_a, &s->a_taken);
    return NULL;
}

static void *
all_stress_single_b(void *p)
{
    all_stress *s = p;
    take_single(s, s->b, &s->in_b, &s->b_taken);
    return NULL;
}

TEST_IMPL(wait_multiple_all_stress)
{
    all_stress s;
    ASSERT_OK(ntp_semaphore_create(&s.a, 1, 1));
    ASSERT_OK(ntp_semaphore_create(&s.b, 1, 1));
    atomic_init(&s.in_a, 0);
    atomic_init(&s.in_b, 0);
    atomic_init(&s.stop, false);
    atomic_init(&s.all_taken, 0);
    atomic_init(&s.a_taken, 0);
    atomic_init(&s.b_taken, 0);
    pthread_t t[3];
    ASSERT_EQ(pthread_create(&t[0], NULL, all_stress_single_a, &s), 0);
    ASSERT_EQ(pthread_create(&t[1], NULL, all_stress_single_b, &s), 0);
    ASSERT_EQ(pthread_create(&t[2], NULL, all_stress_all, &s), 0);
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(pthread_join(t[i], NULL), 0);
    }
    ASSERT_GT(atomic_load(&s.all_taken), 0);
    ASSERT_GT(atomic_load(&s.a_taken), 0);
    ASSERT_GT(atomic_load(&s.b_taken), 0);
    /* Both counts are exactly back at 1: nothing leaked, nothing doubled
     * (a double release would have failed with NTP_EOVERFLOW). */
    ASSERT_STATUS(ntp_wait_for_single(s.a, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_STATUS(ntp_wait_for_single(s.a, 0, false), NTP_WAIT_TIMEOUT);
    ASSERT_STATUS(ntp_wait_for_single(s.b, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_STATUS(ntp_wait_for_single(s.b, 0, false), NTP_WAIT_TIMEOUT);
    ASSERT_OK(ntp_handle_close(s.a));
    ASSERT_OK(ntp_handle_close(s.b));
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(wait_all_acquires_every_kind)
{
    ntp_handle *h[4];
    ASSERT_OK(ntp_event_create(&h[0], true, true));
    ASSERT_OK(ntp_event_create(&h[1], false, true));
    ASSERT_OK(ntp_semaphore_create(&h[2], 2, 5));
    ASSERT_OK(ntp_mutex_create(&h[3], false));
    ASSERT_STATUS(ntp_wait_for_multiple(4, h, true, 0, false),
                  NTP_WAIT_OBJECT_0);
    /* Each took its side effect, once. */
    ASSERT_STATUS(ntp_wait_for_single(h[0], 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_STATUS(ntp_wait_for_single(h[1], 0, false), NTP_WAIT_TIMEOUT);
    int32_t prev = -1;
    ASSERT_OK(ntp_semaphore_release(h[2], 1, &prev));
    ASSERT_EQ(prev, 1);
    ASSERT_STATUS(on_thread(try_wait, h[3]), NTP_WAIT_TIMEOUT);
    ASSERT_OK(ntp_mutex_release(h[3]));
    ASSERT_STATUS(ntp_mutex_release(h[3]), NTP_EPERM);

    /* A sleeping wait-all completes when the last one is signalled, and
     * the mutex goes to the waiting thread. */
    waiter w;
    start_waiter_ex(&w, 4, h, true, NTP_INFINITE, release_mutex_after);
    WAIT_FOR_SLEEPERS(h[1], 1);
    ASSERT_OK(ntp_event_set(h[1]));
    ASSERT_STATUS(join_waiter(&w), NTP_WAIT_OBJECT_0);
    ASSERT_STATUS(ntp_wait_for_single(h[1], 0, false), NTP_WAIT_TIMEOUT);
    /* 2 after the release above, 1 after the waiter took its count. */
    ASSERT_OK(ntp_semaphore_release(h[2], 1, &prev));
    ASSERT_EQ(prev, 1);
    for (int i = 0; i < 4; i++) {
        ASSERT_OK(ntp_handle_close(h[i]));
    }
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(wait_multiple_64_handles)
{
    ntp_handle *ev[NTP_MAXIMUM_WAIT_OBJECTS];
    for (int i = 0; i < NTP_MAXIMUM_WAIT_OBJECTS; i++) {
        ASSERT_OK(ntp_event_create(&ev[i], true, false));
    }
    ASSERT_OK(ntp_event_set(ev[63]));
    ASSERT_STATUS(ntp_wait_for_multiple(64, ev, false, 0, false),
                  NTP_WAIT_OBJECT_0 + 63);
    ASSERT_STATUS(ntp_wait_for_multiple(64, ev, true, 0, false),
                  NTP_WAIT_TIMEOUT);
    for (int i = 0; i < NTP_MAXIMUM_WAIT_OBJECTS; i++) {
        ASSERT_OK(ntp_event_set(ev[i]));
    }
    ASSERT_STATUS(ntp_wait_for_multiple(64, ev, true, 0, false),
                  NTP_WAIT_OBJECT_0);
    for (int i = 0; i < NTP_MAXIMUM_WAIT_OBJECTS; i++) {
        ASSERT_OK(ntp_handle_close(ev[i]));
    }
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(wait_multiple_bad_args)
{
    ntp_handle *ev, *sem, *m;
    ASSERT_OK(ntp_event_create(&ev, false, true));
    ASSERT_OK(ntp_semaphore_create(&sem, 1, 1));
    ASSERT_OK(ntp_mutex_create(&m, false));
    ntp_handle *h[NTP_MAXIMUM_WAIT_OBJECTS + 1] = {ev, sem};

    ASSERT_STATUS(ntp_wait_for_multiple(0, h, false, 0, false), NTP_EINVAL);
    ASSERT_STATUS(ntp_wait_for_multiple(65, h, false, 0, false), NTP_EINVAL);
    ASSERT_STATUS(ntp_wait_for_multiple(1, NULL, false, 0, false),
                  NTP_EINVAL);
    ASSERT_STATUS(ntp_wait_for_single(NULL, 0, false), NTP_EINVAL);

    /* A bad entry anywhere fails the whole call before anything is taken:
     * the auto event and the semaphore keep their signal. */
    ntp_handle *with_null[3] = {ev, sem, NULL};
    ASSERT_STATUS(ntp_wait_for_multiple(3, with_null, false, 0, false),
                  NTP_EINVAL);
    ASSERT_STATUS(ntp_wait_for_multiple(3, with_null, true, 0, false),
                  NTP_EINVAL);
    ntp_handle *dup[3] = {ev, sem, ev};
    ASSERT_STATUS(ntp_wait_for_multiple(3, dup, false, 0, false), NTP_EINVAL);
    ASSERT_STATUS(ntp_wait_for_multiple(3, dup, true, 1000, false),
                  NTP_EINVAL);
    /* Not a handle at all: memory that does not carry the handle tag. */
    uint32_t garbage[16] = {0x12345678u};
    ntp_handle *fake = (ntp_handle *)(void *)garbage;
    ntp_handle *with_fake[2] = {ev, fake};
    ASSERT_STATUS(ntp_wait_for_multiple(2, with_fake, false, 0, false),
                  NTP_EBADF);
    ASSERT_STATUS(ntp_wait_for_single(fake, 0, false), NTP_EBADF);
    ASSERT_STATUS(ntp_event_set(fake), NTP_EBADF);
    ASSERT_STATUS(ntp_handle_kind_of(fake), NTP_EBADF);
    ASSERT_STATUS(ntp_handle_close(fake), NTP_EBADF);
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_STATUS(ntp_wait_for_single(sem, 0, false), NTP_WAIT_OBJECT_0);

    /* The wrong kind of handle. */
    ASSERT_STATUS(ntp_event_set(sem), NTP_EBADF);
    ASSERT_STATUS(ntp_event_reset(m), NTP_EBADF);
    ASSERT_STATUS(ntp_event_pulse(sem), NTP_EBADF);
    ASSERT_STATUS(ntp_semaphore_release(ev, 1, NULL), NTP_EBADF);
    ASSERT_STATUS(ntp_mutex_release(sem), NTP_EBADF);
    ASSERT_STATUS(ntp_wait_for_single(sem, 0, false), NTP_WAIT_TIMEOUT);

    /* NULL everywhere. */
    ASSERT_STATUS(ntp_event_set(NULL), NTP_EINVAL);
    ASSERT_STATUS(ntp_event_reset(NULL), NTP_EINVAL);
    ASSERT_STATUS(ntp_event_pulse(NULL), NTP_EINVAL);
    ASSERT_STATUS(ntp_semaphore_release(NULL, 1, NULL), NTP_EINVAL);
    ASSERT_STATUS(ntp_mutex_release(NULL), NTP_EINVAL);
    ASSERT_STATUS(ntp_handle_close(NULL), NTP_EINVAL);
    ASSERT_STATUS(ntp_handle_kind_of(NULL), NTP_EINVAL);
    ASSERT_STATUS(ntp_event_create(NULL, true, true), NTP_EINVAL);
    ASSERT_STATUS(ntp_mutex_create(NULL, true), NTP_EINVAL);
    int fd;
    ASSERT_STATUS(ntp_handle_get_fd(NULL, &fd), NTP_EINVAL);
    ASSERT_STATUS(ntp_handle_get_fd(ev, NULL), NTP_EINVAL);

    ASSERT_OK(ntp_handle_close(ev));
    ASSERT_OK(ntp_handle_close(sem));
    ASSERT_OK(ntp_handle_close(m));
    ASSERT_NO_LIVE_OBJECTS();
}

static void *
set_after_50ms(void *ev)
{
    test_sleep_ms(50);
    ASSERT_OK(ntp_event_set(ev));
    return NULL;
}

TEST_IMPL(wait_timeouts)
{
    ntp_handle *ev;
    ASSERT_OK(ntp_event_create(&ev, false, false));

    /* 0 tests and returns at once. */
    uint64_t t0 = test_now_ms();
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_WAIT_TIMEOUT);
    ASSERT_LT(test_now_ms() - t0, 50);

    /* A short timeout expires, never early. */
    t0 = test_now_ms();
    ASSERT_STATUS(ntp_wait_for_single(ev, 100, false), NTP_WAIT_TIMEOUT);
    uint64_t took = test_now_ms() - t0;
    ASSERT_GE(took, 100);
    ASSERT_LT(took, 100 + 2000 * test_timeout_multiplier());
    t0 = test_now_ms();
    ntp_handle *two[2] = {ev, ev};
    ASSERT_OK(ntp_event_create(&two[1], true, false));
    ASSERT_STATUS(ntp_wait_for_multiple(2, two, true, 60, false),
                  NTP_WAIT_TIMEOUT);
    ASSERT_GE(test_now_ms() - t0, 60);
    /* The alertable flag changes nothing without APCs. */
    ASSERT_STATUS(ntp_wait_for_single(ev, 20, true), NTP_WAIT_TIMEOUT);
    ASSERT_STATUS(ntp_wait_for_multiple(2, two, false, 20, true),
                  NTP_WAIT_TIMEOUT);

    /* An infinite wait ends when the event is set. */
    pthread_t setter;
    t0 = test_now_ms();
    ASSERT_EQ(pthread_create(&setter, NULL, set_after_50ms, ev), 0);
    ASSERT_STATUS(ntp_wait_for_single(ev, NTP_INFINITE, false),
                  NTP_WAIT_OBJECT_0);
    ASSERT_GE(test_now_ms() - t0, 50);
    ASSERT_EQ(pthread_join(setter, NULL), 0);
    ASSERT_EQ(pthread_create(&setter, NULL, set_after_50ms, ev), 0);
    ASSERT_STATUS(ntp_wait_for_single(ev, 10000, true), NTP_WAIT_OBJECT_0);
    ASSERT_EQ(pthread_join(setter, NULL), 0);

    ASSERT_OK(ntp_handle_close(ev));
    ASSERT_OK(ntp_handle_close(two[1]));
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* Handles: kinds, fd mirror, closing                                       */
/* ------------------------------------------------------------------------ */

TEST_IMPL(handle_kind_of)
{
    ntp_handle *ev, *sem, *m;
    ASSERT_OK(ntp_event_create(&ev, false, false));
    ASSERT_OK(ntp_semaphore_create(&sem, 0, 1));
    ASSERT_OK(ntp_mutex_create(&m, false));
    ASSERT_EQ(ntp_handle_kind_of(ev), NTP_HANDLE_EVENT);
    ASSERT_EQ(ntp_handle_kind_of(sem), NTP_HANDLE_SEMAPHORE);
    ASSERT_EQ(ntp_handle_kind_of(m), NTP_HANDLE_MUTEX);
    ASSERT_OK(ntp_handle_close(ev));
    ASSERT_OK(ntp_handle_close(sem));
    ASSERT_OK(ntp_handle_close(m));
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(handle_fd_mirror)
{
    ntp_handle *manual, *autor, *sem, *m;
    int fd, fd2;

    /* Manual-reset: readable exactly while set. */
    ASSERT_OK(ntp_event_create(&manual, true, false));
    ASSERT_OK(ntp_handle_get_fd(manual, &fd));
    ASSERT_OK(ntp_handle_get_fd(manual, &fd2));
    ASSERT_EQ(fd, fd2);
    ASSERT((fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
    ASSERT((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    ASSERT(!readable(fd));
    ASSERT_OK(ntp_event_set(manual));
    ASSERT(readable(fd));
    ASSERT_STATUS(ntp_wait_for_single(manual, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT(readable(fd));
    ASSERT_OK(ntp_event_reset(manual));
    ASSERT(!readable(fd));
    ASSERT_OK(ntp_event_pulse(manual));
    ASSERT(!readable(fd));
    ASSERT_OK(ntp_event_set(manual));
    ASSERT_OK(ntp_event_set(manual));
    ASSERT(readable(fd));
    ASSERT_OK(ntp_event_reset(manual));
    ASSERT(!readable(fd));

    /* Auto-reset: a wait that takes it makes it unreadable. An fd made
     * while the handle is signalled starts readable. */
    ASSERT_OK(ntp_event_create(&autor, false, true));
    ASSERT_OK(ntp_handle_get_fd(autor, &fd));
    ASSERT(readable(fd));
    ASSERT_STATUS(ntp_wait_for_single(autor, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT(!readable(fd));
    ASSERT_OK(ntp_event_set(autor));
    ASSERT(readable(fd));
    ntp_handle *pair[2] = {manual, autor};
    ASSERT_STATUS(ntp_wait_for_multiple(2, pair, false, 0, false),
                  NTP_WAIT_OBJECT_0 + 1);
    ASSERT(!readable(fd));
    /* A set that a sleeping waiter consumes leaves it unreadable. */
    waiter w;
    start_waiter(&w, autor, NTP_INFINITE);
    WAIT_FOR_SLEEPERS(autor, 1);
    ASSERT_OK(ntp_event_set(autor));
    ASSERT_STATUS(join_waiter(&w), NTP_WAIT_OBJECT_0);
    ASSERT(!readable(fd));

    /* Semaphore: readable while the count is above 0. */
    ASSERT_OK(ntp_semaphore_create(&sem, 2, 5));
    ASSERT_OK(ntp_handle_get_fd(sem, &fd));
    ASSERT(readable(fd));
    ASSERT_STATUS(ntp_wait_for_single(sem, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT(readable(fd));
    ASSERT_STATUS(ntp_wait_for_single(sem, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT(!readable(fd));
    ASSERT_OK(ntp_semaphore_release(sem, 1, NULL));
    ASSERT(readable(fd));
    ASSERT_STATUS(ntp_semaphore_release(sem, 5, NULL), NTP_EOVERFLOW);
    ASSERT(readable(fd));

    /* Mutex: readable while nobody owns it. */
    ASSERT_OK(ntp_mutex_create(&m, false));
    ASSERT_OK(ntp_handle_get_fd(m, &fd));
    ASSERT(readable(fd));
    ASSERT_STATUS(ntp_wait_for_single(m, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT(!readable(fd));
    ASSERT_STATUS(ntp_wait_for_single(m, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_OK(ntp_mutex_release(m));
    ASSERT(!readable(fd));
    ASSERT_OK(ntp_mutex_release(m));
    ASSERT(readable(fd));

    ASSERT_OK(ntp_handle_close(manual));
    ASSERT_OK(ntp_handle_close(autor));
    ASSERT_OK(ntp_handle_close(sem));
    ASSERT_OK(ntp_handle_close(m));
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(handle_fd_mirror_wait_all)
{
    /* A wait-all satisfied by a signaller takes the other handles too:
     * their fds must follow. */
    ntp_handle *e1, *e2;
    int fd1, fd2;
    ASSERT_OK(ntp_event_create(&e1, false, true));
    ASSERT_OK(ntp_event_create(&e2, false, false));
    ASSERT_OK(ntp_handle_get_fd(e1, &fd1));
    ASSERT_OK(ntp_handle_get_fd(e2, &fd2));
    ASSERT(readable(fd1));
    ASSERT(!readable(fd2));
    waiter w;
    ntp_handle *both[2] = {e1, e2};
    start_waiter_multi(&w, 2, both, true, NTP_INFINITE);
    WAIT_FOR_SLEEPERS(e2, 1);
    ASSERT(readable(fd1));
    ASSERT_OK(ntp_event_set(e2));
    ASSERT_STATUS(join_waiter(&w), NTP_WAIT_OBJECT_0);
    ASSERT(!readable(fd1));
    ASSERT(!readable(fd2));
    ASSERT_OK(ntp_handle_close(e1));
    ASSERT_OK(ntp_handle_close(e2));
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(handle_close_while_waited)
{
    ntp_handle *ev;
    ASSERT_OK(ntp_event_create(&ev, true, false));
    long base = ntp_debug_live_objects();
    waiter w;
    start_waiter(&w, ev, 300);
    WAIT_FOR_SLEEPERS(ev, 1);
    ASSERT_OK(ntp_handle_close(ev));
    /* Closed for the application, alive for the waiter: every call
     * through the closed handle is refused, none crashes. */
    ASSERT_STATUS(ntp_event_set(ev), NTP_EBADF);
    ASSERT_STATUS(ntp_handle_close(ev), NTP_EBADF);
    ASSERT_STATUS(ntp_handle_kind_of(ev), NTP_EBADF);
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_EBADF);
    ASSERT_EQ(ntp_debug_live_objects(), base);
    ASSERT_STATUS(join_waiter(&w), NTP_WAIT_TIMEOUT);
    ASSERT_EQ(ntp_debug_live_objects(), base - 1);

    /* A wait-any goes on with its other handles. */
    ntp_handle *ab[2];
    ASSERT_OK(ntp_event_create(&ab[0], false, false));
    ASSERT_OK(ntp_event_create(&ab[1], false, false));
    int fd;
    ASSERT_OK(ntp_handle_get_fd(ab[0], &fd));
    start_waiter_multi(&w, 2, ab, false, NTP_INFINITE);
    WAIT_FOR_SLEEPERS(ab[1], 1);
    ASSERT_OK(ntp_handle_close(ab[0]));
    ASSERT_OK(ntp_event_set(ab[1]));
    ASSERT_STATUS(join_waiter(&w), NTP_WAIT_OBJECT_0 + 1);
    ASSERT_OK(ntp_handle_close(ab[1]));
    ASSERT_NO_LIVE_OBJECTS();
}

/* An allocator that keeps freed blocks, so that a freed handle's memory
 * can be inspected without a use-after-free. */
static void *kept[8];
static int nkept;

static void *
keeping_malloc(size_t size, void *data)
{
    (void)data;
    return malloc(size);
}

static void
keeping_free(void *p, void *data)
{
    (void)data;
    if (nkept < 8) {
        kept[nkept++] = p;
    } else {
        free(p);
    }
}

TEST_IMPL(handle_freed_is_refused)
{
    ntp_set_allocator(keeping_malloc, keeping_free, NULL);
    nkept = 0;
    ntp_handle *ev;
    ASSERT_OK(ntp_event_create(&ev, false, true));
    ASSERT_OK(ntp_handle_close(ev));
    ASSERT_EQ(nkept, 1);
    ASSERT_PTR_EQ(kept[0], ev);
    /* The tag was changed before the free. */
    ASSERT_STATUS(ntp_event_set(ev), NTP_EBADF);
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_EBADF);
    ASSERT_STATUS(ntp_handle_close(ev), NTP_EBADF);
    ASSERT_STATUS(ntp_handle_kind_of(ev), NTP_EBADF);
    ntp_set_allocator(NULL, NULL, NULL);
    for (int i = 0; i < nkept; i++) {
        free(kept[i]);
    }
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* The thread-pool wait seam: blocks satisfied without a sleeping thread    */
/* ------------------------------------------------------------------------ */

typedef struct armed {
    struct ntp__wait_block block;
    struct ntp__wait_node node;
    int calls;  /* written under the sync lock, read after disarm */
    int result;
} armed;

static void
armed_satisfied(struct ntp__wait_block *b, void *arg)
{
    armed *a = arg;
    a->calls++;
    a->result = b->result;
}

static void
armed_init(armed *a, ntp_handle *h)
{
    memset(a, 0, sizeof *a);
    ntp__wait_block_init(&a->block, &a->node, &h, 1, false, NULL);
    a->block.on_satisfied = armed_satisfied;
    a->block.arg = a;
}

TEST_IMPL(wait_block_arm_satisfies_without_thread)
{
    ntp_handle *ev;
    ASSERT_OK(ntp_event_create(&ev, false, false));
    ASSERT_OK(ntp__handle_ref(ev));
    armed a;
    armed_init(&a, ev);

    /* Unsignalled: linked, pending. A set satisfies it on the setting
     * thread, consuming the auto-reset event. */
    ASSERT_EQ(ntp__wait_block_arm(&a.block), NTP__WAIT_PENDING);
    ASSERT_EQ(ntp__wait_block_arm(&a.block), NTP_EBUSY);
    ASSERT_EQ(ntp__handle_waiter_count(ev), 1);
    ASSERT_OK(ntp_event_set(ev));
    ASSERT(!ntp__wait_block_disarm(&a.block));
    ASSERT_EQ(a.calls, 1);
    ASSERT_STATUS(a.result, NTP_WAIT_OBJECT_0);
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_WAIT_TIMEOUT);

    /* Disarmed before the signal: no call, the signal stays. */
    ASSERT_EQ(ntp__wait_block_arm(&a.block), NTP__WAIT_PENDING);
    ASSERT(ntp__wait_block_disarm(&a.block));
    ASSERT(!ntp__wait_block_disarm(&a.block));
    ASSERT_OK(ntp_event_set(ev));
    ASSERT_EQ(a.calls, 1);
    ASSERT_EQ(ntp__handle_waiter_count(ev), 0);

    /* Already signalled: taken at once, not linked, no call. */
    ASSERT_STATUS(ntp__wait_block_arm(&a.block), NTP_WAIT_OBJECT_0);
    ASSERT_EQ(a.calls, 1);
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_WAIT_TIMEOUT);
    ASSERT(!ntp__wait_block_disarm(&a.block));
    ntp__handle_unref(ev);
    ASSERT_OK(ntp_handle_close(ev));

    /* Two blocks on a semaphore released by 2 both fire; on an auto
     * event set once, one fires and the other stays armed. */
    ntp_handle *sem;
    ASSERT_OK(ntp_semaphore_create(&sem, 0, 5));
    ASSERT_OK(ntp_event_create(&ev, false, false));
    armed s1, s2, e1, e2;
    armed_init(&s1, sem);
    armed_init(&s2, sem);
    armed_init(&e1, ev);
    armed_init(&e2, ev);
    ASSERT_EQ(ntp__wait_block_arm(&s1.block), NTP__WAIT_PENDING);
    ASSERT_EQ(ntp__wait_block_arm(&s2.block), NTP__WAIT_PENDING);
    ASSERT_EQ(ntp__wait_block_arm(&e1.block), NTP__WAIT_PENDING);
    ASSERT_EQ(ntp__wait_block_arm(&e2.block), NTP__WAIT_PENDING);
    ASSERT_OK(ntp_semaphore_release(sem, 2, NULL));
    ASSERT_OK(ntp_event_set(ev));
    ASSERT_EQ(s1.calls + s2.calls, 2);
    ASSERT_STATUS(ntp_wait_for_single(sem, 0, false), NTP_WAIT_TIMEOUT);
    ASSERT_EQ(e1.calls + e2.calls, 1);
    ASSERT_EQ(ntp__handle_waiter_count(ev), 1);
    ASSERT(ntp__wait_block_disarm(e1.calls ? &e2.block : &e1.block));

    /* No mutexes without an owning thread; no arming without a hook. */
    ntp_handle *m;
    ASSERT_OK(ntp_mutex_create(&m, false));
    armed am;
    armed_init(&am, m);
    ASSERT_STATUS(ntp__wait_block_arm(&am.block), NTP_EINVAL);
    armed_init(&am, ev);
    am.block.on_satisfied = NULL;
    ASSERT_STATUS(ntp__wait_block_arm(&am.block), NTP_EINVAL);

    ASSERT_OK(ntp_handle_close(sem));
    ASSERT_OK(ntp_handle_close(ev));
    ASSERT_OK(ntp_handle_close(m));
    ASSERT_NO_LIVE_OBJECTS();
}
