/*
 * reactor.c -- the process-wide reactor (DESIGN 2): one thread, started
 * lazily, that owns two timer heaps (one per clock) and an epoll set. The
 * contract is in reactor.h.
 *
 * THE LOOP. The thread holds the reactor lock except while it sleeps in
 * epoll_wait and while it calls a fire() or ready() function. Each turn
 * it fires every timer that is due, computes when it must look again,
 * and sleeps:
 *   - monotonic timers: through epoll_pwait2's timeout, in nanoseconds,
 *     with the thread's timer slack at its minimum, so a timer with no
 *     window fires within the kernel's wake-up latency of its due time
 *     (measured: a millisecond-rounded epoll_wait timeout made the median
 *     expiry 0.5 ms late and a periodic timer's p99 jitter 1 ms). On a
 *     kernel without epoll_pwait2 (before 5.11), epoll_wait's timeout
 *     rounded up to the millisecond, so never early either;
 *   - realtime timers (absolute due times, SPEC 1.2): through a timerfd
 *     on CLOCK_REALTIME armed with an absolute expiry and
 *     TFD_TIMER_CANCEL_ON_SET, so the kernel follows clock changes and
 *     also wakes us when the clock is set, whereupon we recompute;
 *   - an eventfd wakes it when a timer is armed that cannot wait until
 *     the planned wake-up (and only then: arming a later timer costs no
 *     system call), and when a thread removing an fd needs it to let go
 *     of its batch of events.
 *
 * COALESCING (CONFORMANCE M, "Window length"). To choose when to wake,
 * the timers of a clock are walked in due order: each one whose due time
 * still falls inside every earlier timer's window (due + window) joins
 * the wake-up, which moves to its due time; the walk stops at the first
 * that does not. Everything due by then fires together. A timer never
 * fires before its due time and, barring a late thread, never after its
 * due + window. The walk visits the heap best-first through a small
 * frontier and stops after PLAN_STEPS timers, which only makes it merge
 * less, never wrongly. Unlike Wine, a timer armed later with a window
 * that covers the planned wake-up joins it too (Windows merges those;
 * H80), since the plan is recomputed at every wake-up.
 *
 * FIRING. A due timer is taken off its heap under the lock and becomes
 * `firing`; the lock is dropped around fire(), then retaken, and waiters
 * for that timer are woken. A definitive disarm from another thread waits
 * while its timer is `firing`; on the reactor thread it cannot (it would
 * wait for itself), and need not: nothing else fires meanwhile.
 *
 * THE FD SET. Watches are EPOLLONESHOT with epoll_data pointing at the
 * owner's ntp__rfd. The danger is an event the kernel has already handed
 * over, for a watch removed since: its pointer may be freed. Events are
 * only read under the lock, and ntp__rfd_remove (1) takes the fd out of
 * the set, (2) if the thread is asleep in epoll_wait, wakes it and waits
 * until it is back under the lock, and (3) blanks any of the watch's
 * entries left in the batch. So no entry for a removed watch is ever
 * dereferenced.
 *
 * LIFETIME: the reactor keeps pointers to armed timers and added watches
 * only (reactor.h): their owners keep them alive until disarm/remove has
 * returned. The thread itself, its fds and the heaps live as long as the
 * process.
 */
#include "heap.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define MAX_EVENTS 64
#define PLAN_STEPS 64

/*
 * The expiry being fired, guarded by the reactor lock:
 *
 *   NONE     --timer taken off the heap-->      PENDING
 *   PENDING  --fire() claims it-->              CLAIMED
 *   PENDING  --owner revokes it-->              REVOKED (claim will fail)
 *   any      --fire() returns-->                NONE
 */
typedef enum fire_state {
    FIRE_NONE,
    FIRE_PENDING,
    FIRE_CLAIMED,
    FIRE_REVOKED
} fire_state;

/* Starting: the mutex makes a failed start retryable (no pthread_once). */
static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool started;

/* The reactor lock: a leaf (internal.h). It guards everything below but
 * the fds, which are set once before `started`, and `wakeups`. */
static pthread_mutex_t rlock = PTHREAD_MUTEX_INITIALIZER;
/* Broadcast when a fire()/ready() returns and when the thread wakes up,
 * if somebody waits (done_waiters > 0). No timed waits on it. */
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static unsigned done_waiters;

static ntp__heap heaps[2]; /* indexed by ntp__clock */
static uint64_t next_seq;
/* When the sleeping thread will next look at each heap, on that heap's
 * clock: UINT64_MAX if never, 0 while it is awake (it will recompute
 * before it sleeps, so nobody needs to wake it). */
static uint64_t planned[2];

static ntp__rtimer *firing;
static fire_state firing_state;
static ntp__rfd *firing_fd;

/* True from just before epoll_wait until the thread holds the lock again
 * afterwards: while it is set the kernel may be filling `events`. */
static bool sleeping;
static uint64_t wake_seq; /* completed epoll_waits, for ntp__rfd_remove */
/* The batch being handled: entries [next_event, nevents) are still to
 * come; ntp__rfd_remove blanks a removed watch's entries there. */
static struct epoll_event events[MAX_EVENTS];
static int nevents, next_event;

static _Atomic uint64_t wakeups;

static int epfd = -1, wakefd = -1, clockfd = -1;
/* epoll_data markers for our own two fds. */
static char wake_tag, clock_tag;

static _Thread_local bool on_reactor;

/* ------------------------------------------------------------------------ */
/* Time                                                                      */
/* ------------------------------------------------------------------------ */

uint64_t
ntp__realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t
clock_now(int clock)
{
    return clock == NTP__CLOCK_REALTIME ? ntp__realtime_ns()
                                        : ntp__now_ns();
}

static uint64_t
add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* ------------------------------------------------------------------------ */
/* The thread                                                                */
/* ------------------------------------------------------------------------ */

static void
wake_reactor(void)
{
    uint64_t one = 1;
    /* EAGAIN means the counter is already non-zero: a wake-up is due. */
    while (write(wakefd, &one, sizeof one) < 0 && errno == EINTR) {
        continue;
    }
}

static void
drain(int fd)
{
    uint64_t count;
    /* Non-blocking fds: EAGAIN just means there was nothing to read, and
     * a timerfd reports a clock change as ECANCELED, which is all we
     * wanted to know. */
    while (read(fd, &count, sizeof count) < 0 && errno == EINTR) {
        continue;
    }
}

/*
 * When to wake up for heap h (see COALESCING above); UINT64_MAX if it is
 * empty. Best-first walk: the frontier holds the children of the timers
 * taken so far, and the earliest of it is the next timer in due order.
 * Each step takes one entry and adds at most two, so it never holds more
 * than PLAN_STEPS + 1. Lock held.
 */
static uint64_t
plan_locked(const ntp__heap *h)
{
    ntp__rtimer *frontier[PLAN_STEPS + 2];
    size_t n = 0;
    if (h->min == NULL) {
        return UINT64_MAX;
    }
    frontier[n++] = h->min;
    uint64_t wake = h->min->due_ns;
    uint64_t limit = UINT64_MAX;
    for (int step = 0; step < PLAN_STEPS && n > 0; step++) {
        size_t best = 0;
        for (size_t i = 1; i < n; i++) {
            if (ntp__heap_less(frontier[i], frontier[best])) {
                best = i;
            }
        }
        ntp__rtimer *t = frontier[best];
        frontier[best] = frontier[--n];
        if (t->due_ns > limit) {
            break;
        }
        wake = t->due_ns;
        if (add_sat(t->due_ns, t->window_ns) < limit) {
            limit = add_sat(t->due_ns, t->window_ns);
        }
        if (t->left != NULL) {
            frontier[n++] = t->left;
        }
        if (t->right != NULL) {
            frontier[n++] = t->right;
        }
    }
    return wake;
}

/*
 * Fire every timer of `clock` due by `now`. Timers armed meanwhile (a
 * periodic re-arm from fire(), say) wait for the next round: `seq_limit`
 * keeps this loop finite. Called and returns with the lock held; drops
 * it around each fire().
 */
static void
fire_due_locked(int clock, uint64_t now)
{
    ntp__heap *h = &heaps[clock];
    uint64_t seq_limit = next_seq;
    ntp__rtimer *t;
    while ((t = h->min) != NULL && t->due_ns <= now && t->seq < seq_limit) {
        ntp__heap_remove(h, t);
        t->armed = false;
        ntp__rtimer_fn fire = t->fire;
        firing = t;
        firing_state = FIRE_PENDING;
        pthread_mutex_unlock(&rlock);
        /* From here t may be re-armed, disarmed or revoked; an owner that
         * revokes may even free it, which is why only the pointer value
         * is used below. */
        fire(t);
        pthread_mutex_lock(&rlock);
        firing = NULL;
        firing_state = FIRE_NONE;
        if (done_waiters > 0) {
            pthread_cond_broadcast(&done_cond);
        }
    }
}

/*
 * Fire what is due on both clocks until nothing is, and leave in wake_at
 * when each heap next needs the thread. Lock held (dropped while firing).
 */
static void
run_timers_locked(uint64_t wake_at[2])
{
    bool fired;
    do {
        fired = false;
        for (int c = 0; c < 2; c++) {
            uint64_t now = clock_now(c);
            wake_at[c] = plan_locked(&heaps[c]);
            if (wake_at[c] <= now) {
                fire_due_locked(c, now);
                fired = true;
            }
        }
    } while (fired);
}

/* epoll_wait's timeout for a monotonic wake-up time, rounded up. */
static int
timeout_ms_until(uint64_t wake_at, uint64_t now)
{
    if (wake_at == UINT64_MAX) {
        return -1;
    }
    if (wake_at <= now) {
        return 0;
    }
    uint64_t ms = (wake_at - now + 999999u) / 1000000u;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* Cleared the first time the kernel says it has no epoll_pwait2. Reactor
 * thread only. */
static bool have_pwait2 = true;

/* Sleep in epoll until an fd is ready or the monotonic clock reaches
 * wake_at (UINT64_MAX: no timeout). Returns what epoll_wait returns. */
static int
wait_events(uint64_t wake_at)
{
    uint64_t now = ntp__now_ns();
    if (have_pwait2) {
        struct timespec ts, *tsp = NULL;
        if (wake_at != UINT64_MAX) {
            uint64_t left = wake_at > now ? wake_at - now : 0;
            ts.tv_sec = (time_t)(left / 1000000000u);
            ts.tv_nsec = (long)(left % 1000000000u);
            tsp = &ts;
        }
        int n = epoll_pwait2(epfd, events, MAX_EVENTS, tsp, NULL);
        if (n >= 0 || errno != ENOSYS) {
            return n;
        }
        have_pwait2 = false;
    }
    return epoll_wait(epfd, events, MAX_EVENTS,
                      timeout_ms_until(wake_at, now));
}

/* Arm the realtime timerfd for an absolute CLOCK_REALTIME time, or
 * disarm it (UINT64_MAX). Reactor thread only. */
static void
program_clockfd(uint64_t at_ns)
{
    struct itimerspec its = {{0, 0}, {0, 0}};
    if (at_ns != UINT64_MAX) {
        /* A zero it_value would disarm it; time 0 is long past anyway. */
        ntp__ns_to_timespec(at_ns > 0 ? at_ns : 1, &its.it_value);
    }
    (void)timerfd_settime(clockfd,
                          TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its,
                          NULL);
}

/* One ready watch from the batch; lock held, dropped around ready(). */
static void
dispatch_fd_locked(ntp__rfd *w, uint32_t revents)
{
    /* A watch disarmed since the kernel reported it, or one that was
     * never armed (EPOLLERR/EPOLLHUP are reported even when not asked
     * for), is ignored; EPOLLONESHOT has disabled it until a re-arm. */
    if (!w->added || !w->active) {
        return;
    }
    w->active = false;
    firing_fd = w;
    pthread_mutex_unlock(&rlock);
    w->ready(w, revents);
    pthread_mutex_lock(&rlock);
    firing_fd = NULL;
    if (done_waiters > 0) {
        pthread_cond_broadcast(&done_cond);
    }
}

static void *
reactor_main(void *arg)
{
    (void)arg;
    on_reactor = true;
    /* The timer slack (50 us by default) would delay every timed sleep of
     * this thread by up to that much: timer windows are the way to let
     * expiries share a wake-up, and they are applied in plan_locked. */
    (void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    uint64_t clock_programmed = UINT64_MAX; /* the timerfd starts unarmed */
    bool clock_dirty = false;

    pthread_mutex_lock(&rlock);
    for (;;) {
        uint64_t wake_at[2];
        run_timers_locked(wake_at);
        planned[NTP__CLOCK_MONOTONIC] = wake_at[NTP__CLOCK_MONOTONIC];
        planned[NTP__CLOCK_REALTIME] = wake_at[NTP__CLOCK_REALTIME];
        sleeping = true;
        pthread_mutex_unlock(&rlock);

        if (clock_dirty || wake_at[NTP__CLOCK_REALTIME] != clock_programmed) {
            program_clockfd(wake_at[NTP__CLOCK_REALTIME]);
            clock_programmed = wake_at[NTP__CLOCK_REALTIME];
            clock_dirty = false;
        }
        int n = wait_events(wake_at[NTP__CLOCK_MONOTONIC]);

        pthread_mutex_lock(&rlock);
        sleeping = false;
        wake_seq++;
        atomic_fetch_add_explicit(&wakeups, 1, memory_order_relaxed);
        planned[NTP__CLOCK_MONOTONIC] = 0;
        planned[NTP__CLOCK_REALTIME] = 0;
        if (done_waiters > 0) {
            pthread_cond_broadcast(&done_cond);
        }
        nevents = n > 0 ? n : 0; /* EINTR: just go round again */
        for (next_event = 0; next_event < nevents; next_event++) {
            void *ptr = events[next_event].data.ptr;
            if (ptr == NULL) {
                continue; /* blanked by ntp__rfd_remove */
            }
            if (ptr == &wake_tag) {
                drain(wakefd);
            } else if (ptr == &clock_tag) {
                /* Expired, or the clock was set: either way re-plan, and
                 * re-arm the timerfd even if the wake-up time is the
                 * same. */
                drain(clockfd);
                clock_dirty = true;
            } else {
                dispatch_fd_locked(ptr, events[next_event].events);
            }
        }
        nevents = 0;
        next_event = 0;
    }
    return NULL;
}

static ntp_status
status_of_errno(int e)
{
    switch (e) {
    case EMFILE:
    case ENFILE:
        return NTP_EMFILE;
    case ENOMEM:
    case ENOSPC:
        return NTP_ENOMEM;
    case EAGAIN:
        return NTP_EAGAIN;
    case EBADF:
        return NTP_EBADF;
    case EEXIST:
        return NTP_EEXIST;
    case EPERM:
        return NTP_ENOTSUP; /* epoll refuses regular files */
    default:
        return NTP_EINVAL;
    }
}

static void
close_fds(void)
{
    int *fds[3] = {&epfd, &wakefd, &clockfd};
    for (int i = 0; i < 3; i++) {
        if (*fds[i] >= 0) {
            close(*fds[i]);
            *fds[i] = -1;
        }
    }
}

/* start_lock held. */
static ntp_status
start_locked(void)
{
    epfd = epoll_create1(EPOLL_CLOEXEC);
    wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    clockfd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
    if (epfd < 0 || wakefd < 0 || clockfd < 0) {
        ntp_status st = status_of_errno(errno);
        close_fds();
        return st;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &wake_tag};
    struct epoll_event cev = {.events = EPOLLIN, .data.ptr = &clock_tag};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, wakefd, &ev) < 0
        || epoll_ctl(epfd, EPOLL_CTL_ADD, clockfd, &cev) < 0) {
        ntp_status st = status_of_errno(errno);
        close_fds();
        return st;
    }

    /* Started like every internal thread (spawn.c): asynchronous signals
     * blocked, so they reach the application's own threads. */
    int rc = ntp__spawn_detached(reactor_main, NULL, 0, "ntp-reactor");
    if (rc != 0) {
        close_fds();
        return rc == EAGAIN ? NTP_EAGAIN : NTP_ENOMEM;
    }
    return 0;
}

ntp_status
ntp__reactor_start(void)
{
    if (atomic_load_explicit(&started, memory_order_acquire)) {
        return 0;
    }
    ntp_status st = 0;
    pthread_mutex_lock(&start_lock);
    if (!atomic_load_explicit(&started, memory_order_relaxed)) {
        st = start_locked();
        if (st == 0) {
            atomic_store_explicit(&started, true, memory_order_release);
        }
    }
    pthread_mutex_unlock(&start_lock);
    return st;
}

uint64_t
ntp__reactor_wakeups(void)
{
    return atomic_load_explicit(&wakeups, memory_order_relaxed);
}

/* Wait, lock held, until the reactor is not running fire(t) or ready(w).
 * Never on the reactor thread: that would wait for itself. */
static void
wait_not_firing_locked(const ntp__rtimer *t, const ntp__rfd *w)
{
    if (on_reactor) {
        return;
    }
    while ((t != NULL && firing == t) || (w != NULL && firing_fd == w)) {
        done_waiters++;
        pthread_cond_wait(&done_cond, &rlock);
        done_waiters--;
    }
}

/* ------------------------------------------------------------------------ */
/* Timers                                                                    */
/* ------------------------------------------------------------------------ */

void
ntp__rtimer_init(ntp__rtimer *t, ntp__rtimer_fn fire)
{
    t->left = t->right = t->parent = NULL;
    t->due_ns = 0;
    t->window_ns = 0;
    t->seq = 0;
    t->fire = fire;
    t->clock = NTP__CLOCK_MONOTONIC;
    t->armed = false;
}

void
ntp__rtimer_arm(ntp__rtimer *t, ntp__clock clock, uint64_t due_ns,
                uint64_t window_ns)
{
    /* Arming cannot fail, so the thread must exist: every owner calls
     * ntp__reactor_start when it is created. */
    if (!atomic_load_explicit(&started, memory_order_acquire)
        || (clock != NTP__CLOCK_MONOTONIC && clock != NTP__CLOCK_REALTIME)) {
        abort();
    }
    pthread_mutex_lock(&rlock);
    if (t->armed) {
        ntp__heap_remove(&heaps[t->clock], t);
    }
    t->clock = clock;
    t->due_ns = due_ns;
    t->window_ns = window_ns;
    t->seq = next_seq++;
    ntp__heap_insert(&heaps[clock], t);
    t->armed = true;
    /* The thread must come back sooner only if this timer cannot wait
     * until its planned wake-up; otherwise that wake-up fires it (still
     * inside its window) or the plan made then includes it. */
    bool wake = add_sat(due_ns, window_ns) < planned[clock];
    if (wake) {
        planned[NTP__CLOCK_MONOTONIC] = 0;
        planned[NTP__CLOCK_REALTIME] = 0;
    }
    pthread_mutex_unlock(&rlock);
    if (wake) {
        wake_reactor();
    }
}

bool
ntp__rtimer_disarm(ntp__rtimer *t)
{
    pthread_mutex_lock(&rlock);
    bool was_armed = t->armed;
    if (was_armed) {
        ntp__heap_remove(&heaps[t->clock], t);
        t->armed = false;
    }
    /* No need to wake the thread: at worst it wakes once for nothing. */
    wait_not_firing_locked(t, NULL);
    pthread_mutex_unlock(&rlock);
    return was_armed;
}

bool
ntp__rtimer_is_armed(ntp__rtimer *t)
{
    pthread_mutex_lock(&rlock);
    bool armed = t->armed;
    pthread_mutex_unlock(&rlock);
    return armed;
}

bool
ntp__rtimer_revoke(ntp__rtimer *t)
{
    pthread_mutex_lock(&rlock);
    bool stopped = t->armed;
    if (stopped) {
        ntp__heap_remove(&heaps[t->clock], t);
        t->armed = false;
    }
    if (firing == t && firing_state == FIRE_PENDING) {
        firing_state = FIRE_REVOKED;
        stopped = true;
    }
    pthread_mutex_unlock(&rlock);
    return stopped;
}

bool
ntp__rtimer_claim(ntp__rtimer *t)
{
    pthread_mutex_lock(&rlock);
    bool ok = on_reactor && firing == t && firing_state == FIRE_PENDING;
    if (ok) {
        firing_state = FIRE_CLAIMED;
    }
    pthread_mutex_unlock(&rlock);
    return ok;
}

/* ------------------------------------------------------------------------ */
/* Watched fds                                                               */
/* ------------------------------------------------------------------------ */

void
ntp__rfd_init(ntp__rfd *w, int fd, uint32_t events_mask, ntp__rfd_fn ready)
{
    w->fd = fd;
    w->events = events_mask;
    w->ready = ready;
    w->added = false;
    w->active = false;
}

ntp_status
ntp__rfd_add(ntp__rfd *w)
{
    if (w->fd < 0) {
        return NTP_EBADF;
    }
    ntp_status st = ntp__reactor_start();
    if (st < 0) {
        return st;
    }
    /* Added with no events of interest: inactive until the first re-arm
     * (a hang-up reported meanwhile is ignored, see dispatch_fd_locked). */
    struct epoll_event ev = {.events = EPOLLONESHOT, .data.ptr = w};
    pthread_mutex_lock(&rlock);
    if (w->added) {
        st = NTP_EEXIST;
    } else if (epoll_ctl(epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0) {
        st = status_of_errno(errno);
    } else {
        w->added = true;
        w->active = false;
    }
    pthread_mutex_unlock(&rlock);
    return st;
}

void
ntp__rfd_rearm(ntp__rfd *w)
{
    struct epoll_event ev = {.events = w->events | EPOLLONESHOT,
                             .data.ptr = w};
    pthread_mutex_lock(&rlock);
    if (w->added) {
        w->active = true;
        /* EPOLL_CTL_MOD allocates nothing. It fails only if the owner
         * closed the fd while it was watched, a bug of the owner's; the
         * watch then never reports, which is all we can do. */
        (void)epoll_ctl(epfd, EPOLL_CTL_MOD, w->fd, &ev);
    }
    pthread_mutex_unlock(&rlock);
}

bool
ntp__rfd_disarm(ntp__rfd *w)
{
    pthread_mutex_lock(&rlock);
    bool was_active = w->active;
    /* The kernel may still report it once; the reactor ignores a report
     * for an inactive watch, and EPOLLONESHOT then silences it. A report
     * already being delivered is not waited for: the owner calls this
     * with its own lock held, the lock its ready() takes (io.c), so
     * waiting would deadlock; ready() finds nothing to do instead. */
    w->active = false;
    pthread_mutex_unlock(&rlock);
    return was_active;
}

void
ntp__rfd_remove(ntp__rfd *w)
{
    pthread_mutex_lock(&rlock);
    if (w->added) {
        (void)epoll_ctl(epfd, EPOLL_CTL_DEL, w->fd, NULL);
        w->added = false;
    }
    w->active = false;
    if (!on_reactor) {
        /* An epoll_wait in progress may already have copied an event for
         * w into the batch. Wake the thread and wait until it is back
         * under the lock: from then on the batch is final, and it skips
         * w's entries (w->added is false) until we blank them below. */
        if (sleeping) {
            uint64_t seen = wake_seq;
            wake_reactor();
            while (sleeping && wake_seq == seen) {
                done_waiters++;
                pthread_cond_wait(&done_cond, &rlock);
                done_waiters--;
            }
        }
        wait_not_firing_locked(NULL, w);
    }
    for (int i = next_event; i < nevents; i++) {
        if (events[i].data.ptr == w) {
            events[i].data.ptr = NULL;
        }
    }
    pthread_mutex_unlock(&rlock);
}

/* ------------------------------------------------------------------------ */
/* Periods                                                                   */
/* ------------------------------------------------------------------------ */

uint64_t
ntp__rtimer_next_period(ntp__clock clock, uint64_t due_ns, uint64_t period_ns)
{
    uint64_t now = ntp__now_ns();
    uint64_t base = due_ns;
    if (clock == NTP__CLOCK_REALTIME) {
        /* Carry the lateness over to the monotonic clock, so the period
         * is still measured from the due time, not from when we ran. */
        uint64_t real_now = ntp__realtime_ns();
        uint64_t late = real_now > due_ns ? real_now - due_ns : 0;
        base = now > late ? now - late : 0;
    }
    uint64_t next = add_sat(base, period_ns);
    return next > now ? next : now;
}
