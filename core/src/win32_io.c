/*
 * win32_io.c -- thread-pool I/O objects (SPEC 9): CreateThreadpoolIo,
 * StartThreadpoolIo, CancelThreadpoolIo, WaitForThreadpoolIoCallbacks,
 * CloseThreadpoolIo, over ntpool's ntp_io.
 *
 * A PTP_IO is a small record around an ntp_io: the Windows callback takes
 * (instance, context, OVERLAPPED *, Win32 error code, bytes, PTP_IO),
 * ntp_io_cb (instance, context, ntp_overlapped *, ntp_status, bytes,
 * ntp_io *), so one trampoline converts; the accounting (announcements,
 * cancelled completions, deferred close) is all ntp_io's.
 *
 * LIFETIME. The record lives as long as its ntp_io: the io's release hook
 * (after its last callback and its last operation in flight, SPEC 9
 * CloseThreadpoolIo) unbinds the file if it is still bound to it, drops
 * the file reference and frees the record. CloseThreadpoolIo unbinds the
 * file first, so later ReadFile calls on the handle no longer reach the
 * closing object; a cleanup group that releases the object leaves it bound
 * until then, and operations issued meanwhile are refused (closed object).
 */
#include "win32_internal.h"

#include <stdlib.h>

struct _TP_IO {
    ntp_io *io;
    PTP_WIN32_IO_CALLBACK cb;
    void *ctx;
    ntp__file *file; /* our reference */
};

static void
trampoline(ntp_instance *inst, void *ctx, ntp_overlapped *nov,
           ntp_status result, size_t nbytes, ntp_io *io)
{
    (void)io;
    PTP_IO tp = ctx;
    OVERLAPPED *ov = NTP__OVERLAPPED_OF(nov);
    tp->cb(inst, tp->ctx, ov, ntp__win32_io_result(ov, result, nbytes),
           (ULONG_PTR)nbytes, tp);
}

static void
release(void *ctx)
{
    PTP_IO tp = ctx;
    ntp__file *f = tp->file;
    pthread_mutex_lock(&f->lock); /* recursive: see ntp__file */
    if (f->io == tp->io) {
        f->io = NULL;
        f->binding = NTP__FILE_UNBOUND;
    }
    pthread_mutex_unlock(&f->lock);
    ntp__file_unref(f);
    ntp__free(tp);
}

PTP_IO
CreateThreadpoolIo(HANDLE fl, PTP_WIN32_IO_CALLBACK pfnio, PVOID pv,
                   PTP_CALLBACK_ENVIRON pcbe)
{
    if (pfnio == NULL) {
        ntp__win32_set_error(ERROR_INVALID_PARAMETER);
        return NULL;
    }
    ntp__file *f = ntp__file_get(fl); /* ERROR_INVALID_HANDLE if not */
    if (f == NULL)
        return NULL;
    PTP_IO tp = ntp__calloc(1, sizeof *tp);
    if (tp == NULL) {
        ntp__file_unref(f);
        ntp__win32_set_error(ERROR_NOT_ENOUGH_MEMORY);
        return NULL;
    }
    tp->cb = pfnio;
    tp->ctx = pv;
    tp->file = f;

    ntp_env env;
    ntp_io *old = NULL;
    ntp_status st = 0;
    pthread_mutex_lock(&f->lock);
    if (f->binding == NTP__FILE_TP_IO || f->binding == NTP__FILE_BIND) {
        st = NTP_EINVAL; /* bound already (SPEC 9, 14) */
    } else {
        st = ntp_io_create(&tp->io, f->fd, trampoline, tp,
                           ntp__win32_env(pcbe, &env));
        if (st == 0) {
            ntp__win32_file_io_init(tp->io);
            (void)ntp_io_set_release(tp->io, release);
            if (f->binding == NTP__FILE_INTERNAL)
                old = f->io; /* ours: its operations go on, unseen */
            f->io = tp->io;
            f->binding = NTP__FILE_TP_IO;
        }
    }
    pthread_mutex_unlock(&f->lock);
    if (old)
        ntp_io_close(old);
    if (st < 0) {
        ntp__file_unref(f);
        ntp__free(tp);
        return ntp__win32_object(st, NULL);
    }
    return tp;
}

void
StartThreadpoolIo(PTP_IO pio)
{
    if (pio)
        ntp_io_start(pio->io);
}

void
CancelThreadpoolIo(PTP_IO pio)
{
    if (pio)
        ntp_io_cancel(pio->io);
}

void
WaitForThreadpoolIoCallbacks(PTP_IO pio, BOOL cancel)
{
    if (pio)
        ntp_io_wait(pio->io, cancel != FALSE);
}

void
CloseThreadpoolIo(PTP_IO pio)
{
    if (pio == NULL)
        return;
    ntp_io *io = pio->io;
    ntp__file *f = pio->file;
    pthread_mutex_lock(&f->lock);
    if (f->io == io) {
        f->io = NULL;
        f->binding = NTP__FILE_UNBOUND;
    }
    pthread_mutex_unlock(&f->lock);
    ntp_io_close(io); /* may free pio (release) */
}
