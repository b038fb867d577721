/*
 * wait.c -- SPEC 8: thread-pool waits.
 */
#include "conformance.h"

static LONG volatile g_calls, g_signalled, g_timeouts;
static ULONGLONG volatile g_at;
static PTP_WAIT volatile g_self;
static PVOID volatile g_ctx;

static VOID CALLBACK
on_wait(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_WAIT w, TP_WAIT_RESULT r)
{
    (void)i;
    g_self = w;
    g_ctx = ctx;
    g_at = conf_now_ms();
    if (r == WAIT_OBJECT_0)
        InterlockedIncrement(&g_signalled);
    else if (r == WAIT_TIMEOUT)
        InterlockedIncrement(&g_timeouts);
    InterlockedIncrement(&g_calls);
}

#define MANY 100
static LONG volatile g_many[MANY];

static VOID CALLBACK
on_many(PTP_CALLBACK_INSTANCE i, PVOID ctx, PTP_WAIT w, TP_WAIT_RESULT r)
{
    (void)i, (void)w;
    if (r == WAIT_OBJECT_0)
        InterlockedIncrement(&g_many[(ULONG_PTR)ctx]);
}

static void
reset(void)
{
    InterlockedExchange(&g_calls, 0);
    InterlockedExchange(&g_signalled, 0);
    InterlockedExchange(&g_timeouts, 0);
}

typedef BOOL(WINAPI *set_wait_ex_fn)(PTP_WAIT, HANDLE, PFILETIME, PVOID);

static set_wait_ex_fn
find_set_wait_ex(void)
{
#ifdef _WIN32
    HMODULE k = GetModuleHandleA("kernel32.dll");
    return k ? (set_wait_ex_fn)(void *)GetProcAddress(k, "SetThreadpoolWaitEx")
             : NULL;
#else
    return SetThreadpoolWaitEx;
#endif
}

void
conf_wait(void)
{
    const char *S8 = "SPEC 8";
    PTP_POOL pool = conf_pool(0, 4);
    TP_CALLBACK_ENVIRON env;
    conf_env(&env, pool);
    HANDLE ev = CreateEvent(NULL, FALSE, FALSE, NULL);
    reset();
    PTP_WAIT w = CreateThreadpoolWait(on_wait, (PVOID)0x99, &env);
    SetThreadpoolWait(w, ev, NULL);
    Sleep(50);
    BOOL none_yet = conf_get(&g_calls) == 0;
    SetEvent(ev);
    conf_wait_count(&g_calls, 1, 5000);
    CHECK(S8, "[obs]", "SetThreadpoolWait(w, event, NULL) waits with no "
                       "timeout; SetEvent gives one WAIT_OBJECT_0 callback "
                       "(CONFORMANCE I83)",
          none_yet && conf_get(&g_signalled) == 1 && conf_get(&g_calls) == 1);
    CHECK(S8, "[obs]", "the callback gets the context and the wait "
                       "(CONFORMANCE I99)",
          g_self == w && g_ctx == (PVOID)0x99);
    CHECK(S8, "[obs]", "the wait consumed the auto-reset event (SPEC 13.1, "
                       "CONFORMANCE I84)",
          WaitForSingleObject(ev, 0) == WAIT_TIMEOUT);
    SetEvent(ev);
    Sleep(150);
    CHECK(S8, "[doc]", "one-shot: a second signal gives no callback until "
                       "SetThreadpoolWait again (CONFORMANCE I85)",
          conf_get(&g_calls) == 1);
    SetThreadpoolWait(w, ev, NULL);
    CHECK(S8, "[doc]", "re-armed on the still-signalled event, it fires at "
                       "once (CONFORMANCE I86)",
          conf_wait_count(&g_calls, 2, 5000) && conf_get(&g_signalled) == 2);

    HANDLE sem = CreateSemaphore(NULL, 0, 5, NULL);
    reset();
    SetThreadpoolWait(w, sem, NULL);
    ReleaseSemaphore(sem, 2, NULL);
    conf_wait_count(&g_calls, 1, 5000);
    LONG prev = -1;
    ReleaseSemaphore(sem, 1, &prev);
    CHECK(S8, "[obs]", "a semaphore wait takes one count: 2 released, 1 left "
                       "(CONFORMANCE I84)",
          conf_get(&g_signalled) == 1 && prev == 1);
    CloseHandle(sem);

    HANDLE manual = CreateEvent(NULL, TRUE, TRUE, NULL);
    reset();
    SetThreadpoolWait(w, manual, NULL);
    conf_wait_count(&g_calls, 1, 5000);
    Sleep(200);
    CHECK_EQ(S8, "[doc]", "a manual-reset event left signalled gives exactly "
                          "one callback per SetThreadpoolWait "
                          "(CONFORMANCE I87)",
             conf_get(&g_calls), 1);

    reset();
    ULONGLONG t0 = conf_now_ms();
    FILETIME ft = conf_ft_rel(150);
    SetThreadpoolWait(w, ev, &ft);
    conf_wait_count(&g_calls, 1, 5000);
    CHECK(S8, "[obs]", "a relative timeout gives one WAIT_TIMEOUT callback, "
                       "not early (CONFORMANCE I88)",
          conf_get(&g_timeouts) == 1 && g_at - t0 >= 130);
    SetEvent(ev);
    CHECK(S8, "[obs]", "... and a timeout does not consume the handle",
          WaitForSingleObject(ev, 0) == WAIT_OBJECT_0);

    reset();
    ft = conf_ft_abs(150);
    t0 = conf_now_ms();
    SetThreadpoolWait(w, ev, &ft);
    conf_wait_count(&g_calls, 1, 5000);
    CHECK(S8, "[obs]", "an absolute timeout gives WAIT_TIMEOUT at that time",
          conf_get(&g_timeouts) == 1 && g_at - t0 >= 130);

    reset();
    ft = conf_ft_rel(2000);
    SetThreadpoolWait(w, ev, &ft);
    SetEvent(ev);
    conf_wait_count(&g_calls, 1, 5000);
    Sleep(100);
    CHECK(S8, "[obs]", "a signal before the timeout: WAIT_OBJECT_0 and no "
                       "timeout callback later (CONFORMANCE I89)",
          conf_get(&g_signalled) == 1 && conf_get(&g_timeouts) == 0);

    reset();
    ft.dwLowDateTime = ft.dwHighDateTime = 0;
    SetThreadpoolWait(w, ev, &ft);
    conf_wait_count(&g_calls, 1, 5000);
    CHECK(S8, "[obs]", "timeout 0 on an unsignalled handle: an immediate "
                       "WAIT_TIMEOUT (CONFORMANCE I90)",
          conf_get(&g_timeouts) == 1);

    reset();
    SetEvent(ev);
    SetThreadpoolWait(w, ev, &ft);
    conf_wait_count(&g_calls, 1, 5000);
    CHECK(S8, "[doc]", "timeout 0 on a signalled handle: WAIT_OBJECT_0, the "
                       "signal consumed (Wine reports WAIT_TIMEOUT: "
                       "CONFORMANCE I91)",
          conf_get(&g_signalled) == 1 && WaitForSingleObject(ev, 0) == WAIT_TIMEOUT);

    reset();
    ResetEvent(ev); /* whatever the check above left */
    SetThreadpoolWait(w, ev, NULL);
    SetThreadpoolWait(w, NULL, (PFILETIME)(ULONG_PTR)0xdeadbeef);
    SetEvent(ev);
    Sleep(150);
    CHECK(S8, "[obs]", "SetThreadpoolWait(w, NULL, garbage) cancels: no "
                       "callback, the handle not consumed (CONFORMANCE I92)",
          conf_get(&g_calls) == 0 && WaitForSingleObject(ev, 0) == WAIT_OBJECT_0);

    HANDLE ev2 = CreateEvent(NULL, FALSE, FALSE, NULL);
    reset();
    SetThreadpoolWait(w, ev, NULL);
    SetThreadpoolWait(w, ev2, NULL);
    SetEvent(ev);
    Sleep(150);
    BOOL old_ignored = conf_get(&g_calls) == 0;
    SetEvent(ev2);
    conf_wait_count(&g_calls, 1, 5000);
    CHECK(S8, "[doc]", "a new handle replaces the old: signalling the old "
                       "does nothing (CONFORMANCE I93)",
          old_ignored && conf_get(&g_signalled) == 1);
    ResetEvent(ev);

    reset();
    SetThreadpoolWait(w, INVALID_HANDLE_VALUE, &ft);
    conf_wait_count(&g_calls, 1, 5000);
    CHECK(S8, "[obs]", "INVALID_HANDLE_VALUE (the process) with timeout 0: "
                       "WAIT_TIMEOUT (CONFORMANCE I94)",
          conf_get(&g_timeouts) == 1);

    reset();
    ft = conf_ft_rel(150);
    SetThreadpoolWait(w, ev, &ft);
    WaitForThreadpoolWaitCallbacks(w, TRUE);
    conf_wait_count(&g_calls, 1, 5000);
    CHECK(S8, "[obs]", "WaitForThreadpoolWaitCallbacks(TRUE) does not disarm "
                       "a pending wait: its timeout still comes "
                       "(CONFORMANCE I95)",
          conf_get(&g_timeouts) == 1);

    PTP_WAIT w2 = CreateThreadpoolWait(on_wait, NULL, &env);
    reset();
    SetThreadpoolWait(w, ev, NULL);
    SetThreadpoolWait(w2, ev, NULL);
    SetEvent(ev);
    conf_wait_count(&g_calls, 1, 5000);
    Sleep(150);
    BOOL one = conf_get(&g_calls) == 1;
    SetEvent(ev);
    conf_wait_count(&g_calls, 2, 5000);
    CHECK(S8, "[obs]", "two waits on one auto-reset event: one signal, one "
                       "callback; the other stays armed (CONFORMANCE I96)",
          one && conf_get(&g_calls) == 2);

    reset();
    SetThreadpoolWait(w, ev, NULL);
    CloseThreadpoolWait(w);
    SetEvent(ev);
    Sleep(150);
    CHECK(S8, "[doc]", "CloseThreadpoolWait on an armed wait: no callback "
                       "(CONFORMANCE I98)",
          conf_get(&g_calls) == 0);

    set_wait_ex_fn set_ex = find_set_wait_ex();
    if (set_ex == NULL) {
        conf_skip(S8, "[doc]", "SetThreadpoolWaitEx reports whether it "
                               "cancelled an armed wait",
                  "not exported here, as in Wine 8.0 (CONFORMANCE H82)");
    } else {
        ResetEvent(ev);
        BOOL fresh = set_ex(w2, ev, NULL, NULL);
        BOOL armed = set_ex(w2, NULL, NULL, NULL);
        CHECK(S8, "[doc]", "SetThreadpoolWaitEx reports whether it "
                           "cancelled an armed wait",
              fresh == FALSE && armed == TRUE);
    }
    WaitForThreadpoolWaitCallbacks(w2, TRUE);
    CloseThreadpoolWait(w2);

    /* More waits than MAXIMUM_WAIT_OBJECTS. */
    HANDLE evs[MANY];
    PTP_WAIT ws[MANY];
    for (int k = 0; k < MANY; k++) {
        g_many[k] = 0;
        evs[k] = CreateEvent(NULL, FALSE, FALSE, NULL);
        ws[k] = CreateThreadpoolWait(on_many, (PVOID)(ULONG_PTR)k, &env);
        SetThreadpoolWait(ws[k], evs[k], NULL);
    }
    for (int k = MANY - 1; k >= 0; k--)
        SetEvent(evs[k]);
    BOOL all = TRUE;
    for (int k = 0; k < MANY; k++) {
        all = all && conf_wait_count(&g_many[k], 1, 5000) && g_many[k] == 1;
        WaitForThreadpoolWaitCallbacks(ws[k], FALSE);
        CloseThreadpoolWait(ws[k]);
        CloseHandle(evs[k]);
    }
    CHECK(S8, "[obs]", "100 waits (more than MAXIMUM_WAIT_OBJECTS) each fire "
                       "once with their own context (CONFORMANCE I97)",
          all);

#ifndef _WIN32
    HANDLE mutex = CreateMutex(NULL, FALSE, NULL);
    w = CreateThreadpoolWait(on_wait, NULL, &env);
    reset();
    SetThreadpoolWait(w, mutex, NULL);
    Sleep(100);
    CHECK(S8, "[proj]", "a mutex is refused as a wait target: no callback, "
                        "the mutex not taken; Windows raises an exception "
                        "(ntpool only)",
          conf_get(&g_calls) == 0 && WaitForSingleObject(mutex, 0) == WAIT_OBJECT_0);
    ReleaseMutex(mutex);
    CloseThreadpoolWait(w);
    CloseHandle(mutex);
#endif

    CloseHandle(ev);
    CloseHandle(ev2);
    CloseHandle(manual);
    CloseThreadpool(pool);
}
