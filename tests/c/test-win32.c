/*
 * test-win32.c -- <ntpool/win32.h>: Windows names, layouts, time encoding,
 * return values and GetLastError codes (SPEC 1, 3-10, 12-14), each checked
 * through the Windows API only.
 */
#include "task.h"

#include <ntpool/win32.h>

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

/* ---- layouts ---- */

TEST_IMPL(win32_callback_environ_layout_is_windows)
{
    /* TP_CALLBACK_ENVIRON_V3 as winnt.h lays it out on 64-bit Windows. */
    ASSERT_EQ(offsetof(TP_CALLBACK_ENVIRON, Version), 0);
    ASSERT_EQ(offsetof(TP_CALLBACK_ENVIRON, Pool), 8);
    ASSERT_EQ(offsetof(TP_CALLBACK_ENVIRON, CleanupGroup), 16);
    ASSERT_EQ(offsetof(TP_CALLBACK_ENVIRON, CleanupGroupCancelCallback), 24);
    ASSERT_EQ(offsetof(TP_CALLBACK_ENVIRON, RaceDll), 32);
    ASSERT_EQ(offsetof(TP_CALLBACK_ENVIRON, ActivationContext), 40);
    ASSERT_EQ(offsetof(TP_CALLBACK_ENVIRON, FinalizationCallback), 48);
    ASSERT_EQ(offsetof(TP_CALLBACK_ENVIRON, u), 56);
    ASSERT_EQ(offsetof(TP_CALLBACK_ENVIRON, CallbackPriority), 60);
    ASSERT_EQ(offsetof(TP_CALLBACK_ENVIRON, Size), 64);
    ASSERT_EQ(sizeof(TP_CALLBACK_ENVIRON), 72);

    TP_CALLBACK_ENVIRON env;
    memset(&env, 0xa5, sizeof env);
    InitializeThreadpoolEnvironment(&env);
    ASSERT_EQ(env.Version, 3);
    ASSERT_NULL(env.Pool);
    ASSERT_EQ(env.u.Flags, 0);
    ASSERT_EQ(env.CallbackPriority, TP_CALLBACK_PRIORITY_NORMAL);
    ASSERT_EQ(env.Size, sizeof env);
    SetThreadpoolCallbackRunsLong(&env);
    SetThreadpoolCallbackPersistent(&env);
    ASSERT_EQ(env.u.Flags, 3);
    ASSERT_EQ(sizeof(FILETIME), 8);
    ASSERT_EQ(sizeof(LARGE_INTEGER), 8);
}

/* ---- creation errors (SPEC 14) ---- */

static VOID CALLBACK
noop_work(PTP_CALLBACK_INSTANCE i, PVOID c, PTP_WORK w)
{
    (void)i, (void)c, (void)w;
}

TEST_IMPL(win32_create_errors_set_last_error)
{
    TP_CALLBACK_ENVIRON env;
    InitializeThreadpoolEnvironment(&env);
    SetThreadpoolCallbackPriority(&env, TP_CALLBACK_PRIORITY_INVALID);
    SetLastError(0);
    ASSERT_NULL(CreateThreadpoolWork(noop_work, NULL, &env));
    ASSERT_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    SetLastError(0);
    ASSERT_NULL(CreateThreadpoolWork(NULL, NULL, NULL));
    ASSERT_EQ(GetLastError(), ERROR_INVALID_PARAMETER);
    SetLastError(0);
    ASSERT_EQ(TrySubmitThreadpoolCallback(NULL, NULL, NULL), FALSE);
    ASSERT_EQ(GetLastError(), ERROR_INVALID_PARAMETER);

    /* Success leaves the last error alone (SPEC 1.3, [obs]). */
    SetLastError(1234);
    PTP_WORK w = CreateThreadpoolWork(noop_work, NULL, NULL);
    ASSERT_NOT_NULL(w);
    ASSERT_EQ(GetLastError(), 1234);
    CloseThreadpoolWork(w);

    /* A version-1 environment has no priority field: never read. */
    InitializeThreadpoolEnvironment(&env);
    env.Version = 1;
    env.CallbackPriority = (TP_CALLBACK_PRIORITY)77;
    w = CreateThreadpoolWork(noop_work, NULL, &env);
    ASSERT_NOT_NULL(w);
    CloseThreadpoolWork(w);

    /* Named objects are not supported here. */
    SetLastError(0);
    ASSERT_NULL(CreateEventA(NULL, TRUE, FALSE, "Global\\x"));
    ASSERT_EQ(GetLastError(), ERROR_NOT_SUPPORTED);
    ASSERT_NO_LIVE_OBJECTS();
}

static void *
other_thread_error(void *arg)
{
    (void)arg;
    SetLastError(42);
    return (void *)(uintptr_t)GetLastError();
}

TEST_IMPL(win32_last_error_is_per_thread)
{
    SetLastError(7);
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, other_thread_error, NULL), 0);
    void *got = NULL;
    pthread_join(t, &got);
    ASSERT_EQ((uintptr_t)got, 42);
    ASSERT_EQ(GetLastError(), 7);
}

/* ---- sync objects and waits (SPEC 13) ---- */

TEST_IMPL(win32_sync_results_and_codes)
{
    HANDLE sem = CreateSemaphore(NULL, 1, 2, NULL);
    ASSERT_NOT_NULL(sem);
    LONG prev = -1;
    ASSERT_EQ(ReleaseSemaphore(sem, 1, &prev), TRUE);
    ASSERT_EQ(prev, 1);
    SetLastError(0);
    ASSERT_EQ(ReleaseSemaphore(sem, 1, &prev), FALSE); /* over the max */
    ASSERT_EQ(GetLastError(), ERROR_TOO_MANY_POSTS);
    ASSERT_EQ(WaitForSingleObject(sem, 0), WAIT_OBJECT_0);
    ASSERT_EQ(WaitForSingleObject(sem, 0), WAIT_OBJECT_0);
    ASSERT_EQ(WaitForSingleObject(sem, 0), WAIT_TIMEOUT);

    HANDLE mutex = CreateMutex(NULL, TRUE, NULL);
    ASSERT_EQ(ReleaseMutex(mutex), TRUE);
    SetLastError(0);
    ASSERT_EQ(ReleaseMutex(mutex), FALSE);
    ASSERT_EQ(GetLastError(), ERROR_NOT_OWNER);

    HANDLE ev = CreateEvent(NULL, FALSE, TRUE, NULL); /* auto, set */
    HANDLE both[2] = {ev, sem};
    ASSERT_EQ(WaitForMultipleObjects(2, both, FALSE, 0), WAIT_OBJECT_0);
    ASSERT_EQ(WaitForMultipleObjects(2, both, FALSE, 10), WAIT_TIMEOUT);
    ASSERT_EQ(ReleaseSemaphore(sem, 1, NULL), TRUE);
    ASSERT_EQ(SetEvent(ev), TRUE);
    ASSERT_EQ(WaitForMultipleObjects(2, both, TRUE, 0), WAIT_OBJECT_0);

    SetLastError(0);
    ASSERT_EQ(WaitForSingleObject(NULL, 0), WAIT_FAILED);
    ASSERT_EQ(GetLastError(), ERROR_INVALID_HANDLE);
    SetLastError(0);
    ASSERT_EQ(WaitForMultipleObjects(0, both, FALSE, 0), WAIT_FAILED);
    ASSERT_EQ(GetLastError(), ERROR_INVALID_PARAMETER);

    CRITICAL_SECTION cs;
    InitializeCriticalSection(&cs);
    EnterCriticalSection(&cs);
    ASSERT_EQ(TryEnterCriticalSection(&cs), TRUE); /* recursive */
    LeaveCriticalSection(&cs);
    LeaveCriticalSection(&cs);
    DeleteCriticalSection(&cs);

    ASSERT_EQ(CloseHandle(sem), TRUE);
    ASSERT_EQ(CloseHandle(mutex), TRUE);
    ASSERT_EQ(CloseHandle(ev), TRUE);
    ASSERT_EQ(CloseHandle(GetCurrentThread()), TRUE); /* a pseudo-handle */
    ASSERT_NO_LIVE_OBJECTS();
}

/* ---- FILETIME due times (SPEC 1.2) ---- */

static VOID CALLBACK
count_timer(PTP_CALLBACK_INSTANCE i, PVOID c, PTP_TIMER t)
{
    (void)i, (void)t;
    InterlockedIncrement((LONG volatile *)c);
}

/* Reads of what callbacks write: Windows code would use a volatile read;
 * an atomic one keeps TSan informed. */
static LONG
load(LONG volatile *p)
{
    return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

static FILETIME
filetime_of(LONGLONG v)
{
    FILETIME ft = {(DWORD)v, (DWORD)((ULONGLONG)v >> 32)};
    return ft;
}

TEST_IMPL(win32_timer_filetime_relative_absolute_zero_null)
{
    LONG volatile fired = 0;
    PTP_TIMER t = CreateThreadpoolTimer(count_timer, (PVOID)&fired, NULL);
    ASSERT_NOT_NULL(t);

    /* Relative: -30 ms in 100 ns units. Not yet after 5 ms. */
    FILETIME rel = filetime_of(-30 * 10000LL);
    ULONGLONG t0 = GetTickCount64();
    SetThreadpoolTimer(t, &rel, 0, 0);
    ASSERT_EQ(IsThreadpoolTimerSet(t), TRUE);
    TEST_WAIT_UNTIL(load(&fired) == 1, 5000);
    ASSERT_GE(GetTickCount64() - t0, 29);

    /* Absolute: now + 20 ms, as GetSystemTimeAsFileTime counts. */
    FILETIME now;
    GetSystemTimeAsFileTime(&now);
    LONGLONG v = (LONGLONG)(((ULONGLONG)now.dwHighDateTime << 32) |
                            now.dwLowDateTime);
    FILETIME abs_due = filetime_of(v + 20 * 10000LL);
    SetThreadpoolTimer(t, &abs_due, 0, 0);
    TEST_WAIT_UNTIL(load(&fired) == 2, 5000);

    /* Zero: at once; NULL: stop. */
    FILETIME zero = filetime_of(0);
    SetThreadpoolTimer(t, &zero, 0, 0);
    TEST_WAIT_UNTIL(load(&fired) == 3, 5000);
    SetThreadpoolTimer(t, &rel, 0, 0);
    SetThreadpoolTimer(t, NULL, 0, 0);
    ASSERT_EQ(IsThreadpoolTimerSet(t), FALSE);
    WaitForThreadpoolTimerCallbacks(t, FALSE);
    Sleep(50);
    ASSERT_EQ(load(&fired), 3);
    CloseThreadpoolTimer(t);
    ASSERT_NO_LIVE_OBJECTS();
}

static VOID CALLBACK
record_wait(PTP_CALLBACK_INSTANCE i, PVOID c, PTP_WAIT w, TP_WAIT_RESULT r)
{
    (void)i, (void)w;
    __atomic_store_n((TP_WAIT_RESULT *)c, r + 1, __ATOMIC_SEQ_CST);
    /* 0 means "not yet" */
}

TEST_IMPL(win32_wait_timeout_null_is_infinite_zero_is_now)
{
    TP_WAIT_RESULT result = 0;
    HANDLE ev = CreateEvent(NULL, TRUE, FALSE, NULL);
    PTP_WAIT w = CreateThreadpoolWait(record_wait, (PVOID)&result, NULL);
    SetThreadpoolWait(w, ev, NULL); /* no timeout */
    Sleep(30);
    ASSERT_EQ(__atomic_load_n(&result, __ATOMIC_SEQ_CST), 0);
    SetEvent(ev);
    TEST_WAIT_UNTIL(__atomic_load_n(&result, __ATOMIC_SEQ_CST) ==
                        WAIT_OBJECT_0 + 1,
                    5000);
    WaitForThreadpoolWaitCallbacks(w, FALSE);

    ResetEvent(ev);
    __atomic_store_n(&result, 0, __ATOMIC_SEQ_CST);
    FILETIME zero = filetime_of(0);
    SetThreadpoolWait(w, ev, &zero); /* times out at once */
    TEST_WAIT_UNTIL(__atomic_load_n(&result, __ATOMIC_SEQ_CST) ==
                        WAIT_TIMEOUT + 1,
                    5000);
    WaitForThreadpoolWaitCallbacks(w, FALSE);
    CloseThreadpoolWait(w);
    CloseHandle(ev);
    ASSERT_NO_LIVE_OBJECTS();
}

/* ---- APCs and the completion routine of a waitable timer ---- */

static int apc_runs;

static VOID CALLBACK
apc(ULONG_PTR data)
{
    apc_runs += (int)data;
}

static VOID CALLBACK
timer_routine(PVOID arg, DWORD low, DWORD high)
{
    (void)low, (void)high;
    (*(int *)arg)++;
}

TEST_IMPL(win32_apcs_and_alertable_waits)
{
    ASSERT_EQ(QueueUserAPC(apc, GetCurrentThread(), 5), 1);
    ASSERT_EQ(SleepEx(0, FALSE), 0); /* not alertable: nothing runs */
    ASSERT_EQ(apc_runs, 0);
    ASSERT_EQ(SleepEx(INFINITE, TRUE), WAIT_IO_COMPLETION);
    ASSERT_EQ(apc_runs, 5);

    int routine_runs = 0;
    HANDLE timer = CreateWaitableTimer(NULL, TRUE, NULL);
    LARGE_INTEGER due;
    due.QuadPart = -10 * 10000LL; /* 10 ms */
    ASSERT_EQ(SetWaitableTimer(timer, &due, 0, timer_routine, &routine_runs,
                               FALSE),
              TRUE);
    ASSERT_EQ(WaitForSingleObjectEx(timer, INFINITE, TRUE), WAIT_OBJECT_0);
    /* The routine is queued to this thread: it runs at the next alertable
     * wait. */
    ASSERT_EQ(SleepEx(1000, TRUE), WAIT_IO_COMPLETION);
    ASSERT_EQ(routine_runs, 1);
    ASSERT_EQ(CancelWaitableTimer(timer), TRUE);
    CloseHandle(timer);
    ASSERT_NO_LIVE_OBJECTS();
}

/* ---- completion actions through Windows names ---- */

static VOID CALLBACK
actions(PTP_CALLBACK_INSTANCE inst, PVOID ctx, PTP_WORK w)
{
    HANDLE *h = ctx;
    (void)w;
    ASSERT_EQ(CallbackMayRunLong(inst), TRUE);
    ReleaseSemaphoreWhenCallbackReturns(inst, h[0], 2);
    SetEventWhenCallbackReturns(inst, h[1]);
}

TEST_IMPL(win32_completion_actions_and_cleanup_group)
{
    HANDLE h[2] = {CreateSemaphore(NULL, 0, 10, NULL),
                   CreateEvent(NULL, TRUE, FALSE, NULL)};
    PTP_POOL pool = CreateThreadpool(NULL);
    ASSERT_NOT_NULL(pool);
    SetThreadpoolThreadMaximum(pool, 4);
    ASSERT_EQ(SetThreadpoolThreadMinimum(pool, 1), TRUE);
    TP_POOL_STACK_INFORMATION si = {256 * 1024, 64 * 1024};
    ASSERT_EQ(SetThreadpoolStackInformation(pool, &si), TRUE);
    TP_POOL_STACK_INFORMATION got = {0, 0};
    ASSERT_EQ(QueryThreadpoolStackInformation(pool, &got), TRUE);
    ASSERT_EQ(got.StackReserve, 256 * 1024);
    SetLastError(0);
    ASSERT_EQ(QueryThreadpoolStackInformation(pool, NULL), FALSE);
    ASSERT_EQ(GetLastError(), ERROR_INVALID_PARAMETER);

    PTP_CLEANUP_GROUP group = CreateThreadpoolCleanupGroup();
    TP_CALLBACK_ENVIRON env;
    InitializeThreadpoolEnvironment(&env);
    SetThreadpoolCallbackPool(&env, pool);
    SetThreadpoolCallbackCleanupGroup(&env, group, NULL);
    PTP_WORK w = CreateThreadpoolWork(actions, h, &env);
    SubmitThreadpoolWork(w);
    ASSERT_EQ(WaitForSingleObject(h[1], 10000), WAIT_OBJECT_0);
    WaitForThreadpoolWorkCallbacks(w, FALSE);
    LONG prev = -1;
    ASSERT_EQ(ReleaseSemaphore(h[0], 1, &prev), TRUE);
    ASSERT_EQ(prev, 2);
    /* The group releases the work object: no CloseThreadpoolWork. */
    CloseThreadpoolCleanupGroupMembers(group, FALSE, NULL);
    CloseThreadpoolCleanupGroup(group);
    DestroyThreadpoolEnvironment(&env);
    CloseThreadpool(pool);
    CloseHandle(h[0]);
    CloseHandle(h[1]);
    ASSERT_NO_LIVE_OBJECTS();
}

/* ---- helpers ---- */

TEST_IMPL(win32_time_helpers_and_interlocked)
{
    FILETIME ft;
    GetSystemTimeAsFileTime(&ft);
    ULONGLONG v = ((ULONGLONG)ft.dwHighDateTime << 32) | ft.dwLowDateTime;
    ULONGLONG unix_s = (v - 116444736000000000ULL) / 10000000ULL;
    ASSERT_LE(llabs((long long)unix_s - (long long)time(NULL)), 2);

    LARGE_INTEGER f, c1, c2;
    ASSERT_EQ(QueryPerformanceFrequency(&f), TRUE);
    ASSERT_GT(f.QuadPart, 0);
    QueryPerformanceCounter(&c1);
    Sleep(10);
    QueryPerformanceCounter(&c2);
    ASSERT_GE((c2.QuadPart - c1.QuadPart) * 1000 / f.QuadPart, 9);
    ASSERT_GE(GetTickCount64(), 1);
    ASSERT_NE(GetCurrentThreadId(), 0);
    ASSERT_NE(GetCurrentProcessId(), 0);

    LONG volatile x = 5;
    ASSERT_EQ(InterlockedIncrement(&x), 6);
    ASSERT_EQ(InterlockedDecrement(&x), 5);
    ASSERT_EQ(InterlockedExchange(&x, 9), 5);
    ASSERT_EQ(InterlockedCompareExchange(&x, 1, 9), 9);
    ASSERT_EQ(x, 1);
    ASSERT_EQ(InterlockedCompareExchange(&x, 7, 9), 1); /* no swap */
    ASSERT_EQ(x, 1);
    ASSERT_EQ(InterlockedExchangeAdd(&x, 10), 1);
    ASSERT_EQ(x, 11);
}
