/*
 * thread.c -- the per-thread record (struct ntp__thread, sync.h).
 *
 * Lifetime: the record is static thread-local storage, so it exists, at
 * no allocation, from the thread's first ntpool call to the thread's end.
 * On first use it is registered as the value of a pthread key whose
 * destructor runs when the thread exits (pthread_exit or returning from
 * its start routine; not for a process that ends with exit(), where no
 * thread survives to care). The destructor abandons the mutexes the thread
 * still owns, which cuts every link other threads have to the record,
 * before the C library frees the thread's TLS. It also discards the
 * thread's queued APCs, signals its thread handles and cuts them loose,
 * and cancels the waitable timers that would queue APCs to it (apc.c).
 */
#include "sync.h"

#include <stdio.h>
#include <stdlib.h>

static _Thread_local struct ntp__thread self_record;

static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
static bool exit_key_ok;

static void
thread_exit(void *arg)
{
    struct ntp__thread *t = arg;
    /* The C library cleared the key's value before calling us. If a later
     * destructor uses ntpool again, ntp__thread_self registers the record
     * anew and the C library calls us once more. */
    t->registered = false;
    ntp__sync_thread_exit(t);
    /* APCs still queued are discarded, never run (SPEC 12); thread
     * handles are cut loose and signalled; timers that would queue
     * completion routines here are cancelled (apc.c). */
    ntp__apc_thread_exit(t);
}

static void
make_exit_key(void)
{
    exit_key_ok = pthread_key_create(&exit_key, thread_exit) == 0;
}

struct ntp__thread *
ntp__thread_self(void)
{
    struct ntp__thread *t = &self_record;
    if (t->registered) {
        return t;
    }
    if (!t->initialised) {
        t->tid = ntp__thread_id();
        ntp__list_init(&t->owned_mutexes);
        ntp__list_init(&t->apc_queue);
        ntp__list_init(&t->handles);
        ntp__list_init(&t->apc_timers);
        t->alertable_block = NULL;
        t->initialised = true;
    }
    pthread_once(&exit_key_once, make_exit_key);
    if (!exit_key_ok || pthread_setspecific(exit_key, t) != 0) {
        /* Without the destructor a mutex owned by this thread would never
         * be abandoned and its waiters would hang: a broken promise, not a
         * recoverable error. Only the key table being full or memory
         * running out in the C library can get here. */
        fputs("ntpool: cannot register the thread exit handler\n", stderr);
        abort();
    }
    t->registered = true;
    return t;
}
