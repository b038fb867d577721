/*
 * conformance.h -- the conformance suite's framework. The suite walks
 * ../shared/SPEC.md section by section (the [doc] and [obs] items, and the
 * [wine]/[proj] decisions ntpool took) and CONFORMANCE.md's behaviours,
 * through the Windows API only: the same sources build against
 * <ntpool/win32.h> on Linux and against <windows.h> with mingw-w64, so
 * `make conformance-wine` can run both and diff what they print.
 *
 * Every check prints one line, "SPEC 6 [doc] what was verified: ok" (or
 * "FAILED (...)"), from the main thread only, in a fixed order; the last
 * line is "N passed, N failed". A check of an ntpool decision that Windows
 * cannot run (it would raise an exception there) says "(ntpool only)" and
 * is left out of the Windows build; a function Wine does not export is
 * looked up at run time and reported as skipped where missing.
 */
#ifndef NTP_CONFORMANCE_H
#define NTP_CONFORMANCE_H

#ifdef _WIN32
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0602
#endif
#include <windows.h>
#else
#include <ntpool/win32.h>
#include <unistd.h>
#endif

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* Report one check: `ok`, or FAILED with `detail` (printf format; may be
 * NULL). sec is "SPEC 6", "CONFORMANCE B17"...; tag "[doc]", "[obs]"... */
void conf_report(const char *sec, const char *tag, int ok, const char *what,
                 const char *detail, ...)
    __attribute__((format(printf, 5, 6)));
/* The same without a detail. */
void conf_check(const char *sec, const char *tag, int ok, const char *what);
/* Report a check that could not run here, with the reason. */
void conf_skip(const char *sec, const char *tag, const char *what,
               const char *why);

/* A check of a condition. */
#define CHECK(sec, tag, what, cond)                                          \
    conf_check((sec), (tag), (cond) ? 1 : 0, (what))
/* A check that two unsigned values are equal, showing both on failure. */
#define CHECK_EQ(sec, tag, what, got, want)                                  \
    do {                                                                     \
        unsigned long long got_ = (unsigned long long)(got);                 \
        unsigned long long want_ = (unsigned long long)(want);               \
        conf_report((sec), (tag), got_ == want_, (what),                     \
                    "got %llu, expected %llu", got_, want_);                 \
    } while (0)

/* The module fixture (tests/c/fixtures/testmod.c built as a .so or .dll)
 * named on the command line; NULL: module checks are skipped. */
extern const char *conf_module_path;

/* ---- helpers (main.c) ---- */

/* Atomic reads of what callbacks count or record with Interlocked*: a plain
 * read racing with those writes is a data race (ThreadSanitizer says so). */
static inline LONG
conf_get(LONG volatile *v)
{
#ifdef _WIN32
    return InterlockedCompareExchange(v, 0, 0);
#else
    return __atomic_load_n(v, __ATOMIC_SEQ_CST);
#endif
}
static inline LONGLONG
conf_get64(LONGLONG volatile *v)
{
#ifdef _WIN32
    return InterlockedCompareExchange64(v, 0, 0);
#else
    return __atomic_load_n(v, __ATOMIC_SEQ_CST);
#endif
}
static inline void
conf_set64(LONGLONG volatile *v, LONGLONG x)
{
#ifdef _WIN32
    InterlockedExchange64(v, x);
#else
    __atomic_store_n(v, x, __ATOMIC_SEQ_CST);
#endif
}

/* Milliseconds, monotonic. */
ULONGLONG conf_now_ms(void);
/* Poll until *v >= want or `ms` have passed; TRUE if reached. */
BOOL conf_wait_count(LONG volatile *v, LONG want, DWORD ms);
/* A private pool with these limits. */
PTP_POOL conf_pool(DWORD min, DWORD max);
/* An environment on `pool` (NULL: the default pool). */
void conf_env(TP_CALLBACK_ENVIRON *env, PTP_POOL pool);
/* A relative due time / timeout of `ms` milliseconds. */
FILETIME conf_ft_rel(LONGLONG ms);
/* An absolute due time `ms` milliseconds from now (negative: past). */
FILETIME conf_ft_abs(LONGLONG ms);

/*
 * The blocker: a work object whose callback holds its worker until
 * conf_unblock. With a one-thread pool it keeps everything else queued.
 * conf_block returns once the callback is running.
 */
typedef struct conf_blocker {
    PTP_WORK work;
    HANDLE started, gate;
} conf_blocker;
void conf_block(conf_blocker *b, TP_CALLBACK_ENVIRON *env);
void conf_unblock(conf_blocker *b);

/* The sections, in SPEC order. */
void conf_common(void);      /* 1, 2 */
void conf_pool_env(void);    /* 3, 4, 5 */
void conf_work(void);        /* 6 */
void conf_timer(void);       /* 7 */
void conf_wait(void);        /* 8 */
void conf_io(void);          /* 9 */
void conf_instance(void);    /* 10 */
void conf_legacy(void);      /* 11 */
void conf_apc_sync(void);    /* 12, 13 */
void conf_errors(void);      /* 14, files, modules, threads */

#endif
