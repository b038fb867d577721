/*
 * diag.c -- diagnostics for misuse that void functions cannot return, and
 * the live-object count behind ntp_debug_live_objects() and the count of
 * cancelled posts behind ntp_debug_cancelled_posts().
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>

static pthread_mutex_t diag_lock = PTHREAD_MUTEX_INITIALIZER;
static ntp_diagnostic_cb diag_cb;
static void *diag_data;
static atomic_long live_objects;

void
ntp_set_diagnostic_handler(ntp_diagnostic_cb cb, void *data)
{
    pthread_mutex_lock(&diag_lock);
    diag_cb = cb;
    diag_data = data;
    pthread_mutex_unlock(&diag_lock);
}

void
ntp__diag(const char *fmt, ...)
{
    char message[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);

    /* Read the handler under the lock, call it outside: the handler is user
     * code and no ntpool lock is held while user code runs. */
    pthread_mutex_lock(&diag_lock);
    ntp_diagnostic_cb cb = diag_cb;
    void *data = diag_data;
    pthread_mutex_unlock(&diag_lock);
    if (cb)
        cb(message, data);
    else
        fprintf(stderr, "ntpool: %s\n", message);
}

void
ntp__live_inc(void)
{
    atomic_fetch_add_explicit(&live_objects, 1, memory_order_relaxed);
}

void
ntp__live_dec(void)
{
    atomic_fetch_sub_explicit(&live_objects, 1, memory_order_release);
}

long
ntp_debug_live_objects(void)
{
    return atomic_load_explicit(&live_objects, memory_order_acquire);
}

static atomic_uint_fast64_t cancelled_posts;

void
ntp__cancelled_add(uint32_t n)
{
    if (n)
        atomic_fetch_add_explicit(&cancelled_posts, n, memory_order_relaxed);
}

uint64_t
ntp_debug_cancelled_posts(void)
{
    return atomic_load_explicit(&cancelled_posts, memory_order_relaxed);
}
