/*
 * win32_legacy.c -- the original thread-pool API under its Windows names
 * (SPEC 11): QueueUserWorkItem, RegisterWaitForSingleObject,
 * UnregisterWait[Ex], timer queues and BindIoCompletionCallback, over
 * legacy.c. Wait handles and timer handles are legacy.c's objects; the
 * NTP_EINPROGRESS of the unregister and delete calls is Windows' FALSE
 * with ERROR_IO_PENDING ("not a failure", SPEC 11, CONFORMANCE L146).
 *
 * The callback types match ntpool's but for WAITORTIMERCALLBACK's BOOLEAN,
 * which is ntp_wait_or_timer_fn's bool: both travel as one zero-extended
 * byte in the same register on every ABI Linux runs on, so the pointers
 * are passed through as they are (as win32.c does for PTIMERAPCROUTINE).
 */
#include "win32_internal.h"

/* FALSE + ERROR_IO_PENDING for NTP_EINPROGRESS, else as ntp__win32_bool;
 * `einval_is_handle`: a NULL or dead handle was the only invalid
 * argument, which Windows reports as ERROR_INVALID_HANDLE. */
static BOOL
pending_result(ntp_status st, bool einval_is_handle)
{
    if (st == NTP_EINPROGRESS) {
        ntp__win32_set_error(ERROR_IO_PENDING);
        return FALSE;
    }
    if (st == NTP_EINVAL && einval_is_handle)
        st = NTP_EBADF;
    return ntp__win32_bool(st);
}

BOOL
QueueUserWorkItem(LPTHREAD_START_ROUTINE fn, PVOID ctx, ULONG flags)
{
    return ntp__win32_bool(
        ntp_queue_user_work_item((ntp_thread_start_fn)fn, ctx, flags));
}

BOOL
RegisterWaitForSingleObject(PHANDLE out, HANDLE h, WAITORTIMERCALLBACK cb,
                            PVOID ctx, ULONG ms, ULONG flags)
{
    if (out == NULL || cb == NULL) {
        ntp__win32_set_error(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    if (h == NULL) {
        ntp__win32_set_error(ERROR_INVALID_HANDLE);
        return FALSE;
    }
    /* *out is written before any callback can run (CONFORMANCE K124). */
    return ntp__win32_bool(ntp_register_wait((ntp_registered_wait **)out, h,
                                             (ntp_wait_or_timer_fn)(void (*)(void))cb, ctx,
                                             ms, flags));
}

BOOL
UnregisterWaitEx(HANDLE wait, HANDLE completion)
{
    /* INVALID_HANDLE_VALUE is NTP_COMPLETION_WAIT: the same value. */
    return pending_result(
        ntp_unregister_wait_ex(wait, (ntp_handle *)completion), true);
}

BOOL
UnregisterWait(HANDLE wait)
{
    return UnregisterWaitEx(wait, NULL);
}

HANDLE
CreateTimerQueue(void)
{
    ntp_timer_queue *q = NULL;
    ntp_status st = ntp_timer_queue_create(&q);
    return ntp__win32_object(st, q);
}

BOOL
CreateTimerQueueTimer(PHANDLE out, HANDLE queue, WAITORTIMERCALLBACK cb,
                      PVOID param, DWORD due, DWORD period, ULONG flags)
{
    if (out == NULL || cb == NULL) {
        ntp__win32_set_error(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    return ntp__win32_bool(ntp_timer_queue_timer_create(
        (ntp_timer_queue_timer **)out, queue, (ntp_wait_or_timer_fn)(void (*)(void))cb, param,
        due, period, flags));
}

BOOL
ChangeTimerQueueTimer(HANDLE queue, HANDLE timer, ULONG due, ULONG period)
{
    return pending_result(
        ntp_timer_queue_timer_change(queue, timer, due, period), false);
}

BOOL
DeleteTimerQueueTimer(HANDLE queue, HANDLE timer, HANDLE completion)
{
    return pending_result(ntp_timer_queue_timer_delete(
                              queue, timer, (ntp_handle *)completion),
                          false);
}

BOOL
DeleteTimerQueueEx(HANDLE queue, HANDLE completion)
{
    /* NULL: the default queue, which cannot be deleted (K126). */
    return pending_result(
        ntp_timer_queue_delete_ex(queue, (ntp_handle *)completion), true);
}

BOOL
DeleteTimerQueue(HANDLE queue)
{
    return DeleteTimerQueueEx(queue, NULL);
}

/* ---- BindIoCompletionCallback ---- */

/* A binding's own record, freed with the binding (legacy.c's release). */
typedef struct bound {
    LPOVERLAPPED_COMPLETION_ROUTINE fn;
    ntp__file *file; /* the binding's reference */
} bound;

static void
bound_cb(void *ctx, ntp_status result, size_t nbytes, ntp_overlapped *nov)
{
    bound *b = ctx;
    OVERLAPPED *ov = NTP__OVERLAPPED_OF(nov);
    b->fn(ntp__win32_io_result(ov, result, nbytes), (DWORD)nbytes, ov);
}

static void
bound_release(void *ctx)
{
    bound *b = ctx;
    ntp__file_unref(b->file);
    ntp__free(b);
}

BOOL
BindIoCompletionCallback(HANDLE h, LPOVERLAPPED_COMPLETION_ROUTINE fn,
                         ULONG flags)
{
    if (h == NULL) {
        ntp__win32_set_error(ERROR_INVALID_HANDLE);
        return FALSE;
    }
    if (fn == NULL || flags != 0) {
        ntp__win32_set_error(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    ntp__file *f = ntp__file_get(h);
    if (f == NULL)
        return FALSE;
    bound *b = ntp__calloc(1, sizeof *b);
    if (b == NULL) {
        ntp__file_unref(f);
        ntp__win32_set_error(ERROR_NOT_ENOUGH_MEMORY);
        return FALSE;
    }
    b->fn = fn;
    b->file = f;

    ntp_status st;
    ntp_io *io = NULL, *old = NULL;
    pthread_mutex_lock(&f->lock);
    if (!f->overlapped || f->binding == NTP__FILE_TP_IO ||
        f->binding == NTP__FILE_BIND) {
        /* A handle without FILE_FLAG_OVERLAPPED, or bound already
         * (CONFORMANCE K138). */
        st = NTP_EINVAL;
    } else {
        st = ntp__bind_io_completion_callback(&io, f->fd, bound_cb, b, 0,
                                              bound_release, b);
        if (st == 0) {
            ntp__win32_file_io_init(io);
            if (f->binding == NTP__FILE_INTERNAL)
                old = f->io;
            f->io = io;
            f->binding = NTP__FILE_BIND;
        }
    }
    pthread_mutex_unlock(&f->lock);
    if (old)
        ntp_io_close(old);
    if (st < 0) {
        ntp__file_unref(f);
        ntp__free(b);
        return ntp__win32_bool(st);
    }
    return TRUE;
}
