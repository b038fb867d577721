/*
 * reactor.h -- the process-wide reactor (DESIGN 2): one thread, started
 * lazily, owning an intrusive timer heap and an epoll set. It never runs
 * user callbacks: its `fire`/`ready` functions post callbacks to pools or
 * signal handles.
 *
 * THREADING CONTRACT
 *   - ntp__reactor_start() is the only call that can fail (it may create
 *     the thread). Object constructors call it, so that arming later never
 *     fails and never allocates (SPEC 2: setting a timer cannot fail).
 *   - fire() and ready() run on the reactor thread with NO lock held, so
 *     they may take any ntpool lock (sync lock, pool lock).
 *   - ntp__rtimer_disarm / ntp__rfd_remove are definitive: when they
 *     return, the callback is not running and will not run until armed
 *     again (they wait for a callback in progress to finish, unless called
 *     from that very callback on the reactor thread). Hence: never call them
 *     while holding a lock that fire()/ready() take.
 *   - ntp__rtimer_arm may be called from anywhere, including from fire()
 *     of the same timer (periodic re-arm). It takes only the reactor's own
 *     lock (a leaf, after the pool lock in the LOCK ORDER of internal.h),
 *     so it may be called with a pool lock or the sync lock held.
 *
 * LIFETIME: the reactor holds pointers to armed timers and added fds; their
 * owners keep them alive until disarm/remove has returned.
 */
#ifndef NTP_REACTOR_H
#define NTP_REACTOR_H

#include "internal.h"

typedef struct ntp__rtimer ntp__rtimer;
typedef void (*ntp__rtimer_fn)(ntp__rtimer *t);

typedef enum ntp__clock {
    NTP__CLOCK_MONOTONIC = 0, /* relative due times (SPEC 1.2) */
    NTP__CLOCK_REALTIME = 1   /* absolute due times: follow clock changes */
} ntp__clock;

/* A timer embedded in its owner. Fields are the reactor's. */
struct ntp__rtimer {
    ntp__rtimer *left, *right, *parent; /* intrusive heap links */
    uint64_t due_ns;    /* on `clock`: never fire before this */
    uint64_t window_ns; /* may fire up to this much later, to coalesce */
    uint64_t seq;       /* FIFO among equal due times */
    ntp__rtimer_fn fire;
    ntp__clock clock;
    bool armed;
};

/* Start the reactor thread if it is not running. 0 or a negative errno. */
ntp_status ntp__reactor_start(void);

void ntp__rtimer_init(ntp__rtimer *t, ntp__rtimer_fn fire);
/* Arm (or move) t to fire at due_ns on `clock`, possibly delayed by up to
 * window_ns so expirations that fall inside each other's windows share one
 * wake-up (never earlier than due). Never allocates, never fails. */
void ntp__rtimer_arm(ntp__rtimer *t, ntp__clock clock, uint64_t due_ns,
                     uint64_t window_ns);
/* Disarm; true if it was armed. Definitive (see above). */
bool ntp__rtimer_disarm(ntp__rtimer *t);
bool ntp__rtimer_is_armed(ntp__rtimer *t);

/*
 * REVOKE AND CLAIM: disarming under the owner's lock, without waiting.
 *
 * Some owners must stop a timer while holding the lock their fire() takes
 * (a waitable timer is retired under the sync lock; setting a thread-pool
 * timer must not block), where the definitive disarm would deadlock. They
 * use this pair instead, with L the lock their fire() takes:
 *
 *   - fire(t) calls ntp__rtimer_claim(t) with L held before it acts on
 *     the expiry, and does nothing (and touches nothing of the owner but L)
 *     if it returns false.
 *   - ntp__rtimer_revoke(t), called with L held (it takes only the
 *     reactor lock), disarms t; if t's expiry was already taken off the
 *     heap but fire() has not claimed it yet, it is revoked: the claim
 *     will fail. Returns true if t was armed or its expiry was revoked
 *     (so no effect of the previous arming will follow), false if it was
 *     not armed or its expiry had already been claimed.
 *
 * So once revoke returns (and L is dropped), fire() either has finished
 * its work under L or will find its claim refused. An owner whose memory
 * can go away right after revoke must also make fire() reach L without
 * touching that memory (the sync lock is global; a pool timer instead
 * keeps its memory until a definitive disarm in its finalizer).
 */
bool ntp__rtimer_revoke(ntp__rtimer *t);
/* Only from fire(t), on the reactor thread, with the owner's lock held:
 * true if this expiry still counts (see above). */
bool ntp__rtimer_claim(ntp__rtimer *t);

/* How many times the reactor thread has woken up (returned from
 * epoll_wait). Expirations handled in one wake-up see the same value, so
 * a fire() can tell which timers were coalesced. For white-box tests. */
uint64_t ntp__reactor_wakeups(void);

/* CLOCK_REALTIME now, in ns (for absolute due times). */
uint64_t ntp__realtime_ns(void);

/*
 * The next expiry of a periodic timer that just expired at due_ns on
 * `clock`, as a CLOCK_MONOTONIC time (periods are durations, so later
 * expiries of an absolute timer no longer follow the wall clock): the
 * previous due time plus the period, without drift; if that has already
 * passed (the reactor or the system was late), now, so the missed periods
 * are skipped rather than fired in a burst (CONFORMANCE M).
 */
uint64_t ntp__rtimer_next_period(ntp__clock clock, uint64_t due_ns,
                                 uint64_t period_ns);

/* An fd watched by the reactor's epoll set (one-shot: after ready() runs
 * the watch is inactive until ntp__rfd_rearm). */
typedef struct ntp__rfd ntp__rfd;
typedef void (*ntp__rfd_fn)(ntp__rfd *w, uint32_t revents);
struct ntp__rfd {
    int fd;
    uint32_t events; /* EPOLLIN / EPOLLOUT ... */
    ntp__rfd_fn ready;
    bool added;      /* in the epoll set */
    bool active;     /* armed: ready() will be called once */
};
void ntp__rfd_init(ntp__rfd *w, int fd, uint32_t events, ntp__rfd_fn ready);
/* Add to the epoll set, inactive. Can fail (bad fd, ENOMEM): creation. */
ntp_status ntp__rfd_add(ntp__rfd *w);
/* Arm for one readiness report. Never allocates. */
void ntp__rfd_rearm(ntp__rfd *w);
/* Disarm without removing; true if it was armed. No report starts after
 * it returns, but one already running on the reactor thread may still be
 * finishing: ready() must cope with a watch it did not expect to fire. */
bool ntp__rfd_disarm(ntp__rfd *w);
/* Remove from the epoll set. Definitive. */
void ntp__rfd_remove(ntp__rfd *w);

#endif /* NTP_REACTOR_H */
