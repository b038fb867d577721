/*
 * common.c -- SPEC 1 (types, time values, codes) and SPEC 2 (the
 * execution model).
 */
#include "conformance.h"

static LONG volatile g_runs;
static DWORD volatile g_cb_thread;
static HANDLE g_ev;

static VOID CALLBACK
count_work(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_WORK w)
{
    (void)i, (void)w;
    g_cb_thread = GetCurrentThreadId();
    InterlockedIncrement((LONG volatile *)ctx);
}

static VOID CALLBACK
timer_fire(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_TIMER t)
{
    (void)i, (void)t;
    ULONGLONG *at = ctx;
    *at = conf_now_ms();
    SetEvent(g_ev);
}

/* Two posts of one object meet: each waits (bounded) for the other. */
static HANDLE g_meet[2];
static LONG volatile g_meet_slot;
static LONG volatile g_met;

static VOID CALLBACK
meet_work(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_WORK w)
{
    (void)i, (void)ctx, (void)w;
    LONG me = InterlockedIncrement(&g_meet_slot) - 1;
    SetEvent(g_meet[me & 1]);
    if (WaitForSingleObject(g_meet[!(me & 1)], 3000) == WAIT_OBJECT_0)
        InterlockedIncrement(&g_met);
}

/* Interleaving: each run appends its object's letter. */
static char g_seq[16];
static LONG volatile g_seq_slot, g_seq_len;

static VOID CALLBACK
letter_work(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_WORK w)
{
    (void)i, (void)w;
    LONG k = InterlockedIncrement(&g_seq_slot) - 1;
    if (k < 15)
        g_seq[k] = (char)(ULONG_PTR)ctx;
    InterlockedIncrement(&g_seq_len);
}

static VOID CALLBACK
close_self_work(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_WORK w)
{
    (void)i;
    CloseThreadpoolWork(w);
    SetEvent((HANDLE)ctx);
}

static DWORD WINAPI
set_error_thread(LPVOID arg)
{
    (void)arg;
    SetLastError(42);
    return GetLastError();
}

void
conf_common(void)
{
    const char *S1 = "SPEC 1.1";
    CHECK(S1, "[doc]", "INFINITE is 0xFFFFFFFF, INVALID_HANDLE_VALUE is -1, "
                       "MAXIMUM_WAIT_OBJECTS is 64",
          INFINITE == 0xFFFFFFFFu && INVALID_HANDLE_VALUE == (HANDLE)(LONG_PTR)-1 &&
              MAXIMUM_WAIT_OBJECTS == 64);
    CHECK(S1, "[doc]", "FILETIME and LARGE_INTEGER are 8 bytes, "
                       "TP_CALLBACK_ENVIRON_V3 is laid out as winnt.h",
          sizeof(FILETIME) == 8 && sizeof(LARGE_INTEGER) == 8 &&
              offsetof(TP_CALLBACK_ENVIRON, Pool) == sizeof(void *) &&
              offsetof(TP_CALLBACK_ENVIRON, CallbackPriority) ==
                  7 * sizeof(void *) + 4 &&
              sizeof(TP_CALLBACK_ENVIRON) == 8 * sizeof(void *) + 8);
    CHECK("SPEC 1.3", "[doc]", "wait codes: WAIT_OBJECT_0 0, WAIT_ABANDONED "
                               "0x80, WAIT_IO_COMPLETION 0xC0, WAIT_TIMEOUT "
                               "0x102, WAIT_FAILED 0xFFFFFFFF",
          WAIT_OBJECT_0 == 0 && WAIT_ABANDONED == 0x80 &&
              WAIT_IO_COMPLETION == 0xC0 && WAIT_TIMEOUT == 0x102 &&
              WAIT_FAILED == 0xFFFFFFFFu);
    CHECK("SPEC 1.3", "[doc]", "error codes: INVALID_HANDLE 6, "
                               "NOT_ENOUGH_MEMORY 8, INVALID_PARAMETER 87, "
                               "NOT_OWNER 288, TOO_MANY_POSTS 298, "
                               "OPERATION_ABORTED 995, IO_PENDING 997",
          ERROR_INVALID_HANDLE == 6 && ERROR_NOT_ENOUGH_MEMORY == 8 &&
              ERROR_INVALID_PARAMETER == 87 && ERROR_NOT_OWNER == 288 &&
              ERROR_TOO_MANY_POSTS == 298 &&
              ERROR_OPERATION_ABORTED == 995 && ERROR_IO_PENDING == 997);

    SetLastError(7);
    HANDLE t = CreateThread(NULL, 0, set_error_thread, NULL, 0, NULL);
    WaitForSingleObject(t, 5000);
    DWORD code = 0;
    GetExitCodeThread(t, &code);
    CloseHandle(t);
    CHECK("SPEC 1.3", "[doc]", "GetLastError is per thread (another thread "
                               "sets 42, ours keeps 7)",
          code == 42 && GetLastError() == 7);

    /* 1.2: time values. */
    g_ev = CreateEvent(NULL, FALSE, FALSE, NULL);
    ULONGLONG at = 0;
    PTP_TIMER tm = CreateThreadpoolTimer(timer_fire, &at, NULL);
    ULONGLONG t0 = conf_now_ms();
    FILETIME ft = conf_ft_rel(200);
    SetThreadpoolTimer(tm, &ft, 0, 0);
    BOOL fired = WaitForSingleObject(g_ev, 5000) == WAIT_OBJECT_0;
    CHECK("SPEC 1.2", "[doc]", "a negative FILETIME is relative: -200 ms "
                               "fires after 200 ms, not before",
          fired && at - t0 >= 180);
    t0 = conf_now_ms();
    ft = conf_ft_abs(200);
    SetThreadpoolTimer(tm, &ft, 0, 0);
    fired = WaitForSingleObject(g_ev, 5000) == WAIT_OBJECT_0;
    CHECK("SPEC 1.2", "[doc]", "a positive FILETIME is absolute UTC since "
                               "1601: now + 200 ms fires after 200 ms",
          fired && at - t0 >= 180);
    t0 = conf_now_ms();
    ft.dwLowDateTime = ft.dwHighDateTime = 0;
    SetThreadpoolTimer(tm, &ft, 0, 0);
    fired = WaitForSingleObject(g_ev, 5000) == WAIT_OBJECT_0;
    CHECK("SPEC 1.2", "[doc]", "a zero FILETIME means now: the timer fires "
                               "at once",
          fired && at - t0 < 1000);
    SetThreadpoolTimer(tm, NULL, 0, 0);
    WaitForThreadpoolTimerCallbacks(tm, TRUE);
    CloseThreadpoolTimer(tm);
    t0 = conf_now_ms();
    DWORD r = WaitForSingleObject(g_ev, 100);
    CHECK("SPEC 1.2", "[doc]", "wait functions take milliseconds: a 100 ms "
                               "timeout returns WAIT_TIMEOUT after ~100 ms",
          r == WAIT_TIMEOUT && conf_now_ms() - t0 >= 80);
    t0 = conf_now_ms();
    r = WaitForSingleObject(g_ev, 0);
    CHECK("SPEC 1.2", "[doc]", "timeout 0 tests and returns at once",
          r == WAIT_TIMEOUT && conf_now_ms() - t0 < 100);

    /* 2: execution model. */
    const char *S2 = "SPEC 2";
    InterlockedExchange(&g_runs, 0);
    PTP_WORK w = CreateThreadpoolWork(count_work, (PVOID)&g_runs, NULL);
    for (int k = 0; k < 5; k++)
        SubmitThreadpoolWork(w);
    WaitForThreadpoolWorkCallbacks(w, FALSE);
    CHECK_EQ(S2, "[doc]", "every trigger queues one callback: 5 submits "
                          "run 5 callbacks",
             conf_get(&g_runs), 5);
    CHECK(S2, "[doc]", "callbacks run on pool threads, not the submitter's "
                       "(CONFORMANCE A3)",
          g_cb_thread != 0 && g_cb_thread != GetCurrentThreadId());
    CloseThreadpoolWork(w);

    PTP_POOL pool = conf_pool(2, 4);
    TP_CALLBACK_ENVIRON env;
    conf_env(&env, pool);
    g_meet[0] = CreateEvent(NULL, TRUE, FALSE, NULL);
    g_meet[1] = CreateEvent(NULL, TRUE, FALSE, NULL);
    w = CreateThreadpoolWork(meet_work, NULL, &env);
    SubmitThreadpoolWork(w);
    SubmitThreadpoolWork(w);
    WaitForThreadpoolWorkCallbacks(w, FALSE);
    CHECK_EQ(S2, "[doc]", "no per-object serialization: two posts of one "
                          "work object run at the same time",
             conf_get(&g_met), 2);
    CloseThreadpoolWork(w);
    CloseHandle(g_meet[0]);
    CloseHandle(g_meet[1]);

    HANDLE done = CreateEvent(NULL, TRUE, FALSE, NULL);
    w = CreateThreadpoolWork(close_self_work, done, &env);
    SubmitThreadpoolWork(w);
    CHECK(S2, "[obs]", "a callback may close its own object",
          WaitForSingleObject(done, 5000) == WAIT_OBJECT_0);
    CloseHandle(done);
    CloseThreadpool(pool);

    /* Queued runs of a closed object still run (SPEC 2 Closing [wine],
     * CONFORMANCE B27). */
    pool = conf_pool(1, 1);
    conf_env(&env, pool);
    conf_blocker b;
    conf_block(&b, &env);
    InterlockedExchange(&g_runs, 0);
    w = CreateThreadpoolWork(count_work, (PVOID)&g_runs, &env);
    for (int k = 0; k < 3; k++)
        SubmitThreadpoolWork(w);
    ULONGLONG c0 = conf_now_ms();
    CloseThreadpoolWork(w);
    BOOL quick = conf_now_ms() - c0 < 500;
    conf_unblock(&b);
    CHECK(S2, "[doc]", "CloseThreadpoolWork never blocks; the 3 runs queued "
                       "before it still run (CONFORMANCE B27)",
          quick && conf_wait_count(&g_runs, 3, 5000) && conf_get(&g_runs) == 3);
    /* Objects sharing one worker take turns ([obs] B23). */
    conf_block(&b, &env);
    PTP_WORK wa = CreateThreadpoolWork(letter_work, (PVOID)'A', &env);
    PTP_WORK wb = CreateThreadpoolWork(letter_work, (PVOID)'B', &env);
    for (int k = 0; k < 5; k++)
        SubmitThreadpoolWork(wa);
    SubmitThreadpoolWork(wb);
    conf_unblock(&b);
    conf_wait_count(&g_seq_len, 6, 5000);
    const char *bpos = strchr(g_seq, 'B');
    CHECK(S2, "[obs]", "a busy object does not hold others back: B, posted "
                       "after 5 posts of A on one worker, runs before the "
                       "last A (CONFORMANCE B23)",
          conf_get(&g_seq_len) == 6 && bpos && strchr(bpos, 'A') != NULL);
    CloseThreadpoolWork(wa);
    CloseThreadpoolWork(wb);
    CloseThreadpool(pool);
    CloseHandle(g_ev);
}
