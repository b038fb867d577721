/*
 * pool_env.c -- SPEC 3 (pools), 4 (cleanup groups), 5 (callback
 * environments).
 */
#include "conformance.h"

static LONG volatile g_runs, g_now, g_peak, g_cancels;
static DWORD volatile g_cancel_thread;

static VOID CALLBACK
count_work(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_WORK w)
{
    (void)i, (void)ctx, (void)w;
    InterlockedIncrement(&g_runs);
}

static VOID CALLBACK
slow_work(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_WORK w)
{
    (void)i, (void)ctx, (void)w;
    LONG n = InterlockedIncrement(&g_now);
    LONG p;
    while ((p = conf_get(&g_peak)) < n && InterlockedCompareExchange(&g_peak, n, p) != p) {
    }
    Sleep(20);
    InterlockedDecrement(&g_now);
    InterlockedIncrement(&g_runs);
}

static VOID CALLBACK
count_simple(PTP_CALLBACK_INSTANCE i, PVOID ctx)
{
    (void)i, (void)ctx;
    Sleep(20);
    InterlockedIncrement(&g_runs);
}

static VOID CALLBACK
timer_noop(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_TIMER t)
{
    (void)i, (void)ctx, (void)t;
}

static VOID CALLBACK
wait_noop(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_WAIT w, TP_WAIT_RESULT r)
{
    (void)i, (void)ctx, (void)w, (void)r;
}

static VOID CALLBACK
cancel_cb(PVOID obj_ctx, PVOID cleanup_ctx)
{
    (void)obj_ctx;
    if (cleanup_ctx == (PVOID)0x1234)
        InterlockedIncrement(&g_cancels);
    g_cancel_thread = GetCurrentThreadId();
}

/* Priorities: each run appends its letter. */
static char g_order[16];
static LONG volatile g_order_slot, g_order_len;

static VOID CALLBACK
letter_simple(PTP_CALLBACK_INSTANCE i, PVOID ctx)
{
    (void)i;
    LONG k = InterlockedIncrement(&g_order_slot) - 1;
    if (k < 15)
        g_order[k] = (char)(ULONG_PTR)ctx;
    InterlockedIncrement(&g_order_len); /* after the write: see main */
}

static PTP_CALLBACK_INSTANCE volatile g_inst;
static LONG volatile g_fin_ok;

static VOID CALLBACK
inst_work(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_WORK w)
{
    (void)ctx, (void)w;
    g_inst = i;
}

static VOID CALLBACK
finalize(PTP_CALLBACK_INSTANCE i, PVOID ctx)
{
    (void)ctx;
    if (i == g_inst)
        InterlockedIncrement(&g_fin_ok);
}

static LONG volatile g_mrl;
static HANDLE g_fin_event;
static LONG volatile g_fin_before;

static VOID CALLBACK
set_event_work(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_WORK w)
{
    (void)ctx, (void)w;
    SetEventWhenCallbackReturns(i, g_fin_event);
}

static VOID CALLBACK
finalize_before(PTP_CALLBACK_INSTANCE i, PVOID ctx)
{
    (void)i, (void)ctx;
    if (WaitForSingleObject(g_fin_event, 0) == WAIT_TIMEOUT)
        InterlockedIncrement(&g_fin_before);
}

static LONG volatile g_ticks, g_waited;

static VOID CALLBACK
tick(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_TIMER t)
{
    (void)i, (void)ctx, (void)t;
    InterlockedIncrement(&g_ticks);
}

static VOID CALLBACK
waited(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_WAIT w, TP_WAIT_RESULT r)
{
    (void)i, (void)ctx, (void)w, (void)r;
    InterlockedIncrement(&g_waited);
}

static VOID CALLBACK
mrl_work(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_WORK w)
{
    (void)ctx, (void)w;
    g_mrl = CallbackMayRunLong(i) ? 1 : 2;
}

static VOID CALLBACK
disassociate_work(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_WORK w)
{
    (void)w;
    DisassociateCurrentThreadFromCallback(i);
    Sleep(300);
    InterlockedExchange((LONG volatile *)ctx, 1);
}

void
conf_pool_env(void)
{
    const char *S3 = "SPEC 3";
    PTP_POOL pool = CreateThreadpool(NULL);
    CHECK(S3, "[doc]", "CreateThreadpool(NULL) returns a new pool",
          pool != NULL);
    SetLastError(0);
    CHECK(S3, "[doc]", "SetThreadpoolThreadMinimum(pool, 2) returns TRUE",
          SetThreadpoolThreadMinimum(pool, 2) == TRUE);
    SetThreadpoolThreadMaximum(pool, 2);

    TP_POOL_STACK_INFORMATION si = {1, 1}, got = {0, 0};
    BOOL set = SetThreadpoolStackInformation(pool, &si);
    BOOL query = QueryThreadpoolStackInformation(pool, &got);
    CHECK(S3, "[obs]", "stack sizes are stored unvalidated: {1, 1} is "
                       "accepted and queried back (CONFORMANCE A12)",
          set && query && got.StackReserve == 1 && got.StackCommit == 1);
    CloseThreadpool(pool);

    pool = conf_pool(0, 1);
    TP_CALLBACK_ENVIRON env;
    conf_env(&env, pool);
    InterlockedExchange(&g_runs, 0);
    InterlockedExchange(&g_now, 0);
    InterlockedExchange(&g_peak, 0);
    PTP_WORK w = CreateThreadpoolWork(slow_work, NULL, &env);
    for (int k = 0; k < 4; k++)
        SubmitThreadpoolWork(w);
    WaitForThreadpoolWorkCallbacks(w, FALSE);
    CHECK(S3, "[doc]", "SetThreadpoolThreadMaximum(pool, 1): 4 posts run "
                       "one at a time (CONFORMANCE A4)",
          conf_get(&g_runs) == 4 && conf_get(&g_peak) == 1);
    CloseThreadpoolWork(w);

    /* Closing the pool does not close its objects, and what they have
     * queued still runs (A13, A14). (Submitting to an object of a closed
     * pool is a caller error: Wine asserts.) */
    InterlockedExchange(&g_runs, 0);
    w = CreateThreadpoolWork(slow_work, NULL, &env);
    for (int k = 0; k < 3; k++)
        SubmitThreadpoolWork(w);
    ULONGLONG c0 = conf_now_ms();
    CloseThreadpool(pool);
    BOOL quick = conf_now_ms() - c0 < 500;
    WaitForThreadpoolWorkCallbacks(w, FALSE);
    CHECK(S3, "[doc]", "CloseThreadpool does not block, and the callbacks "
                       "queued for its objects still run (CONFORMANCE A13, "
                       "A14)",
          quick && conf_get(&g_runs) == 3);
    CloseThreadpoolWork(w);

    InterlockedExchange(&g_runs, 0);
    w = CreateThreadpoolWork(count_work, NULL, NULL);
    SubmitThreadpoolWork(w);
    WaitForThreadpoolWorkCallbacks(w, FALSE);
    CHECK_EQ(S3, "[doc]", "a NULL environment uses the process default pool",
             conf_get(&g_runs), 1);
    CloseThreadpoolWork(w);

    /* ---- 4: cleanup groups ---- */
    const char *S4 = "SPEC 4";
    PTP_CLEANUP_GROUP g = CreateThreadpoolCleanupGroup();
    CHECK(S4, "[doc]", "CreateThreadpoolCleanupGroup returns a group",
          g != NULL);
    pool = conf_pool(0, 2);
    conf_env(&env, pool);
    SetThreadpoolCallbackCleanupGroup(&env, g, cancel_cb);
    InterlockedExchange(&g_runs, 0);
    InterlockedExchange(&g_cancels, 0);
    w = CreateThreadpoolWork(slow_work, NULL, &env);
    for (int k = 0; k < 3; k++)
        SubmitThreadpoolWork(w);
    CloseThreadpoolCleanupGroupMembers(g, FALSE, (PVOID)0x1234);
    CHECK(S4, "[doc]", "CloseThreadpoolCleanupGroupMembers(FALSE) waits for "
                       "all 3 posts and calls no cancel callback",
          conf_get(&g_runs) == 3 && conf_get(&g_cancels) == 0);

    InterlockedExchange(&g_runs, 0);
    for (int k = 0; k < 3; k++)
        TrySubmitThreadpoolCallback(count_simple, NULL, &env);
    CloseThreadpoolCleanupGroupMembers(g, FALSE, NULL);
    CHECK_EQ(S4, "[obs]", "TrySubmitThreadpoolCallback callbacks are members "
                          "until they finish: the release waits for 3",
             conf_get(&g_runs), 3);
    CloseThreadpool(pool);

    /* Cancel: one worker, blocked; a work object with 5 posts, a timer
     * never set, a wait never set, and a work the application closed. */
    pool = conf_pool(1, 1);
    conf_env(&env, pool);
    TP_CALLBACK_ENVIRON genv = env;
    SetThreadpoolCallbackCleanupGroup(&genv, g, cancel_cb);
    conf_blocker b;
    conf_block(&b, &env);
    InterlockedExchange(&g_runs, 0);
    InterlockedExchange(&g_cancels, 0);
    g_cancel_thread = 0;
    w = CreateThreadpoolWork(count_work, NULL, &genv);
    for (int k = 0; k < 5; k++)
        SubmitThreadpoolWork(w);
    PTP_TIMER tm = CreateThreadpoolTimer(timer_noop, NULL, &genv);
    PTP_WAIT wt = CreateThreadpoolWait(wait_noop, NULL, &genv);
    PTP_WORK closed = CreateThreadpoolWork(count_work, NULL, &genv);
    CloseThreadpoolWork(closed);
    CloseThreadpoolCleanupGroupMembers(g, TRUE, (PVOID)0x1234);
    LONG runs_then = conf_get(&g_runs);
    Sleep(50);
    CHECK_EQ(S4, "[obs]", "with cancel: one cancel callback per member "
                          "(5 posts: 1 call; unset timer and wait: 1 each; "
                          "a closed member: none) (CONFORMANCE G59, G62)",
             conf_get(&g_cancels), 3);
    CHECK(S4, "[obs]", "cancel callbacks run on the releasing thread "
                       "(CONFORMANCE G60)",
          g_cancel_thread == GetCurrentThreadId());
    CHECK(S4, "[doc]", "with cancel, queued posts are discarded and never "
                       "run later",
          runs_then < 5 && conf_get(&g_runs) == runs_then);
    conf_unblock(&b);
    (void)tm, (void)wt;

    InterlockedExchange(&g_runs, 0);
    w = CreateThreadpoolWork(count_work, NULL, &genv);
    SubmitThreadpoolWork(w);
    CloseThreadpoolCleanupGroupMembers(g, FALSE, NULL);
    CHECK_EQ(S4, "[doc]", "the group is reusable after its members were "
                          "released",
             conf_get(&g_runs), 1);

    LONG volatile finished = 0;
    w = CreateThreadpoolWork(disassociate_work, (PVOID)&finished, &genv);
    SubmitThreadpoolWork(w);
    Sleep(50);
    CloseThreadpoolCleanupGroupMembers(g, FALSE, NULL);
    CHECK(S4, "[obs]", "the release still waits for a callback that called "
                       "DisassociateCurrentThreadFromCallback (CONFORMANCE "
                       "F54)",
          conf_get(&finished) == 1);
    /* Released members stop: a periodic timer, an armed wait (G58). */
    g_ticks = 0;
    g_waited = 0;
    PTP_TIMER per = CreateThreadpoolTimer(tick, NULL, &genv);
    FILETIME due = conf_ft_rel(10);
    SetThreadpoolTimer(per, &due, 10, 0);
    HANDLE gev = CreateEvent(NULL, FALSE, FALSE, NULL);
    PTP_WAIT armed = CreateThreadpoolWait(waited, NULL, &genv);
    SetThreadpoolWait(armed, gev, NULL);
    conf_wait_count(&g_ticks, 2, 5000);
    CloseThreadpoolCleanupGroupMembers(g, FALSE, NULL);
    LONG ticks_then = conf_get(&g_ticks);
    SetEvent(gev);
    Sleep(150);
    CHECK(S4, "[wine]", "after the release a periodic timer stops and an "
                        "armed wait stops waiting: the event is not consumed "
                        "(CONFORMANCE G58)",
          conf_get(&g_ticks) == ticks_then && conf_get(&g_waited) == 0 &&
              WaitForSingleObject(gev, 0) == WAIT_OBJECT_0);
    CloseHandle(gev);
    CloseThreadpoolCleanupGroup(g);
    CloseThreadpool(pool);

    /* ---- 5: environments ---- */
    const char *S5 = "SPEC 5";
    TP_CALLBACK_ENVIRON e;
    memset(&e, 0x5a, sizeof e);
    InitializeThreadpoolEnvironment(&e);
    CHECK(S5, "[doc]", "InitializeThreadpoolEnvironment: Version 3, no pool, "
                       "no group, NORMAL priority, Size = sizeof",
          e.Version == 3 && e.Pool == NULL && e.CleanupGroup == NULL &&
              e.CallbackPriority == TP_CALLBACK_PRIORITY_NORMAL &&
              e.Size == sizeof e && e.u.Flags == 0);
    SetThreadpoolCallbackRunsLong(&e);
    CHECK(S5, "[doc]", "SetThreadpoolCallbackRunsLong sets Flags bit 0",
          e.u.s.LongFunction == 1 && e.u.Flags == 1);
    DestroyThreadpoolEnvironment(&e);

    InitializeThreadpoolEnvironment(&e);
    SetThreadpoolCallbackPriority(&e, (TP_CALLBACK_PRIORITY)3);
    SetLastError(0);
    PTP_WORK bad = CreateThreadpoolWork(count_work, NULL, &e);
    DWORD err = GetLastError();
    CHECK(S5, "[obs]", "an invalid priority (3) makes CreateThreadpoolWork "
                       "fail with ERROR_INVALID_PARAMETER (CONFORMANCE A10)",
          bad == NULL && err == ERROR_INVALID_PARAMETER);
    SetLastError(0);
    BOOL ok = TrySubmitThreadpoolCallback(letter_simple, NULL, &e);
    err = GetLastError();
    CHECK(S5, "[obs]", "... and TrySubmitThreadpoolCallback return FALSE with "
                       "ERROR_INVALID_PARAMETER",
          ok == FALSE && err == ERROR_INVALID_PARAMETER);

    InitializeThreadpoolEnvironment(&e);
    e.Version = 2;
    SetLastError(0);
    bad = CreateThreadpoolWork(count_work, NULL, &e);
    err = GetLastError();
    CHECK(S5, "[obs]", "an environment Version other than 1 or 3 is refused "
                       "with ERROR_INVALID_PARAMETER, as Windows 7 and later "
                       "do (Wine accepts it: CONFORMANCE A11)",
          bad == NULL && err == ERROR_INVALID_PARAMETER);
    if (bad)
        CloseThreadpoolWork(bad);

    pool = conf_pool(1, 1);
    conf_env(&env, pool);
    conf_block(&b, &env);
    const char *letters = "LNHlh";
    TP_CALLBACK_PRIORITY prio[] = {
        TP_CALLBACK_PRIORITY_LOW, TP_CALLBACK_PRIORITY_NORMAL,
        TP_CALLBACK_PRIORITY_HIGH, TP_CALLBACK_PRIORITY_LOW,
        TP_CALLBACK_PRIORITY_HIGH};
    InterlockedExchange(&g_order_len, 0);
    InterlockedExchange(&g_order_slot, 0);
    memset(g_order, 0, sizeof g_order);
    for (int k = 0; k < 5; k++) {
        TP_CALLBACK_ENVIRON pe = env;
        SetThreadpoolCallbackPriority(&pe, prio[k]);
        TrySubmitThreadpoolCallback(letter_simple,
                                    (PVOID)(ULONG_PTR)letters[k], &pe);
    }
    conf_unblock(&b);
    conf_wait_count(&g_order_len, 5, 5000);
    CHECK(S5, "[obs]", "priorities: L N H l h queued behind a busy worker "
                       "run as HhNLl (CONFORMANCE A9)",
          strcmp(g_order, "HhNLl") == 0);

    InterlockedExchange(&g_fin_ok, 0);
    g_inst = NULL;
    conf_env(&env, pool);
    env.FinalizationCallback = finalize;
    w = CreateThreadpoolWork(inst_work, NULL, &env);
    SubmitThreadpoolWork(w);
    SubmitThreadpoolWork(w);
    WaitForThreadpoolWorkCallbacks(w, FALSE);
    CHECK_EQ(S5, "[obs]", "FinalizationCallback runs after each callback, "
                          "with the same instance, before the wait returns",
             conf_get(&g_fin_ok), 2);
    CloseThreadpoolWork(w);

    g_fin_event = CreateEvent(NULL, TRUE, FALSE, NULL);
    g_fin_before = 0;
    conf_env(&env, pool);
    env.FinalizationCallback = finalize_before;
    w = CreateThreadpoolWork(set_event_work, NULL, &env);
    SubmitThreadpoolWork(w);
    WaitForThreadpoolWorkCallbacks(w, FALSE);
    CHECK(S5, "[wine]", "the FinalizationCallback runs before the "
                        "completion actions: it still sees the event unset "
                        "(CONFORMANCE D44)",
          conf_get(&g_fin_before) == 1 &&
              WaitForSingleObject(g_fin_event, 0) == WAIT_OBJECT_0);
    CloseThreadpoolWork(w);
    CloseHandle(g_fin_event);

    conf_env(&env, pool);
    SetThreadpoolCallbackRunsLong(&env);
    g_mrl = 0;
    w = CreateThreadpoolWork(mrl_work, NULL, &env);
    SubmitThreadpoolWork(w);
    WaitForThreadpoolWorkCallbacks(w, FALSE);
    CHECK_EQ(S5, "[wine]", "with SetThreadpoolCallbackRunsLong, "
                           "CallbackMayRunLong returns TRUE even on a full "
                           "one-thread pool (CONFORMANCE E50)",
             g_mrl, 1);
    CloseThreadpoolWork(w);
    CloseThreadpool(pool);
}
