/*
 * win32_internal.h -- what the files of the Win32 layer share: the
 * thread's last error and the conversions of results (win32.c), and the
 * file records behind file HANDLEs (win32_file.c), which the I/O objects
 * (win32_io.c) and BindIoCompletionCallback (win32_legacy.c) bind to.
 *
 * Files of the layer, one responsibility each:
 *   win32.c         thread-pool API, sync objects, waits, APCs, helpers
 *   win32_file.c    files: CreateFileA & co, ReadFile/WriteFile,
 *                   GetOverlappedResult, CancelIo[Ex], fd <-> HANDLE
 *   win32_io.c      thread-pool I/O objects (CreateThreadpoolIo ...)
 *   win32_legacy.c  the original API (QueueUserWorkItem ...)
 *   win32_module.c  LoadLibraryA, GetProcAddress, FreeLibrary ...
 *   win32_thread.c  CreateThread, GetExitCodeThread
 */
#ifndef NTP_WIN32_INTERNAL_H
#define NTP_WIN32_INTERNAL_H

#include "internal.h"

#include <ntpool/win32.h>

#include <pthread.h>

/* ---- results (win32.c) ---- */

void ntp__win32_set_error(DWORD code);
/* TRUE on success; FALSE and the last error otherwise. */
BOOL ntp__win32_bool(ntp_status st);
/* obj on success; NULL and the last error otherwise. */
void *ntp__win32_object(ntp_status st, void *obj);
/* A due time in 100 ns ticks (SPEC 1.2) as an ntp_due. */
ntp_due ntp__win32_due_of_ticks(int64_t ticks);
/* The native environment for a Windows one (NULL for NULL). */
const ntp_env *ntp__win32_env(const TP_CALLBACK_ENVIRON *pcbe, ntp_env *env);

/* ---- file records (win32_file.c) ---- */

/* How a file's overlapped operations reach an I/O object. */
typedef enum ntp__file_binding {
    NTP__FILE_UNBOUND,  /* none yet */
    NTP__FILE_INTERNAL, /* our own, made by the first overlapped operation
                           on a file bound to nothing: completions only set
                           hEvent and the OVERLAPPED */
    NTP__FILE_TP_IO,    /* CreateThreadpoolIo */
    NTP__FILE_BIND      /* BindIoCompletionCallback */
} ntp__file_binding;

/*
 * What a file HANDLE stands for. LIFETIME: counted references, one held
 * by the HANDLE (dropped when the handle is destroyed: CloseHandle and no
 * wait left on it) and one by each I/O object bound to the file (dropped
 * by its release hook, once its last operation and callback are over), so
 * the descriptor stays open while the kernel or a pool thread may still
 * use it. The last reference closes fd (and deletes the file for
 * FILE_FLAG_DELETE_ON_CLOSE).
 */
typedef struct ntp__file {
    /* Guards binding and io; comes before the locks of io.c. Recursive,
     * because an I/O object closed under it may run its release hook at
     * once, and that takes it to unbind. */
    pthread_mutex_t lock;
    long refs;            /* atomic */
    int fd;
    bool overlapped;      /* FILE_FLAG_OVERLAPPED */
    bool regular;         /* offsets apply (else a stream: pipe, socket) */
    bool readable, writable; /* the access it was opened with */
    char *delete_path;    /* FILE_FLAG_DELETE_ON_CLOSE: unlink at the end */
    ntp__file_binding binding;
    ntp_io *io;           /* the bound I/O object, NULL when unbound */
} ntp__file;

/* The record behind a file HANDLE, with a reference the caller drops with
 * ntp__file_unref; NULL (last error ERROR_INVALID_HANDLE) if h is not an
 * open file handle. */
ntp__file *ntp__file_get(HANDLE h);
void ntp__file_ref(ntp__file *f);
void ntp__file_unref(ntp__file *f);
/* CloseHandle of a file: cancel what still waits (no error reported). */
void ntp__win32_file_closing(HANDLE h);

/* Fill in the OVERLAPPED around each completion of io (win32_file.c);
 * every I/O object bound to a file gets it before its first operation. */
void ntp__win32_file_io_init(ntp_io *io);

/* The OVERLAPPED that embeds ov. */
#define NTP__OVERLAPPED_OF(ov) ntp__container_of((ov), OVERLAPPED, ntp_)

/* An I/O completion as Windows reports it: the Win32 error code for an
 * operation's result, reading 0 bytes at the end of a file or pipe as
 * ERROR_HANDLE_EOF / ERROR_BROKEN_PIPE. Pure: the OVERLAPPED is read
 * only. */
DWORD ntp__win32_io_result(OVERLAPPED *ov, ntp_status result, size_t nbytes);

#endif /* NTP_WIN32_INTERNAL_H */
