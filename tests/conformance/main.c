/*
 * main.c -- runs the sections in SPEC order and prints the closing line.
 * Usage: conformance [MODULE]   (MODULE: the testmod fixture, .so or .dll)
 */
#include "conformance.h"

#include <stdlib.h>

const char *conf_module_path;
static int passed, failed, skipped;

void
conf_report(const char *sec, const char *tag, int ok, const char *what,
            const char *detail, ...)
{
    if (ok) {
        passed++;
        printf("%s %s %s: ok\n", sec, tag, what);
    } else {
        failed++;
        va_list ap;
        va_start(ap, detail);
        printf("%s %s %s: FAILED (", sec, tag, what);
        vprintf(detail, ap);
        printf(")\n");
        va_end(ap);
    }
    fflush(stdout);
}

void
conf_check(const char *sec, const char *tag, int ok, const char *what)
{
    if (ok) {
        passed++;
        printf("%s %s %s: ok\n", sec, tag, what);
    } else {
        failed++;
        printf("%s %s %s: FAILED\n", sec, tag, what);
    }
    fflush(stdout);
}

void
conf_skip(const char *sec, const char *tag, const char *what,
          const char *why)
{
    skipped++;
    printf("%s %s %s: skipped (%s)\n", sec, tag, what, why);
    fflush(stdout);
}

ULONGLONG
conf_now_ms(void)
{
    return GetTickCount64();
}

BOOL
conf_wait_count(LONG volatile *v, LONG want, DWORD ms)
{
    ULONGLONG end = conf_now_ms() + ms;
    while (conf_get(v) < want) {
        if (conf_now_ms() > end)
            return FALSE;
        Sleep(2);
    }
    return TRUE;
}

PTP_POOL
conf_pool(DWORD min, DWORD max)
{
    PTP_POOL p = CreateThreadpool(NULL);
    if (p == NULL) {
        printf("CreateThreadpool failed: %u\n", (unsigned)GetLastError());
        exit(2);
    }
    SetThreadpoolThreadMaximum(p, max);
    if (min > 0)
        SetThreadpoolThreadMinimum(p, min);
    return p;
}

void
conf_env(TP_CALLBACK_ENVIRON *env, PTP_POOL pool)
{
    InitializeThreadpoolEnvironment(env);
    if (pool)
        SetThreadpoolCallbackPool(env, pool);
}

FILETIME
conf_ft_rel(LONGLONG ms)
{
    ULARGE_INTEGER u;
    u.QuadPart = (ULONGLONG)(-ms * 10000);
    FILETIME ft = {u.LowPart, u.HighPart};
    return ft;
}

FILETIME
conf_ft_abs(LONGLONG ms)
{
    FILETIME now;
    GetSystemTimeAsFileTime(&now);
    ULARGE_INTEGER u;
    u.LowPart = now.dwLowDateTime;
    u.HighPart = now.dwHighDateTime;
    u.QuadPart += (ULONGLONG)(ms * 10000);
    FILETIME ft = {u.LowPart, u.HighPart};
    return ft;
}

static VOID CALLBACK
blocker_cb(PTP_CALLBACK_INSTANCE inst, PVOID ctx, PTP_WORK work)
{
    conf_blocker *b = ctx;
    (void)inst, (void)work;
    SetEvent(b->started);
    WaitForSingleObject(b->gate, INFINITE);
}

void
conf_block(conf_blocker *b, TP_CALLBACK_ENVIRON *env)
{
    b->started = CreateEvent(NULL, TRUE, FALSE, NULL);
    b->gate = CreateEvent(NULL, TRUE, FALSE, NULL);
    b->work = CreateThreadpoolWork(blocker_cb, b, env);
    SubmitThreadpoolWork(b->work);
    WaitForSingleObject(b->started, 10000);
}

void
conf_unblock(conf_blocker *b)
{
    SetEvent(b->gate);
    WaitForThreadpoolWorkCallbacks(b->work, FALSE);
    CloseThreadpoolWork(b->work);
    CloseHandle(b->started);
    CloseHandle(b->gate);
}

int
main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    conf_module_path = argc > 1 ? argv[1] : NULL;
    conf_common();
    conf_pool_env();
    conf_work();
    conf_timer();
    conf_wait();
    conf_io();
    conf_instance();
    conf_legacy();
    conf_apc_sync();
    conf_errors();
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
