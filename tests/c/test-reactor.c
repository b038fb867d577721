/*
 * test-reactor.c -- white-box tests of the reactor (reactor.h) and its
 * timer heap (heap.h): ordering, coalescing inside windows, never firing
 * early, definitive disarm, revoke/claim, and one-shot fd watches.
 *
 * The reactor is internal, so these tests arm ntp__rtimer records of
 * their own; a fire() runs on the reactor thread and must be quick.
 */
#include "task.h"

#include "heap.h"
#include "reactor.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define MS 1000000u

/* Lateness a fire may show on a loaded machine, scaled for sanitizers. */
static uint64_t
slack_ns(void)
{
    return (uint64_t)60 * MS * test_timeout_multiplier();
}

/* A test timer: when it fired and in which reactor wake-up. */
typedef struct probe {
    ntp__rtimer rt;
    uint64_t due_ns;
    uint64_t window_ns;
    atomic_int fired;
    _Atomic uint64_t fired_at_ns;
    _Atomic uint64_t wakeup;
    _Atomic uint64_t order; /* global firing order, from 1 */
} probe;

static _Atomic uint64_t fire_counter;

static void
probe_fire(ntp__rtimer *rt)
{
    probe *p = ntp__container_of(rt, probe, rt);
    uint64_t now = rt->clock == NTP__CLOCK_REALTIME ? ntp__realtime_ns()
                                                    : ntp__now_ns();
    atomic_store(&p->fired_at_ns, now);
    atomic_store(&p->wakeup, ntp__reactor_wakeups());
    atomic_store(&p->order, atomic_fetch_add(&fire_counter, 1) + 1);
    atomic_fetch_add(&p->fired, 1);
}

static void
probe_arm(probe *p, ntp__clock clock, uint64_t due_ns, uint64_t window_ns)
{
    p->due_ns = due_ns;
    p->window_ns = window_ns;
    ntp__rtimer_arm(&p->rt, clock, due_ns, window_ns);
}

static void
probe_init(probe *p)
{
    memset(p, 0, sizeof *p);
    ntp__rtimer_init(&p->rt, probe_fire);
}

/* ------------------------------------------------------------------------ */
/* The heap on its own                                                       */
/* ------------------------------------------------------------------------ */

/* Random inserts and removals, checking the minimum against a brute-force
 * scan after every step, and the links of the whole tree at the end. */
static size_t
check_subtree(const ntp__rtimer *n)
{
    if (n == NULL) {
        return 0;
    }
    if (n->left != NULL) {
        ASSERT_PTR_EQ(n->left->parent, n);
        ASSERT(!ntp__heap_less(n->left, n));
    }
    if (n->right != NULL) {
        ASSERT_PTR_EQ(n->right->parent, n);
        ASSERT(!ntp__heap_less(n->right, n));
    }
    return 1 + check_subtree(n->left) + check_subtree(n->right);
}

TEST_IMPL(reactor_heap_keeps_order)
{
    enum { N = 2000 };
    static ntp__rtimer nodes[N];
    static bool in[N];
    ntp__heap h;
    ntp__heap_init(&h);
    srand(12345);
    uint64_t seq = 0;
    for (int step = 0; step < 40000; step++) {
        int i = rand() % N;
        if (in[i]) {
            ntp__heap_remove(&h, &nodes[i]);
            in[i] = false;
        } else {
            /* Few distinct due times, so equal ones exercise seq. */
            nodes[i].due_ns = (uint64_t)(rand() % 50);
            nodes[i].seq = seq++;
            ntp__heap_insert(&h, &nodes[i]);
            in[i] = true;
        }
        const ntp__rtimer *best = NULL;
        size_t count = 0;
        for (int j = 0; j < N; j++) {
            if (in[j]) {
                count++;
                if (best == NULL || ntp__heap_less(&nodes[j], best)) {
                    best = &nodes[j];
                }
            }
        }
        ASSERT_EQ(h.count, count);
        ASSERT_PTR_EQ(h.min, best);
        if (step % 1000 == 0) {
            ASSERT_EQ(check_subtree(h.min), count);
            if (h.min != NULL) {
                ASSERT_NULL(h.min->parent);
            }
        }
    }
    ASSERT_EQ(check_subtree(h.min), h.count);
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* Timers                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * Many timers with random due times and windows, some disarmed again:
 * each armed one fires exactly once, never before its due time and not
 * much after due + window; the disarmed ones never fire.
 */
TEST_IMPL(reactor_timers_never_fire_early)
{
    enum { N = 3000 };
    ASSERT_OK(ntp__reactor_start());
    probe *probes = calloc(N, sizeof *probes);
    ASSERT_NOT_NULL(probes);
    srand(777);
    uint64_t start = ntp__now_ns();
    for (int i = 0; i < N; i++) {
        probe_init(&probes[i]);
        uint64_t due = start + (uint64_t)(rand() % 300) * MS;
        uint64_t window = (i % 3 == 0) ? 0 : (uint64_t)(rand() % 40) * MS;
        probe_arm(&probes[i], NTP__CLOCK_MONOTONIC, due, window);
    }
    int disarmed = 0;
    for (int i = 0; i < N; i += 7) {
        if (ntp__rtimer_disarm(&probes[i].rt)) {
            disarmed++;
        }
        ASSERT(!ntp__rtimer_is_armed(&probes[i].rt));
    }
    ASSERT_GT(disarmed, 0);
    uint64_t end_ms = test_now_ms() + 5000u * test_timeout_multiplier();
    for (;;) {
        int done = 0;
        for (int i = 0; i < N; i++) {
            done += atomic_load(&probes[i].fired) > 0
                    || !ntp__rtimer_is_armed(&probes[i].rt);
        }
        if (done == N) {
            break;
        }
        ASSERT_LT(test_now_ms(), end_ms);
        test_sleep_ms(10);
    }
    test_sleep_ms(50);
    int fired = 0;
    for (int i = 0; i < N; i++) {
        probe *p = &probes[i];
        int f = atomic_load(&p->fired);
        ASSERT_LE(f, 1);
        if (f == 0) {
            continue;
        }
        fired++;
        uint64_t at = atomic_load(&p->fired_at_ns);
        ASSERT_GE(at, p->due_ns);
        ASSERT_LE(at, p->due_ns + p->window_ns + slack_ns());
    }
    ASSERT_GE(fired, N - disarmed);
    free(probes);
    ASSERT_NO_LIVE_OBJECTS();
}

/* Timers due together fire in the order they were armed; earlier due
 * times first. */
TEST_IMPL(reactor_timers_fire_in_due_order)
{
    enum { N = 200 };
    ASSERT_OK(ntp__reactor_start());
    static probe probes[N];
    uint64_t due = ntp__now_ns() + 50 * MS;
    for (int i = 0; i < N; i++) {
        probe_init(&probes[i]);
        /* Reverse groups of due times; equal due times inside a group. */
        probe_arm(&probes[i], NTP__CLOCK_MONOTONIC,
                  due + (uint64_t)(N - 1 - i) / 10 * MS, 0);
    }
    for (int i = 0; i < N; i++) {
        TEST_WAIT_UNTIL(atomic_load(&probes[i].fired) == 1, 5000);
    }
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++) {
            bool before = probes[i].due_ns < probes[j].due_ns
                          || (probes[i].due_ns == probes[j].due_ns && i < j);
            if (before) {
                ASSERT_LT(atomic_load(&probes[i].order),
                          atomic_load(&probes[j].order));
            }
        }
    }
    ASSERT_NO_LIVE_OBJECTS();
}

/*
 * Window coalescing (CONFORMANCE M, H79/H80): A (due 100 ms, window 200),
 * B (150, 200) and C (200, 200) overlap: all three fire in one wake-up, at
 * C's due time, A and B late but inside their windows. D (100, 0) and E
 * (150, 0) do not overlap: two wake-ups. Nothing fires early.
 */
TEST_IMPL(reactor_window_coalesces_in_one_wakeup)
{
    ASSERT_OK(ntp__reactor_start());
    probe a, b, c, d, e;
    probe_init(&a);
    probe_init(&b);
    probe_init(&c);
    probe_init(&d);
    probe_init(&e);
    uint64_t t0 = ntp__now_ns();
    probe_arm(&a, NTP__CLOCK_MONOTONIC, t0 + 100 * MS, 200 * MS);
    probe_arm(&b, NTP__CLOCK_MONOTONIC, t0 + 150 * MS, 200 * MS);
    probe_arm(&c, NTP__CLOCK_MONOTONIC, t0 + 200 * MS, 200 * MS);
    TEST_WAIT_UNTIL(atomic_load(&a.fired) && atomic_load(&b.fired)
                        && atomic_load(&c.fired),
                    5000);
    ASSERT_EQ(atomic_load(&a.wakeup), atomic_load(&c.wakeup));
    ASSERT_EQ(atomic_load(&b.wakeup), atomic_load(&c.wakeup));
    ASSERT_GE(atomic_load(&a.fired_at_ns), c.due_ns);
    ASSERT_LE(atomic_load(&a.fired_at_ns), a.due_ns + a.window_ns
                                               + slack_ns());

    t0 = ntp__now_ns();
    probe_arm(&d, NTP__CLOCK_MONOTONIC, t0 + 100 * MS, 0);
    probe_arm(&e, NTP__CLOCK_MONOTONIC, t0 + 150 * MS, 0);
    TEST_WAIT_UNTIL(atomic_load(&d.fired) && atomic_load(&e.fired), 5000);
    ASSERT_NE(atomic_load(&d.wakeup), atomic_load(&e.wakeup));
    ASSERT_GE(atomic_load(&d.fired_at_ns), d.due_ns);
    ASSERT_LT(atomic_load(&d.fired_at_ns), e.due_ns);
    ASSERT_NO_LIVE_OBJECTS();
}

/*
 * A timer armed after the plan was made, whose window covers the planned
 * wake-up, joins it (Windows merges this case, Wine does not: H80): F
 * (due 100, window 200) is armed first and planned for 100; G (due 150,
 * window 0) is armed later. The reactor wakes for F, sees G inside F's
 * window, and fires both at 150.
 */
TEST_IMPL(reactor_window_merges_later_timer)
{
    ASSERT_OK(ntp__reactor_start());
    probe f, g;
    probe_init(&f);
    probe_init(&g);
    uint64_t t0 = ntp__now_ns();
    probe_arm(&f, NTP__CLOCK_MONOTONIC, t0 + 100 * MS, 200 * MS);
    test_sleep_ms(20);
    probe_arm(&g, NTP__CLOCK_MONOTONIC, t0 + 150 * MS, 0);
    TEST_WAIT_UNTIL(atomic_load(&f.fired) && atomic_load(&g.fired), 5000);
    ASSERT_EQ(atomic_load(&f.wakeup), atomic_load(&g.wakeup));
    ASSERT_GE(atomic_load(&f.fired_at_ns), g.due_ns);
    ASSERT_NO_LIVE_OBJECTS();
}

/* An absolute (CLOCK_REALTIME) timer fires at its wall-clock time. */
TEST_IMPL(reactor_realtime_timer_fires)
{
    ASSERT_OK(ntp__reactor_start());
    probe p, past;
    probe_init(&p);
    probe_init(&past);
    uint64_t now = ntp__realtime_ns();
    probe_arm(&p, NTP__CLOCK_REALTIME, now + 100 * MS, 0);
    probe_arm(&past, NTP__CLOCK_REALTIME, now - 1000 * MS, 0);
    TEST_WAIT_UNTIL(atomic_load(&past.fired), 1000);
    ASSERT_EQ(atomic_load(&p.fired), 0);
    TEST_WAIT_UNTIL(atomic_load(&p.fired), 5000);
    ASSERT_GE(atomic_load(&p.fired_at_ns), p.due_ns);
    ASSERT_LE(atomic_load(&p.fired_at_ns), p.due_ns + slack_ns());
    ASSERT_NO_LIVE_OBJECTS();
}

/* Moving an armed timer replaces its due time. */
TEST_IMPL(reactor_rearm_moves_timer)
{
    ASSERT_OK(ntp__reactor_start());
    probe p;
    probe_init(&p);
    uint64_t t0 = ntp__now_ns();
    probe_arm(&p, NTP__CLOCK_MONOTONIC, t0 + 10000 * MS, 0);
    probe_arm(&p, NTP__CLOCK_MONOTONIC, t0 + 50 * MS, 0);
    TEST_WAIT_UNTIL(atomic_load(&p.fired), 2000);
    ASSERT_GE(atomic_load(&p.fired_at_ns), t0 + 50 * MS);
    probe_arm(&p, NTP__CLOCK_MONOTONIC, ntp__now_ns() + 30 * MS, 0);
    probe_arm(&p, NTP__CLOCK_MONOTONIC, ntp__now_ns() + 10000 * MS, 0);
    test_sleep_ms(100);
    ASSERT_EQ(atomic_load(&p.fired), 1);
    ASSERT(ntp__rtimer_disarm(&p.rt));
    ASSERT(!ntp__rtimer_disarm(&p.rt));
    ASSERT_NO_LIVE_OBJECTS();
}

/* A slow fire(): disarm from another thread waits until it returned. */
typedef struct slow_probe {
    ntp__rtimer rt;
    atomic_int started;
    atomic_int finished;
    atomic_int self_disarm; /* disarm itself from inside fire() */
} slow_probe;

static void
slow_fire(ntp__rtimer *rt)
{
    slow_probe *s = ntp__container_of(rt, slow_probe, rt);
    atomic_store(&s->started, 1);
    if (atomic_load(&s->self_disarm)) {
        /* Must not wait for itself. */
        ntp__rtimer_disarm(rt);
    } else {
        test_sleep_ms(100);
    }
    atomic_store(&s->finished, 1);
}

TEST_IMPL(reactor_disarm_waits_for_fire)
{
    ASSERT_OK(ntp__reactor_start());
    slow_probe s;
    memset(&s, 0, sizeof s);
    ntp__rtimer_init(&s.rt, slow_fire);
    ntp__rtimer_arm(&s.rt, NTP__CLOCK_MONOTONIC, ntp__now_ns(), 0);
    TEST_WAIT_UNTIL(atomic_load(&s.started), 2000);
    ASSERT(!ntp__rtimer_disarm(&s.rt)); /* already taken: not armed */
    ASSERT_EQ(atomic_load(&s.finished), 1);

    memset(&s, 0, sizeof s);
    ntp__rtimer_init(&s.rt, slow_fire);
    atomic_store(&s.self_disarm, 1);
    ntp__rtimer_arm(&s.rt, NTP__CLOCK_MONOTONIC, ntp__now_ns(), 0);
    TEST_WAIT_UNTIL(atomic_load(&s.finished), 2000);
    ntp__rtimer_disarm(&s.rt);
    ASSERT_NO_LIVE_OBJECTS();
}

/*
 * Revoke and claim: the owner holds its lock while the reactor has taken
 * the expiry; revoke reports it cancelled and the claim made by fire()
 * once it gets the lock is refused.
 */
typedef struct owned_probe {
    ntp__rtimer rt;
    pthread_mutex_t *lock;
    atomic_int entered;
    atomic_int claimed; /* 1 claimed, 2 refused */
} owned_probe;

static void
owned_fire(ntp__rtimer *rt)
{
    owned_probe *o = ntp__container_of(rt, owned_probe, rt);
    atomic_store(&o->entered, 1);
    pthread_mutex_lock(o->lock);
    atomic_store(&o->claimed, ntp__rtimer_claim(rt) ? 1 : 2);
    pthread_mutex_unlock(o->lock);
}

TEST_IMPL(reactor_revoke_refuses_claim)
{
    ASSERT_OK(ntp__reactor_start());
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    owned_probe o;
    memset(&o, 0, sizeof o);
    o.lock = &lock;
    ntp__rtimer_init(&o.rt, owned_fire);

    /* Taken but not yet claimed: revoked. */
    pthread_mutex_lock(&lock);
    ntp__rtimer_arm(&o.rt, NTP__CLOCK_MONOTONIC, ntp__now_ns(), 0);
    TEST_WAIT_UNTIL(atomic_load(&o.entered), 2000);
    ASSERT(ntp__rtimer_revoke(&o.rt));
    pthread_mutex_unlock(&lock);
    TEST_WAIT_UNTIL(atomic_load(&o.claimed) != 0, 2000);
    ASSERT_EQ(atomic_load(&o.claimed), 2);
    ntp__rtimer_disarm(&o.rt);

    /* Claimed: a later revoke reports it expired. */
    atomic_store(&o.entered, 0);
    atomic_store(&o.claimed, 0);
    ntp__rtimer_arm(&o.rt, NTP__CLOCK_MONOTONIC, ntp__now_ns(), 0);
    TEST_WAIT_UNTIL(atomic_load(&o.claimed) != 0, 2000);
    ASSERT_EQ(atomic_load(&o.claimed), 1);
    pthread_mutex_lock(&lock);
    ASSERT(!ntp__rtimer_revoke(&o.rt));
    pthread_mutex_unlock(&lock);

    /* Armed: revoke disarms it. */
    ntp__rtimer_arm(&o.rt, NTP__CLOCK_MONOTONIC, ntp__now_ns() + 10000 * MS,
                    0);
    pthread_mutex_lock(&lock);
    ASSERT(ntp__rtimer_revoke(&o.rt));
    pthread_mutex_unlock(&lock);
    ASSERT(!ntp__rtimer_is_armed(&o.rt));
    /* A claim outside fire() is always refused. */
    ASSERT(!ntp__rtimer_claim(&o.rt));
    ntp__rtimer_disarm(&o.rt);
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* Fd watches                                                                */
/* ------------------------------------------------------------------------ */

typedef struct fd_probe {
    ntp__rfd w;
    atomic_int calls;
    _Atomic uint32_t revents;
} fd_probe;

static void
fd_ready(ntp__rfd *w, uint32_t revents)
{
    fd_probe *f = ntp__container_of(w, fd_probe, w);
    atomic_store(&f->revents, revents);
    atomic_fetch_add(&f->calls, 1);
}

/* One readiness report per re-arm; nothing while inactive. */
TEST_IMPL(reactor_fd_reports_once_per_arm)
{
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    ASSERT_GE(efd, 0);
    fd_probe f;
    memset(&f, 0, sizeof f);
    ntp__rfd_init(&f.w, efd, EPOLLIN, fd_ready);
    ASSERT_OK(ntp__rfd_add(&f.w));
    ASSERT_STATUS(ntp__rfd_add(&f.w), NTP_EEXIST);

    uint64_t one = 1;
    ASSERT_EQ(write(efd, &one, sizeof one), (ssize_t)sizeof one);
    test_sleep_ms(50);
    ASSERT_EQ(atomic_load(&f.calls), 0); /* added inactive */

    ntp__rfd_rearm(&f.w);
    TEST_WAIT_UNTIL(atomic_load(&f.calls) == 1, 2000);
    ASSERT(atomic_load(&f.revents) & EPOLLIN);
    test_sleep_ms(50);
    ASSERT_EQ(atomic_load(&f.calls), 1); /* one-shot, still readable */

    ntp__rfd_rearm(&f.w);
    TEST_WAIT_UNTIL(atomic_load(&f.calls) == 2, 2000);

    ntp__rfd_rearm(&f.w);
    /* Armed and readable: it may or may not have reported already. */
    ntp__rfd_disarm(&f.w);
    int calls = atomic_load(&f.calls);
    test_sleep_ms(50);
    ASSERT_EQ(atomic_load(&f.calls), calls);
    ntp__rfd_remove(&f.w);
    close(efd);

    int bad = -1;
    ntp__rfd_init(&f.w, bad, EPOLLIN, fd_ready);
    ASSERT_STATUS(ntp__rfd_add(&f.w), NTP_EBADF);
    ASSERT_NO_LIVE_OBJECTS();
}

/*
 * Remove is definitive even when the watch is reported at that moment:
 * the watch's memory is scribbled over right after ntp__rfd_remove
 * returns, so a late ready() would trip ASan or the check in fd_ready.
 */
typedef struct churn_probe {
    ntp__rfd w;
    atomic_int alive;
    atomic_int bad;
} churn_probe;

static void
churn_ready(ntp__rfd *w, uint32_t revents)
{
    churn_probe *c = ntp__container_of(w, churn_probe, w);
    if (!atomic_load(&c->alive)) {
        atomic_store(&c->bad, 1);
    }
}

TEST_IMPL(reactor_fd_remove_is_definitive)
{
    int efd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC); /* always readable */
    ASSERT_GE(efd, 0);
    for (int i = 0; i < 300; i++) {
        churn_probe *c = calloc(1, sizeof *c);
        ASSERT_NOT_NULL(c);
        atomic_store(&c->alive, 1);
        ntp__rfd_init(&c->w, efd, EPOLLIN, churn_ready);
        ASSERT_OK(ntp__rfd_add(&c->w));
        ntp__rfd_rearm(&c->w);
        if (i % 3 == 1) {
            test_sleep_ms(1);
        }
        ntp__rfd_remove(&c->w);
        atomic_store(&c->alive, 0);
        ASSERT_EQ(atomic_load(&c->bad), 0);
        free(c);
    }
    close(efd);
    ASSERT_NO_LIVE_OBJECTS();
}
