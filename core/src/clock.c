/*
 * clock.c -- monotonic time, deadlines and thread ids.
 *
 * Relative timeouts run on CLOCK_MONOTONIC (SPEC 1.2: relative times do not
 * follow wall-clock changes); condition variables are set to the same clock.
 */
#include "internal.h"

#include <sys/syscall.h>
#include <unistd.h>

uint64_t
ntp__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t
ntp__coarse_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t
ntp__deadline_after_ms(uint32_t ms)
{
    if (ms == NTP_INFINITE)
        return UINT64_MAX;
    return ntp__now_ns() + (uint64_t)ms * 1000000u;
}

void
ntp__ns_to_timespec(uint64_t ns, struct timespec *ts)
{
    ts->tv_sec = (time_t)(ns / 1000000000u);
    ts->tv_nsec = (long)(ns % 1000000000u);
}

void
ntp__cond_init(pthread_cond_t *c)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(c, &attr);
    pthread_condattr_destroy(&attr);
}

unsigned long
ntp__thread_id(void)
{
    static _Thread_local unsigned long tid;
    if (!tid)
        tid = (unsigned long)syscall(SYS_gettid);
    return tid;
}
