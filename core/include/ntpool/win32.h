/*
 * ntpool/win32.h -- the Windows thread-pool API under its own names, types
 * and signatures, over ntpool's native API, so that Windows thread-pool
 * code compiles and behaves unchanged on Linux:
 *
 *     #include <ntpool/win32.h>     (instead of <windows.h>)
 *
 * Covered: the thread-pool API (pools, cleanup groups, callback
 * environments laid out as TP_CALLBACK_ENVIRON_V3 so the inline setters
 * are the same, work, TrySubmitThreadpoolCallback, timers, waits, I/O
 * objects, the callback-instance functions), the original API
 * (QueueUserWorkItem, RegisterWaitForSingleObject, timer queues,
 * BindIoCompletionCallback), events, semaphores, mutexes, waitable timers,
 * critical sections, the wait functions, SignalObjectAndWait, APCs, files
 * (CreateFileA with FILE_FLAG_OVERLAPPED, ReadFile/WriteFile with an
 * OVERLAPPED, GetOverlappedResult, CancelIo[Ex], DeleteFileA,
 * GetTempPathA, GetTempFileNameA), modules (LoadLibraryA, GetModuleHandleA,
 * GetProcAddress, FreeLibrary over dlopen), CreateThread, and the helpers
 * such code uses (GetLastError/SetLastError with Windows codes,
 * GetTickCount[64], GetSystemTimeAsFileTime, QueryPerformanceCounter/
 * Frequency, Sleep[Ex], CloseHandle, GetCurrentThread[Id],
 * GetCurrentProcessId, Interlocked*).
 *
 * Handles are ntpool handles (ntp_handle *); the PTP_* types other than
 * PTP_IO are ntpool's objects, so a Windows callback is an ntpool callback
 * with the same arguments and no adapter runs between them. Return values
 * and last-error codes follow SPEC.md (section 14 for the thread-pool
 * functions).
 *
 * FILE DESCRIPTORS AND HANDLES. A file HANDLE wraps a Linux file
 * descriptor: CreateFileA opens one, and NtpHandleFromFd(fd, flags) wraps
 * any descriptor you already have (a pipe end, a socket, an open file) in
 * a new HANDLE that owns a duplicate of it, so the caller keeps (and
 * closes) its own fd; pass FILE_FLAG_OVERLAPPED in flags for a handle that
 * CreateThreadpoolIo, BindIoCompletionCallback and overlapped ReadFile/
 * WriteFile accept. NtpFdFromHandle(h) is the reverse, the CRT's
 * _get_osfhandle turned around: the descriptor inside h, owned by h (valid
 * until CloseHandle(h)). Both are EXTENSIONs (Windows has no fds).
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
typedef unsigned int UINT;
typedef char *LPSTR;
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
#define ERROR_INVALID_FUNCTION 1u
#define ERROR_FILE_NOT_FOUND 2u
#define ERROR_PATH_NOT_FOUND 3u
#define ERROR_TOO_MANY_OPEN_FILES 4u
#define ERROR_ACCESS_DENIED 5u
#define ERROR_INVALID_HANDLE 6u
#define ERROR_NOT_ENOUGH_MEMORY 8u
#define ERROR_GEN_FAILURE 31u
#define ERROR_HANDLE_EOF 38u
#define ERROR_NOT_SUPPORTED 50u
#define ERROR_FILE_EXISTS 80u
#define ERROR_INVALID_PARAMETER 87u
#define ERROR_BROKEN_PIPE 109u
#define ERROR_INSUFFICIENT_BUFFER 122u
#define ERROR_MOD_NOT_FOUND 126u
#define ERROR_PROC_NOT_FOUND 127u
#define ERROR_ALREADY_EXISTS 183u
#define ERROR_NO_DATA 232u
#define ERROR_NOT_OWNER 288u
#define ERROR_TOO_MANY_POSTS 298u
#define ERROR_TOO_MANY_THREADS 565u
#define ERROR_OPERATION_ABORTED 995u
#define ERROR_IO_INCOMPLETE 996u
#define ERROR_IO_PENDING 997u
#define ERROR_NOT_FOUND 1168u
#define ERROR_TIMEOUT 1460u

#define STATUS_PENDING 0x00000103u
#define STILL_ACTIVE 259u
#define MAX_PATH 260

typedef struct _FILETIME {
    DWORD dwLowDateTime;
    DWORD dwHighDateTime;
} FILETIME, *PFILETIME, *LPFILETIME;

typedef union _LARGE_INTEGER {
    struct {
        DWORD LowPart;
        LONG HighPart;
    };
    struct {
        DWORD LowPart;
        LONG HighPart;
    } u;
    LONGLONG QuadPart;
} LARGE_INTEGER, *PLARGE_INTEGER;

typedef union _ULARGE_INTEGER {
    struct {
        DWORD LowPart;
        DWORD HighPart;
    };
    struct {
        DWORD LowPart;
        DWORD HighPart;
    } u;
    ULONGLONG QuadPart;
} ULARGE_INTEGER, *PULARGE_INTEGER;

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
/* Not ntpool's ntp_io: a small record around one (win32_io.c), because
 * the Windows I/O callback takes other arguments than ntp_io_cb. */
typedef struct _TP_IO TP_IO, *PTP_IO;
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
typedef void (*PTP_WIN32_IO_CALLBACK)(PTP_CALLBACK_INSTANCE Instance,
                                      PVOID Context, PVOID Overlapped,
                                      ULONG IoResult,
                                      ULONG_PTR NumberOfBytesTransferred,
                                      PTP_IO Io);
typedef void (*PAPCFUNC)(ULONG_PTR Parameter);
typedef void (*PTIMERAPCROUTINE)(PVOID lpArgToCompletionRoutine,
                                 DWORD dwTimerLowValue,
                                 DWORD dwTimerHighValue);

/*
 * OVERLAPPED: Windows' public fields, under their names, then ntpool's
 * operation record (ntp_, never touch it). Zero it before each operation,
 * as on Windows. Internal is STATUS_PENDING while the operation runs, then
 * the Win32 error code (Windows keeps an NTSTATUS there; nobody should
 * read it but HasOverlappedIoCompleted), InternalHigh the byte count.
 * Code that embeds an OVERLAPPED in a larger struct and recovers the
 * struct from the pointer a callback gets (CONTAINING_RECORD) works.
 */
typedef struct _OVERLAPPED {
    ULONG_PTR Internal;
    ULONG_PTR InternalHigh;
    union {
        struct {
            DWORD Offset;
            DWORD OffsetHigh;
        };
        PVOID Pointer;
    };
    HANDLE hEvent;
    ntp_overlapped ntp_;
} OVERLAPPED, *LPOVERLAPPED;

#define HasOverlappedIoCompleted(lpOverlapped)                               \
    (NtpOverlappedDone(lpOverlapped))
#ifndef CONTAINING_RECORD
#define CONTAINING_RECORD(address, type, field)                              \
    ((type *)((char *)(address) - offsetof(type, field)))
#endif

typedef void (*LPOVERLAPPED_COMPLETION_ROUTINE)(
    DWORD dwErrorCode, DWORD dwNumberOfBytesTransfered,
    LPOVERLAPPED lpOverlapped);
typedef DWORD (*LPTHREAD_START_ROUTINE)(LPVOID lpThreadParameter);
typedef LPTHREAD_START_ROUTINE PTHREAD_START_ROUTINE;
typedef void (*WAITORTIMERCALLBACK)(PVOID lpParameter,
                                    BOOLEAN TimerOrWaitFired);
typedef intptr_t (*FARPROC)(void);

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

/* I/O completion objects (SPEC 9). fl is a file HANDLE opened (or wrapped
 * by NtpHandleFromFd) with FILE_FLAG_OVERLAPPED; NULL and
 * ERROR_INVALID_HANDLE if it is not one, ERROR_INVALID_PARAMETER if it is
 * bound already (to another TP_IO or by BindIoCompletionCallback).
 * StartThreadpoolIo before every ReadFile/WriteFile; those return TRUE when
 * the operation finished at once, FALSE with ERROR_IO_PENDING when it goes
 * on; either way the callback runs once for it. Any other failure:
 * CancelThreadpoolIo, no callback. */
NTP_EXTERN PTP_IO CreateThreadpoolIo(HANDLE fl, PTP_WIN32_IO_CALLBACK pfnio,
                                     PVOID pv, PTP_CALLBACK_ENVIRON pcbe);
NTP_EXTERN void StartThreadpoolIo(PTP_IO pio);
NTP_EXTERN void CancelThreadpoolIo(PTP_IO pio);
NTP_EXTERN void WaitForThreadpoolIoCallbacks(PTP_IO pio,
                                             BOOL fCancelPendingCallbacks);
NTP_EXTERN void CloseThreadpoolIo(PTP_IO pio);

/* ------------------------------------------------------------------------ */
/* The original thread-pool API (SPEC 11)                                    */
/* ------------------------------------------------------------------------ */

#define WT_EXECUTEDEFAULT 0x00000000u
#define WT_EXECUTEINIOTHREAD 0x00000001u
#define WT_EXECUTEINUITHREAD 0x00000002u
#define WT_EXECUTEINWAITTHREAD 0x00000004u
#define WT_EXECUTEONLYONCE 0x00000008u
#define WT_EXECUTELONGFUNCTION 0x00000010u
#define WT_EXECUTEINTIMERTHREAD 0x00000020u
#define WT_EXECUTEINPERSISTENTIOTHREAD 0x00000040u
#define WT_EXECUTEINPERSISTENTTHREAD 0x00000080u
#define WT_TRANSFER_IMPERSONATION 0x00000100u
#define WT_SET_MAX_THREADPOOL_THREADS(Flags, Limit)                          \
    ((Flags) |= ((ULONG)(Limit) << 16))

NTP_EXTERN BOOL QueueUserWorkItem(LPTHREAD_START_ROUTINE Function,
                                  PVOID Context, ULONG Flags);
NTP_EXTERN BOOL RegisterWaitForSingleObject(PHANDLE phNewWaitObject,
                                            HANDLE hObject,
                                            WAITORTIMERCALLBACK Callback,
                                            PVOID Context,
                                            ULONG dwMilliseconds,
                                            ULONG dwFlags);
NTP_EXTERN BOOL UnregisterWait(HANDLE WaitHandle);
NTP_EXTERN BOOL UnregisterWaitEx(HANDLE WaitHandle, HANDLE CompletionEvent);
NTP_EXTERN HANDLE CreateTimerQueue(void);
NTP_EXTERN BOOL CreateTimerQueueTimer(PHANDLE phNewTimer, HANDLE TimerQueue,
                                      WAITORTIMERCALLBACK Callback,
                                      PVOID Parameter, DWORD DueTime,
                                      DWORD Period, ULONG Flags);
NTP_EXTERN BOOL ChangeTimerQueueTimer(HANDLE TimerQueue, HANDLE Timer,
                                      ULONG DueTime, ULONG Period);
NTP_EXTERN BOOL DeleteTimerQueueTimer(HANDLE TimerQueue, HANDLE Timer,
                                      HANDLE CompletionEvent);
NTP_EXTERN BOOL DeleteTimerQueueEx(HANDLE TimerQueue, HANDLE CompletionEvent);
NTP_EXTERN BOOL DeleteTimerQueue(HANDLE TimerQueue);
NTP_EXTERN BOOL BindIoCompletionCallback(HANDLE FileHandle,
                                         LPOVERLAPPED_COMPLETION_ROUTINE
                                             Function,
                                         ULONG Flags);

/* ------------------------------------------------------------------------ */
/* Files (see FILE DESCRIPTORS AND HANDLES above)                            */
/* ------------------------------------------------------------------------ */

#define GENERIC_READ 0x80000000u
#define GENERIC_WRITE 0x40000000u
#define GENERIC_ALL 0x10000000u
#define FILE_SHARE_READ 0x00000001u
#define FILE_SHARE_WRITE 0x00000002u
#define FILE_SHARE_DELETE 0x00000004u
#define CREATE_NEW 1u
#define CREATE_ALWAYS 2u
#define OPEN_EXISTING 3u
#define OPEN_ALWAYS 4u
#define TRUNCATE_EXISTING 5u
#define FILE_ATTRIBUTE_READONLY 0x00000001u
#define FILE_ATTRIBUTE_DIRECTORY 0x00000010u
#define FILE_ATTRIBUTE_NORMAL 0x00000080u
#define INVALID_FILE_ATTRIBUTES 0xFFFFFFFFu
#define FILE_ATTRIBUTE_TEMPORARY 0x00000100u
#define FILE_FLAG_WRITE_THROUGH 0x80000000u
#define FILE_FLAG_OVERLAPPED 0x40000000u
#define FILE_FLAG_NO_BUFFERING 0x20000000u
#define FILE_FLAG_RANDOM_ACCESS 0x10000000u
#define FILE_FLAG_SEQUENTIAL_SCAN 0x08000000u
#define FILE_FLAG_DELETE_ON_CLOSE 0x04000000u

/* Share modes are accepted and not enforced (Linux has no mandatory
 * sharing); templates must be NULL. Failure: INVALID_HANDLE_VALUE (not
 * NULL, as on Windows) and ERROR_FILE_NOT_FOUND, ERROR_PATH_NOT_FOUND,
 * ERROR_FILE_EXISTS, ERROR_ACCESS_DENIED, ... CREATE_ALWAYS and
 * OPEN_ALWAYS on an existing file succeed with ERROR_ALREADY_EXISTS. */
NTP_EXTERN HANDLE CreateFileA(LPCSTR lpFileName, DWORD dwDesiredAccess,
                              DWORD dwShareMode,
                              LPSECURITY_ATTRIBUTES lpSecurityAttributes,
                              DWORD dwCreationDisposition,
                              DWORD dwFlagsAndAttributes,
                              HANDLE hTemplateFile);
NTP_EXTERN BOOL DeleteFileA(LPCSTR lpFileName);
/* $TMPDIR (else /tmp) with a trailing '/'; the length without the NUL, or
 * the size needed (NUL included) when nBufferLength is too small. */
NTP_EXTERN DWORD GetTempPathA(DWORD nBufferLength, LPSTR lpBuffer);
/* <path>/<up to 3 prefix chars><hex>.tmp; with uUnique 0 the file is
 * created (empty, unique), else only the name is made. */
NTP_EXTERN UINT GetTempFileNameA(LPCSTR lpPathName, LPCSTR lpPrefixString,
                                 UINT uUnique, LPSTR lpTempFileName);
/* With lpOverlapped on an overlapped handle: the operation starts at
 * Offset/OffsetHigh (files; streams ignore them), hEvent (optional) is
 * reset now and set on completion; TRUE when it finished at once (then
 * *lpNumberOfBytesRead, if given, has the count), FALSE + ERROR_IO_PENDING
 * when it goes on; a completion callback of the handle's TP_IO or
 * BindIoCompletionCallback runs in both cases. Without lpOverlapped (or on
 * a handle opened without FILE_FLAG_OVERLAPPED) it is synchronous. A read
 * at the end of a file fails with ERROR_HANDLE_EOF, of a pipe whose writer
 * is gone with ERROR_BROKEN_PIPE. */
NTP_EXTERN BOOL ReadFile(HANDLE hFile, LPVOID lpBuffer,
                         DWORD nNumberOfBytesToRead,
                         LPDWORD lpNumberOfBytesRead,
                         LPOVERLAPPED lpOverlapped);
NTP_EXTERN BOOL WriteFile(HANDLE hFile, LPCVOID lpBuffer,
                          DWORD nNumberOfBytesToWrite,
                          LPDWORD lpNumberOfBytesWritten,
                          LPOVERLAPPED lpOverlapped);
/* TRUE and the count once the operation is over; FALSE and
 * ERROR_IO_INCOMPLETE while it runs (bWait FALSE), or its error
 * (ERROR_OPERATION_ABORTED after CancelIo[Ex], ERROR_HANDLE_EOF, ...). */
NTP_EXTERN BOOL GetOverlappedResult(HANDLE hFile, LPOVERLAPPED lpOverlapped,
                                    LPDWORD lpNumberOfBytesTransferred,
                                    BOOL bWait);
/* Operations of hFile still waiting (for input on a pipe, say) complete
 * with ERROR_OPERATION_ABORTED; CancelIoEx with an OVERLAPPED cancels that
 * one only. FALSE + ERROR_NOT_FOUND when there was nothing to cancel.
 * CancelIo cancels the operations of every thread, not only the caller's. */
NTP_EXTERN BOOL CancelIo(HANDLE hFile);
NTP_EXTERN BOOL CancelIoEx(HANDLE hFile, LPOVERLAPPED lpOverlapped);
NTP_EXTERN BOOL GetFileSizeEx(HANDLE hFile, PLARGE_INTEGER lpFileSize);
/* FILE_ATTRIBUTE_DIRECTORY, _NORMAL or _READONLY (not writable by us);
 * INVALID_FILE_ATTRIBUTES and ERROR_FILE_NOT_FOUND when it is not there. */
NTP_EXTERN DWORD GetFileAttributesA(LPCSTR lpFileName);
#define GetFileAttributes GetFileAttributesA
/* EXTENSION: the fd <-> HANDLE bridge (see the top of this file). Flags:
 * FILE_FLAG_OVERLAPPED or 0. INVALID_HANDLE_VALUE and ERROR_INVALID_HANDLE
 * for a bad fd; -1 and ERROR_INVALID_HANDLE for a HANDLE that is not a
 * file. */
NTP_EXTERN HANDLE NtpHandleFromFd(int fd, DWORD dwFlags);
NTP_EXTERN int NtpFdFromHandle(HANDLE hFile);
/* What HasOverlappedIoCompleted expands to. EXTENSION. */
NTP_EXTERN BOOL NtpOverlappedDone(const OVERLAPPED *lpOverlapped);
#define CreateFile CreateFileA
#define DeleteFile DeleteFileA
#define GetTempPath GetTempPathA
#define GetTempFileName GetTempFileNameA

/* ------------------------------------------------------------------------ */
/* Modules and threads                                                       */
/* ------------------------------------------------------------------------ */

/* dlopen(lpLibFileName): a name ending in ".dll" that dlopen cannot find
 * is tried again ending in ".so" (so "plugin.dll" finds plugin.so). NULL
 * and ERROR_MOD_NOT_FOUND when nothing loads. FreeLibrary drops the
 * reference (dlclose). GetModuleHandleA takes no reference: NULL names the
 * program; a module not loaded gives NULL + ERROR_MOD_NOT_FOUND.
 * GetProcAddress: NULL + ERROR_PROC_NOT_FOUND. An HMODULE is what
 * SetThreadpoolCallbackLibrary and FreeLibraryWhenCallbackReturns take. */
NTP_EXTERN HMODULE LoadLibraryA(LPCSTR lpLibFileName);
NTP_EXTERN HMODULE GetModuleHandleA(LPCSTR lpModuleName);
NTP_EXTERN FARPROC GetProcAddress(HMODULE hModule, LPCSTR lpProcName);
NTP_EXTERN BOOL FreeLibrary(HMODULE hLibModule);
#define LoadLibrary LoadLibraryA
#define GetModuleHandle GetModuleHandleA

#define CREATE_SUSPENDED 0x00000004u
#define STACK_SIZE_PARAM_IS_A_RESERVATION 0x00010000u
/* A thread running lpStartAddress(lpParameter); the handle is waitable and
 * signalled when the thread has exited, and GetExitCodeThread then gives
 * the routine's result (STILL_ACTIVE before). CREATE_SUSPENDED is refused
 * with ERROR_NOT_SUPPORTED. dwStackSize 0: the default. */
NTP_EXTERN HANDLE CreateThread(LPSECURITY_ATTRIBUTES lpThreadAttributes,
                               SIZE_T dwStackSize,
                               LPTHREAD_START_ROUTINE lpStartAddress,
                               LPVOID lpParameter, DWORD dwCreationFlags,
                               LPDWORD lpThreadId);
NTP_EXTERN BOOL GetExitCodeThread(HANDLE hThread, LPDWORD lpExitCode);

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

/* INVALID_HANDLE_VALUE is the current process' pseudo-handle, as on
 * Windows: waitable (here and in SetThreadpoolWait), never signalled. */
NTP_EXTERN DWORD WaitForSingleObject(HANDLE hHandle, DWORD dwMilliseconds);
NTP_EXTERN DWORD WaitForSingleObjectEx(HANDLE hHandle, DWORD dwMilliseconds,
                                       BOOL bAlertable);
NTP_EXTERN DWORD WaitForMultipleObjects(DWORD nCount, const HANDLE *lpHandles,
                                        BOOL bWaitAll, DWORD dwMilliseconds);
NTP_EXTERN DWORD WaitForMultipleObjectsEx(DWORD nCount,
                                          const HANDLE *lpHandles,
                                          BOOL bWaitAll, DWORD dwMilliseconds,
                                          BOOL bAlertable);
/* SPEC 12: signal (semaphore +1, mutex released, event set), then wait.
 * Any other object to signal: WAIT_FAILED, ERROR_INVALID_HANDLE; a mutex
 * the caller does not own: WAIT_FAILED, ERROR_NOT_OWNER (nothing waited). */
NTP_EXTERN DWORD SignalObjectAndWait(HANDLE hObjectToSignal,
                                     HANDLE hObjectToWaitOn,
                                     DWORD dwMilliseconds, BOOL bAlertable);
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
static inline LONGLONG
InterlockedExchange64(LONGLONG volatile *p, LONGLONG v)
{
    return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);
}
static inline LONGLONG
InterlockedCompareExchange64(LONGLONG volatile *p, LONGLONG exchange,
                             LONGLONG comparand)
{
    __atomic_compare_exchange_n(p, &comparand, exchange, false,
                                __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return comparand;
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
