/*
 * win32_file.c -- file HANDLEs: CreateFileA, DeleteFileA, GetTempPathA,
 * GetTempFileNameA, ReadFile/WriteFile (synchronous, or overlapped through
 * the handle's I/O object), GetOverlappedResult, CancelIo[Ex], and the
 * bridge between file descriptors and HANDLEs (NtpHandleFromFd,
 * NtpFdFromHandle).
 *
 * A file HANDLE is an ntpool handle of kind NTP_HANDLE_FILE (always
 * signalled, like a Windows file with no I/O pending) pointing at a file
 * record (win32_internal.h: ntp__file, its lifetime and lock). Overlapped
 * operations go to the I/O object bound to the file: the TP_IO of
 * CreateThreadpoolIo (the caller announces each operation with
 * StartThreadpoolIo), the binding of BindIoCompletionCallback, or, for a
 * file bound to neither, one of our own made on first use whose callback
 * does nothing (completion only sets hEvent; GetOverlappedResult reads the
 * result). For the last two, ReadFile/WriteFile make the announcement
 * themselves, as Windows needs none there.
 *
 * THE OVERLAPPED. ReadFile fills in ntp_ (offset, event) and marks
 * Internal STATUS_PENDING; at completion, on_done (io.c calls it first,
 * before hEvent is set and the result published) writes Internal (the
 * Win32 error code) and InternalHigh (the byte count). After ReadFile has
 * handed the operation over it never touches the OVERLAPPED again: its
 * callback may already have run and freed it.
 */
#include "sync.h"
#include "win32_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- errors ---- */

static DWORD
error_of_errno(int e)
{
    switch (e) {
    case 0: return ERROR_SUCCESS;
    case ENOENT: return ERROR_FILE_NOT_FOUND;
    case ENOTDIR: case ENAMETOOLONG: return ERROR_PATH_NOT_FOUND;
    case EEXIST: return ERROR_FILE_EXISTS;
    case EACCES: case EPERM: case EROFS: case EISDIR:
        return ERROR_ACCESS_DENIED;
    case EMFILE: case ENFILE: return ERROR_TOO_MANY_OPEN_FILES;
    case ENOMEM: return ERROR_NOT_ENOUGH_MEMORY;
    case EBADF: return ERROR_INVALID_HANDLE;
    case EINVAL: return ERROR_INVALID_PARAMETER;
    case EPIPE: return ERROR_NO_DATA; /* the reader is gone */
    case ECANCELED: return ERROR_OPERATION_ABORTED;
    case ENOSPC: return 112u;         /* ERROR_DISK_FULL */
    default: return ERROR_GEN_FAILURE;
    }
}

/* The Win32 code for an operation's result (a negative errno), reading 0
 * bytes as the end of the file or pipe. */
static DWORD
io_error(const ntp_overlapped *ov, ntp_status result, size_t nbytes)
{
    if (result < 0)
        return error_of_errno(-result);
    if (nbytes == 0 && ov->op_ == 0 /* read */ && ov->len_ > 0)
        return ov->offset == NTP_IO_STREAM ? ERROR_BROKEN_PIPE
                                           : ERROR_HANDLE_EOF;
    return NO_ERROR;
}

DWORD
ntp__win32_io_result(OVERLAPPED *ov, ntp_status result, size_t nbytes)
{
    return io_error(&ov->ntp_, result, nbytes);
}

/* Every completion of a file's I/O object, first thing (io.c). */
static void
on_done(ntp_overlapped *nov, ntp_status result, size_t nbytes)
{
    OVERLAPPED *ov = NTP__OVERLAPPED_OF(nov);
    ov->Internal = io_error(nov, result, nbytes);
    ov->InternalHigh = nbytes;
}

void
ntp__win32_file_io_init(ntp_io *io)
{
    ntp__io_set_on_done(io, on_done);
}

/* ---- file records and handles ---- */

typedef struct fhandle {
    struct ntp_handle base; /* first: handle.c frees it through this */
    ntp__file *file;        /* the handle's reference */
} fhandle;

void
ntp__file_ref(ntp__file *f)
{
    __atomic_add_fetch(&f->refs, 1, __ATOMIC_RELAXED);
}

void
ntp__file_unref(ntp__file *f)
{
    if (__atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    close(f->fd);
    free(f->delete_path);
    pthread_mutex_destroy(&f->lock);
    ntp__free(f);
}

static void
release_file(void *ctx)
{
    ntp__file_unref(ctx);
}

static bool
fh_signalled(ntp_handle *h, struct ntp__thread *t)
{
    (void)h, (void)t;
    return true;
}

static int
fh_acquire(ntp_handle *h, struct ntp__thread *t)
{
    (void)h, (void)t;
    return NTP_WAIT_OBJECT_0; /* consumes nothing */
}

/* The handle is gone. Our own I/O object and a BindIoCompletionCallback
 * binding have nobody else to close them: close them now (they keep the
 * file open until their last operation is over). A TP_IO stays until
 * CloseThreadpoolIo. */
static void
fh_destroy(ntp_handle *h)
{
    ntp__file *f = ((fhandle *)h)->file;
    ntp_io *io = NULL;
    if (f->delete_path)
        (void)unlink(f->delete_path); /* with its last handle, as Windows */
    pthread_mutex_lock(&f->lock);
    if (f->binding == NTP__FILE_INTERNAL || f->binding == NTP__FILE_BIND) {
        io = f->io;
        f->io = NULL;
        f->binding = NTP__FILE_UNBOUND;
    }
    pthread_mutex_unlock(&f->lock);
    if (io)
        ntp_io_close(io);
    ntp__file_unref(f);
}

static const struct ntp__handle_ops file_ops = {
    .kind = NTP_HANDLE_FILE,
    .name = "file",
    .signalled = fh_signalled,
    .acquire = fh_acquire,
    .destroy = fh_destroy,
};

/* A HANDLE owning fd (closed on failure). */
static HANDLE
new_file_handle(int fd, bool overlapped, const char *delete_path)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        ntp__win32_set_error(error_of_errno(errno));
        close(fd);
        return INVALID_HANDLE_VALUE;
    }
    ntp__file *f = ntp__calloc(1, sizeof *f);
    char *path = delete_path ? strdup(delete_path) : NULL;
    ntp_handle *h = NULL;
    if (f == NULL || (delete_path && path == NULL) ||
        ntp__handle_new(&h, sizeof(fhandle), &file_ops) < 0) {
        ntp__free(f);
        free(path);
        close(fd);
        ntp__win32_set_error(ERROR_NOT_ENOUGH_MEMORY);
        return INVALID_HANDLE_VALUE;
    }
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&f->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    f->refs = 1;
    f->fd = fd;
    f->overlapped = overlapped;
    f->regular = S_ISREG(sb.st_mode) || S_ISBLK(sb.st_mode);
    int acc = fcntl(fd, F_GETFL) & O_ACCMODE;
    f->readable = acc == O_RDONLY || acc == O_RDWR;
    f->writable = acc == O_WRONLY || acc == O_RDWR;
    f->delete_path = path;
    f->binding = NTP__FILE_UNBOUND;
    ((fhandle *)h)->file = f;
    return h;
}

ntp__file *
ntp__file_get(HANDLE h)
{
    ntp__file *f = NULL;
    if (h != NULL && h != INVALID_HANDLE_VALUE &&
        h != (HANDLE)NTP_CURRENT_THREAD) {
        pthread_mutex_lock(&ntp__sync_lock);
        if (ntp__handle_check_locked(h, NTP_HANDLE_FILE) == 0) {
            f = ((fhandle *)h)->file;
            ntp__file_ref(f); /* alive: the handle holds one */
        }
        pthread_mutex_unlock(&ntp__sync_lock);
    }
    if (f == NULL)
        ntp__win32_set_error(ERROR_INVALID_HANDLE);
    return f;
}

void
ntp__win32_file_closing(HANDLE h)
{
    ntp__file *f = ntp__file_get(h);
    if (f == NULL)
        return;
    pthread_mutex_lock(&f->lock);
    if (f->io)
        (void)ntp_io_cancel_ops(f->io, NULL);
    pthread_mutex_unlock(&f->lock);
    ntp__file_unref(f);
}

HANDLE
NtpHandleFromFd(int fd, DWORD flags)
{
    int dup = fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) {
        ntp__win32_set_error(errno == EMFILE ? ERROR_TOO_MANY_OPEN_FILES
                                             : ERROR_INVALID_HANDLE);
        return INVALID_HANDLE_VALUE;
    }
    return new_file_handle(dup, (flags & FILE_FLAG_OVERLAPPED) != 0, NULL);
}

int
NtpFdFromHandle(HANDLE h)
{
    ntp__file *f = ntp__file_get(h);
    if (f == NULL)
        return -1;
    int fd = f->fd;
    ntp__file_unref(f); /* the handle keeps it */
    return fd;
}

/* ---- opening, deleting, temporary files ---- */

HANDLE
CreateFileA(LPCSTR name, DWORD access, DWORD share,
            LPSECURITY_ATTRIBUTES sa, DWORD disposition, DWORD flags,
            HANDLE template_file)
{
    (void)share, (void)sa; /* no mandatory sharing on Linux */
    if (name == NULL || *name == '\0') {
        ntp__win32_set_error(ERROR_PATH_NOT_FOUND);
        return INVALID_HANDLE_VALUE;
    }
    if (template_file != NULL) {
        ntp__win32_set_error(ERROR_NOT_SUPPORTED);
        return INVALID_HANDLE_VALUE;
    }
    bool rd = access & (GENERIC_READ | GENERIC_ALL | 0x1u /* READ_DATA */);
    bool wr = access & (GENERIC_WRITE | GENERIC_ALL | 0x2u /* WRITE_DATA */ |
                        0x4u /* APPEND_DATA */);
    int oflags = O_CLOEXEC | (rd && wr ? O_RDWR : wr ? O_WRONLY : O_RDONLY);
    mode_t mode = (flags & FILE_ATTRIBUTE_READONLY) ? 0444 : 0666;
    bool existed = false;
    int fd;
    switch (disposition) {
    case CREATE_NEW:
        fd = open(name, oflags | O_CREAT | O_EXCL, mode);
        break;
    case OPEN_EXISTING:
        fd = open(name, oflags);
        break;
    case TRUNCATE_EXISTING:
        fd = open(name, oflags | O_TRUNC);
        break;
    case CREATE_ALWAYS:
    case OPEN_ALWAYS:
        /* Create it if it is not there; else open (and truncate) it and
         * say so with ERROR_ALREADY_EXISTS. A file deleted between the two
         * attempts is created on the next round. */
        for (int round = 0; round < 8; round++) {
            fd = open(name, oflags | O_CREAT | O_EXCL, mode);
            if (fd >= 0 || errno != EEXIST)
                break;
            fd = open(name, oflags |
                                (disposition == CREATE_ALWAYS ? O_TRUNC : 0));
            if (fd >= 0 || errno != ENOENT) {
                existed = fd >= 0;
                break;
            }
        }
        break;
    default:
        ntp__win32_set_error(ERROR_INVALID_PARAMETER);
        return INVALID_HANDLE_VALUE;
    }
    if (fd < 0) {
        ntp__win32_set_error(error_of_errno(errno));
        return INVALID_HANDLE_VALUE;
    }
    struct stat sb;
    if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        close(fd); /* directories need FILE_FLAG_BACKUP_SEMANTICS */
        ntp__win32_set_error(ERROR_ACCESS_DENIED);
        return INVALID_HANDLE_VALUE;
    }
    char *path = NULL;
    if (flags & FILE_FLAG_DELETE_ON_CLOSE)
        path = realpath(name, NULL); /* the cwd may change meanwhile */
    HANDLE h = new_file_handle(fd, (flags & FILE_FLAG_OVERLAPPED) != 0,
                               path ? path : NULL);
    free(path);
    if (h != INVALID_HANDLE_VALUE)
        ntp__win32_set_error(existed ? ERROR_ALREADY_EXISTS : NO_ERROR);
    return h;
}

BOOL
DeleteFileA(LPCSTR name)
{
    if (name == NULL) {
        ntp__win32_set_error(ERROR_PATH_NOT_FOUND);
        return FALSE;
    }
    struct stat sb;
    if (lstat(name, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        ntp__win32_set_error(ERROR_ACCESS_DENIED);
        return FALSE;
    }
    if (unlink(name) != 0) {
        ntp__win32_set_error(error_of_errno(errno));
        return FALSE;
    }
    return TRUE;
}

DWORD
GetTempPathA(DWORD size, LPSTR buf)
{
    const char *dir = getenv("TMPDIR");
    if (dir == NULL || *dir == '\0')
        dir = "/tmp";
    size_t len = strlen(dir);
    bool slash = dir[len - 1] != '/';
    DWORD need = (DWORD)(len + slash); /* without the NUL */
    if (buf == NULL || size < need + 1)
        return need + 1;
    memcpy(buf, dir, len);
    if (slash)
        buf[len] = '/';
    buf[need] = '\0';
    return need;
}

UINT
GetTempFileNameA(LPCSTR dir, LPCSTR prefix, UINT unique, LPSTR out)
{
    if (dir == NULL || out == NULL) {
        ntp__win32_set_error(ERROR_INVALID_PARAMETER);
        return 0;
    }
    size_t dlen = strlen(dir);
    const char *sep = dlen > 0 && (dir[dlen - 1] == '/' ||
                                   dir[dlen - 1] == '\\')
                          ? ""
                          : "/";
    char pre[4] = {0};
    if (prefix)
        strncpy(pre, prefix, 3);
    unsigned n = unique & 0xffffu;
    bool create = n == 0;
    if (create) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        n = (unsigned)((ts.tv_nsec / 1000 + ts.tv_sec * 7 + getpid()) &
                       0xffff);
    }
    for (unsigned tries = 0; tries < 0x10000u; tries++) {
        if (n == 0)
            n = 1;
        int len = snprintf(out, MAX_PATH, "%s%s%s%x.tmp", dir, sep, pre, n);
        if (len < 0 || len >= MAX_PATH) {
            ntp__win32_set_error(111u); /* ERROR_BUFFER_OVERFLOW */
            return 0;
        }
        if (!create)
            return unique;
        int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            close(fd);
            return n;
        }
        if (errno != EEXIST) {
            ntp__win32_set_error(error_of_errno(errno));
            return 0;
        }
        n = (n + 1) & 0xffffu;
    }
    ntp__win32_set_error(ERROR_FILE_EXISTS);
    return 0;
}

DWORD
GetFileAttributesA(LPCSTR name)
{
    struct stat sb;
    if (name == NULL || stat(name, &sb) != 0) {
        ntp__win32_set_error(name ? error_of_errno(errno)
                                  : ERROR_PATH_NOT_FOUND);
        return INVALID_FILE_ATTRIBUTES;
    }
    if (S_ISDIR(sb.st_mode))
        return FILE_ATTRIBUTE_DIRECTORY;
    return access(name, W_OK) == 0 ? FILE_ATTRIBUTE_NORMAL
                                   : FILE_ATTRIBUTE_READONLY;
}

BOOL
GetFileSizeEx(HANDLE h, PLARGE_INTEGER size)
{
    ntp__file *f = ntp__file_get(h);
    if (f == NULL)
        return FALSE;
    struct stat sb;
    BOOL ok = fstat(f->fd, &sb) == 0;
    if (ok && size)
        size->QuadPart = (LONGLONG)sb.st_size;
    else if (!ok)
        ntp__win32_set_error(error_of_errno(errno));
    ntp__file_unref(f);
    return ok;
}

/* ---- reading and writing ---- */

static uint64_t
offset_of(const OVERLAPPED *ov)
{
    return ((uint64_t)ov->OffsetHigh << 32) | ov->Offset;
}

/* A synchronous operation: at the file position, or at the OVERLAPPED's
 * offset (a handle opened without FILE_FLAG_OVERLAPPED, which Windows
 * then also moves the file position past). A read at the end of a file
 * succeeds with 0 bytes, as a synchronous ReadFile does. */
static BOOL
sync_rw(ntp__file *f, void *buf, DWORD n, LPDWORD done, OVERLAPPED *ov,
        bool is_write)
{
    bool at_offset = ov && f->regular;
    off_t off = at_offset ? (off_t)offset_of(ov) : 0;
    ssize_t r;
    do {
        if (at_offset)
            r = is_write ? pwrite(f->fd, buf, n, off)
                         : pread(f->fd, buf, n, off);
        else
            r = is_write ? write(f->fd, buf, n) : read(f->fd, buf, n);
    } while (r < 0 && errno == EINTR);
    int e = r < 0 ? errno : 0;
    size_t got = r < 0 ? 0 : (size_t)r;
    if (r >= 0 && at_offset)
        (void)lseek(f->fd, off + r, SEEK_SET);
    DWORD err = error_of_errno(e);
    if (e == 0 && !is_write && got == 0 && n > 0 && !f->regular)
        err = ERROR_BROKEN_PIPE; /* the writer is gone */
    if (done)
        *done = (DWORD)got;
    if (ov) {
        ov->Internal = err;
        ov->InternalHigh = got;
        ov->ntp_.bytes_ = got;
        ov->ntp_.op_ = is_write;
        ov->ntp_.len_ = n;
        ov->ntp_.offset = f->regular ? offset_of(ov) : NTP_IO_STREAM;
        atomic_store(&ov->ntp_.status_, e ? -e : 0);
        if (ov->hEvent)
            (void)ntp_event_set((ntp_handle *)((uintptr_t)ov->hEvent &
                                               ~(uintptr_t)1));
    }
    if (err != NO_ERROR) {
        ntp__win32_set_error(err);
        return FALSE;
    }
    return TRUE;
}

static void
internal_cb(ntp_instance *inst, void *ctx, ntp_overlapped *ov,
            ntp_status result, size_t nbytes, ntp_io *io)
{
    /* Nothing to call: on_done filled in the OVERLAPPED, complete() set
     * hEvent. The OVERLAPPED may be gone already: do not touch it. */
    (void)inst, (void)ctx, (void)ov, (void)result, (void)nbytes, (void)io;
}

/* The I/O object for f's overlapped operations, making our own when f is
 * bound to none; *announce tells whether the caller must announce the
 * operation itself (everything but a TP_IO). f->lock held. */
static ntp_status
io_for_locked(ntp__file *f, ntp_io **io, bool *announce)
{
    if (f->binding == NTP__FILE_UNBOUND) {
        ntp_io *own = NULL;
        ntp_status st = ntp_io_create(&own, f->fd, internal_cb, f, NULL);
        if (st < 0)
            return st;
        ntp__io_set_on_done(own, on_done);
        ntp__file_ref(f); /* the I/O object's, dropped by its release */
        (void)ntp_io_set_release(own, release_file);
        f->io = own;
        f->binding = NTP__FILE_INTERNAL;
    }
    *io = f->io;
    *announce = f->binding != NTP__FILE_TP_IO;
    return 0;
}

static BOOL
overlapped_rw(ntp__file *f, void *buf, DWORD n, LPDWORD done,
              OVERLAPPED *ov, bool is_write)
{
    if (done)
        *done = 0;
    ov->Internal = STATUS_PENDING;
    ov->InternalHigh = 0;
    ov->ntp_.offset = f->regular ? offset_of(ov) : NTP_IO_STREAM;
    /* hEvent with its low bit set asks Windows not to queue a completion
     * packet; the event itself is the handle without that bit. */
    ov->ntp_.event = (ntp_handle *)((uintptr_t)ov->hEvent & ~(uintptr_t)1);
    ov->ntp_.user = ov;

    pthread_mutex_lock(&f->lock);
    ntp_io *io = NULL;
    bool announce = false;
    ntp_status st = io_for_locked(f, &io, &announce);
    size_t at_once = 0;
    if (st == 0) {
        if (announce)
            ntp_io_start(io);
        st = ntp__io_issue(io, &ov->ntp_, buf, n, is_write, &at_once);
        if (st < 0 && announce)
            ntp_io_cancel(io);
    }
    pthread_mutex_unlock(&f->lock);

    if (st < 0) {
        /* Could not start: nothing will complete it (the caller of a TP_IO
         * must CancelThreadpoolIo). */
        DWORD err = st == NTP_EINVAL ? ERROR_INVALID_PARAMETER
                                     : error_of_errno(-st);
        ntp__win32_set_error(err);
        return FALSE;
    }
    if (st == 1) {
        if (done)
            *done = (DWORD)at_once;
        return TRUE; /* finished at once; its completion still comes */
    }
    ntp__win32_set_error(ERROR_IO_PENDING);
    return FALSE;
}

static BOOL
file_rw(HANDLE h, void *buf, DWORD n, LPDWORD done, LPOVERLAPPED ov,
        bool is_write)
{
    ntp__file *f = ntp__file_get(h);
    if (f == NULL)
        return FALSE;
    if (buf == NULL && n > 0) {
        ntp__file_unref(f);
        ntp__win32_set_error(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    if (is_write ? !f->writable : !f->readable) {
        /* Refused at once, as Windows checks the handle's access before
         * it starts anything: no completion follows. */
        ntp__file_unref(f);
        ntp__win32_set_error(ERROR_ACCESS_DENIED);
        return FALSE;
    }
    BOOL ok = ov && f->overlapped
                  ? overlapped_rw(f, buf, n, done, ov, is_write)
                  : sync_rw(f, buf, n, done, ov, is_write);
    ntp__file_unref(f);
    return ok;
}

BOOL
ReadFile(HANDLE h, LPVOID buf, DWORD n, LPDWORD done, LPOVERLAPPED ov)
{
    return file_rw(h, buf, n, done, ov, false);
}

BOOL
WriteFile(HANDLE h, LPCVOID buf, DWORD n, LPDWORD done, LPOVERLAPPED ov)
{
    return file_rw(h, (void *)buf, n, done, ov, true);
}

BOOL
GetOverlappedResult(HANDLE h, LPOVERLAPPED ov, LPDWORD done, BOOL wait)
{
    (void)h; /* the OVERLAPPED knows its operation */
    if (ov == NULL) {
        ntp__win32_set_error(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    size_t nbytes = 0;
    ntp_status st = ntp_overlapped_result(&ov->ntp_, &nbytes, wait != FALSE);
    if (st == NTP_EBUSY) {
        ntp__win32_set_error(ERROR_IO_INCOMPLETE);
        return FALSE;
    }
    if (done)
        *done = (DWORD)nbytes;
    DWORD err = io_error(&ov->ntp_, st, nbytes);
    if (err != NO_ERROR) {
        ntp__win32_set_error(err);
        return FALSE;
    }
    return TRUE;
}

BOOL
NtpOverlappedDone(const OVERLAPPED *ov)
{
    return ov && atomic_load_explicit(&ov->ntp_.status_,
                                      memory_order_acquire) != NTP_EBUSY;
}

static BOOL
cancel(HANDLE h, LPOVERLAPPED ov)
{
    ntp__file *f = ntp__file_get(h);
    if (f == NULL)
        return FALSE;
    pthread_mutex_lock(&f->lock);
    ntp_status st = f->io ? ntp_io_cancel_ops(f->io, ov ? &ov->ntp_ : NULL)
                          : NTP_ENOENT;
    pthread_mutex_unlock(&f->lock);
    ntp__file_unref(f);
    if (st < 0) {
        ntp__win32_set_error(st == NTP_ENOENT ? ERROR_NOT_FOUND
                                              : ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    return TRUE;
}

BOOL
CancelIo(HANDLE h)
{
    return cancel(h, NULL);
}

BOOL
CancelIoEx(HANDLE h, LPOVERLAPPED ov)
{
    return cancel(h, ov);
}
