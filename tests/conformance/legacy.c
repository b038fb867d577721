/*
 * legacy.c -- SPEC 11: the original thread-pool API.
 */
#include "conformance.h"

static LONG volatile g_items, g_calls, g_fired_true, g_fired_false;
static HANDLE g_gate, g_in;

static DWORD WINAPI
item(LPVOID ctx)
{
    (void)ctx;
    InterlockedIncrement(&g_items);
    return 0;
}

static DWORD WINAPI
blocking_item(LPVOID ctx)
{
    (void)ctx;
    WaitForSingleObject(g_gate, 5000);
    InterlockedIncrement(&g_items);
    return 0;
}

static VOID CALLBACK
on_wait(PVOID ctx, BOOLEAN timed_out)
{
    (void)ctx;
    if (timed_out)
        InterlockedIncrement(&g_fired_true);
    else
        InterlockedIncrement(&g_fired_false);
    InterlockedIncrement(&g_calls);
}

static VOID CALLBACK
slow_wait(PVOID ctx, BOOLEAN timed_out)
{
    (void)ctx, (void)timed_out;
    SetEvent(g_in);
    Sleep(300);
    InterlockedIncrement(&g_calls);
}

static HANDLE volatile g_self_timer;
static LONG volatile g_self_result;

static VOID CALLBACK
self_delete(PVOID ctx, BOOLEAN fired)
{
    (void)fired;
    if (InterlockedIncrement(&g_calls) == 1) {
        BOOL r = DeleteTimerQueueTimer((HANDLE)ctx, g_self_timer, NULL);
        InterlockedExchange(&g_self_result,
                            !r && GetLastError() == ERROR_IO_PENDING);
    }
}

static HANDLE volatile g_wait_handle;
static LONG volatile g_handle_seen, g_unreg_own;

static VOID CALLBACK
check_handle(PVOID ctx, BOOLEAN fired)
{
    (void)ctx, (void)fired;
    if (g_wait_handle != NULL)
        InterlockedIncrement(&g_handle_seen);
    InterlockedIncrement(&g_calls);
}

static VOID CALLBACK
unregister_own(PVOID ctx, BOOLEAN fired)
{
    (void)fired;
    BOOL r = UnregisterWait(*(HANDLE volatile *)ctx);
    InterlockedExchange(&g_unreg_own, r ? 1 : 2);
    InterlockedIncrement(&g_calls);
}

static DWORD volatile g_timer_threads[3];

static VOID CALLBACK
in_timer_thread(PVOID ctx, BOOLEAN fired)
{
    (void)fired;
    LONG k = InterlockedIncrement(&g_calls) - 1;
    if (k < 3)
        g_timer_threads[k] = GetCurrentThreadId();
    (void)ctx;
}

static ULONG_PTR volatile g_bound_bytes;
static DWORD volatile g_bound_err;
static LPOVERLAPPED volatile g_bound_ov;

static VOID CALLBACK
on_bound(DWORD err, DWORD bytes, LPOVERLAPPED ov)
{
    g_bound_err = err;
    g_bound_bytes = bytes;
    g_bound_ov = ov;
    InterlockedIncrement(&g_calls);
}

static void
reset(void)
{
    InterlockedExchange(&g_calls, 0);
    InterlockedExchange(&g_fired_true, 0);
    InterlockedExchange(&g_fired_false, 0);
}

void
conf_legacy(void)
{
    const char *S11 = "SPEC 11";
    InterlockedExchange(&g_items, 0);
    BOOL ok = TRUE;
    for (int k = 0; k < 100; k++)
        ok = ok && QueueUserWorkItem(item, NULL, WT_EXECUTEDEFAULT);
    CHECK(S11, "[obs]", "QueueUserWorkItem: 100 items all run "
                        "(CONFORMANCE K112)",
          ok && conf_wait_count(&g_items, 100, 10000));
    InterlockedExchange(&g_items, 0);
    ULONG flags[] = {WT_EXECUTEINIOTHREAD, WT_EXECUTEINPERSISTENTTHREAD,
                     WT_EXECUTELONGFUNCTION, WT_TRANSFER_IMPERSONATION};
    for (int k = 0; k < 4; k++)
        ok = ok && QueueUserWorkItem(item, NULL, flags[k]);
    CHECK(S11, "[obs]", "... with INIOTHREAD, INPERSISTENTTHREAD, "
                        "LONGFUNCTION and TRANSFER_IMPERSONATION too",
          ok && conf_wait_count(&g_items, 4, 10000));
    InterlockedExchange(&g_items, 0);
    g_gate = CreateEvent(NULL, TRUE, FALSE, NULL);
    for (int k = 0; k < 4; k++)
        ok = ok && QueueUserWorkItem(blocking_item, NULL,
                                     WT_EXECUTELONGFUNCTION);
    Sleep(100);
    SetEvent(g_gate);
    CHECK(S11, "[obs]", "4 blocking LONGFUNCTION items all complete",
          ok && conf_wait_count(&g_items, 4, 10000));

    HANDLE ev = CreateEvent(NULL, FALSE, FALSE, NULL);
    HANDLE wh = NULL;
    reset();
    ok = RegisterWaitForSingleObject(&wh, ev, on_wait, NULL, INFINITE,
                                     WT_EXECUTEDEFAULT);
    BOOL un = UnregisterWait(wh);
    SetEvent(ev);
    Sleep(100);
    CHECK(S11, "[obs]", "RegisterWaitForSingleObject then UnregisterWait at "
                        "once: TRUE, no callback (CONFORMANCE K113)",
          ok && un && conf_get(&g_calls) == 0);
    ResetEvent(ev);

    reset();
    ok = RegisterWaitForSingleObject(&wh, ev, on_wait, NULL, INFINITE,
                                     WT_EXECUTEDEFAULT);
    for (int k = 1; k <= 3; k++) {
        SetEvent(ev);
        conf_wait_count(&g_calls, k, 5000);
    }
    Sleep(50);
    BOOL consumed = WaitForSingleObject(ev, 0) == WAIT_TIMEOUT;
    UnregisterWaitEx(wh, INVALID_HANDLE_VALUE);
    CHECK(S11, "[doc]", "without WT_EXECUTEONLYONCE the wait re-arms: 3 "
                        "signals, 3 callbacks with FALSE, each consumed "
                        "(CONFORMANCE K114)",
          ok && conf_get(&g_fired_false) == 3 && conf_get(&g_fired_true) == 0 && consumed);

    reset();
    ok = RegisterWaitForSingleObject(&wh, ev, on_wait, NULL, INFINITE,
                                     WT_EXECUTEONLYONCE);
    SetEvent(ev);
    conf_wait_count(&g_calls, 1, 5000);
    SetEvent(ev);
    Sleep(100);
    CHECK(S11, "[doc]", "with WT_EXECUTEONLYONCE one callback; a later "
                        "signal stays unconsumed (CONFORMANCE K115)",
          ok && conf_get(&g_calls) == 1 && WaitForSingleObject(ev, 0) == WAIT_OBJECT_0);
    UnregisterWaitEx(wh, INVALID_HANDLE_VALUE);

    reset();
    ok = RegisterWaitForSingleObject(&wh, ev, on_wait, NULL, 100,
                                     WT_EXECUTEONLYONCE);
    conf_wait_count(&g_calls, 1, 5000);
    CHECK(S11, "[doc]", "a finite timeout gives a callback with "
                        "TimerOrWaitFired TRUE (CONFORMANCE K116)",
          ok && conf_get(&g_fired_true) == 1);
    UnregisterWaitEx(wh, INVALID_HANDLE_VALUE);

    reset();
    ok = RegisterWaitForSingleObject(&wh, ev, on_wait, NULL, 50,
                                     WT_EXECUTEDEFAULT);
    BOOL rearmed = conf_wait_count(&g_fired_true, 3, 3000);
    UnregisterWaitEx(wh, INVALID_HANDLE_VALUE);
    CHECK(S11, "[doc]", "without ONLYONCE a timeout re-arms too: 3 timeouts "
                        "in a row (Wine 8.0 stops after the first: "
                        "CONFORMANCE K116)",
          ok && rearmed);

    reset();
    ULONGLONG t0 = conf_now_ms();
    ok = RegisterWaitForSingleObject(&wh, ev, on_wait, NULL, 0,
                                     WT_EXECUTEONLYONCE);
    conf_wait_count(&g_calls, 1, 5000);
    CHECK(S11, "[obs]", "timeout 0 with ONLYONCE: an immediate callback with "
                        "TRUE (CONFORMANCE K117)",
          ok && conf_get(&g_fired_true) == 1 && conf_now_ms() - t0 < 1000);
    UnregisterWaitEx(wh, INVALID_HANDLE_VALUE);

    reset();
    g_in = CreateEvent(NULL, FALSE, FALSE, NULL);
    ok = RegisterWaitForSingleObject(&wh, ev, slow_wait, NULL, INFINITE,
                                     WT_EXECUTEONLYONCE);
    SetEvent(ev);
    WaitForSingleObject(g_in, 5000);
    SetLastError(0);
    BOOL r = UnregisterWait(wh);
    DWORD err = GetLastError();
    conf_wait_count(&g_calls, 1, 5000);
    CHECK(S11, "[obs]", "UnregisterWait while the callback runs: FALSE with "
                        "ERROR_IO_PENDING, and the callback completes "
                        "(CONFORMANCE K118)",
          ok && !r && err == ERROR_IO_PENDING && conf_get(&g_calls) == 1);

    reset();
    ok = RegisterWaitForSingleObject(&wh, ev, slow_wait, NULL, INFINITE,
                                     WT_EXECUTEONLYONCE);
    SetEvent(ev);
    WaitForSingleObject(g_in, 5000);
    r = UnregisterWaitEx(wh, INVALID_HANDLE_VALUE);
    CHECK(S11, "[obs]", "UnregisterWaitEx(INVALID_HANDLE_VALUE) blocks until "
                        "the running callback is done, then TRUE "
                        "(CONFORMANCE K119)",
          ok && r && conf_get(&g_calls) == 1);

    reset();
    HANDLE done = CreateEvent(NULL, TRUE, FALSE, NULL);
    ok = RegisterWaitForSingleObject(&wh, ev, slow_wait, NULL, INFINITE,
                                     WT_EXECUTEONLYONCE);
    SetEvent(ev);
    WaitForSingleObject(g_in, 5000);
    SetLastError(0);
    r = UnregisterWaitEx(wh, done);
    err = GetLastError();
    BOOL set_early = WaitForSingleObject(done, 0) == WAIT_OBJECT_0;
    BOOL set_later = WaitForSingleObject(done, 5000) == WAIT_OBJECT_0;
    CHECK(S11, "[obs]", "UnregisterWaitEx(event) while the callback runs: "
                        "FALSE, ERROR_IO_PENDING; the event is set once it "
                        "returns (CONFORMANCE K120)",
          ok && !r && err == ERROR_IO_PENDING && !set_early && set_later &&
              conf_get(&g_calls) == 1);

    reset();
    g_handle_seen = 0;
    SetEvent(ev);
    ok = RegisterWaitForSingleObject((PHANDLE)&g_wait_handle, ev,
                                     check_handle, NULL, INFINITE,
                                     WT_EXECUTEINWAITTHREAD |
                                         WT_EXECUTEONLYONCE);
    conf_wait_count(&g_calls, 1, 5000);
    CHECK(S11, "[obs]", "*phNewWaitObject is stored before the callback "
                        "runs, even for a signalled handle with "
                        "WT_EXECUTEINWAITTHREAD (CONFORMANCE K124)",
          ok && conf_get(&g_handle_seen) == 1);
    UnregisterWaitEx(g_wait_handle, INVALID_HANDLE_VALUE);

    reset();
    g_unreg_own = 0;
    ok = RegisterWaitForSingleObject((PHANDLE)&g_wait_handle, ev,
                                     unregister_own, (PVOID)&g_wait_handle,
                                     INFINITE, WT_EXECUTEINWAITTHREAD);
    SetEvent(ev);
    conf_wait_count(&g_calls, 1, 5000);
    CHECK(S11, "[obs]", "UnregisterWait from the wait's own "
                        "WT_EXECUTEINWAITTHREAD callback returns TRUE "
                        "(Wine 8.0: FALSE, ERROR_IO_PENDING; CONFORMANCE "
                        "K125)",
          ok && conf_get(&g_unreg_own) == 1);

    SetLastError(0);
    r = UnregisterWait(NULL);
    err = GetLastError();
    CHECK(S11, "[obs]", "UnregisterWait(NULL): FALSE, ERROR_INVALID_HANDLE "
                        "(CONFORMANCE K121)",
          !r && err == ERROR_INVALID_HANDLE);

    /* Timer queues. */
    HANDLE q = CreateTimerQueue();
    CHECK(S11, "[doc]", "CreateTimerQueue returns a handle", q != NULL);
    HANDLE t = NULL;
    reset();
    ok = CreateTimerQueueTimer(&t, q, on_wait, NULL, 50, 0,
                               WT_EXECUTEDEFAULT);
    conf_wait_count(&g_calls, 1, 5000);
    Sleep(150);
    CHECK(S11, "[obs]", "a one-shot timer-queue timer fires once, with "
                        "TimerOrWaitFired TRUE (CONFORMANCE K127)",
          ok && conf_get(&g_calls) == 1 && conf_get(&g_fired_true) == 1);
    r = DeleteTimerQueueTimer(q, t, INVALID_HANDLE_VALUE);
    CHECK(S11, "[obs]", "DeleteTimerQueueTimer(q, t, INVALID_HANDLE_VALUE) "
                        "returns TRUE (CONFORMANCE K131)",
          r);

    reset();
    ok = CreateTimerQueueTimer(&t, q, on_wait, NULL, 20, 20,
                               WT_EXECUTEDEFAULT);
    BOOL periodic = conf_wait_count(&g_calls, 3, 5000);
    r = DeleteTimerQueueTimer(q, t, INVALID_HANDLE_VALUE);
    CHECK(S11, "[obs]", "a periodic timer-queue timer keeps firing "
                        "(CONFORMANCE K127)",
          ok && periodic);

    reset();
    ok = CreateTimerQueueTimer(&t, q, on_wait, NULL, 10000, 0,
                               WT_EXECUTEDEFAULT);
    BOOL changed = ChangeTimerQueueTimer(q, t, 0, 0);
    CHECK(S11, "[obs]", "ChangeTimerQueueTimer on a pending one-shot (10 s "
                        "to 0) fires it (CONFORMANCE K132)",
          ok && changed && conf_wait_count(&g_calls, 1, 5000));
    Sleep(50);
    changed = ChangeTimerQueueTimer(q, t, 0, 0);
    Sleep(150);
    CHECK(S11, "[obs]", "on a one-shot that has fired it returns TRUE and "
                        "does nothing (CONFORMANCE K132)",
          changed && conf_get(&g_calls) == 1);
    ResetEvent(done);
    r = DeleteTimerQueueTimer(q, t, done);
    CHECK(S11, "[obs]", "DeleteTimerQueueTimer(q, t, event) on an idle timer: "
                        "TRUE, and the event is set (CONFORMANCE K130)",
          r && WaitForSingleObject(done, 5000) == WAIT_OBJECT_0);

    reset();
    InterlockedExchange(&g_self_result, 0);
    ok = CreateTimerQueueTimer((PHANDLE)&g_self_timer, q, self_delete, q, 20,
                               500, WT_EXECUTEDEFAULT);
    conf_wait_count(&g_calls, 1, 5000);
    Sleep(700); /* past the next period */
    CHECK(S11, "[obs]", "DeleteTimerQueueTimer(q, t, NULL) from t's own "
                        "callback: FALSE with ERROR_IO_PENDING, no further "
                        "callbacks (CONFORMANCE K133)",
          ok && conf_get(&g_self_result) == 1 && conf_get(&g_calls) == 1);

    reset();
    ok = CreateTimerQueueTimer(&t, q, slow_wait, NULL, 0, 0,
                               WT_EXECUTEDEFAULT);
    WaitForSingleObject(g_in, 5000);
    SetLastError(0);
    r = DeleteTimerQueueTimer(q, t, NULL);
    err = GetLastError();
    CHECK(S11, "[obs]", "DeleteTimerQueueTimer(q, t, NULL) while its "
                        "callback runs: FALSE, ERROR_IO_PENDING "
                        "(CONFORMANCE K129)",
          ok && !r && err == ERROR_IO_PENDING);
    conf_wait_count(&g_calls, 1, 5000);
    Sleep(50);

    reset();
    ok = CreateTimerQueueTimer(&t, q, on_wait, NULL, 0, 300,
                               WT_EXECUTEDEFAULT);
    r = DeleteTimerQueueTimer(q, t, NULL);
    conf_wait_count(&g_calls, 1, 2000);
    Sleep(50);
    CHECK(S11, "[obs]", "a timer due at once, deleted (NULL event) straight "
                        "after creation, has still run once (CONFORMANCE "
                        "K135)",
          ok && conf_get(&g_calls) == 1);

    reset();
    ok = CreateTimerQueueTimer(&t, q, in_timer_thread, NULL, 10, 10,
                               WT_EXECUTEINTIMERTHREAD);
    conf_wait_count(&g_calls, 3, 5000);
    DeleteTimerQueueTimer(q, t, INVALID_HANDLE_VALUE);
    CHECK(S11, "[doc]", "WT_EXECUTEINTIMERTHREAD callbacks all run on one "
                        "thread, not the caller's (CONFORMANCE K136)",
          ok && g_timer_threads[0] == g_timer_threads[1] &&
              g_timer_threads[1] == g_timer_threads[2] &&
              g_timer_threads[0] != GetCurrentThreadId());

    reset();
    ok = CreateTimerQueueTimer(&t, NULL, on_wait, NULL, 20, 0,
                               WT_EXECUTEDEFAULT);
    conf_wait_count(&g_calls, 1, 5000);
    r = DeleteTimerQueueTimer(NULL, t, INVALID_HANDLE_VALUE);
    CHECK(S11, "[obs]", "the default queue (NULL) works for create and "
                        "delete (CONFORMANCE K134)",
          ok && conf_get(&g_calls) == 1 && r);

    reset();
    ok = CreateTimerQueueTimer(&t, q, on_wait, NULL, 10, 10,
                               WT_EXECUTEDEFAULT);
    conf_wait_count(&g_calls, 1, 5000);
    r = DeleteTimerQueueEx(q, INVALID_HANDLE_VALUE);
    LONG at_delete = conf_get(&g_calls);
    Sleep(100);
    CHECK(S11, "[obs]", "DeleteTimerQueueEx(q, INVALID_HANDLE_VALUE) waits "
                        "for its callbacks, returns TRUE, and its timers stop "
                        "(CONFORMANCE K128)",
          ok && r && conf_get(&g_calls) == at_delete);

    q = CreateTimerQueue();
    SetLastError(0);
    r = DeleteTimerQueueEx(q, NULL);
    err = GetLastError();
    CHECK(S11, "[obs]", "DeleteTimerQueueEx(q, NULL) returns TRUE on Vista "
                        "and later (Wine: FALSE, ERROR_IO_PENDING; "
                        "CONFORMANCE K126)",
          r);
    (void)err;
    SetLastError(0);
    r = DeleteTimerQueueEx(NULL, NULL);
    err = GetLastError();
    CHECK(S11, "[obs]", "DeleteTimerQueueEx(NULL, ...): FALSE, "
                        "ERROR_INVALID_HANDLE (CONFORMANCE K126)",
          !r && err == ERROR_INVALID_HANDLE);

    /* BindIoCompletionCallback. */
    char dir[MAX_PATH], path[MAX_PATH];
    GetTempPathA(sizeof dir, dir);
    GetTempFileNameA(dir, "ntp", 0, path);
    HANDLE plain = CreateFileA(path, GENERIC_READ | GENERIC_WRITE, 0, NULL,
                               CREATE_ALWAYS, FILE_FLAG_DELETE_ON_CLOSE, NULL);
    SetLastError(0);
    r = BindIoCompletionCallback(plain, on_bound, 0);
    err = GetLastError();
    CHECK(S11, "[obs]", "BindIoCompletionCallback on a handle without "
                        "FILE_FLAG_OVERLAPPED: FALSE, ERROR_INVALID_PARAMETER "
                        "(CONFORMANCE K138)",
          !r && err == ERROR_INVALID_PARAMETER);
    CloseHandle(plain);

    GetTempFileNameA(dir, "ntp", 0, path);
    HANDLE f = CreateFileA(path, GENERIC_READ | GENERIC_WRITE, 0, NULL,
                           CREATE_ALWAYS,
                           FILE_FLAG_OVERLAPPED | FILE_FLAG_DELETE_ON_CLOSE,
                           NULL);
    reset();
    r = BindIoCompletionCallback(f, on_bound, 0);
    OVERLAPPED ov;
    memset(&ov, 0, sizeof ov);
    BOOL w = WriteFile(f, "abc", 3, NULL, &ov);
    BOOL went = w || GetLastError() == ERROR_IO_PENDING;
    conf_wait_count(&g_calls, 1, 5000);
    CHECK(S11, "[obs]", "an overlapped handle binds (TRUE) and each "
                        "completion calls the routine with (error, bytes, "
                        "OVERLAPPED) (CONFORMANCE K138)",
          r && went && conf_get(&g_calls) == 1 && g_bound_err == NO_ERROR &&
              g_bound_bytes == 3 && g_bound_ov == &ov);
    SetLastError(0);
    r = BindIoCompletionCallback(f, on_bound, 0);
    err = GetLastError();
    CHECK(S11, "[obs]", "binding it again: FALSE, ERROR_INVALID_PARAMETER "
                        "(CONFORMANCE K138)",
          !r && err == ERROR_INVALID_PARAMETER);
    SetLastError(0);
    r = BindIoCompletionCallback(f, NULL, 0);
    err = GetLastError();
    CHECK(S11, "[obs]", "a NULL routine: FALSE, ERROR_INVALID_PARAMETER "
                        "(CONFORMANCE K138)",
          !r && err == ERROR_INVALID_PARAMETER);
    CloseHandle(f);
    SetLastError(0);
    r = BindIoCompletionCallback(NULL, on_bound, 0);
    err = GetLastError();
    CHECK(S11, "[obs]", "a NULL handle: FALSE, ERROR_INVALID_HANDLE "
                        "(CONFORMANCE K138)",
          !r && err == ERROR_INVALID_HANDLE);

    CloseHandle(done);
    CloseHandle(ev);
    CloseHandle(g_in);
    CloseHandle(g_gate);
}
