/*
 * cs.c -- critical sections (InitializeCriticalSection & co).
 *
 * A critical section is the caller's struct ntp_cs: a plain pthread mutex
 * plus the owner's thread id and a recursion count, which make it
 * recursive and let a leave by a non-owner be refused instead of
 * corrupting the lock (SPEC 13.6). It is process-local, never a handle,
 * and has no abandonment: a thread that exits inside one leaves it owned.
 *
 * Lifetime: the caller's. ntp_cs_init makes it usable (magic_ = CS_MAGIC),
 * ntp_cs_destroy makes it unusable (magic_ = CS_DEAD) and frees the
 * pthread mutex; the memory is never ours. The magic number turns use
 * before init or after destroy into a diagnostic instead of undefined
 * behaviour, as far as the stale memory still holds it.
 *
 * Field rules: owner_ is read by any thread without the lock (to tell
 * "I own it" from "someone else does") and so is accessed atomically; a
 * thread can only ever read its own id there while it owns the section,
 * because only the owner writes it. recursion_ is touched only by the
 * owner.
 */
#include "internal.h"


enum {
    CS_MAGIC = 0x43534543u, /* "CSEC" */
    CS_DEAD = 0x44454144u   /* "DEAD" */
};

static unsigned long
load_owner(ntp_cs *cs)
{
    return __atomic_load_n(&cs->owner_, __ATOMIC_RELAXED);
}

static void
store_owner(ntp_cs *cs, unsigned long tid)
{
    __atomic_store_n(&cs->owner_, tid, __ATOMIC_RELAXED);
}

static bool
usable(ntp_cs *cs, const char *what)
{
    if (cs == NULL) {
        ntp__diag("%s: NULL critical section", what);
        return false;
    }
    if (__atomic_load_n(&cs->magic_, __ATOMIC_RELAXED) != CS_MAGIC) {
        ntp__diag("%s: critical section %p is not initialised (or was "
                  "destroyed)", what, (void *)cs);
        return false;
    }
    return true;
}

void
ntp_cs_init(ntp_cs *cs)
{
    if (cs == NULL) {
        ntp__diag("ntp_cs_init: NULL critical section");
        return;
    }
    pthread_mutex_init(&cs->lock_, NULL);
    cs->owner_ = 0;
    cs->recursion_ = 0;
    __atomic_store_n(&cs->magic_, CS_MAGIC, __ATOMIC_RELEASE);
}

void
ntp_cs_destroy(ntp_cs *cs)
{
    if (!usable(cs, "ntp_cs_destroy")) {
        return;
    }
    if (load_owner(cs) != 0) {
        /* Windows leaves the waiters of a deleted owned section undefined;
         * we say so and destroy nothing, so they at least do not crash. */
        ntp__diag("ntp_cs_destroy: critical section %p is still owned by "
                  "thread %lu", (void *)cs, load_owner(cs));
        return;
    }
    __atomic_store_n(&cs->magic_, CS_DEAD, __ATOMIC_RELAXED);
    pthread_mutex_destroy(&cs->lock_);
}

void
ntp_cs_enter(ntp_cs *cs)
{
    if (!usable(cs, "ntp_cs_enter")) {
        return;
    }
    unsigned long self = ntp__thread_id();
    if (load_owner(cs) == self) {
        cs->recursion_++;
        return;
    }
    /* Only the part that may actually sleep counts as blocking, so an
     * uncontended enter costs one trylock. */
    if (pthread_mutex_trylock(&cs->lock_) != 0) {
        ntp__blocking_enter();
        pthread_mutex_lock(&cs->lock_);
        ntp__blocking_leave();
    }
    store_owner(cs, self);
    cs->recursion_ = 1;
}

bool
ntp_cs_try_enter(ntp_cs *cs)
{
    if (!usable(cs, "ntp_cs_try_enter")) {
        return false;
    }
    unsigned long self = ntp__thread_id();
    if (load_owner(cs) == self) {
        cs->recursion_++;
        return true;
    }
    if (pthread_mutex_trylock(&cs->lock_) != 0) {
        return false;
    }
    store_owner(cs, self);
    cs->recursion_ = 1;
    return true;
}

ntp_status
ntp_cs_leave(ntp_cs *cs)
{
    if (!usable(cs, "ntp_cs_leave")) {
        return NTP_EINVAL;
    }
    unsigned long self = ntp__thread_id();
    unsigned long owner = load_owner(cs);
    if (owner != self) {
        /* On Windows this corrupts the section and can hang its other
         * users; here it changes nothing. */
        ntp__diag("ntp_cs_leave: critical section %p is owned by thread "
                  "%lu, not by the calling thread %lu", (void *)cs, owner,
                  self);
        return NTP_EPERM;
    }
    if (--cs->recursion_ == 0) {
        /* Cleared before the unlock: the next owner must not find our id
         * there and take the section for a re-entry of ours. */
        store_owner(cs, 0);
        pthread_mutex_unlock(&cs->lock_);
    }
    return 0;
}
