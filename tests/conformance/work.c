/*
 * work.c -- SPEC 6: work objects and TrySubmitThreadpoolCallback.
 */
#include "conformance.h"

static LONG volatile g_runs;
static PTP_CALLBACK_INSTANCE volatile g_inst;
static PVOID volatile g_ctx;
static PTP_WORK volatile g_self;

static VOID CALLBACK
args_work(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_WORK w)
{
    g_inst = i;
    g_ctx = ctx;
    g_self = w;
    InterlockedIncrement(&g_runs);
}

static VOID CALLBACK
count_work(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_WORK w)
{
    (void)i, (void)ctx, (void)w;
    InterlockedIncrement(&g_runs);
}

static VOID CALLBACK
resubmit_work(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_WORK w)
{
    (void)i, (void)ctx;
    if (InterlockedIncrement(&g_runs) < 3)
        SubmitThreadpoolWork(w);
}

static VOID CALLBACK
simple(PTP_CALLBACK_INSTANCE i, PVOID ctx)
{
    g_inst = i;
    g_ctx = ctx;
    InterlockedIncrement(&g_runs);
}

static VOID CALLBACK
slow_disassociate(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_WORK w)
{
    (void)w;
    DisassociateCurrentThreadFromCallback(i);
    Sleep(400);
    InterlockedExchange((LONG volatile *)ctx, 1);
}

#ifndef _WIN32
static LONG volatile g_self_wait_done;

static VOID CALLBACK
wait_on_self(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_WORK w)
{
    (void)i, (void)ctx;
    WaitForThreadpoolWorkCallbacks(w, FALSE); /* would deadlock on Windows */
    InterlockedIncrement(&g_self_wait_done);
}
#endif

static VOID CALLBACK
slow_count(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_WORK w)
{
    (void)i, (void)ctx, (void)w;
    Sleep(100);
    InterlockedIncrement(&g_runs);
}

static DWORD WINAPI
waiter_thread(LPVOID arg)
{
    WaitForThreadpoolWorkCallbacks((PTP_WORK)arg, FALSE);
    return (DWORD)conf_get(&g_runs);
}

void
conf_work(void)
{
    const char *S6 = "SPEC 6";
    PTP_POOL pool = conf_pool(0, 4);
    TP_CALLBACK_ENVIRON env;
    conf_env(&env, pool);

    InterlockedExchange(&g_runs, 0);
    PTP_WORK w = CreateThreadpoolWork(args_work, (PVOID)0xabc, &env);
    CHECK(S6, "[doc]", "CreateThreadpoolWork returns an object", w != NULL);
    ULONGLONG t0 = conf_now_ms();
    WaitForThreadpoolWorkCallbacks(w, FALSE);
    CHECK(S6, "[obs]", "WaitForThreadpoolWorkCallbacks on a work never "
                       "submitted returns at once (CONFORMANCE B16)",
          conf_now_ms() - t0 < 500 && conf_get(&g_runs) == 0);
    SubmitThreadpoolWork(w);
    WaitForThreadpoolWorkCallbacks(w, FALSE);
    CHECK(S6, "[doc]", "the callback gets an instance, the context and the "
                       "work object (CONFORMANCE B18)",
          conf_get(&g_runs) == 1 && g_inst != NULL && g_ctx == (PVOID)0xabc &&
              g_self == w);
    CloseThreadpoolWork(w);

    InterlockedExchange(&g_runs, 0);
    w = CreateThreadpoolWork(count_work, NULL, &env);
    for (int k = 0; k < 5; k++)
        SubmitThreadpoolWork(w);
    WaitForThreadpoolWorkCallbacks(w, FALSE);
    CHECK_EQ(S6, "[doc]", "SubmitThreadpoolWork x5, then "
                          "WaitForThreadpoolWorkCallbacks(FALSE): 5 "
                          "callbacks have run when it returns",
             conf_get(&g_runs), 5);
    CloseThreadpoolWork(w);
    CloseThreadpool(pool);

    /* Cancel with 10 queued behind a busy single worker. */
    pool = conf_pool(1, 1);
    conf_env(&env, pool);
    conf_blocker b;
    conf_block(&b, &env);
    InterlockedExchange(&g_runs, 0);
    w = CreateThreadpoolWork(count_work, NULL, &env);
    for (int k = 0; k < 10; k++)
        SubmitThreadpoolWork(w);
    WaitForThreadpoolWorkCallbacks(w, TRUE);
    LONG after = conf_get(&g_runs);
    conf_unblock(&b);
    Sleep(50);
    CHECK(S6, "[doc]", "WaitForThreadpoolWorkCallbacks(TRUE) discards the "
                       "queued posts: of 10, none runs, then or later",
          after == 0 && conf_get(&g_runs) == 0);
    SubmitThreadpoolWork(w);
    WaitForThreadpoolWorkCallbacks(w, FALSE);
    CHECK_EQ(S6, "[doc]", "the object stays valid: submitted again after the "
                          "cancel, it runs (CONFORMANCE B21)",
             conf_get(&g_runs), 1);
    CloseThreadpoolWork(w);

    InterlockedExchange(&g_runs, 0);
    w = CreateThreadpoolWork(resubmit_work, NULL, &env);
    SubmitThreadpoolWork(w);
    conf_wait_count(&g_runs, 3, 5000);
    WaitForThreadpoolWorkCallbacks(w, FALSE);
    CHECK_EQ(S6, "[doc]", "a callback may submit its own object again "
                          "(CONFORMANCE B25)",
             conf_get(&g_runs), 3);
    CloseThreadpoolWork(w);

    LONG volatile finished = 0;
    w = CreateThreadpoolWork(slow_disassociate, (PVOID)&finished, &env);
    SubmitThreadpoolWork(w);
    Sleep(50);
    WaitForThreadpoolWorkCallbacks(w, FALSE);
    LONG was = conf_get(&finished);
    conf_wait_count(&finished, 1, 5000);
    CHECK(S6, "[doc]", "callbacks that disassociated are not waited for: "
                       "the wait returns while it still runs (CONFORMANCE "
                       "F52)",
          was == 0 && conf_get(&finished) == 1);
    CloseThreadpoolWork(w);
    CloseThreadpool(pool);

    pool = conf_pool(0, 4);
    conf_env(&env, pool);
    InterlockedExchange(&g_runs, 0);
    w = CreateThreadpoolWork(slow_count, NULL, &env);
    SubmitThreadpoolWork(w);
    SubmitThreadpoolWork(w);
    HANDLE t = CreateThread(NULL, 0, waiter_thread, w, 0, NULL);
    WaitForSingleObject(t, 10000);
    DWORD seen = 0;
    GetExitCodeThread(t, &seen);
    CloseHandle(t);
    CHECK_EQ(S6, "[doc]", "WaitForThreadpoolWorkCallbacks from another thread "
                          "also returns only after both posts ran "
                          "(CONFORMANCE B22)",
             seen, 2);
    CloseThreadpoolWork(w);

#ifndef _WIN32
    g_self_wait_done = 0;
    w = CreateThreadpoolWork(wait_on_self, NULL, &env);
    SubmitThreadpoolWork(w);
    BOOL back = conf_wait_count(&g_self_wait_done, 1, 5000);
    WaitForThreadpoolWorkCallbacks(w, FALSE);
    CHECK(S6, "[proj]", "a callback waiting for its own work object waits "
                        "for the other posts only, instead of deadlocking "
                        "(ntpool only)",
          back);
    CloseThreadpoolWork(w);
#endif
    CloseThreadpool(pool);

    InterlockedExchange(&g_runs, 0);
    g_ctx = NULL;
    BOOL ok = TRUE;
    for (int k = 0; k < 3; k++)
        ok = ok && TrySubmitThreadpoolCallback(simple, (PVOID)0x77, NULL);
    CHECK(S6, "[doc]", "TrySubmitThreadpoolCallback x3 returns TRUE and runs "
                       "3 callbacks with the context (CONFORMANCE C29, C30)",
          ok && conf_wait_count(&g_runs, 3, 5000) && g_ctx == (PVOID)0x77 &&
              g_inst != NULL);
}
