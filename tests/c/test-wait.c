/*
 * test-wait.c -- thread-pool waits (SPEC 8, CONFORMANCE I83-I100, the
 * "Waits" notes of M and N) and fd handles: signals, timeouts, one-shot
 * re-arming, consumption of auto-reset events and semaphores, mutexes
 * refused, stopping (set NULL, close, cleanup group) without consuming the
 * handle, set_ex, cancelling queued runs, the result each run carries, fd
 * readiness, and 100,000 waits at once without a thread each.
 *
 * White-box where it must be: ntp__handle_waiter_count (sync.h) tells
 * whether a wait is still linked on its handle; ntp__now_ns and
 * ntp__realtime_ns measure time. Lower time bounds are exact (a timeout
 * never fires early); upper bounds allow for a loaded machine and are
 * scaled by test_timeout_multiplier().
 */
#include "task.h"

#include "reactor.h"
#include "sync.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#define MS 1000000u
#define LONG_WAIT_MS (10000u * test_timeout_multiplier())

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

/* Lateness allowed for a callback on a loaded machine. */
static uint64_t
late_ns(void)
{
    return (uint64_t)150 * MS * test_timeout_multiplier();
}

static ntp_pool *
make_pool(unsigned max)
{
    ntp_pool *pool = NULL;
    ASSERT_OK(ntp_pool_create(&pool));
    ntp_pool_set_max_threads(pool, max);
    return pool;
}

static ntp_handle *
make_event(bool manual, bool initial)
{
    ntp_handle *h = NULL;
    ASSERT_OK(ntp_event_create(&h, manual, initial));
    return h;
}

/* What a test wait's callback records. */
#define MAX_RUNS 256
typedef struct rec {
    atomic_int claimed; /* runs started (each takes the next record) */
    atomic_int runs;    /* runs recorded completely */
    atomic_int signalled; /* runs with NTP_WAIT_OBJECT_0 */
    atomic_int timeouts;  /* runs with NTP_WAIT_TIMEOUT */
    atomic_uint results[MAX_RUNS];
    _Atomic uint64_t at_ns[MAX_RUNS]; /* monotonic time of each run */
    _Atomic uint64_t real_at_ns;      /* wall-clock time of the last */
    _Atomic(ntp_wait *) self_seen;
    _Atomic(void *) ctx_seen;
    /* Optional behaviour. */
    ntp_handle *gate;      /* the first run waits for it */
    ntp_handle *rearm_on;  /* re-arm on it ... */
    int rearm_until;       /* ... until this many runs */
    bool close_in_cb;      /* the first run closes the wait */
    atomic_int released;   /* release hook calls */
} rec;

static void
rec_cb(ntp_instance *inst, void *ctx, ntp_wait *wait, uint32_t result)
{
    rec *r = ctx;
    (void)inst;
    /* Record everything first, then count the run: a test that sees
     * `runs` go up reads a complete record (TSan caught the reverse). */
    int n = atomic_fetch_add(&r->claimed, 1);
    if (n < MAX_RUNS) {
        atomic_store(&r->results[n], result);
        atomic_store(&r->at_ns[n], ntp__now_ns());
    }
    atomic_fetch_add(result == NTP_WAIT_OBJECT_0 ? &r->signalled
                                                 : &r->timeouts,
                     1);
    atomic_store(&r->real_at_ns, ntp__realtime_ns());
    atomic_store(&r->self_seen, wait);
    atomic_store(&r->ctx_seen, ctx);
    atomic_fetch_add(&r->runs, 1);
    if (n == 0 && r->gate != NULL) {
        ASSERT_STATUS(ntp_wait_for_single(r->gate, LONG_WAIT_MS, false),
                      NTP_WAIT_OBJECT_0);
    }
    if (r->rearm_on != NULL && n + 1 < r->rearm_until) {
        ntp_wait_set(wait, r->rearm_on, NTP_INFINITE);
    }
    if (n == 0 && r->close_in_cb) {
        ntp_wait_close(wait);
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

static ntp_wait *
make_wait(rec *r, ntp_pool *pool, ntp_cleanup_group *group,
          ntp_cleanup_cancel_cb cancel_cb)
{
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);
    if (group != NULL) {
        ntp_env_set_cleanup_group(&env, group, cancel_cb);
    }
    ntp_wait *w = NULL;
    ASSERT_OK(ntp_wait_create(&w, rec_cb, r, &env));
    ASSERT_NOT_NULL(w);
    ASSERT_OK(ntp_wait_set_release(w, rec_release));
    return w;
}

/* Close a wait and wait for its release hook. */
static void
close_wait(ntp_wait *w, rec *r)
{
    ntp_wait_close(w);
    TEST_WAIT_UNTIL(atomic_load(&r->released) == 1, 5000);
}

static uint32_t
result_of(rec *r, int i)
{
    return atomic_load(&r->results[i]);
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

static atomic_int diag_count;

static void
count_diag(const char *message, void *data)
{
    (void)message;
    (void)data;
    atomic_fetch_add(&diag_count, 1);
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

/* Work that holds a pool's only worker until `gate` is set. */
static void
block_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    (void)inst;
    (void)work;
    ASSERT_STATUS(ntp_wait_for_single(ctx, LONG_WAIT_MS, false),
                  NTP_WAIT_OBJECT_0);
}

static ntp_work *
occupy_worker(ntp_pool *pool, ntp_handle *gate)
{
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);
    ntp_work *work = NULL;
    ASSERT_OK(ntp_work_create(&work, block_cb, gate, &env));
    ntp_work_submit(work);
    /* Wait until the worker is inside the callback, asleep on the gate. */
    TEST_WAIT_UNTIL(ntp__handle_waiter_count(gate) == 1, 5000);
    return work;
}

/* ------------------------------------------------------------------------ */
/* Signals                                                                   */
/* ------------------------------------------------------------------------ */

/* I83, I84, I99: a wait with no timeout fires once when the event is set,
 * with WAIT_OBJECT_0, its object and its context, and resets the
 * auto-reset event it took. The pool had no thread when it fired. */
TEST_IMPL(tp_wait_fires_on_event_set)
{
    ntp_pool *pool = make_pool(4);
    rec *r = rec_new();
    ntp_wait *w = make_wait(r, pool, NULL, NULL);
    ASSERT_PTR_EQ(ntp_wait_context(w), r);
    ntp_handle *ev = make_event(false, false);

    ntp_wait_set(w, ev, NTP_INFINITE);
    ASSERT_EQ(ntp__handle_waiter_count(ev), 1);
    test_sleep_ms(50);
    ASSERT_EQ(atomic_load(&r->runs), 0);

    ASSERT_OK(ntp_event_set(ev));
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 1, 5000);
    ASSERT_EQ(result_of(r, 0), NTP_WAIT_OBJECT_0);
    ASSERT_PTR_EQ(atomic_load(&r->self_seen), w);
    ASSERT_PTR_EQ(atomic_load(&r->ctx_seen), r);
    ASSERT_EQ(ntp__handle_waiter_count(ev), 0);
    /* Consumed: the auto-reset event is reset. */
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_WAIT_TIMEOUT);

    close_wait(w, r);
    ASSERT_OK(ntp_handle_close(ev));
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/* I86: a handle already signalled when the wait is set fires at once. */
TEST_IMPL(tp_wait_already_signalled_fires_at_once)
{
    ntp_pool *pool = make_pool(4);
    rec *r = rec_new();
    ntp_wait *w = make_wait(r, pool, NULL, NULL);
    ntp_handle *ev = make_event(false, true);

    uint64_t start = ntp__now_ns();
    ntp_wait_set(w, ev, 5000);
    /* Taken by the set itself, never linked. */
    ASSERT_EQ(ntp__handle_waiter_count(ev), 0);
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_WAIT_TIMEOUT);
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 1, 5000);
    ASSERT_EQ(result_of(r, 0), NTP_WAIT_OBJECT_0);
    ASSERT_LE(atomic_load(&r->at_ns[0]), start + late_ns());

    close_wait(w, r);
    ASSERT_OK(ntp_handle_close(ev));
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/* I83: no timeout means none: the wait is still armed after a while, and
 * a signal from another thread much later still fires it. */
TEST_IMPL(tp_wait_infinite_never_times_out)
{
    ntp_pool *pool = make_pool(4);
    rec *r = rec_new();
    ntp_wait *w = make_wait(r, pool, NULL, NULL);
    ntp_handle *ev = make_event(true, false);

    ntp_wait_set(w, ev, NTP_INFINITE);
    delayed_set d = {.event = ev, .delay_ms = 400};
    ASSERT_EQ(pthread_create(&d.thread, NULL, delayed_set_main, &d), 0);
    test_sleep_ms(300);
    ASSERT_EQ(atomic_load(&r->runs), 0);
    ASSERT_EQ(ntp__handle_waiter_count(ev), 1);
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 1, 5000);
    ASSERT_EQ(result_of(r, 0), NTP_WAIT_OBJECT_0);
    ASSERT_EQ(pthread_join(d.thread, NULL), 0);

    close_wait(w, r);
    ASSERT_OK(ntp_handle_close(ev));
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/* I85, I87: one callback per set. A second signal without re-arming gives
 * nothing and stays in the event; re-arming then fires at once. A
 * manual-reset event left set gives one callback per set, no busy loop. */
TEST_IMPL(tp_wait_is_one_shot)
{
    ntp_pool *pool = make_pool(4);
    rec *r = rec_new();
    ntp_wait *w = make_wait(r, pool, NULL, NULL);
    ntp_handle *ev = make_event(false, false);
    ntp_handle *manual = make_event(true, true);

    ntp_wait_set(w, ev, NTP_INFINITE);
    ASSERT_OK(ntp_event_set(ev));
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 1, 5000);
    ASSERT_OK(ntp_event_set(ev));
    test_sleep_ms(100);
    ASSERT_EQ(atomic_load(&r->runs), 1);
    ASSERT_EQ(ntp__handle_waiter_count(ev), 0);

    ntp_wait_set(w, ev, NTP_INFINITE); /* the event kept the signal */
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 2, 5000);
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_WAIT_TIMEOUT);

    ntp_wait_set(w, manual, NTP_INFINITE);
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 3, 5000);
    test_sleep_ms(100);
    ASSERT_EQ(atomic_load(&r->runs), 3);
    ASSERT_EQ(atomic_load(&r->signalled), 3);

    close_wait(w, r);
    ASSERT_OK(ntp_handle_close(ev));
    ASSERT_OK(ntp_handle_close(manual));
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/* A callback re-arms its own wait: on a manual-reset event left set, each
 * re-arm fires once more, exactly as many times as it re-arms. */
TEST_IMPL(tp_wait_rearmed_from_own_callback)
{
    enum { N = 200 };
    ntp_pool *pool = make_pool(4);
    rec *r = rec_new();
    ntp_handle *manual = make_event(true, true);
    r->rearm_on = manual;
    r->rearm_until = N;
    ntp_wait *w = make_wait(r, pool, NULL, NULL);

    ntp_wait_set(w, manual, NTP_INFINITE);
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == N, 10000);
    test_sleep_ms(100);
    ASSERT_EQ(atomic_load(&r->runs), N);
    ASSERT_EQ(atomic_load(&r->signalled), N);

    /* And re-arming on an unsignalled event waits for its signal. */
    ntp_handle *ev = make_event(false, false);
    rec *r2 = rec_new();
    r2->rearm_on = ev;
    r2->rearm_until = 3;
    ntp_wait *w2 = make_wait(r2, pool, NULL, NULL);
    ntp_wait_set(w2, ev, NTP_INFINITE);
    for (int i = 1; i <= 3; i++) {
        TEST_WAIT_UNTIL(ntp__handle_waiter_count(ev) == 1, 5000);
        ASSERT_OK(ntp_event_set(ev));
        TEST_WAIT_UNTIL(atomic_load(&r2->runs) == i, 5000);
    }
    test_sleep_ms(50);
    ASSERT_EQ(ntp__handle_waiter_count(ev), 0);

    close_wait(w, r);
    close_wait(w2, r2);
    ASSERT_OK(ntp_handle_close(manual));
    ASSERT_OK(ntp_handle_close(ev));
    ntp_pool_close(pool);
    free(r);
    free(r2);
    ASSERT_NO_LIVE_OBJECTS();
}

/* I96: two waits on one auto-reset event: one set releases exactly one,
 * and the other stays armed for the next set. */
TEST_IMPL(tp_wait_auto_event_releases_one_of_two)
{
    ntp_pool *pool = make_pool(4);
    rec *a = rec_new();
    rec *b = rec_new();
    ntp_wait *wa = make_wait(a, pool, NULL, NULL);
    ntp_wait *wb = make_wait(b, pool, NULL, NULL);
    ntp_handle *ev = make_event(false, false);

    ntp_wait_set(wa, ev, NTP_INFINITE);
    ntp_wait_set(wb, ev, NTP_INFINITE);
    ASSERT_OK(ntp_event_set(ev));
    TEST_WAIT_UNTIL(atomic_load(&a->runs) + atomic_load(&b->runs) == 1,
                    5000);
    test_sleep_ms(100);
    ASSERT_EQ(atomic_load(&a->runs) + atomic_load(&b->runs), 1);
    ASSERT_EQ(ntp__handle_waiter_count(ev), 1);
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_WAIT_TIMEOUT);

    ASSERT_OK(ntp_event_set(ev));
    TEST_WAIT_UNTIL(atomic_load(&a->runs) == 1 && atomic_load(&b->runs) == 1,
                    5000);
    ASSERT_EQ(a->signalled + b->signalled, 2);

    close_wait(wa, a);
    close_wait(wb, b);
    ASSERT_OK(ntp_handle_close(ev));
    ntp_pool_close(pool);
    free(a);
    free(b);
    ASSERT_NO_LIVE_OBJECTS();
}

/* I84, I96: each satisfied wait takes one semaphore count: releasing 2 to
 * three waits fires two and leaves the count at 0; one more fires the
 * third. */
TEST_IMPL(tp_wait_semaphore_count_consumed)
{
    ntp_pool *pool = make_pool(4);
    rec *r[3];
    ntp_wait *w[3];
    ntp_handle *sem = NULL;
    ASSERT_OK(ntp_semaphore_create(&sem, 0, 10));
    for (int i = 0; i < 3; i++) {
        r[i] = rec_new();
        w[i] = make_wait(r[i], pool, NULL, NULL);
        ntp_wait_set(w[i], sem, NTP_INFINITE);
    }
    ASSERT_OK(ntp_semaphore_release(sem, 2, NULL));
    TEST_WAIT_UNTIL(atomic_load(&r[0]->runs) + atomic_load(&r[1]->runs)
                            + atomic_load(&r[2]->runs)
                        == 2,
                    5000);
    test_sleep_ms(100);
    int32_t previous = -1;
    ASSERT_OK(ntp_semaphore_release(sem, 1, &previous));
    ASSERT_EQ(previous, 0);
    for (int i = 0; i < 3; i++) {
        TEST_WAIT_UNTIL(atomic_load(&r[i]->runs) == 1, 5000);
        ASSERT_EQ(result_of(r[i], 0), NTP_WAIT_OBJECT_0);
    }
    ASSERT_STATUS(ntp_wait_for_single(sem, 0, false), NTP_WAIT_TIMEOUT);

    /* Already counted up: a set takes one count at once. */
    ASSERT_OK(ntp_semaphore_release(sem, 2, NULL));
    ntp_wait_set(w[0], sem, NTP_INFINITE);
    TEST_WAIT_UNTIL(atomic_load(&r[0]->runs) == 2, 5000);
    ASSERT_OK(ntp_semaphore_release(sem, 1, &previous));
    ASSERT_EQ(previous, 1);

    for (int i = 0; i < 3; i++) {
        close_wait(w[i], r[i]);
        free(r[i]);
    }
    ASSERT_OK(ntp_handle_close(sem));
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}

/* SPEC 8, 13.5: a mutex cannot be waited for by a pool: the set is refused
 * with a diagnostic and changes nothing (the previous wait stays armed,
 * the mutex is not taken). */
TEST_IMPL(tp_wait_mutex_refused)
{
    ntp_pool *pool = make_pool(4);
    rec *r = rec_new();
    ntp_wait *w = make_wait(r, pool, NULL, NULL);
    ntp_handle *ev = make_event(false, false);
    ntp_handle *mutex = NULL;
    ASSERT_OK(ntp_mutex_create(&mutex, false));
    atomic_store(&diag_count, 0);
    ntp_set_diagnostic_handler(count_diag, NULL);

    ntp_wait_set(w, ev, NTP_INFINITE);
    ntp_wait_set(w, mutex, 0);
    ASSERT_EQ(atomic_load(&diag_count), 1);
    ASSERT(!ntp_wait_set_ex(w, mutex, ntp_due_none()));
    ASSERT_EQ(atomic_load(&diag_count), 2);
    ASSERT_EQ(ntp__handle_waiter_count(mutex), 0);
    ASSERT_EQ(ntp__handle_waiter_count(ev), 1);
    test_sleep_ms(50);
    ASSERT_EQ(atomic_load(&r->runs), 0);

    /* Unowned and untouched: this thread can take it. */
    ASSERT_STATUS(ntp_wait_for_single(mutex, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_OK(ntp_mutex_release(mutex));
    ASSERT_OK(ntp_event_set(ev));
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 1, 5000);
    ASSERT_EQ(result_of(r, 0), NTP_WAIT_OBJECT_0);

    ntp_set_diagnostic_handler(NULL, NULL);
    close_wait(w, r);
    ASSERT_OK(ntp_handle_close(ev));
    ASSERT_OK(ntp_handle_close(mutex));
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/* I93: setting another handle replaces the first: signalling the old one
 * does nothing and leaves it signalled. */
TEST_IMPL(tp_wait_set_replaces_handle)
{
    ntp_pool *pool = make_pool(4);
    rec *r = rec_new();
    ntp_wait *w = make_wait(r, pool, NULL, NULL);
    ntp_handle *e1 = make_event(false, false);
    ntp_handle *e2 = make_event(false, false);

    ntp_wait_set(w, e1, NTP_INFINITE);
    ntp_wait_set(w, e2, NTP_INFINITE);
    ASSERT_EQ(ntp__handle_waiter_count(e1), 0);
    ASSERT_OK(ntp_event_set(e1));
    test_sleep_ms(100);
    ASSERT_EQ(atomic_load(&r->runs), 0);
    ASSERT_STATUS(ntp_wait_for_single(e1, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_OK(ntp_event_set(e2));
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 1, 5000);

    close_wait(w, r);
    ASSERT_OK(ntp_handle_close(e1));
    ASSERT_OK(ntp_handle_close(e2));
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/* I92: set NULL stops an armed wait (the timeout is ignored): no callback,
 * and the handle keeps its signal. */
TEST_IMPL(tp_wait_set_null_stops)
{
    ntp_pool *pool = make_pool(4);
    rec *r = rec_new();
    ntp_wait *w = make_wait(r, pool, NULL, NULL);
    ntp_handle *ev = make_event(false, false);

    ntp_wait_set(w, ev, 100);
    ntp_wait_set(w, NULL, 0);
    ASSERT_EQ(ntp__handle_waiter_count(ev), 0);
    ASSERT_OK(ntp_event_set(ev));
    test_sleep_ms(250); /* past the old timeout too */
    ASSERT_EQ(atomic_load(&r->runs), 0);
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_WAIT_OBJECT_0);

    close_wait(w, r);
    ASSERT_OK(ntp_handle_close(ev));
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/* SetThreadpoolWaitEx: true only when the previous wait was still pending
 * and this call cancelled it. */
TEST_IMPL(tp_wait_set_ex_reports_pending)
{
    ntp_pool *pool = make_pool(4);
    rec *r = rec_new();
    ntp_wait *w = make_wait(r, pool, NULL, NULL);
    ntp_handle *ev = make_event(false, false);

    ASSERT(!ntp_wait_set_ex(w, ev, ntp_due_none()));    /* fresh */
    ASSERT(ntp_wait_set_ex(w, ev, ntp_due_in_ms(50)));  /* was pending */
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 1, 5000);  /* timed out */
    ASSERT_EQ(result_of(r, 0), NTP_WAIT_TIMEOUT);
    ASSERT(!ntp_wait_set_ex(w, ev, ntp_due_none()));    /* completed */
    ASSERT(ntp_wait_set_ex(w, NULL, ntp_due_none()));   /* cancelled */
    ASSERT(!ntp_wait_set_ex(w, NULL, ntp_due_none()));  /* not set */

    ntp_wait_set(w, ev, NTP_INFINITE);
    ASSERT_OK(ntp_event_set(ev));
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 2, 5000);
    ASSERT(!ntp_wait_set_ex(w, ev, ntp_due_in_ms(0))); /* satisfied */
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 3, 5000);
    ASSERT_EQ(result_of(r, 2), NTP_WAIT_TIMEOUT);
    ASSERT(!ntp_wait_set_ex(w, NULL, ntp_due_none())); /* zero: done */
    ASSERT_EQ(atomic_load(&r->runs), 3);

    close_wait(w, r);
    ASSERT_OK(ntp_handle_close(ev));
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* Timeouts                                                                  */
/* ------------------------------------------------------------------------ */

/* I88: a relative timeout fires once with WAIT_TIMEOUT, not early, and
 * does not consume the handle; later signals give nothing. */
TEST_IMPL(tp_wait_timeout_fires_after_timeout)
{
    ntp_pool *pool = make_pool(4);
    rec *r = rec_new();
    ntp_wait *w = make_wait(r, pool, NULL, NULL);
    ntp_handle *ev = make_event(false, false);

    uint64_t start = ntp__now_ns();
    ntp_wait_set(w, ev, 200);
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 1, 5000);
    ASSERT_EQ(result_of(r, 0), NTP_WAIT_TIMEOUT);
    ASSERT_GE(atomic_load(&r->at_ns[0]), start + 200 * MS);
    ASSERT_LE(atomic_load(&r->at_ns[0]), start + 200 * MS + late_ns());
    ASSERT_EQ(ntp__handle_waiter_count(ev), 0);

    ASSERT_OK(ntp_event_set(ev));
    test_sleep_ms(100);
    ASSERT_EQ(atomic_load(&r->runs), 1);
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_WAIT_OBJECT_0);

    close_wait(w, r);
    ASSERT_OK(ntp_handle_close(ev));
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/* I89: a signal before the timeout gives WAIT_OBJECT_0 and no timeout
 * callback afterwards. */
TEST_IMPL(tp_wait_signal_before_timeout_cancels_it)
{
    ntp_pool *pool = make_pool(4);
    rec *r = rec_new();
    ntp_wait *w = make_wait(r, pool, NULL, NULL);
    ntp_handle *ev = make_event(false, false);

    ntp_wait_set(w, ev, 200);
    ASSERT_OK(ntp_event_set(ev));
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 1, 5000);
    ASSERT_EQ(result_of(r, 0), NTP_WAIT_OBJECT_0);
    test_sleep_ms(400);
    ASSERT_EQ(atomic_load(&r->runs), 1);

    close_wait(w, r);
    ASSERT_OK(ntp_handle_close(ev));
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/* I90 (and not the Wine quirk I91): a zero timeout tests the handle now:
 * WAIT_TIMEOUT at once if it is not signalled, WAIT_OBJECT_0 (taking it)
 * if it is. */
TEST_IMPL(tp_wait_timeout_zero_tests_now)
{
    ntp_pool *pool = make_pool(4);
    rec *r = rec_new();
    ntp_wait *w = make_wait(r, pool, NULL, NULL);
    ntp_handle *ev = make_event(false, false);

    uint64_t start = ntp__now_ns();
    ntp_wait_set(w, ev, 0);
    ASSERT_EQ(ntp__handle_waiter_count(ev), 0);
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 1, 5000);
    ASSERT_EQ(result_of(r, 0), NTP_WAIT_TIMEOUT);
    ASSERT_LE(atomic_load(&r->at_ns[0]), start + late_ns());

    ASSERT_OK(ntp_event_set(ev));
    ntp_wait_set_due(w, ev, ntp_due_in_ns(0));
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 2, 5000);
    ASSERT_EQ(result_of(r, 1), NTP_WAIT_OBJECT_0);
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_WAIT_TIMEOUT);

    test_sleep_ms(50);
    ASSERT_EQ(atomic_load(&r->runs), 2);
    close_wait(w, r);
    ASSERT_OK(ntp_handle_close(ev));
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/* I88, SPEC 1.2: an absolute timeout is wall-clock time, never early; one
 * already past times out at once. */
TEST_IMPL(tp_wait_absolute_timeout)
{
    ntp_pool *pool = make_pool(4);
    rec *r = rec_new();
    rec *past = rec_new();
    ntp_wait *w = make_wait(r, pool, NULL, NULL);
    ntp_wait *wp = make_wait(past, pool, NULL, NULL);
    ntp_handle *ev = make_event(true, false);

    uint64_t due = ntp__realtime_ns() + 200 * MS;
    ntp_wait_set_due(w, ev, ntp_due_at_unix_ns(due));
    uint64_t start = ntp__now_ns();
    ntp_wait_set_due(wp, ev, ntp_due_at_unix_ns(due - 10000 * MS));
    TEST_WAIT_UNTIL(atomic_load(&past->runs) == 1, 5000);
    ASSERT_EQ(result_of(past, 0), NTP_WAIT_TIMEOUT);
    ASSERT_LE(atomic_load(&past->at_ns[0]), start + late_ns());
    ASSERT_EQ(atomic_load(&r->runs), 0);

    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 1, 5000);
    ASSERT_EQ(result_of(r, 0), NTP_WAIT_TIMEOUT);
    ASSERT_GE(atomic_load(&r->real_at_ns), due);

    close_wait(w, r);
    close_wait(wp, past);
    ASSERT_OK(ntp_handle_close(ev));
    ntp_pool_close(pool);
    free(r);
    free(past);
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* Runs, cancelling and results                                              */
/* ------------------------------------------------------------------------ */

/* Runs of one wait that queue up behind a busy worker each report the
 * result of their own arming, in order. */
TEST_IMPL(tp_wait_each_run_reports_its_result)
{
    ntp_pool *pool = make_pool(1);
    ntp_handle *gate = make_event(true, false);
    ntp_work *blocker = occupy_worker(pool, gate);
    rec *r = rec_new();
    ntp_wait *w = make_wait(r, pool, NULL, NULL);
    ntp_handle *off = make_event(true, false);
    ntp_handle *on = make_event(true, true);

    ntp_wait_set(w, off, 0);            /* WAIT_TIMEOUT */
    ntp_wait_set(w, on, NTP_INFINITE);  /* WAIT_OBJECT_0 */
    ntp_wait_set(w, off, 0);            /* WAIT_TIMEOUT */
    ntp_wait_set(w, off, 30);           /* WAIT_TIMEOUT, from the reactor */
    test_sleep_ms(100);
    ntp_wait_set(w, on, 1000);          /* WAIT_OBJECT_0 */
    ASSERT_EQ(atomic_load(&r->runs), 0);

    ASSERT_OK(ntp_event_set(gate));
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 5, 5000);
    ASSERT_EQ(result_of(r, 0), NTP_WAIT_TIMEOUT);
    ASSERT_EQ(result_of(r, 1), NTP_WAIT_OBJECT_0);
    ASSERT_EQ(result_of(r, 2), NTP_WAIT_TIMEOUT);
    ASSERT_EQ(result_of(r, 3), NTP_WAIT_TIMEOUT);
    ASSERT_EQ(result_of(r, 4), NTP_WAIT_OBJECT_0);

    ntp_work_close(blocker);
    close_wait(w, r);
    ASSERT_OK(ntp_handle_close(gate));
    ASSERT_OK(ntp_handle_close(off));
    ASSERT_OK(ntp_handle_close(on));
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/* More runs queued than the 64 whose order is kept exactly: the first 64
 * report their own results in order, and the totals stay right. */
TEST_IMPL(tp_wait_many_queued_runs_keep_their_results)
{
    enum { N = 100 };
    ntp_pool *pool = make_pool(1);
    ntp_handle *gate = make_event(true, false);
    ntp_work *blocker = occupy_worker(pool, gate);
    rec *r = rec_new();
    ntp_wait *w = make_wait(r, pool, NULL, NULL);
    ntp_handle *off = make_event(true, false);
    ntp_handle *on = make_event(true, true);

    int expect_signalled = 0;
    for (int i = 0; i < N; i++) {
        bool signal = i % 3 == 1;
        ntp_wait_set(w, signal ? on : off, signal ? NTP_INFINITE : 0);
        expect_signalled += signal;
    }
    ASSERT_EQ(atomic_load(&r->runs), 0);
    ASSERT_OK(ntp_event_set(gate));
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == N, 5000);
    for (int i = 0; i < 64; i++) {
        ASSERT_EQ(result_of(r, i),
                  i % 3 == 1 ? NTP_WAIT_OBJECT_0 : NTP_WAIT_TIMEOUT);
    }
    ASSERT_EQ(atomic_load(&r->signalled), expect_signalled);
    ASSERT_EQ(atomic_load(&r->timeouts), N - expect_signalled);

    ntp_work_close(blocker);
    close_wait(w, r);
    ASSERT_OK(ntp_handle_close(gate));
    ASSERT_OK(ntp_handle_close(off));
    ASSERT_OK(ntp_handle_close(on));
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/* I95: wait with cancel drops a queued run (its result with it) and does
 * not stop an armed wait, which still fires afterwards. */
TEST_IMPL(tp_wait_wait_cancel_drops_queued_run)
{
    ntp_pool *pool = make_pool(1);
    ntp_handle *gate = make_event(true, false);
    ntp_work *blocker = occupy_worker(pool, gate);
    rec *r = rec_new();
    ntp_wait *w = make_wait(r, pool, NULL, NULL);
    ntp_handle *ev = make_event(false, false);

    ntp_wait_set(w, ev, NTP_INFINITE);
    ASSERT_OK(ntp_event_set(ev)); /* queued behind the blocker */
    ntp_pool_stats st;
    ASSERT_OK(ntp_pool_stats_get(pool, &st));
    ASSERT_EQ(st.queued[NTP_PRIORITY_NORMAL], 1);
    ntp_wait_wait(w, true);
    ASSERT_OK(ntp_pool_stats_get(pool, &st));
    ASSERT_EQ(st.queued[NTP_PRIORITY_NORMAL], 0);

    /* Armed across the wait: a timeout queued now reports WAIT_TIMEOUT,
     * not the cancelled run's WAIT_OBJECT_0. */
    ntp_wait_set(w, ev, 30);
    test_sleep_ms(100);
    ASSERT_OK(ntp_pool_stats_get(pool, &st));
    ASSERT_EQ(st.queued[NTP_PRIORITY_NORMAL], 1);
    ASSERT_OK(ntp_event_set(gate));
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 1, 5000);
    ASSERT_EQ(result_of(r, 0), NTP_WAIT_TIMEOUT);
    test_sleep_ms(100);
    ASSERT_EQ(atomic_load(&r->runs), 1);

    ntp_work_close(blocker);
    close_wait(w, r);
    ASSERT_OK(ntp_handle_close(gate));
    ASSERT_OK(ntp_handle_close(ev));
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* Closing                                                                   */
/* ------------------------------------------------------------------------ */

/* I98, G58: closing an armed wait stops it without consuming the handle:
 * an auto-reset event set afterwards stays signalled. */
TEST_IMPL(tp_wait_close_while_armed_keeps_handle)
{
    ntp_pool *pool = make_pool(4);
    rec *r = rec_new();
    ntp_wait *w = make_wait(r, pool, NULL, NULL);
    ntp_handle *ev = make_event(false, false);

    ntp_wait_set(w, ev, 100);
    close_wait(w, r);
    ASSERT_EQ(ntp__handle_waiter_count(ev), 0);
    ASSERT_OK(ntp_event_set(ev));
    test_sleep_ms(250);
    ASSERT_EQ(atomic_load(&r->runs), 0);
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_WAIT_OBJECT_0);

    ASSERT_OK(ntp_handle_close(ev));
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/* A wait closed inside its own callback is freed once that returns; a set
 * on it afterwards is refused with a diagnostic. */
static void
close_then_set_cb(ntp_instance *inst, void *ctx, ntp_wait *wait,
                  uint32_t result)
{
    rec *r = ctx;
    ntp_wait_close(wait);
    ntp_wait_set(wait, r->rearm_on, NTP_INFINITE);
    rec_cb(inst, ctx, wait, result);
}

TEST_IMPL(tp_wait_close_from_own_callback)
{
    ntp_pool *pool = make_pool(4);
    rec *r = rec_new();
    ntp_handle *ev = make_event(true, true);
    r->rearm_on = ev;
    r->rearm_until = 0;
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);
    ntp_wait *w = NULL;
    ASSERT_OK(ntp_wait_create(&w, close_then_set_cb, r, &env));
    ASSERT_OK(ntp_wait_set_release(w, rec_release));
    atomic_store(&diag_count, 0);
    ntp_set_diagnostic_handler(count_diag, NULL);

    ntp_wait_set(w, ev, NTP_INFINITE);
    TEST_WAIT_UNTIL(atomic_load(&r->released) == 1, 5000);
    ASSERT_EQ(atomic_load(&r->runs), 1);
    ASSERT_EQ(atomic_load(&diag_count), 1); /* the set after close */
    test_sleep_ms(50);
    ASSERT_EQ(atomic_load(&r->runs), 1);
    ASSERT_EQ(atomic_load(&r->released), 1);

    ntp_set_diagnostic_handler(NULL, NULL);
    ASSERT_OK(ntp_handle_close(ev));
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

static atomic_int cancel_calls;

static void
count_cancel(void *object_ctx, void *cleanup_ctx)
{
    (void)object_ctx;
    (void)cleanup_ctx;
    atomic_fetch_add(&cancel_calls, 1);
}

/* G58, G59: releasing a cleanup group stops its armed waits without
 * consuming their handles, frees them, and (with cancel) calls the cancel
 * callback once per wait, set or not. */
TEST_IMPL(tp_wait_cleanup_group_release_stops_armed_wait)
{
    ntp_pool *pool = make_pool(4);
    ntp_cleanup_group *g = NULL;
    ASSERT_OK(ntp_cleanup_group_create(&g));
    ntp_handle *ev = make_event(false, false);
    rec *r[3];
    ntp_wait *w[3];
    for (int i = 0; i < 3; i++) {
        r[i] = rec_new();
        w[i] = make_wait(r[i], pool, g, count_cancel);
    }
    ntp_wait_set(w[0], ev, NTP_INFINITE);
    ntp_wait_set(w[1], ev, 100);
    ASSERT_EQ(ntp__handle_waiter_count(ev), 2);

    atomic_store(&cancel_calls, 0);
    ASSERT_OK(ntp_cleanup_group_close_members(g, true, NULL));
    ASSERT_EQ(atomic_load(&cancel_calls), 3);
    ASSERT_EQ(ntp__handle_waiter_count(ev), 0);
    for (int i = 0; i < 3; i++) {
        TEST_WAIT_UNTIL(atomic_load(&r[i]->released) == 1, 5000);
    }
    ASSERT_OK(ntp_event_set(ev));
    test_sleep_ms(250);
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(atomic_load(&r[i]->runs), 0);
        free(r[i]);
    }
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_WAIT_OBJECT_0);

    /* Without cancel: a wait that already fired still runs first. */
    rec *q = rec_new();
    ntp_wait *wq = make_wait(q, pool, g, count_cancel);
    ntp_handle *manual = make_event(true, true);
    ntp_wait_set(wq, manual, NTP_INFINITE);
    ASSERT_OK(ntp_cleanup_group_close_members(g, false, NULL));
    ASSERT_EQ(atomic_load(&q->runs), 1);
    TEST_WAIT_UNTIL(atomic_load(&q->released) == 1, 5000);

    ntp_cleanup_group_close(g);
    ASSERT_OK(ntp_handle_close(ev));
    ASSERT_OK(ntp_handle_close(manual));
    ntp_pool_close(pool);
    free(q);
    ASSERT_NO_LIVE_OBJECTS();
}

/* I100: a wait re-armed, then closed, inside its own callback while its
 * group is being released. */
static void
rearm_close_cb(ntp_instance *inst, void *ctx, ntp_wait *wait,
               uint32_t result)
{
    rec *r = ctx;
    rec_cb(inst, ctx, wait, result);
    test_sleep_ms(50); /* let close_members start waiting for us */
    ntp_wait_set(wait, r->rearm_on, NTP_INFINITE);
    ntp_wait_close(wait);
}

TEST_IMPL(tp_wait_close_in_callback_during_group_release)
{
    ntp_pool *pool = make_pool(4);
    ntp_cleanup_group *g = NULL;
    ASSERT_OK(ntp_cleanup_group_create(&g));
    ntp_handle *ev = make_event(false, true);
    ntp_handle *other = make_event(false, false);
    rec *r = rec_new();
    r->rearm_on = other;
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);
    ntp_env_set_cleanup_group(&env, g, count_cancel);
    ntp_wait *w = NULL;
    ASSERT_OK(ntp_wait_create(&w, rearm_close_cb, r, &env));
    ASSERT_OK(ntp_wait_set_release(w, rec_release));

    atomic_store(&cancel_calls, 0);
    ntp_wait_set(w, ev, NTP_INFINITE);
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 1, 5000);
    ASSERT_OK(ntp_cleanup_group_close_members(g, true, NULL));
    ASSERT_EQ(atomic_load(&cancel_calls), 0); /* closed by itself */
    TEST_WAIT_UNTIL(atomic_load(&r->released) == 1, 5000);
    ASSERT_EQ(ntp__handle_waiter_count(other), 0);
    ASSERT_OK(ntp_event_set(other));
    test_sleep_ms(50);
    ASSERT_EQ(atomic_load(&r->runs), 1);
    ASSERT_STATUS(ntp_wait_for_single(other, 0, false), NTP_WAIT_OBJECT_0);

    ntp_cleanup_group_close(g);
    ASSERT_OK(ntp_handle_close(ev));
    ASSERT_OK(ntp_handle_close(other));
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/* Bad arguments never crash: NULL, a closed handle, a bad due kind. */
TEST_IMPL(tp_wait_bad_arguments)
{
    ntp_wait *w = NULL;
    ASSERT_STATUS(ntp_wait_create(NULL, rec_cb, NULL, NULL), NTP_EINVAL);
    ASSERT_STATUS(ntp_wait_create(&w, NULL, NULL, NULL), NTP_EINVAL);
    ASSERT_NULL(w);
    ASSERT_STATUS(ntp_wait_set_release(NULL, rec_release), NTP_EINVAL);
    ASSERT_NULL(ntp_wait_context(NULL));
    ntp_handle *h = NULL;
    ASSERT_STATUS(ntp_fd_handle_create(NULL, 0), NTP_EINVAL);
    ASSERT_STATUS(ntp_fd_handle_create(&h, -1), NTP_EBADF);
    ASSERT_NULL(h);

    atomic_store(&diag_count, 0);
    ntp_set_diagnostic_handler(count_diag, NULL);
    ntp_wait_set(NULL, NULL, 0);
    ntp_wait_wait(NULL, false);
    ntp_wait_close(NULL); /* harmless, no diagnostic */
    ASSERT_EQ(atomic_load(&diag_count), 2);

    ntp_pool *pool = make_pool(2);
    rec *r = rec_new();
    w = make_wait(r, pool, NULL, NULL);
    ntp_handle *ev = make_event(false, false);
    ntp_handle *dead = make_event(false, true);
    ASSERT_OK(ntp__handle_ref(dead)); /* keeps the memory, not the handle */
    ASSERT_OK(ntp_handle_close(dead));
    ntp_wait_set(w, ev, NTP_INFINITE);
    ntp_wait_set(w, dead, 0);                       /* closed handle */
    ntp_due bad = {7, 0};
    ASSERT(!ntp_wait_set_ex(w, ev, bad));           /* bad due kind */
    ASSERT_EQ(atomic_load(&diag_count), 4);
    ASSERT_EQ(ntp__handle_waiter_count(ev), 1);     /* unchanged */
    ntp_set_diagnostic_handler(NULL, NULL);

    close_wait(w, r);
    ntp__handle_unref(dead);
    ASSERT_OK(ntp_handle_close(ev));
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* fd handles                                                                */
/* ------------------------------------------------------------------------ */

/* A pipe's read end: writing fires the wait; the data is not consumed (a
 * re-arm fires again at once) until it is read; then a timeout applies. */
TEST_IMPL(tp_wait_fd_handle_pipe_fires)
{
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    ntp_handle *h = NULL;
    ASSERT_OK(ntp_fd_handle_create(&h, fds[0]));
    ASSERT_EQ(ntp_handle_kind_of(h), NTP_HANDLE_FD);
    ntp_pool *pool = make_pool(4);
    rec *r = rec_new();
    ntp_wait *w = make_wait(r, pool, NULL, NULL);

    ntp_wait_set(w, h, NTP_INFINITE);
    ASSERT_EQ(ntp__handle_waiter_count(h), 1);
    test_sleep_ms(50);
    ASSERT_EQ(atomic_load(&r->runs), 0);
    ASSERT_EQ(write(fds[1], "x", 1), 1);
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 1, 5000);
    ASSERT_EQ(result_of(r, 0), NTP_WAIT_OBJECT_0);

    ntp_wait_set(w, h, NTP_INFINITE); /* still readable */
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 2, 5000);
    ASSERT_EQ(result_of(r, 1), NTP_WAIT_OBJECT_0);

    char c;
    ASSERT_EQ(read(fds[0], &c, 1), 1);
    ntp_wait_set(w, h, 50);
    TEST_WAIT_UNTIL(atomic_load(&r->runs) == 3, 5000);
    ASSERT_EQ(result_of(r, 2), NTP_WAIT_TIMEOUT);

    /* Twice more through the reactor, to check the watch is re-armed. */
    for (int i = 0; i < 2; i++) {
        ntp_wait_set(w, h, NTP_INFINITE);
        test_sleep_ms(20);
        ASSERT_EQ(write(fds[1], "y", 1), 1);
        TEST_WAIT_UNTIL(atomic_load(&r->runs) == 4 + i, 5000);
        ASSERT_EQ(result_of(r, 3 + i), NTP_WAIT_OBJECT_0);
        ASSERT_EQ(read(fds[0], &c, 1), 1);
    }

    /* The handle's own duplicate: the caller may close its fds first. */
    close_wait(w, r);
    ASSERT_OK(ntp_handle_close(h));
    ASSERT_EQ(close(fds[0]), 0);
    ASSERT_EQ(close(fds[1]), 0);
    ntp_pool_close(pool);
    free(r);
    ASSERT_NO_LIVE_OBJECTS();
}

typedef struct delayed_write {
    pthread_t thread;
    int fd;
    unsigned delay_ms;
} delayed_write;

static void *
delayed_write_main(void *arg)
{
    delayed_write *d = arg;
    test_sleep_ms(d->delay_ms);
    ASSERT_EQ(write(d->fd, "z", 1), 1);
    return NULL;
}

/* A thread can wait on an fd handle too, alone or with other handles; the
 * reactor's watch wakes it. A hang-up counts as readable. */
TEST_IMPL(tp_wait_fd_handle_thread_wait)
{
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    ntp_handle *h = NULL;
    ASSERT_OK(ntp_fd_handle_create(&h, fds[0]));

    ASSERT_STATUS(ntp_wait_for_single(h, 0, false), NTP_WAIT_TIMEOUT);
    ASSERT_STATUS(ntp_wait_for_single(h, 50, false), NTP_WAIT_TIMEOUT);
    delayed_write d = {.fd = fds[1], .delay_ms = 100};
    ASSERT_EQ(pthread_create(&d.thread, NULL, delayed_write_main, &d), 0);
    ASSERT_STATUS(ntp_wait_for_single(h, LONG_WAIT_MS, false),
                  NTP_WAIT_OBJECT_0);
    ASSERT_EQ(pthread_join(d.thread, NULL), 0);
    char c;
    ASSERT_EQ(read(fds[0], &c, 1), 1);

    ntp_handle *ev = make_event(false, false);
    ntp_handle *both[2] = {ev, h};
    d.delay_ms = 50;
    ASSERT_EQ(pthread_create(&d.thread, NULL, delayed_write_main, &d), 0);
    ASSERT_STATUS(ntp_wait_for_multiple(2, both, false, LONG_WAIT_MS, false),
                  NTP_WAIT_OBJECT_0 + 1);
    ASSERT_EQ(pthread_join(d.thread, NULL), 0);
    ASSERT_EQ(read(fds[0], &c, 1), 1);

    ASSERT_EQ(close(fds[1]), 0); /* hang-up: readable for good */
    ASSERT_STATUS(ntp_wait_for_single(h, LONG_WAIT_MS, false),
                  NTP_WAIT_OBJECT_0);

    ASSERT_OK(ntp_handle_close(ev));
    ASSERT_OK(ntp_handle_close(h));
    ASSERT_EQ(close(fds[0]), 0);
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* Scale                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct scale {
    atomic_int signalled;
    atomic_int timeouts;
    atomic_int wrong; /* a run whose result does not match its handle */
} scale;

static scale the_scale;

static void
scale_cb(ntp_instance *inst, void *ctx, ntp_wait *wait, uint32_t result)
{
    (void)inst;
    (void)wait;
    /* Even-numbered waits are signalled, odd ones time out. */
    bool even = ((uintptr_t)ctx & 1) == 0;
    if (result == NTP_WAIT_OBJECT_0) {
        atomic_fetch_add_explicit(&the_scale.signalled, 1,
                                  memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&the_scale.timeouts, 1,
                                  memory_order_relaxed);
    }
    if (even != (result == NTP_WAIT_OBJECT_0)) {
        atomic_fetch_add(&the_scale.wrong, 1);
    }
}

/* I97 and DESIGN 2: 100,000 waits armed at once, on 100,000 events, half
 * with a timeout, need no thread beyond the pool's workers, the reactor
 * and the starvation monitor; every callback arrives, with the right
 * result, within a few seconds. */
TEST_IMPL(tp_wait_100k_concurrent_waits_no_thread_each)
{
    enum { N = 100000 };
    int base_threads = thread_count();
    ntp_pool *pool = make_pool(4);
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);
    ntp_wait **w = calloc(N, sizeof *w);
    ntp_handle **ev = calloc(N, sizeof *ev);
    ASSERT_NOT_NULL(w);
    ASSERT_NOT_NULL(ev);
    memset(&the_scale, 0, sizeof the_scale);

    for (uintptr_t i = 0; i < N; i++) {
        ASSERT_OK(ntp_event_create(&ev[i], false, false));
        ASSERT_OK(ntp_wait_create(&w[i], scale_cb, (void *)i, &env));
    }
    uint64_t start = ntp__now_ns();
    for (int i = 0; i < N; i++) {
        ntp_wait_set(w[i], ev[i], i % 2 == 0 ? NTP_INFINITE : 300);
    }
    uint64_t armed = ntp__now_ns();
    for (int i = 0; i < N; i += 2) {
        ASSERT_OK(ntp_event_set(ev[i]));
    }
    TEST_WAIT_UNTIL(atomic_load(&the_scale.signalled) == N / 2, 10000);
    TEST_WAIT_UNTIL(atomic_load(&the_scale.timeouts) == N / 2, 10000);
    uint64_t done = ntp__now_ns();
    int threads = thread_count();
    ntp_pool_stats st;
    ASSERT_OK(ntp_pool_stats_get(pool, &st));

    ASSERT_EQ(atomic_load(&the_scale.wrong), 0);
    /* main + sanitizer helpers (base), reactor, monitor, workers. */
    ASSERT_LE(threads, base_threads + 2 + 4);
    ASSERT_LE(st.threads_created, 4 + st.threads_retired);
    ASSERT_LE(done - start, (uint64_t)5000 * MS * test_timeout_multiplier());
    fprintf(stderr,
            "tp_wait_100k: armed in %" PRIu64 " ms, all %d callbacks after "
            "%" PRIu64 " ms, %d threads (%d at start)\n",
            (armed - start) / MS, N, (done - start) / MS, threads,
            base_threads);

    /* Nothing runs twice. */
    test_sleep_ms(100);
    ASSERT_EQ(atomic_load(&the_scale.signalled), N / 2);
    ASSERT_EQ(atomic_load(&the_scale.timeouts), N / 2);
    for (int i = 0; i < N; i++) {
        ntp_wait_close(w[i]);
        ASSERT_OK(ntp_handle_close(ev[i]));
    }
    ntp_pool_close(pool);
    free(w);
    free(ev);
    ASSERT_NO_LIVE_OBJECTS();
}
