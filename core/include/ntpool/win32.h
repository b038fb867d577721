/*
 * ntpool/win32.h -- the Windows thread-pool API under its own names, types
 * and signatures, over ntpool's native API, so that Windows thread-pool
 * code compiles and behaves unchanged on Linux:
 *
 *     #include <ntpool/win32.h>     (instead of <windows.h>)
 *
 * Covered so far: the thread-pool API (pools, cleanup groups, callback
 * environments laid out as TP_CALLBACK_ENVIRON_V3 so the inline setters
 * are the same, work, TrySubmitThreadpoolCallback, timers, waits, the
 * callback-instance functions), events, semaphores, mutexes, waitable
 * timers, critical sections, the wait functions, APCs, and the helpers such
 * code uses (GetLastError/SetLastError with Windows codes, GetTickCount[64],
 * GetSystemTimeAsFileTime, QueryPerformanceCounter/Frequency, Sleep[Ex],
 * CloseHandle, GetCurrentThread[Id], GetCurrentProcessId, Interlocked*).
 * Not yet: I/O objects and files, the original API, LoadLibrary and
 * CreateThread (README, Status).
 *
 * Handles are ntpool handles (ntp_handle *); the PTP_* types are ntpool's
 * objects, so a Windows callback is an ntpool callback with the same
 * arguments and no adapter runs between them. Return values and last-error
 * codes follow SPEC.md (section 14 for the thread-pool functions).
 */
#ifndef NTPOOL_WIN32_H
#define NTPOOL_WIN32_H

#include <ntpool.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Types (SPEC 1.1)                                                          */
/* ------------------------------------------------------------------------ */

#ifndef WINAPI
#define WINAPI
#endif
#ifndef CALLBACK
#define CALLBACK
#endif
#ifndef VOID
#define VOID void
#endif

typedef int BOOL;
typedef unsigned char BOOLEAN;
typedef uint32_t DWORD, ULONG, *PDWORD, *LPDWORD;
typedef int32_t LONG, *PLONG, *LPLONG;
typedef int64_t LONGLONG;
typedef uint64_t ULONGLONG, DWORD64;
typedef uintptr_t ULONG_PTR, SIZE_T, DWORD_PTR;
typedef intptr_t LONG_PTR;
typedef void *PVOID, *LPVOID, *HANDLE, *HMODULE, *HINSTANCE;
typedef const void *LPCVOID;
typedef char CHAR;
typedef const char *LPCSTR;
typedef const uint16_t *LPCWSTR; /* accepted and must be NULL (no names) */
typedef HANDLE *PHANDLE, *LPHANDLE;

#ifndef FALSE
#define FALSE 0
#endif
#ifndef TRUE
#define TRUE 1
#endif

#define INFINITE 0xFFFFFFFFu
#define INVALID_HANDLE_VALUE ((HANDLE)(intptr_t)-1)
#define MAXIMUM_WAIT_OBJECTS 64

#define WAIT_OBJECT_0 0x00000000u
#define WAIT_ABANDONED 0x00000080u
#define WAIT_ABANDONED_0 0x00000080u
#define WAIT_IO_COMPLETION 0x000000C0u
#define WAIT_TIMEOUT 0x00000102u
#define WAIT_FAILED 0xFFFFFFFFu

#define ERROR_SUCCESS 0u
#define NO_ERROR 0u
#define ERROR_INVALID_HANDLE 6u
#define ERROR_NOT_ENOUGH_MEMORY 8u
#define ERROR_GEN_FAILURE 31u
#define ERROR_NOT_SUPPORTED 50u
#define ERROR_INVALID_PARAMETER 87u
#define ERROR_ALREADY_EXISTS 183u
#define ERROR_NOT_OWNER 288u
#define ERROR_TOO_MANY_POSTS 298u
#define ERROR_OPERATION_ABORTED 995u
#define ERROR_IO_PENDING 997u
#define ERROR_TIMEOUT 1460u

typedef struct _FILETIME {
    DWORD dwLowDateTime;
    DWORD dwHighDateTime;
} FILETIME, *PFILETIME, *LPFILETIME;

typedef union _LARGE_INTEGER {
    struct {
        DWORD LowPart;
        LONG HighPart;
    } u;
    LONGLONG QuadPart;
} LARGE_INTEGER, *PLARGE_INTEGER;

typedef struct _SECURITY_ATTRIBUTES {
    DWORD nLength;
    LPVOID lpSecurityDescriptor;
    BOOL bInheritHandle;
} SECURITY_ATTRIBUTES, *PSECURITY_ATTRIBUTES, *LPSECURITY_ATTRIBUTES;

typedef struct ntp_cs CRITICAL_SECTION, *PCRITICAL_SECTION,
    *LPCRITICAL_SECTION;

/* The thread-pool objects are ntpool's. */
typedef struct ntp_pool TP_POOL, *PTP_POOL;
typedef struct ntp_cleanup_group TP_CLEANUP_GROUP, *PTP_CLEANUP_GROUP;
typedef struct ntp_work TP_WORK, *PTP_WORK;
typedef struct ntp_timer TP_TIMER, *PTP_TIMER;
typedef struct ntp_wait TP_WAIT, *PTP_WAIT;
typedef struct ntp_instance TP_CALLBACK_INSTANCE, *PTP_CALLBACK_INSTANCE;
typedef DWORD TP_WAIT_RESULT;
typedef DWORD TP_VERSION, *PTP_VERSION;

typedef struct _TP_POOL_STACK_INFORMATION {
    SIZE_T StackReserve;
    SIZE_T StackCommit;
} TP_POOL_STACK_INFORMATION, *PTP_POOL_STACK_INFORMATION;

typedef enum _TP_CALLBACK_PRIORITY {
    TP_CALLBACK_PRIORITY_HIGH = 0,
    TP_CALLBACK_PRIORITY_NORMAL = 1,
    TP_CALLBACK_PRIORITY_LOW = 2,
    TP_CALLBACK_PRIORITY_INVALID = 3,
    TP_CALLBACK_PRIORITY_COUNT = 3
} TP_CALLBACK_PRIORITY;

typedef void (*PTP_SIMPLE_CALLBACK)(PTP_CALLBACK_INSTANCE Instance,
                                    PVOID Context);
typedef void (*PTP_WORK_CALLBACK)(PTP_CALLBACK_INSTANCE Instance,
                                  PVOID Context, PTP_WORK Work);
typedef void (*PTP_TIMER_CALLBACK)(PTP_CALLBACK_INSTANCE Instance,
                                   PVOID Context, PTP_TIMER Timer);
typedef void (*PTP_WAIT_CALLBACK)(PTP_CALLBACK_INSTANCE Instance,
                                  PVOID Context, PTP_WAIT Wait,
                                  TP_WAIT_RESULT WaitResult);
typedef void (*PTP_CLEANUP_GROUP_CANCEL_CALLBACK)(PVOID ObjectContext,
                                                  PVOID CleanupContext);
typedef void (*PAPCFUNC)(ULONG_PTR Parameter);
typedef void (*PTIMERAPCROUTINE)(PVOID lpArgToCompletionRoutine,
                                 DWORD dwTimerLowValue,
                                 DWORD dwTimerHighValue);

/* Laid out as winnt.h's TP_CALLBACK_ENVIRON_V3: code that fills it
 * through the inline functions below, or by hand, works unchanged. */
typedef struct _TP_CALLBACK_ENVIRON_V3 {
    TP_VERSION Version;
    PTP_POOL Pool;
    PTP_CLEANUP_GROUP CleanupGroup;
    PTP_CLEANUP_GROUP_CANCEL_CALLBACK CleanupGroupCancelCallback;
    PVOID RaceDll;
    struct _ACTIVATION_CONTEXT *ActivationContext;
    PTP_SIMPLE_CALLBACK FinalizationCallback;
    union {
        DWORD Flags;
        struct {
            DWORD LongFunction : 1;
            DWORD Persistent : 1;
            DWORD Private : 30;
        } s;
    } u;
    TP_CALLBACK_PRIORITY CallbackPriority;
    DWORD Size;
} TP_CALLBACK_ENVIRON_V3, TP_CALLBACK_ENVIRON, *PTP_CALLBACK_ENVIRON;

/* ------------------------------------------------------------------------ */
/* Callback environments: inline, as in winbase.h                            */
/* ------------------------------------------------------------------------ */

static inline void
InitializeThreadpoolEnvironment(PTP_CALLBACK_ENVIRON pcbe)
{
    pcbe->Version = 3;
    pcbe->Pool = NULL;
    pcbe->CleanupGroup = NULL;
    pcbe->CleanupGroupCancelCallback = NULL;
    pcbe->RaceDll = NULL;
    pcbe->ActivationContext = NULL;
    pcbe->FinalizationCallback = NULL;
    pcbe->u.Flags = 0;
    pcbe->CallbackPriority = TP_CALLBACK_PRIORITY_NORMAL;
    pcbe->Size = sizeof(TP_CALLBACK_ENVIRON);
}

static inline void
DestroyThreadpoolEnvironment(PTP_CALLBACK_ENVIRON pcbe)
{
    (void)pcbe; /* nothing to free, as on Windows */
}

static inline void
SetThreadpoolCallbackPool(PTP_CALLBACK_ENVIRON pcbe, PTP_POOL ptpp)
{
    pcbe->Pool = ptpp;
}

static inline void
SetThreadpoolCallbackCleanupGroup(PTP_CALLBACK_ENVIRON pcbe,
                                  PTP_CLEANUP_GROUP ptpcg,
                                  PTP_CLEANUP_GROUP_CANCEL_CALLBACK pfng)
{
    pcbe->CleanupGroup = ptpcg;
    pcbe->CleanupGroupCancelCallback = pfng;
}

static inline void
SetThreadpoolCallbackRunsLong(PTP_CALLBACK_ENVIRON pcbe)
{
    pcbe->u.s.LongFunction = 1;
}

static inline void
SetThreadpoolCallbackPersistent(PTP_CALLBACK_ENVIRON pcbe)
{
    pcbe->u.s.Persistent = 1;
}

static inline void
SetThreadpoolCallbackLibrary(PTP_CALLBACK_ENVIRON pcbe, PVOID mod)
{
    pcbe->RaceDll = mod;
}

static inline void
SetThreadpoolCallbackPriority(PTP_CALLBACK_ENVIRON pcbe,
                              TP_CALLBACK_PRIORITY Priority)
{
    pcbe->CallbackPriority = Priority;
}

/* ------------------------------------------------------------------------ */
/* The thread-pool API (SPEC 3-10)                                           */
/* ------------------------------------------------------------------------ */

NTP_EXTERN PTP_POOL CreateThreadpool(PVOID reserved);
NTP_EXTERN void CloseThreadpool(PTP_POOL ptpp);
NTP_EXTERN void SetThreadpoolThreadMaximum(PTP_POOL ptpp, DWORD cthrdMost);
NTP_EXTERN BOOL SetThreadpoolThreadMinimum(PTP_POOL ptpp, DWORD cthrdMic);
NTP_EXTERN BOOL SetThreadpoolStackInformation(PTP_POOL ptpp,
                                              PTP_POOL_STACK_INFORMATION ptpsi);
NTP_EXTERN BOOL QueryThreadpoolStackInformation(
    PTP_POOL ptpp, PTP_POOL_STACK_INFORMATION ptpsi);

NTP_EXTERN PTP_CLEANUP_GROUP CreateThreadpoolCleanupGroup(void);
NTP_EXTERN void CloseThreadpoolCleanupGroupMembers(PTP_CLEANUP_GROUP ptpcg,
                                                   BOOL fCancelPendingCallbacks,
                                                   PVOID pvCleanupContext);
NTP_EXTERN void CloseThreadpoolCleanupGroup(PTP_CLEANUP_GROUP ptpcg);

NTP_EXTERN PTP_WORK CreateThreadpoolWork(PTP_WORK_CALLBACK pfnwk, PVOID pv,
                                         PTP_CALLBACK_ENVIRON pcbe);
NTP_EXTERN void SubmitThreadpoolWork(PTP_WORK pwk);
NTP_EXTERN BOOL TrySubmitThreadpoolCallback(PTP_SIMPLE_CALLBACK pfns,
                                            PVOID pv,
                                            PTP_CALLBACK_ENVIRON pcbe);
NTP_EXTERN void WaitForThreadpoolWorkCallbacks(PTP_WORK pwk,
                                               BOOL fCancelPendingCallbacks);
NTP_EXTERN void CloseThreadpoolWork(PTP_WORK pwk);

NTP_EXTERN PTP_TIMER CreateThreadpoolTimer(PTP_TIMER_CALLBACK pfnti, PVOID pv,
                                           PTP_CALLBACK_ENVIRON pcbe);
NTP_EXTERN void SetThreadpoolTimer(PTP_TIMER pti, PFILETIME pftDueTime,
                                   DWORD msPeriod, DWORD msWindowLength);
NTP_EXTERN BOOL SetThreadpoolTimerEx(PTP_TIMER pti, PFILETIME pftDueTime,
                                     DWORD msPeriod, DWORD msWindowLength);
NTP_EXTERN BOOL IsThreadpoolTimerSet(PTP_TIMER pti);
NTP_EXTERN void WaitForThreadpoolTimerCallbacks(PTP_TIMER pti,
                                                BOOL fCancelPendingCallbacks);
NTP_EXTERN void CloseThreadpoolTimer(PTP_TIMER pti);

NTP_EXTERN PTP_WAIT CreateThreadpoolWait(PTP_WAIT_CALLBACK pfnwa, PVOID pv,
                                         PTP_CALLBACK_ENVIRON pcbe);
NTP_EXTERN void SetThreadpoolWait(PTP_WAIT pwa, HANDLE h,
                                  PFILETIME pftTimeout);
NTP_EXTERN BOOL SetThreadpoolWaitEx(PTP_WAIT pwa, HANDLE h,
                                    PFILETIME pftTimeout, PVOID Reserved);
NTP_EXTERN void WaitForThreadpoolWaitCallbacks(PTP_WAIT pwa,
                                               BOOL fCancelPendingCallbacks);
NTP_EXTERN void CloseThreadpoolWait(PTP_WAIT pwa);

NTP_EXTERN BOOL CallbackMayRunLong(PTP_CALLBACK_INSTANCE pci);
NTP_EXTERN void DisassociateCurrentThreadFromCallback(
    PTP_CALLBACK_INSTANCE pci);
NTP_EXTERN void SetEventWhenCallbackReturns(PTP_CALLBACK_INSTANCE pci,
                                            HANDLE evt);
NTP_EXTERN void ReleaseSemaphoreWhenCallbackReturns(PTP_CALLBACK_INSTANCE pci,
                                                    HANDLE sem, DWORD crel);
NTP_EXTERN void ReleaseMutexWhenCallbackReturns(PTP_CALLBACK_INSTANCE pci,
                                                HANDLE mut);
NTP_EXTERN void LeaveCriticalSectionWhenCallbackReturns(
    PTP_CALLBACK_INSTANCE pci, PCRITICAL_SECTION pcs);
NTP_EXTERN void FreeLibraryWhenCallbackReturns(PTP_CALLBACK_INSTANCE pci,
                                               HMODULE mod);

/* ------------------------------------------------------------------------ */
/* Synchronization objects and waits (SPEC 12, 13). Named objects are not   */
/* supported: a non-NULL name fails with ERROR_NOT_SUPPORTED.                */
/* ------------------------------------------------------------------------ */

NTP_EXTERN HANDLE CreateEventA(LPSECURITY_ATTRIBUTES lpEventAttributes,
                               BOOL bManualReset, BOOL bInitialState,
                               LPCSTR lpName);
NTP_EXTERN HANDLE CreateEventW(LPSECURITY_ATTRIBUTES lpEventAttributes,
                               BOOL bManualReset, BOOL bInitialState,
                               LPCWSTR lpName);
NTP_EXTERN BOOL SetEvent(HANDLE hEvent);
NTP_EXTERN BOOL ResetEvent(HANDLE hEvent);
NTP_EXTERN BOOL PulseEvent(HANDLE hEvent);
NTP_EXTERN HANDLE CreateSemaphoreA(LPSECURITY_ATTRIBUTES lpAttributes,
                                   LONG lInitialCount, LONG lMaximumCount,
                                   LPCSTR lpName);
NTP_EXTERN HANDLE CreateSemaphoreW(LPSECURITY_ATTRIBUTES lpAttributes,
                                   LONG lInitialCount, LONG lMaximumCount,
                                   LPCWSTR lpName);
NTP_EXTERN BOOL ReleaseSemaphore(HANDLE hSemaphore, LONG lReleaseCount,
                                 LPLONG lpPreviousCount);
NTP_EXTERN HANDLE CreateMutexA(LPSECURITY_ATTRIBUTES lpMutexAttributes,
                               BOOL bInitialOwner, LPCSTR lpName);
NTP_EXTERN HANDLE CreateMutexW(LPSECURITY_ATTRIBUTES lpMutexAttributes,
                               BOOL bInitialOwner, LPCWSTR lpName);
NTP_EXTERN BOOL ReleaseMutex(HANDLE hMutex);
NTP_EXTERN HANDLE CreateWaitableTimerA(LPSECURITY_ATTRIBUTES lpTimerAttributes,
                                       BOOL bManualReset, LPCSTR lpTimerName);
NTP_EXTERN HANDLE CreateWaitableTimerW(LPSECURITY_ATTRIBUTES lpTimerAttributes,
                                       BOOL bManualReset, LPCWSTR lpTimerName);
NTP_EXTERN BOOL SetWaitableTimer(HANDLE hTimer, const LARGE_INTEGER *lpDueTime,
                                 LONG lPeriod,
                                 PTIMERAPCROUTINE pfnCompletionRoutine,
                                 LPVOID lpArgToCompletionRoutine,
                                 BOOL fResume);
NTP_EXTERN BOOL CancelWaitableTimer(HANDLE hTimer);
#define CreateEvent CreateEventA
#define CreateSemaphore CreateSemaphoreA
#define CreateMutex CreateMutexA
#define CreateWaitableTimer CreateWaitableTimerA

NTP_EXTERN void InitializeCriticalSection(LPCRITICAL_SECTION cs);
NTP_EXTERN BOOL InitializeCriticalSectionAndSpinCount(LPCRITICAL_SECTION cs,
                                                      DWORD dwSpinCount);
NTP_EXTERN void DeleteCriticalSection(LPCRITICAL_SECTION cs);
NTP_EXTERN void EnterCriticalSection(LPCRITICAL_SECTION cs);
NTP_EXTERN void LeaveCriticalSection(LPCRITICAL_SECTION cs);
NTP_EXTERN BOOL TryEnterCriticalSection(LPCRITICAL_SECTION cs);

NTP_EXTERN DWORD WaitForSingleObject(HANDLE hHandle, DWORD dwMilliseconds);
NTP_EXTERN DWORD WaitForSingleObjectEx(HANDLE hHandle, DWORD dwMilliseconds,
                                       BOOL bAlertable);
NTP_EXTERN DWORD WaitForMultipleObjects(DWORD nCount, const HANDLE *lpHandles,
                                        BOOL bWaitAll, DWORD dwMilliseconds);
NTP_EXTERN DWORD WaitForMultipleObjectsEx(DWORD nCount,
                                          const HANDLE *lpHandles,
                                          BOOL bWaitAll, DWORD dwMilliseconds,
                                          BOOL bAlertable);
NTP_EXTERN BOOL CloseHandle(HANDLE hObject);
NTP_EXTERN void Sleep(DWORD dwMilliseconds);
NTP_EXTERN DWORD SleepEx(DWORD dwMilliseconds, BOOL bAlertable);
NTP_EXTERN DWORD QueueUserAPC(PAPCFUNC pfnAPC, HANDLE hThread,
                              ULONG_PTR dwData);

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

NTP_EXTERN DWORD GetLastError(void);
NTP_EXTERN void SetLastError(DWORD dwErrCode);
/* The Win32 code for an ntpool status (ERROR_INVALID_PARAMETER for
 * NTP_EINVAL, ...). EXTENSION. */
NTP_EXTERN DWORD NtpWin32ErrorFromStatus(ntp_status status);

NTP_EXTERN HANDLE GetCurrentThread(void); /* a pseudo-handle, as Windows */
NTP_EXTERN DWORD GetCurrentThreadId(void);
NTP_EXTERN DWORD GetCurrentProcessId(void);
NTP_EXTERN DWORD GetTickCount(void);
NTP_EXTERN ULONGLONG GetTickCount64(void);
NTP_EXTERN void GetSystemTimeAsFileTime(LPFILETIME lpSystemTimeAsFileTime);
NTP_EXTERN BOOL QueryPerformanceCounter(LARGE_INTEGER *lpPerformanceCount);
NTP_EXTERN BOOL QueryPerformanceFrequency(LARGE_INTEGER *lpFrequency);

/* The Interlocked family: full barriers, as on Windows. */
static inline LONG
InterlockedIncrement(LONG volatile *p)
{
    return __atomic_add_fetch(p, 1, __ATOMIC_SEQ_CST);
}
static inline LONG
InterlockedDecrement(LONG volatile *p)
{
    return __atomic_sub_fetch(p, 1, __ATOMIC_SEQ_CST);
}
static inline LONG
InterlockedExchange(LONG volatile *p, LONG v)
{
    return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);
}
static inline LONG
InterlockedExchangeAdd(LONG volatile *p, LONG v)
{
    return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
}
static inline LONG
InterlockedCompareExchange(LONG volatile *p, LONG exchange, LONG comparand)
{
    __atomic_compare_exchange_n(p, &comparand, exchange, false,
                                __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return comparand; /* the initial value, as Windows returns */
}
static inline LONGLONG
InterlockedIncrement64(LONGLONG volatile *p)
{
    return __atomic_add_fetch(p, 1, __ATOMIC_SEQ_CST);
}
static inline LONGLONG
InterlockedDecrement64(LONGLONG volatile *p)
{
    return __atomic_sub_fetch(p, 1, __ATOMIC_SEQ_CST);
}
static inline PVOID
InterlockedExchangePointer(PVOID volatile *p, PVOID v)
{
    return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);
}
static inline PVOID
InterlockedCompareExchangePointer(PVOID volatile *p, PVOID exchange,
                                  PVOID comparand)
{
    __atomic_compare_exchange_n(p, &comparand, exchange, false,
                                __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return comparand;
}

#ifdef __cplusplus
}
#endif

#endif /* NTPOOL_WIN32_H */
