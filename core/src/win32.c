/*
 * win32.c -- the functions of <ntpool/win32.h>: Windows names and return
 * conventions over the native API. Each function does three things only:
 * convert the arguments (FILETIME due times, TP_CALLBACK_ENVIRON, BOOLs),
 * call ntpool, and turn an ntp_status into the Windows result and the
 * thread's last error (SPEC 1.3, 14). Void functions report nothing, as
 * on Windows; ntpool's diagnostics still tell about misuse.
 */
#include "win32_internal.h"

#include <time.h>
#include <unistd.h>

/* ---- last error ---- */

static _Thread_local DWORD last_error;

DWORD
GetLastError(void)
{
    return last_error;
}

void
SetLastError(DWORD code)
{
    last_error = code;
}

DWORD
NtpWin32ErrorFromStatus(ntp_status st)
{
    switch (st) {
    case 0: return ERROR_SUCCESS;
    case NTP_EINVAL: return ERROR_INVALID_PARAMETER;
    case NTP_ENOMEM: case NTP_EAGAIN: return ERROR_NOT_ENOUGH_MEMORY;
    case NTP_EBADF: return ERROR_INVALID_HANDLE;
    case NTP_EPERM: return ERROR_NOT_OWNER;
    case NTP_EOVERFLOW: return ERROR_TOO_MANY_POSTS;
    case NTP_ECANCELED: return ERROR_OPERATION_ABORTED;
    case NTP_EEXIST: return ERROR_ALREADY_EXISTS;
    case NTP_ENOTSUP: case NTP_ENOSYS: return ERROR_NOT_SUPPORTED;
    case NTP_EINPROGRESS: return ERROR_IO_PENDING;
    case NTP_ETIMEDOUT: return ERROR_TIMEOUT;
    default: return ERROR_GEN_FAILURE;
    }
}

static BOOL bool_result(ntp_status st);
static void *object_result(ntp_status st, void *obj);
static ntp_due due_of_ticks(int64_t v);
static const ntp_env *env_of(const TP_CALLBACK_ENVIRON *pcbe, ntp_env *env);

void
ntp__win32_set_error(DWORD code)
{
    last_error = code;
}

BOOL
ntp__win32_bool(ntp_status st)
{
    return bool_result(st);
}

void *
ntp__win32_object(ntp_status st, void *obj)
{
    return object_result(st, obj);
}

ntp_due
ntp__win32_due_of_ticks(int64_t ticks)
{
    return due_of_ticks(ticks);
}

const ntp_env *
ntp__win32_env(const TP_CALLBACK_ENVIRON *pcbe, ntp_env *env)
{
    return env_of(pcbe, env);
}

/* TRUE on success; FALSE and the last error otherwise. */
static BOOL
bool_result(ntp_status st)
{
    if (st < 0) {
        last_error = NtpWin32ErrorFromStatus(st);
        return FALSE;
    }
    return TRUE;
}

/* The object on success; NULL and the last error otherwise. (Call it with
 * the status in a variable: in object_result(create(&x), x) the compiler
 * may read x before create has set it.) */
static void *
object_result(ntp_status st, void *obj)
{
    if (st < 0) {
        last_error = NtpWin32ErrorFromStatus(st);
        return NULL;
    }
    return obj;
}

/* ---- time ---- */

#define FILETIME_UNIX_EPOCH 116444736000000000LL /* 1970 in 100 ns ticks */

/* A due time in 100 ns ticks (SPEC 1.2): negative relative, zero now,
 * positive absolute since 1601. */
static ntp_due
due_of_ticks(int64_t v)
{
    if (v == 0)
        return ntp_due_in_ns(0);
    if (v < 0) {
        uint64_t ticks = (uint64_t)(-(v + 1)) + 1u; /* no overflow at MIN */
        return ntp_due_in_ns(ticks > UINT64_MAX / 100u ? UINT64_MAX
                                                       : ticks * 100u);
    }
    if (v <= FILETIME_UNIX_EPOCH)
        return ntp_due_at_unix_ns(1); /* before 1970: long past, due now */
    return ntp_due_at_unix_ns((uint64_t)(v - FILETIME_UNIX_EPOCH) * 100u);
}

/* The same in a FILETIME; NULL: none. */
static ntp_due
due_of_filetime(const FILETIME *ft)
{
    if (ft == NULL)
        return ntp_due_none();
    return due_of_ticks((int64_t)(((uint64_t)ft->dwHighDateTime << 32) |
                                  ft->dwLowDateTime));
}

/* ---- environments ---- */

/* The native environment for a Windows one; NULL for NULL (the default
 * pool). Version 1 environments end before CallbackPriority. */
static const ntp_env *
env_of(const TP_CALLBACK_ENVIRON *pcbe, ntp_env *env)
{
    if (pcbe == NULL)
        return NULL;
    ntp_env_init(env);
    env->version = pcbe->Version;
    env->pool = pcbe->Pool;
    env->cleanup_group = pcbe->CleanupGroup;
    env->cancel_cb = pcbe->CleanupGroupCancelCallback;
    env->library = pcbe->RaceDll;
    env->finalization_cb = pcbe->FinalizationCallback;
    env->flags = (pcbe->u.s.LongFunction ? NTP_ENV_RUNS_LONG : 0u) |
                 (pcbe->u.s.Persistent ? NTP_ENV_PERSISTENT : 0u);
    env->priority = pcbe->Version >= 3 ? (int)pcbe->CallbackPriority
                                       : NTP_PRIORITY_NORMAL;
    return env;
}

/* ---- pools and cleanup groups ---- */

PTP_POOL
CreateThreadpool(PVOID reserved)
{
    (void)reserved;
    ntp_pool *p = NULL;
    ntp_status st = ntp_pool_create(&p);
    return object_result(st, p);
}

void
CloseThreadpool(PTP_POOL ptpp)
{
    ntp_pool_close(ptpp);
}

void
SetThreadpoolThreadMaximum(PTP_POOL ptpp, DWORD cthrdMost)
{
    ntp_pool_set_max_threads(ptpp, cthrdMost);
}

BOOL
SetThreadpoolThreadMinimum(PTP_POOL ptpp, DWORD cthrdMic)
{
    return bool_result(ntp_pool_set_min_threads(ptpp, cthrdMic));
}

BOOL
SetThreadpoolStackInformation(PTP_POOL ptpp, PTP_POOL_STACK_INFORMATION si)
{
    if (si == NULL)
        return bool_result(NTP_EINVAL);
    return bool_result(
        ntp_pool_set_stack(ptpp, si->StackReserve, si->StackCommit));
}

BOOL
QueryThreadpoolStackInformation(PTP_POOL ptpp, PTP_POOL_STACK_INFORMATION si)
{
    if (si == NULL)
        return bool_result(NTP_EINVAL);
    size_t reserve = 0, commit = 0;
    ntp_status st = ntp_pool_get_stack(ptpp, &reserve, &commit);
    if (st == 0) {
        si->StackReserve = reserve;
        si->StackCommit = commit;
    }
    return bool_result(st);
}

PTP_CLEANUP_GROUP
CreateThreadpoolCleanupGroup(void)
{
    ntp_cleanup_group *g = NULL;
    ntp_status st = ntp_cleanup_group_create(&g);
    return object_result(st, g);
}

void
CloseThreadpoolCleanupGroupMembers(PTP_CLEANUP_GROUP ptpcg, BOOL cancel,
                                   PVOID cleanup_ctx)
{
    (void)ntp_cleanup_group_close_members(ptpcg, cancel != FALSE,
                                          cleanup_ctx);
}

void
CloseThreadpoolCleanupGroup(PTP_CLEANUP_GROUP ptpcg)
{
    ntp_cleanup_group_close(ptpcg);
}

/* ---- work ---- */

PTP_WORK
CreateThreadpoolWork(PTP_WORK_CALLBACK pfnwk, PVOID pv,
                     PTP_CALLBACK_ENVIRON pcbe)
{
    ntp_env env;
    ntp_work *w = NULL;
    ntp_status st = ntp_work_create(&w, pfnwk, pv, env_of(pcbe, &env));
    return object_result(st, w);
}

void
SubmitThreadpoolWork(PTP_WORK pwk)
{
    ntp_work_submit(pwk);
}

BOOL
TrySubmitThreadpoolCallback(PTP_SIMPLE_CALLBACK pfns, PVOID pv,
                            PTP_CALLBACK_ENVIRON pcbe)
{
    ntp_env env;
    return bool_result(ntp_try_submit(pfns, pv, env_of(pcbe, &env)));
}

void
WaitForThreadpoolWorkCallbacks(PTP_WORK pwk, BOOL cancel)
{
    ntp_work_wait(pwk, cancel != FALSE);
}

void
CloseThreadpoolWork(PTP_WORK pwk)
{
    ntp_work_close(pwk);
}

/* ---- timers ---- */

PTP_TIMER
CreateThreadpoolTimer(PTP_TIMER_CALLBACK pfnti, PVOID pv,
                      PTP_CALLBACK_ENVIRON pcbe)
{
    ntp_env env;
    ntp_timer *t = NULL;
    ntp_status st = ntp_timer_create(&t, pfnti, pv, env_of(pcbe, &env));
    return object_result(st, t);
}

void
SetThreadpoolTimer(PTP_TIMER pti, PFILETIME due, DWORD period, DWORD window)
{
    ntp_timer_set(pti, due_of_filetime(due), period, window);
}

BOOL
SetThreadpoolTimerEx(PTP_TIMER pti, PFILETIME due, DWORD period,
                     DWORD window)
{
    return ntp_timer_set_ex(pti, due_of_filetime(due), period, window);
}

BOOL
IsThreadpoolTimerSet(PTP_TIMER pti)
{
    return ntp_timer_is_set(pti);
}

void
WaitForThreadpoolTimerCallbacks(PTP_TIMER pti, BOOL cancel)
{
    ntp_timer_wait(pti, cancel != FALSE);
}

void
CloseThreadpoolTimer(PTP_TIMER pti)
{
    ntp_timer_close(pti);
}

/* ---- waits ---- */

PTP_WAIT
CreateThreadpoolWait(PTP_WAIT_CALLBACK pfnwa, PVOID pv,
                     PTP_CALLBACK_ENVIRON pcbe)
{
    ntp_env env;
    ntp_wait *w = NULL;
    ntp_status st = ntp_wait_create(&w, pfnwa, pv, env_of(pcbe, &env));
    return object_result(st, w);
}

/* INVALID_HANDLE_VALUE is the current process' pseudo-handle: waitable,
 * signalled only when the process has ended, so never for us (SPEC 8,
 * [obs]). It stands for an event nobody sets, made on first use and kept
 * for the life of the process. */
static ntp_handle *process_handle;
static pthread_once_t process_once = PTHREAD_ONCE_INIT;

static void
make_process_handle(void)
{
    if (ntp_event_create(&process_handle, true, false) == 0)
        ntp__live_dec(); /* immortal by design: not a leak to report */
}

static HANDLE
waitable(HANDLE h)
{
    if (h != INVALID_HANDLE_VALUE)
        return h;
    pthread_once(&process_once, make_process_handle);
    return process_handle ? process_handle : h;
}

/* SetThreadpoolWait's timeout: NULL waits forever (unlike a timer's NULL,
 * which stops it), zero times out at once. */
static ntp_due
wait_timeout_of(const FILETIME *ft)
{
    return ft == NULL ? ntp_due_none() : due_of_filetime(ft);
}

void
SetThreadpoolWait(PTP_WAIT pwa, HANDLE h, PFILETIME timeout)
{
    /* With no handle the timeout is ignored, even a garbage pointer
     * (SPEC 8, [obs]). */
    ntp_wait_set_due(pwa, waitable(h),
                     h ? wait_timeout_of(timeout) : ntp_due_none());
}

BOOL
SetThreadpoolWaitEx(PTP_WAIT pwa, HANDLE h, PFILETIME timeout,
                    PVOID reserved)
{
    (void)reserved;
    return ntp_wait_set_ex(pwa, waitable(h),
                           h ? wait_timeout_of(timeout) : ntp_due_none());
}

void
WaitForThreadpoolWaitCallbacks(PTP_WAIT pwa, BOOL cancel)
{
    ntp_wait_wait(pwa, cancel != FALSE);
}

void
CloseThreadpoolWait(PTP_WAIT pwa)
{
    ntp_wait_close(pwa);
}

/* ---- callback instances ---- */

BOOL
CallbackMayRunLong(PTP_CALLBACK_INSTANCE pci)
{
    return ntp_instance_may_run_long(pci);
}

void
DisassociateCurrentThreadFromCallback(PTP_CALLBACK_INSTANCE pci)
{
    ntp_instance_disassociate(pci);
}

void
SetEventWhenCallbackReturns(PTP_CALLBACK_INSTANCE pci, HANDLE evt)
{
    (void)ntp_instance_set_event_on_return(pci, evt);
}

void
ReleaseSemaphoreWhenCallbackReturns(PTP_CALLBACK_INSTANCE pci, HANDLE sem,
                                    DWORD crel)
{
    (void)ntp_instance_release_semaphore_on_return(pci, sem, crel);
}

void
ReleaseMutexWhenCallbackReturns(PTP_CALLBACK_INSTANCE pci, HANDLE mut)
{
    (void)ntp_instance_release_mutex_on_return(pci, mut);
}

void
LeaveCriticalSectionWhenCallbackReturns(PTP_CALLBACK_INSTANCE pci,
                                        PCRITICAL_SECTION pcs)
{
    (void)ntp_instance_leave_cs_on_return(pci, pcs);
}

void
FreeLibraryWhenCallbackReturns(PTP_CALLBACK_INSTANCE pci, HMODULE mod)
{
    (void)ntp_instance_free_library_on_return(pci, mod);
}

/* ---- sync objects ---- */

/* Named kernel objects are shared between processes on Windows; ntpool's
 * handles are process-local, so a name is refused rather than ignored. */
static bool
name_refused(const void *name)
{
    if (name == NULL)
        return false;
    last_error = ERROR_NOT_SUPPORTED;
    return true;
}

static HANDLE
create_event(BOOL manual, BOOL initial, const void *name)
{
    if (name_refused(name))
        return NULL;
    ntp_handle *h = NULL;
    ntp_status st = ntp_event_create(&h, manual != FALSE,
                                          initial != FALSE);
    return object_result(st, h);
}

HANDLE
CreateEventA(LPSECURITY_ATTRIBUTES sa, BOOL manual, BOOL initial,
             LPCSTR name)
{
    (void)sa;
    return create_event(manual, initial, name);
}

HANDLE
CreateEventW(LPSECURITY_ATTRIBUTES sa, BOOL manual, BOOL initial,
             LPCWSTR name)
{
    (void)sa;
    return create_event(manual, initial, name);
}

BOOL
SetEvent(HANDLE h)
{
    return bool_result(ntp_event_set(h));
}

BOOL
ResetEvent(HANDLE h)
{
    return bool_result(ntp_event_reset(h));
}

BOOL
PulseEvent(HANDLE h)
{
    return bool_result(ntp_event_pulse(h));
}

static HANDLE
create_semaphore(LONG initial, LONG max, const void *name)
{
    if (name_refused(name))
        return NULL;
    ntp_handle *h = NULL;
    ntp_status st = ntp_semaphore_create(&h, initial, max);
    return object_result(st, h);
}

HANDLE
CreateSemaphoreA(LPSECURITY_ATTRIBUTES sa, LONG initial, LONG max,
                 LPCSTR name)
{
    (void)sa;
    return create_semaphore(initial, max, name);
}

HANDLE
CreateSemaphoreW(LPSECURITY_ATTRIBUTES sa, LONG initial, LONG max,
                 LPCWSTR name)
{
    (void)sa;
    return create_semaphore(initial, max, name);
}

BOOL
ReleaseSemaphore(HANDLE h, LONG count, LPLONG previous)
{
    int32_t prev = 0;
    ntp_status st = ntp_semaphore_release(h, count, &prev);
    if (st == 0 && previous)
        *previous = prev;
    return bool_result(st);
}

static HANDLE
create_mutex(BOOL owner, const void *name)
{
    if (name_refused(name))
        return NULL;
    ntp_handle *h = NULL;
    ntp_status st = ntp_mutex_create(&h, owner != FALSE);
    return object_result(st, h);
}

HANDLE
CreateMutexA(LPSECURITY_ATTRIBUTES sa, BOOL owner, LPCSTR name)
{
    (void)sa;
    return create_mutex(owner, name);
}

HANDLE
CreateMutexW(LPSECURITY_ATTRIBUTES sa, BOOL owner, LPCWSTR name)
{
    (void)sa;
    return create_mutex(owner, name);
}

BOOL
ReleaseMutex(HANDLE h)
{
    return bool_result(ntp_mutex_release(h));
}

static HANDLE
create_waitable_timer(BOOL manual, const void *name)
{
    if (name_refused(name))
        return NULL;
    ntp_handle *h = NULL;
    ntp_status st = ntp_waitable_timer_create(&h, manual != FALSE);
    return object_result(st, h);
}

HANDLE
CreateWaitableTimerA(LPSECURITY_ATTRIBUTES sa, BOOL manual, LPCSTR name)
{
    (void)sa;
    return create_waitable_timer(manual, name);
}

HANDLE
CreateWaitableTimerW(LPSECURITY_ATTRIBUTES sa, BOOL manual, LPCWSTR name)
{
    (void)sa;
    return create_waitable_timer(manual, name);
}

BOOL
SetWaitableTimer(HANDLE h, const LARGE_INTEGER *due, LONG period,
                 PTIMERAPCROUTINE routine, LPVOID arg, BOOL resume)
{
    if (due == NULL)
        return bool_result(NTP_EINVAL);
    ntp_due d = due_of_ticks(due->QuadPart);
    /* PTIMERAPCROUTINE and ntp_timer_apc_fn take the same arguments. */
    ntp_status st =
        routine ? ntp_waitable_timer_set_apc(h, d, period,
                                             (ntp_timer_apc_fn)routine, arg)
                : ntp_waitable_timer_set(h, d, period);
    BOOL ok = bool_result(st);
    if (ok && resume)
        last_error = ERROR_NOT_SUPPORTED; /* set, but cannot wake the
                                             machine (SPEC 14) */
    return ok;
}

BOOL
CancelWaitableTimer(HANDLE h)
{
    return bool_result(ntp_waitable_timer_cancel(h));
}

void
InitializeCriticalSection(LPCRITICAL_SECTION cs)
{
    ntp_cs_init(cs);
}

BOOL
InitializeCriticalSectionAndSpinCount(LPCRITICAL_SECTION cs, DWORD spin)
{
    (void)spin;
    ntp_cs_init(cs);
    return TRUE;
}

void
DeleteCriticalSection(LPCRITICAL_SECTION cs)
{
    ntp_cs_destroy(cs);
}

void
EnterCriticalSection(LPCRITICAL_SECTION cs)
{
    ntp_cs_enter(cs);
}

void
LeaveCriticalSection(LPCRITICAL_SECTION cs)
{
    (void)ntp_cs_leave(cs);
}

BOOL
TryEnterCriticalSection(LPCRITICAL_SECTION cs)
{
    return ntp_cs_try_enter(cs);
}

/* ---- waits ---- */

static DWORD
wait_result(int r)
{
    if (r < 0) {
        last_error = NtpWin32ErrorFromStatus(r);
        return WAIT_FAILED;
    }
    return (DWORD)r;
}

/* For one handle, the only invalid argument is the handle itself. */
static DWORD
single_wait_result(int r)
{
    return wait_result(r == NTP_EINVAL ? NTP_EBADF : r);
}

DWORD
WaitForSingleObject(HANDLE h, DWORD ms)
{
    return single_wait_result(ntp_wait_for_single(waitable(h), ms, false));
}

DWORD
WaitForSingleObjectEx(HANDLE h, DWORD ms, BOOL alertable)
{
    return single_wait_result(
        ntp_wait_for_single(waitable(h), ms, alertable != FALSE));
}

DWORD
WaitForMultipleObjects(DWORD n, const HANDLE *hs, BOOL all, DWORD ms)
{
    return wait_result(ntp_wait_for_multiple(n, (ntp_handle *const *)hs,
                                             all != FALSE, ms, false));
}

DWORD
WaitForMultipleObjectsEx(DWORD n, const HANDLE *hs, BOOL all, DWORD ms,
                         BOOL alertable)
{
    return wait_result(ntp_wait_for_multiple(n, (ntp_handle *const *)hs,
                                             all != FALSE, ms,
                                             alertable != FALSE));
}

DWORD
SignalObjectAndWait(HANDLE to_signal, HANDLE to_wait, DWORD ms,
                    BOOL alertable)
{
    ntp_status st;
    switch (ntp_handle_kind_of(to_signal)) {
    case NTP_HANDLE_EVENT: st = ntp_event_set(to_signal); break;
    case NTP_HANDLE_SEMAPHORE:
        st = ntp_semaphore_release(to_signal, 1, NULL);
        break;
    case NTP_HANDLE_MUTEX: st = ntp_mutex_release(to_signal); break;
    default: st = NTP_EBADF; break; /* SPEC 12: not signallable */
    }
    if (st < 0) {
        last_error = NtpWin32ErrorFromStatus(st);
        return WAIT_FAILED;
    }
    return single_wait_result(
        ntp_wait_for_single(to_wait, ms, alertable != FALSE));
}

BOOL
CloseHandle(HANDLE h)
{
    if (h == (HANDLE)NTP_CURRENT_THREAD)
        return TRUE; /* a pseudo-handle: nothing to close */
    if (h == INVALID_HANDLE_VALUE)
        return TRUE; /* the current process' pseudo-handle, as Windows */
    if (h == NULL) {
        last_error = ERROR_INVALID_HANDLE;
        return FALSE;
    }
    if (ntp_handle_kind_of(h) == NTP_HANDLE_FILE)
        ntp__win32_file_closing(h); /* cancels its pending I/O */
    return bool_result(ntp_handle_close(h));
}

void
Sleep(DWORD ms)
{
    (void)ntp_sleep_ex(ms, false);
}

DWORD
SleepEx(DWORD ms, BOOL alertable)
{
    return (DWORD)ntp_sleep_ex(ms, alertable != FALSE);
}

DWORD
QueueUserAPC(PAPCFUNC fn, HANDLE thread, ULONG_PTR data)
{
    /* PAPCFUNC takes a ULONG_PTR where ntp_apc_fn takes a void *: on every
     * ABI Linux runs on, both travel in the same register. */
    ntp_status st = ntp_queue_apc(thread, (ntp_apc_fn)(void (*)(void))fn,
                                  (void *)data);
    if (st < 0) {
        last_error = st == NTP_ESRCH ? ERROR_GEN_FAILURE
                                     : NtpWin32ErrorFromStatus(st);
        return 0;
    }
    return 1;
}

/* ---- helpers ---- */

HANDLE
GetCurrentThread(void)
{
    return (HANDLE)NTP_CURRENT_THREAD;
}

DWORD
GetCurrentThreadId(void)
{
    return (DWORD)ntp__thread_id();
}

DWORD
GetCurrentProcessId(void)
{
    return (DWORD)getpid();
}

ULONGLONG
GetTickCount64(void)
{
    return ntp__now_ns() / 1000000u;
}

DWORD
GetTickCount(void)
{
    return (DWORD)GetTickCount64(); /* wraps after 49.7 days, as Windows */
}

void
GetSystemTimeAsFileTime(LPFILETIME ft)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t v = (uint64_t)ts.tv_sec * 10000000u +
                 (uint64_t)ts.tv_nsec / 100u + FILETIME_UNIX_EPOCH;
    ft->dwLowDateTime = (DWORD)v;
    ft->dwHighDateTime = (DWORD)(v >> 32);
}

BOOL
QueryPerformanceCounter(LARGE_INTEGER *count)
{
    count->QuadPart = (LONGLONG)ntp__now_ns(); /* in ns: frequency 1e9 */
    return TRUE;
}

BOOL
QueryPerformanceFrequency(LARGE_INTEGER *freq)
{
    freq->QuadPart = 1000000000;
    return TRUE;
}
