/*
 * hooks.c -- pool thread hooks (ntp_thread_hooks_register), the seam
 * through which the Python and Lua bindings learn that a pool thread is
 * going idle or ending.
 *
 * The table only grows: an entry is written completely under reg_lock,
 * then published by a release store of the count, so a pool thread reads
 * the count with acquire and calls entries [0, count) without any lock.
 * With no registration (plain C use) the cost is one relaxed-ish load.
 */
#include "internal.h"

#include <pthread.h>

#define MAX_THREAD_HOOKS 8

static ntp_thread_hooks table[MAX_THREAD_HOOKS];
static atomic_uint table_count;
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;

ntp_status
ntp_thread_hooks_register(const ntp_thread_hooks *hooks)
{
    if (hooks == NULL)
        return NTP_EINVAL;
    pthread_mutex_lock(&reg_lock);
    unsigned n = atomic_load_explicit(&table_count, memory_order_relaxed);
    if (n == MAX_THREAD_HOOKS) {
        pthread_mutex_unlock(&reg_lock);
        return NTP_ENOSPC;
    }
    table[n] = *hooks;
    atomic_store_explicit(&table_count, n + 1, memory_order_release);
    pthread_mutex_unlock(&reg_lock);
    return 0;
}

bool
ntp__thread_hooks_any(void)
{
    return atomic_load_explicit(&table_count, memory_order_acquire) != 0;
}

void
ntp__thread_hooks_idle(void)
{
    unsigned n = atomic_load_explicit(&table_count, memory_order_acquire);
    for (unsigned i = 0; i < n; i++)
        if (table[i].idle)
            table[i].idle(table[i].arg);
}

void
ntp__thread_hooks_exit(void)
{
    unsigned n = atomic_load_explicit(&table_count, memory_order_acquire);
    for (unsigned i = 0; i < n; i++)
        if (table[i].exit)
            table[i].exit(table[i].arg);
}

void
ntp__thread_hooks_before_callback(ntp_release_cb release)
{
    unsigned n = atomic_load_explicit(&table_count, memory_order_acquire);
    for (unsigned i = 0; i < n; i++)
        if (table[i].before_callback)
            table[i].before_callback(table[i].arg, release);
}
