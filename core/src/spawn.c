/*
 * spawn.c -- start the library's own threads (workers, the persistent
 * thread, the starvation monitor, the reactor).
 *
 * They are created from whatever thread happened to need one (an
 * application thread, a worker, the monitor), so without care each would
 * inherit that thread's signal mask. Instead every internal thread starts
 * with asynchronous signals blocked: a process-directed signal (SIGINT,
 * SIGTERM, SIGCHLD, ...) is then delivered to one of the application's own
 * threads, where its handlers expect it (CPython, for one, runs Python-level
 * handlers only on the main thread). Faults stay unblocked so a crash in a
 * callback still kills the process with the usual signal.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>

/* Fault injection (white-box tests, issue "reliability"): while positive,
 * each spawn fails with EAGAIN and decrements it, as pthread_create does
 * when the system is out of threads. */
atomic_int ntp__spawn_failures_to_inject;

int
ntp__spawn_detached(void *(*fn)(void *), void *arg, size_t stack,
                    const char *name)
{
    static const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL,
                                 SIGTRAP, SIGSYS, SIGABRT};
    sigset_t blocked, old;
    sigfillset(&blocked);
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
        sigdelset(&blocked, faults[i]);

    for (int n = atomic_load(&ntp__spawn_failures_to_inject); n > 0;)
        if (atomic_compare_exchange_weak(&ntp__spawn_failures_to_inject, &n,
                                         n - 1))
            return EAGAIN;

    pthread_attr_t attr;
    int rc = pthread_attr_init(&attr);
    if (rc != 0)
        return rc;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (stack) {
        if (stack < (size_t)PTHREAD_STACK_MIN)
            stack = (size_t)PTHREAD_STACK_MIN;
        pthread_attr_setstacksize(&attr, stack);
    }
    /* The new thread inherits the mask in force at pthread_create. */
    pthread_sigmask(SIG_SETMASK, &blocked, &old);
    pthread_t thread;
    rc = pthread_create(&thread, &attr, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (rc == 0 && name)
        pthread_setname_np(thread, name); /* best effort, for debuggers */
    return rc;
}
