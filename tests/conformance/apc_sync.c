/*
 * apc_sync.c -- SPEC 12 (APCs, alertable waits, SignalObjectAndWait) and
 * SPEC 13 (events, semaphores, mutexes, critical sections, waitable
 * timers, the wait functions).
 */
#include "conformance.h"

static char g_apc_log[8];
static LONG volatile g_apc_n;

static VOID CALLBACK
apc(ULONG_PTR c)
{
    LONG k = InterlockedIncrement(&g_apc_n) - 1;
    if (k < 7)
        g_apc_log[k] = (char)c;
}

static HANDLE g_ready, g_mutex;

static DWORD WINAPI
alertable_sleeper(LPVOID arg)
{
    (void)arg;
    SetEvent(g_ready);
    return SleepEx(5000, TRUE);
}

static DWORD WINAPI
quick(LPVOID arg)
{
    return (DWORD)(ULONG_PTR)arg;
}

static DWORD WINAPI
abandon(LPVOID arg)
{
    (void)arg;
    WaitForSingleObject(g_mutex, INFINITE);
    return 0; /* exits owning it */
}

static DWORD WINAPI
take_cs(LPVOID arg)
{
    return TryEnterCriticalSection((CRITICAL_SECTION *)arg) ? 1 : 0;
}

static DWORD WINAPI
take_mutex_try(LPVOID arg)
{
    (void)arg;
    DWORD r = WaitForSingleObject(g_mutex, 0);
    if (r == WAIT_OBJECT_0)
        ReleaseMutex(g_mutex);
    return r;
}

static LONG volatile g_timer_apc;
static LONG volatile g_discarded;

static VOID CALLBACK
count_apc(ULONG_PTR c)
{
    (void)c;
    InterlockedIncrement(&g_discarded);
}

static DWORD WINAPI
queue_to_self_and_exit(LPVOID arg)
{
    (void)arg;
    QueueUserAPC(count_apc, GetCurrentThread(), 0);
    return 0; /* exits with the APC still queued */
}

static HANDLE g_pulse;

static DWORD WINAPI
wait_pulse(LPVOID arg)
{
    (void)arg;
    SetEvent(g_ready);
    return WaitForSingleObject(g_pulse, 5000);
}

static VOID CALLBACK
timer_apc(LPVOID arg, DWORD lo, DWORD hi)
{
    (void)arg;
    if (lo || hi)
        InterlockedIncrement(&g_timer_apc);
}

void
conf_apc_sync(void)
{
    const char *S12 = "SPEC 12";
    InterlockedExchange(&g_apc_n, 0);
    memset(g_apc_log, 0, sizeof g_apc_log);
    BOOL q = QueueUserAPC(apc, GetCurrentThread(), 'a') &&
             QueueUserAPC(apc, GetCurrentThread(), 'b') &&
             QueueUserAPC(apc, GetCurrentThread(), 'c');
    DWORD r = SleepEx(10, FALSE);
    CHECK(S12, "[doc]", "queued APCs do not run in a non-alertable "
                        "SleepEx (CONFORMANCE K139)",
          q && r == 0 && conf_get(&g_apc_n) == 0);
    r = SleepEx(1000, TRUE);
    CHECK(S12, "[doc]", "SleepEx(ms, TRUE) runs all queued APCs in FIFO "
                        "order and returns WAIT_IO_COMPLETION",
          r == WAIT_IO_COMPLETION && strcmp(g_apc_log, "abc") == 0);
    ULONGLONG t0 = conf_now_ms();
    r = SleepEx(50, TRUE);
    CHECK(S12, "[doc]", "with nothing queued SleepEx(50, TRUE) returns 0 "
                        "after the time",
          r == 0 && conf_now_ms() - t0 >= 40);

    HANDLE ev = CreateEvent(NULL, FALSE, FALSE, NULL);
    InterlockedExchange(&g_apc_n, 0);
    QueueUserAPC(apc, GetCurrentThread(), 'x');
    r = WaitForSingleObjectEx(ev, 50, FALSE);
    BOOL not_run = conf_get(&g_apc_n) == 0 && r == WAIT_TIMEOUT;
    r = WaitForSingleObjectEx(ev, 5000, TRUE);
    CHECK(S12, "[doc]", "an alertable WaitForSingleObjectEx runs the APC a "
                        "non-alertable wait left queued, and returns "
                        "WAIT_IO_COMPLETION (CONFORMANCE K140)",
          not_run && r == WAIT_IO_COMPLETION && conf_get(&g_apc_n) == 1);
    InterlockedExchange(&g_apc_n, 0);
    QueueUserAPC(apc, GetCurrentThread(), 'y');
    HANDLE hs[1] = {ev};
    r = WaitForMultipleObjectsEx(1, hs, FALSE, 5000, TRUE);
    CHECK(S12, "[doc]", "... and so does WaitForMultipleObjectsEx",
          r == WAIT_IO_COMPLETION && conf_get(&g_apc_n) == 1);

    g_ready = CreateEvent(NULL, FALSE, FALSE, NULL);
    InterlockedExchange(&g_apc_n, 0);
    HANDLE t = CreateThread(NULL, 0, alertable_sleeper, NULL, 0, NULL);
    WaitForSingleObject(g_ready, 5000);
    Sleep(50);
    QueueUserAPC(apc, t, 'z');
    WaitForSingleObject(t, 5000);
    DWORD code = 0;
    GetExitCodeThread(t, &code);
    CHECK(S12, "[doc]", "an APC queued from another thread wakes a thread in "
                        "SleepEx(5000, TRUE), which returns "
                        "WAIT_IO_COMPLETION (CONFORMANCE K140)",
          code == WAIT_IO_COMPLETION && conf_get(&g_apc_n) == 1);
    SetLastError(0);
    BOOL qr = QueueUserAPC(apc, t, 'q');
    DWORD err = GetLastError();
    CHECK(S12, "[obs]", "QueueUserAPC to a thread that has exited: FALSE, "
                        "ERROR_GEN_FAILURE (CONFORMANCE K142)",
          !qr && err == ERROR_GEN_FAILURE);
    CloseHandle(t);

    g_apc_n = 0;
    SetEvent(ev);
    QueueUserAPC(apc, GetCurrentThread(), 'w');
    r = WaitForSingleObjectEx(ev, 0, TRUE);
    LONG ran_then = conf_get(&g_apc_n);
    DWORD later = SleepEx(0, TRUE);
    CHECK(S12, "[proj]", "an alertable wait on an already signalled object "
                         "with an APC pending returns WAIT_OBJECT_0 and "
                         "leaves the APC queued for the next one "
                         "(CONFORMANCE K143)",
          r == WAIT_OBJECT_0 && ran_then == 0 && later == WAIT_IO_COMPLETION &&
              conf_get(&g_apc_n) == 1);

    g_discarded = 0;
    t = CreateThread(NULL, 0, queue_to_self_and_exit, NULL, 0, NULL);
    WaitForSingleObject(t, 5000);
    CloseHandle(t);
    Sleep(50);
    CHECK(S12, "[doc]", "APCs still queued when their thread exits are "
                        "discarded, never run",
          conf_get(&g_discarded) == 0);

    HANDLE ev2 = CreateEvent(NULL, FALSE, FALSE, NULL);
    SetEvent(ev2);
    r = SignalObjectAndWait(ev, ev2, 1000, FALSE);
    CHECK(S12, "[doc]", "SignalObjectAndWait sets one event and waits on "
                        "another",
          r == WAIT_OBJECT_0 && WaitForSingleObject(ev, 0) == WAIT_OBJECT_0);
    g_mutex = CreateMutex(NULL, FALSE, NULL);
    SetLastError(0);
    r = SignalObjectAndWait(g_mutex, ev2, 0, FALSE);
    err = GetLastError();
    CHECK(S12, "[doc]", "SignalObjectAndWait with a mutex we do not own: "
                        "WAIT_FAILED, ERROR_NOT_OWNER",
          r == WAIT_FAILED && err == ERROR_NOT_OWNER);

    /* ---- 13 ---- */
    const char *S13 = "SPEC 13";
    HANDLE man = CreateEvent(NULL, TRUE, FALSE, NULL);
    SetEvent(man);
    CHECK(S13, "[doc]", "a manual-reset event stays signalled for every "
                        "waiter until ResetEvent",
          WaitForSingleObject(man, 0) == WAIT_OBJECT_0 &&
              WaitForSingleObject(man, 0) == WAIT_OBJECT_0 && ResetEvent(man) &&
              WaitForSingleObject(man, 0) == WAIT_TIMEOUT);
    SetEvent(ev);
    CHECK(S13, "[doc]", "an auto-reset event releases one waiter, then "
                        "resets itself",
          WaitForSingleObject(ev, 0) == WAIT_OBJECT_0 &&
              WaitForSingleObject(ev, 0) == WAIT_TIMEOUT);
    SetEvent(man);
    PulseEvent(man);
    CHECK(S13, "[doc]", "PulseEvent with no waiter just resets",
          WaitForSingleObject(man, 0) == WAIT_TIMEOUT);
    g_pulse = CreateEvent(NULL, TRUE, FALSE, NULL);
    t = CreateThread(NULL, 0, wait_pulse, NULL, 0, NULL);
    WaitForSingleObject(g_ready, 5000);
    Sleep(100); /* let it block in its wait */
    PulseEvent(g_pulse);
    WaitForSingleObject(t, 10000);
    GetExitCodeThread(t, &code);
    CloseHandle(t);
    CHECK(S13, "[doc]", "PulseEvent on a manual-reset event releases the "
                        "thread waiting, then resets",
          code == WAIT_OBJECT_0 &&
              WaitForSingleObject(g_pulse, 0) == WAIT_TIMEOUT);
    CloseHandle(g_pulse);

    SetLastError(0);
    HANDLE bad = CreateSemaphore(NULL, 3, 2, NULL);
    err = GetLastError();
    CHECK(S13, "[proj]", "CreateSemaphore(initial 3 > max 2): NULL, "
                         "ERROR_INVALID_PARAMETER",
          bad == NULL && err == ERROR_INVALID_PARAMETER);
    HANDLE sem = CreateSemaphore(NULL, 1, 2, NULL);
    LONG prev = -1;
    BOOL rel = ReleaseSemaphore(sem, 1, &prev);
    SetLastError(0);
    BOOL over = ReleaseSemaphore(sem, 1, NULL);
    err = GetLastError();
    int takes = 0;
    while (takes < 4 && WaitForSingleObject(sem, 0) == WAIT_OBJECT_0)
        takes++;
    CHECK(S13, "[doc]", "ReleaseSemaphore gives the previous count; past the "
                        "maximum it fails with ERROR_TOO_MANY_POSTS and "
                        "changes nothing",
          rel && prev == 1 && !over && err == ERROR_TOO_MANY_POSTS &&
              takes == 2);

    SetLastError(0);
    rel = ReleaseSemaphore(sem, 0, NULL);
    err = GetLastError();
    CHECK(S13, "[proj]", "ReleaseSemaphore(sem, 0): FALSE, "
                         "ERROR_INVALID_PARAMETER",
          !rel && err == ERROR_INVALID_PARAMETER);

    HANDLE mx = CreateMutex(NULL, TRUE, NULL);
    BOOL rec = WaitForSingleObject(mx, 0) == WAIT_OBJECT_0;
    BOOL rel1 = ReleaseMutex(mx), rel2 = ReleaseMutex(mx);
    SetLastError(0);
    BOOL rel3 = ReleaseMutex(mx);
    err = GetLastError();
    CHECK(S13, "[doc]", "mutexes are recursive; one ReleaseMutex per "
                        "acquisition; one more fails with ERROR_NOT_OWNER",
          rec && rel1 && rel2 && !rel3 && err == ERROR_NOT_OWNER);
    CloseHandle(mx);

    t = CreateThread(NULL, 0, abandon, NULL, 0, NULL);
    WaitForSingleObject(t, 5000);
    CloseHandle(t);
    r = WaitForSingleObject(g_mutex, 1000);
    t = CreateThread(NULL, 0, take_mutex_try, NULL, 0, NULL);
    WaitForSingleObject(t, 5000);
    GetExitCodeThread(t, &code);
    CloseHandle(t);
    CHECK(S13, "[doc]", "a mutex whose owner exited is abandoned: the next "
                        "wait gets WAIT_ABANDONED and owns it",
          r == WAIT_ABANDONED && code == WAIT_TIMEOUT);
    ReleaseMutex(g_mutex);
    CHECK(S13, "[doc]", "once released it is an ordinary mutex again",
          WaitForSingleObject(g_mutex, 0) == WAIT_OBJECT_0 &&
              ReleaseMutex(g_mutex));

    HANDLE two[2] = {man, ev};
    SetEvent(man);
    SetEvent(ev);
    r = WaitForMultipleObjects(2, two, FALSE, 0);
    CHECK(S13, "[doc]", "WaitForMultipleObjects(any) returns the lowest "
                        "signalled index and changes only that object",
          r == WAIT_OBJECT_0 && WaitForSingleObject(ev, 0) == WAIT_OBJECT_0);
    ResetEvent(man);
    SetEvent(ev);
    r = WaitForMultipleObjects(2, two, TRUE, 50);
    CHECK(S13, "[doc]", "wait-all with one object unsignalled times out and "
                        "takes nothing",
          r == WAIT_TIMEOUT && WaitForSingleObject(ev, 0) == WAIT_OBJECT_0);
    SetEvent(man);
    SetEvent(ev);
    r = WaitForMultipleObjects(2, two, TRUE, 0);
    CHECK(S13, "[doc]", "wait-all with both signalled takes both at once",
          r == WAIT_OBJECT_0 && WaitForSingleObject(ev, 0) == WAIT_TIMEOUT);
    HANDLE dup[2] = {ev, ev};
    SetLastError(0);
    r = WaitForMultipleObjects(2, dup, FALSE, 0);
    err = GetLastError();
    CHECK(S13, "[proj]", "a duplicate handle: WAIT_FAILED, "
                         "ERROR_INVALID_PARAMETER",
          r == WAIT_FAILED && err == ERROR_INVALID_PARAMETER);
    SetLastError(0);
    r = WaitForSingleObject(NULL, 0);
    err = GetLastError();
    CHECK(S13, "[doc]", "WaitForSingleObject(NULL): WAIT_FAILED, "
                        "ERROR_INVALID_HANDLE",
          r == WAIT_FAILED && err == ERROR_INVALID_HANDLE);

    CRITICAL_SECTION cs;
    InitializeCriticalSection(&cs);
    EnterCriticalSection(&cs);
    BOOL again = TryEnterCriticalSection(&cs);
    t = CreateThread(NULL, 0, take_cs, &cs, 0, NULL);
    WaitForSingleObject(t, 5000);
    GetExitCodeThread(t, &code);
    CloseHandle(t);
    LeaveCriticalSection(&cs);
    LeaveCriticalSection(&cs);
    CHECK(S13, "[doc]", "critical sections: the owner re-enters "
                        "(TryEnter TRUE), another thread's TryEnter fails",
          again && code == 0);
    DeleteCriticalSection(&cs);

    HANDLE wt = CreateWaitableTimer(NULL, TRUE, NULL);
    LARGE_INTEGER due;
    due.QuadPart = -100 * 10000LL;
    t0 = conf_now_ms();
    BOOL st = SetWaitableTimer(wt, &due, 0, NULL, NULL, FALSE);
    BOOL early = WaitForSingleObject(wt, 0) == WAIT_TIMEOUT;
    r = WaitForSingleObject(wt, 5000);
    CHECK(S13, "[doc]", "a manual-reset waitable timer at -100 ms is "
                        "signalled after 100 ms and stays so",
          st && early && r == WAIT_OBJECT_0 && conf_now_ms() - t0 >= 80 &&
              WaitForSingleObject(wt, 0) == WAIT_OBJECT_0);
    CloseHandle(wt);
    wt = CreateWaitableTimer(NULL, FALSE, NULL);
    due.QuadPart = -20 * 10000LL;
    InterlockedExchange(&g_timer_apc, 0);
    SetWaitableTimer(wt, &due, 0, timer_apc, NULL, FALSE);
    r = WaitForSingleObject(wt, 5000);
    BOOL reset_after = WaitForSingleObject(wt, 0) == WAIT_TIMEOUT;
    DWORD s = SleepEx(1000, TRUE);
    CHECK(S13, "[doc]", "a synchronization timer is reset by the wait it "
                        "satisfies; its completion routine runs as an APC "
                        "of the thread that set it",
          r == WAIT_OBJECT_0 && reset_after && s == WAIT_IO_COMPLETION &&
              conf_get(&g_timer_apc) == 1);
    due.QuadPart = -5000 * 10000LL;
    SetWaitableTimer(wt, &due, 0, NULL, NULL, FALSE);
    BOOL cancelled = CancelWaitableTimer(wt);
    CHECK(S13, "[doc]", "CancelWaitableTimer stops it before it fires",
          cancelled && WaitForSingleObject(wt, 100) == WAIT_TIMEOUT);
    SetLastError(0);
    st = SetWaitableTimer(wt, &due, 0, NULL, NULL, TRUE);
    err = GetLastError();
    CHECK(S13, "[doc]", "SetWaitableTimer with fResume where resume is "
                        "unsupported: success with ERROR_NOT_SUPPORTED",
          st && err == ERROR_NOT_SUPPORTED);
    CancelWaitableTimer(wt);
    SetLastError(0);
    st = SetWaitableTimer(wt, &due, -1, NULL, NULL, FALSE);
    err = GetLastError();
    CHECK(S13, "[proj]", "SetWaitableTimer with a negative period: FALSE, "
                         "ERROR_INVALID_PARAMETER",
          !st && err == ERROR_INVALID_PARAMETER);
    CloseHandle(wt);

    t = CreateThread(NULL, 0, quick, (LPVOID)(ULONG_PTR)77, 0, NULL);
    r = WaitForSingleObject(t, 5000);
    GetExitCodeThread(t, &code);
    CHECK(S13, "[doc]", "a thread handle is signalled when the thread exits; "
                        "GetExitCodeThread gives its return value",
          r == WAIT_OBJECT_0 && code == 77);
    CloseHandle(t);
    CHECK(S13, "[doc]", "GetExitCodeThread on a running thread: STILL_ACTIVE",
          GetExitCodeThread(GetCurrentThread(), &code) &&
              code == STILL_ACTIVE);

    CloseHandle(g_mutex);
    CloseHandle(g_ready);
    CloseHandle(ev);
    CloseHandle(ev2);
    CloseHandle(man);
    CloseHandle(sem);
}
