/*
 * win32-legacy.c -- the original thread-pool API, as Windows code written
 * before Vista uses it, built unchanged against <ntpool/win32.h>:
 *
 *   1. QueueUserWorkItem
 *   2. RegisterWaitForSingleObject (re-arms itself) and UnregisterWaitEx
 *   3. a timer queue: CreateTimerQueueTimer, ChangeTimerQueueTimer,
 *      DeleteTimerQueueEx
 *   4. BindIoCompletionCallback on an overlapped file
 *
 * Like win32-tour.c it prints the same lines on Windows.
 */
#ifdef _WIN32
#define _WIN32_WINNT 0x0601
#include <windows.h>
#else
#include <ntpool/win32.h>
#endif

#include <stdio.h>
#include <string.h>

static LONG volatile g_items, g_waits, g_ticks;
static HANDLE g_done;

static DWORD WINAPI
WorkItem(LPVOID Context)
{
    if (InterlockedIncrement(&g_items) == 3)
        SetEvent(g_done);
    (void)Context;
    return 0;
}

static VOID CALLBACK
WaitOrTimer(PVOID Context, BOOLEAN TimerOrWaitFired)
{
    LONG n = InterlockedIncrement(&g_waits);
    printf("   %s: %s (callback %d)\n", (const char *)Context,
           TimerOrWaitFired ? "timed out" : "signalled", (int)n);
    SetEvent(g_done);
}

static VOID CALLBACK
Tick(PVOID Context, BOOLEAN TimerOrWaitFired)
{
    (void)Context;
    LONG n = InterlockedIncrement(&g_ticks);
    if (n <= 3)
        printf("   tick %d (TimerOrWaitFired %s)\n", (int)n,
               TimerOrWaitFired ? "TRUE" : "FALSE");
    if (n == 3)
        SetEvent(g_done);
}

static VOID CALLBACK
Completed(DWORD dwErrorCode, DWORD dwNumberOfBytesTransfered,
          LPOVERLAPPED lpOverlapped)
{
    (void)lpOverlapped;
    printf("   completion routine: error %u, %u bytes\n",
           (unsigned)dwErrorCode, (unsigned)dwNumberOfBytesTransfered);
    SetEvent(g_done);
}

int
main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    g_done = CreateEvent(NULL, FALSE, FALSE, NULL);

    printf("1. QueueUserWorkItem x3\n");
    for (int i = 0; i < 3; i++)
        if (!QueueUserWorkItem(WorkItem, NULL, WT_EXECUTEDEFAULT))
            return 1;
    WaitForSingleObject(g_done, INFINITE);
    printf("   %d items ran\n", (int)g_items);

    printf("2. RegisterWaitForSingleObject on an auto-reset event, 2 s "
           "timeout\n");
    HANDLE ev = CreateEvent(NULL, FALSE, FALSE, NULL);
    HANDLE wait = NULL;
    if (!RegisterWaitForSingleObject(&wait, ev, WaitOrTimer, "the event",
                                     2000, WT_EXECUTEDEFAULT))
        return 1;
    for (int i = 0; i < 2; i++) {
        SetEvent(ev); /* the wait re-arms after each callback */
        WaitForSingleObject(g_done, INFINITE);
    }
    printf("   UnregisterWaitEx(INVALID_HANDLE_VALUE): %s\n",
           UnregisterWaitEx(wait, INVALID_HANDLE_VALUE) ? "TRUE" : "FALSE");
    HANDLE once = NULL;
    RegisterWaitForSingleObject(&once, ev, WaitOrTimer, "nobody sets it", 30,
                                WT_EXECUTEONLYONCE);
    WaitForSingleObject(g_done, INFINITE);
    UnregisterWaitEx(once, INVALID_HANDLE_VALUE);

    printf("3. A timer queue: a timer due in 1 h, changed to 10 ms and every "
           "20 ms\n");
    HANDLE queue = CreateTimerQueue();
    HANDLE timer = NULL;
    CreateTimerQueueTimer(&timer, queue, Tick, NULL, 3600 * 1000, 0,
                          WT_EXECUTEDEFAULT);
    ChangeTimerQueueTimer(queue, timer, 10, 20);
    WaitForSingleObject(g_done, INFINITE);
    printf("   DeleteTimerQueueEx(INVALID_HANDLE_VALUE): %s\n",
           DeleteTimerQueueEx(queue, INVALID_HANDLE_VALUE) ? "TRUE"
                                                            : "FALSE");

    printf("4. BindIoCompletionCallback, then an overlapped WriteFile\n");
    char dir[MAX_PATH], path[MAX_PATH];
    GetTempPathA(sizeof dir, dir);
    GetTempFileNameA(dir, "ntp", 0, path);
    HANDLE file = CreateFileA(path, GENERIC_READ | GENERIC_WRITE, 0, NULL,
                              CREATE_ALWAYS,
                              FILE_FLAG_OVERLAPPED | FILE_FLAG_DELETE_ON_CLOSE,
                              NULL);
    if (!BindIoCompletionCallback(file, Completed, 0))
        return 1;
    OVERLAPPED ov;
    memset(&ov, 0, sizeof ov);
    static const char text[] = "written by a pool thread's caller";
    if (!WriteFile(file, text, sizeof text - 1, NULL, &ov) &&
        GetLastError() != ERROR_IO_PENDING)
        return 1;
    WaitForSingleObject(g_done, INFINITE);
    CloseHandle(file);

    CloseHandle(ev);
    CloseHandle(g_done);
    printf("done\n");
    return 0;
}
