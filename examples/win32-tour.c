/*
 * win32-tour.c -- the scenarios of the thread-pool chapter the project
 * started from (seeds/004), written as a Windows program: only Windows
 * names, built with plain gcc against ntpool's <ntpool/win32.h>.
 *
 *   1. an asynchronous callback (TrySubmitThreadpoolCallback)
 *   2. an explicit work item, submitted several times
 *   3. a periodic timer
 *   4. a wait on a kernel object
 *   5. I/O completion (StartThreadpoolIo, WriteFile/ReadFile, callback)
 *   6. the completion actions (...WhenCallbackReturns)
 *
 * It prints the same lines on Windows (x86_64-w64-mingw32-gcc builds it
 * unchanged; `make conformance-wine` runs it under Wine and compares):
 * nothing here depends on thread ids or timings.
 */
#ifdef _WIN32
#define _WIN32_WINNT 0x0601
#include <windows.h>
#else
#include <ntpool/win32.h>
#endif

#include <stdio.h>
#include <string.h>

static LONG volatile g_work_runs;
static HANDLE g_done; /* set by each scenario's callback when it is done */
static DWORD g_main_thread;

static VOID CALLBACK
SimpleCallback(PTP_CALLBACK_INSTANCE Instance, PVOID Context)
{
    printf("   simple callback: \"%s\", on a pool thread: %s\n",
           (const char *)Context,
           GetCurrentThreadId() != g_main_thread ? "yes" : "no");
    SetEventWhenCallbackReturns(Instance, g_done);
}

static VOID CALLBACK
WorkCallback(PTP_CALLBACK_INSTANCE Instance, PVOID Context, PTP_WORK Work)
{
    (void)Instance, (void)Context, (void)Work;
    InterlockedIncrement(&g_work_runs);
}

static VOID CALLBACK
TimerCallback(PTP_CALLBACK_INSTANCE Instance, PVOID Context, PTP_TIMER Timer)
{
    LONG volatile *ticks = Context;
    LONG n = InterlockedIncrement(ticks);
    printf("   timer tick %d\n", (int)n);
    if (n == 3) {
        SetThreadpoolTimer(Timer, NULL, 0, 0); /* stop it */
        SetEventWhenCallbackReturns(Instance, g_done);
    }
}

static VOID CALLBACK
WaitCallback(PTP_CALLBACK_INSTANCE Instance, PVOID Context, PTP_WAIT Wait,
             TP_WAIT_RESULT WaitResult)
{
    (void)Wait;
    printf("   wait callback: %s -> %s\n", (const char *)Context,
           WaitResult == WAIT_OBJECT_0   ? "WAIT_OBJECT_0"
           : WaitResult == WAIT_TIMEOUT ? "WAIT_TIMEOUT"
                                        : "?");
    SetEventWhenCallbackReturns(Instance, g_done);
}

/* One overlapped request: the OVERLAPPED first, so the callback finds the
 * request from the pointer it gets, as Windows code does. */
typedef struct REQUEST {
    OVERLAPPED ov;
    const char *what;
    char buf[64];
} REQUEST;

static VOID CALLBACK
IoCallback(PTP_CALLBACK_INSTANCE Instance, PVOID Context, PVOID Overlapped,
           ULONG IoResult, ULONG_PTR NumberOfBytesTransferred, PTP_IO Io)
{
    (void)Instance, (void)Context, (void)Io;
    REQUEST *r = CONTAINING_RECORD(Overlapped, REQUEST, ov);
    printf("   %s completed: IoResult %u, %u bytes", r->what,
           (unsigned)IoResult, (unsigned)NumberOfBytesTransferred);
    if (strcmp(r->what, "read") == 0)
        printf(": \"%.*s\"", (int)NumberOfBytesTransferred, r->buf);
    printf("\n");
}

/* Start one overlapped operation as the StartThreadpoolIo page says:
 * announce it, issue it, and withdraw the announcement if it failed at
 * once (anything but TRUE or ERROR_IO_PENDING). */
static BOOL
Issue(PTP_IO io, HANDLE file, REQUEST *r, DWORD len, BOOL write)
{
    StartThreadpoolIo(io);
    BOOL ok = write ? WriteFile(file, r->buf, len, NULL, &r->ov)
                    : ReadFile(file, r->buf, len, NULL, &r->ov);
    if (!ok && GetLastError() != ERROR_IO_PENDING) {
        printf("   %s failed at once: %u\n", r->what, (unsigned)GetLastError());
        CancelThreadpoolIo(io);
        return FALSE;
    }
    return TRUE;
}

static VOID CALLBACK
ActionsCallback(PTP_CALLBACK_INSTANCE Instance, PVOID Context, PTP_WORK Work)
{
    HANDLE *h = Context;
    (void)Work;
    ReleaseSemaphoreWhenCallbackReturns(Instance, h[0], 2);
    ReleaseMutexWhenCallbackReturns(Instance, h[1]);
    WaitForSingleObject(h[1], INFINITE); /* the pool releases it for us */
    SetEventWhenCallbackReturns(Instance, g_done);
}

int
main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    g_main_thread = GetCurrentThreadId();
    g_done = CreateEvent(NULL, FALSE, FALSE, NULL); /* auto-reset */
    if (g_done == NULL) {
        printf("CreateEvent failed: %u\n", (unsigned)GetLastError());
        return 1;
    }

    printf("1. TrySubmitThreadpoolCallback\n");
    if (!TrySubmitThreadpoolCallback(SimpleCallback, "hello", NULL))
        return 1;
    WaitForSingleObject(g_done, INFINITE);

    printf("2. CreateThreadpoolWork, submitted 4 times, on a private pool\n");
    PTP_POOL pool = CreateThreadpool(NULL);
    SetThreadpoolThreadMaximum(pool, 2);
    if (!SetThreadpoolThreadMinimum(pool, 1))
        return 1;
    TP_CALLBACK_ENVIRON env;
    InitializeThreadpoolEnvironment(&env);
    SetThreadpoolCallbackPool(&env, pool);
    PTP_WORK work = CreateThreadpoolWork(WorkCallback, NULL, &env);
    for (int i = 0; i < 4; i++)
        SubmitThreadpoolWork(work);
    WaitForThreadpoolWorkCallbacks(work, FALSE);
    printf("   %d runs\n", (int)g_work_runs);
    CloseThreadpoolWork(work);

    printf("3. CreateThreadpoolTimer: due in 10 ms, then every 20 ms\n");
    LONG volatile ticks = 0;
    PTP_TIMER timer = CreateThreadpoolTimer(TimerCallback, (PVOID)&ticks,
                                            &env);
    LARGE_INTEGER due;
    due.QuadPart = -10 * 10000LL; /* relative: 10 ms in 100 ns units */
    FILETIME ft = {(DWORD)due.u.LowPart, (DWORD)due.u.HighPart};
    SetThreadpoolTimer(timer, &ft, 20, 0);
    WaitForSingleObject(g_done, INFINITE);
    WaitForThreadpoolTimerCallbacks(timer, TRUE);
    printf("   IsThreadpoolTimerSet: %s\n",
           IsThreadpoolTimerSet(timer) ? "TRUE" : "FALSE");
    CloseThreadpoolTimer(timer);

    printf("4. CreateThreadpoolWait on an event, then on a timeout\n");
    HANDLE ev = CreateEvent(NULL, TRUE, FALSE, NULL);
    PTP_WAIT wait = CreateThreadpoolWait(WaitCallback, "event", &env);
    SetThreadpoolWait(wait, ev, NULL); /* no timeout */
    SetEvent(ev);
    WaitForSingleObject(g_done, INFINITE);
    WaitForThreadpoolWaitCallbacks(wait, FALSE);
    CloseThreadpoolWait(wait);
    ResetEvent(ev);
    wait = CreateThreadpoolWait(WaitCallback, "nobody sets it", &env);
    ft.dwHighDateTime = 0xFFFFFFFFu; /* -30 ms, as a FILETIME */
    ft.dwLowDateTime = (DWORD)(-30 * 10000);
    SetThreadpoolWait(wait, ev, &ft);
    WaitForSingleObject(g_done, INFINITE);
    WaitForThreadpoolWaitCallbacks(wait, FALSE);
    CloseThreadpoolWait(wait);

    printf("5. I/O completion: StartThreadpoolIo, then WriteFile and ReadFile "
           "on an overlapped file\n");
    char dir[MAX_PATH], path[MAX_PATH];
    GetTempPathA(sizeof dir, dir);
    GetTempFileNameA(dir, "ntp", 0, path);
    HANDLE file = CreateFileA(path, GENERIC_READ | GENERIC_WRITE, 0, NULL,
                              CREATE_ALWAYS,
                              FILE_FLAG_OVERLAPPED | FILE_FLAG_DELETE_ON_CLOSE,
                              NULL);
    if (file == INVALID_HANDLE_VALUE) {
        printf("CreateFileA failed: %u\n", (unsigned)GetLastError());
        return 1;
    }
    PTP_IO io = CreateThreadpoolIo(file, IoCallback, NULL, &env);
    REQUEST wr, rd;
    memset(&wr, 0, sizeof wr);
    memset(&rd, 0, sizeof rd);
    wr.what = "write";
    strcpy(wr.buf, "the thread pool, on Linux");
    Issue(io, file, &wr, (DWORD)strlen(wr.buf), TRUE);
    WaitForThreadpoolIoCallbacks(io, FALSE);
    rd.what = "read";
    rd.ov.Offset = 17; /* "on Linux" */
    Issue(io, file, &rd, 8, FALSE);
    WaitForThreadpoolIoCallbacks(io, FALSE);
    CloseHandle(file);
    CloseThreadpoolIo(io);

    printf("6. Completion actions\n");
    HANDLE h[2] = {CreateSemaphore(NULL, 0, 5, NULL),
                   CreateMutex(NULL, FALSE, NULL)};
    work = CreateThreadpoolWork(ActionsCallback, h, &env);
    SubmitThreadpoolWork(work);
    WaitForSingleObject(g_done, INFINITE);
    WaitForThreadpoolWorkCallbacks(work, FALSE);
    LONG previous = -1;
    ReleaseSemaphore(h[0], 1, &previous);
    printf("   the semaphore was released by 2 (count before ours: %d)\n",
           (int)previous);
    printf("   the mutex is free again: %s\n",
           WaitForSingleObject(h[1], 0) == WAIT_OBJECT_0 ? "yes" : "no");
    ReleaseMutex(h[1]);
    if (!ReleaseMutex(h[1]))
        printf("   a second ReleaseMutex fails: GetLastError() = %u "
               "(ERROR_NOT_OWNER)\n",
               (unsigned)GetLastError());
    CloseThreadpoolWork(work);

    CloseHandle(h[0]);
    CloseHandle(h[1]);
    CloseHandle(ev);
    DestroyThreadpoolEnvironment(&env);
    CloseThreadpool(pool);
    CloseHandle(g_done);
    printf("done\n");
    return 0;
}
