/*
 * io.c -- I/O completion objects (SPEC 9): CreateThreadpoolIo and friends,
 * with ntpool performing the reads and writes itself.
 *
 * THREE WAYS TO DO AN OPERATION, chosen at creation:
 *   - Regular files, with io_uring (io_uring.c) when liburing was built in
 *     and the kernel gives us a ring: each operation is one submission,
 *     its completion arrives on the reactor thread. In-flight operations
 *     are listed in `waiting` so CancelIoEx and close can cancel them.
 *     (Pipes and sockets stay on epoll: several reads queued on one
 *     socket must complete in the order they were issued, which the
 *     ring's internal polling does not promise.) NTP_IO_BACKEND=fallback
 *     in the environment picks pool threads instead (tests run both).
 *   - Pollable fds (pipes, sockets, ttys, eventfds): the fd is made
 *     non-blocking; an operation is tried at once and, if the fd is not
 *     ready, queued FIFO per direction and retried when the reactor reports
 *     readiness (one-shot epoll watches: EPOLLIN on the fd, EPOLLOUT on a
 *     duplicate, since epoll keeps one registration per fd number).
 *   - Regular files (epoll refuses them): the pread/pwrite runs on a pool
 *     thread, handed over as a simple callback, so the caller never blocks
 *     on the disk.
 *
 * COMPLETIONS. A finished operation records its result in its overlapped,
 * is appended to the object's FIFO of completions and posts one run of
 * the object; each run takes the oldest completion and calls the callback
 * with it. So posts and queued completions match one to one, and
 * cancelling the queued posts (ntp_io_wait with cancel) drops the queued
 * completions with them.
 *
 * ACCOUNTING (SPEC 9, CONFORMANCE J): `expected` counts announcements
 * (ntp_io_start) not yet matched by a completion or ntp_io_cancel; a
 * completion arriving with none expected is dropped with a diagnostic.
 * ntp_io_wait(false) also waits for `expected` to reach 0. With cancel,
 * the completions still expected are discarded when they arrive while the
 * operations themselves go on: the cancel starts a new generation (`gen`),
 * every operation carries the generation it was issued in, and a
 * completion of an older one is dropped. (Counting the completions to
 * drop instead would be wrong when an announcement had no operation
 * behind it: the count would swallow the next real completion.)
 *
 * CLOSING cancels the operations still waiting for their fd and silences
 * every later completion (io_disarm); the object stays alive until the
 * last operation in flight has ended.
 *
 * LIFETIME (object.h for the common part). Every operation in flight pins
 * the object from the moment it is accepted until its completion is
 * recorded, so a closed io object outlives the operations the kernel may
 * still complete into it (CONFORMANCE 111). The readiness watches are on
 * duplicates of the fd that we own (the caller may close or reuse its fd
 * number), and are removed in finalize, which runs only once nothing is in
 * flight; ntp__rfd_remove is definitive, so no readiness report touches the
 * object afterwards. It may not run inside a readiness report, though: when
 * the completion of the last operation of a closed object happens on the
 * reactor thread, the destruction is handed to the reap timer, which fires
 * on that thread after the report has returned (as fd_handle.c does).
 *
 * LOCKS: op_lock (per object: the two operation queues) comes before the
 * sync lock (setting an overlapped's event) and the pool lock (posting);
 * the reactor calls ready() with no lock held.
 */
#include "io_uring.h"
#include "object.h"
#include "reactor.h"
#include "sync.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

enum { OP_READ, OP_WRITE };

/* An operation waiting for its fd, or a completion waiting for its run. */
typedef struct ov_fifo {
    ntp_overlapped *head, *tail;
} ov_fifo;

struct ntp_io {
    ntp__object base;
    ntp_io_cb cb;
    int fd;
    bool regular_file;
    bool uring; /* the io_uring backend; else epoll and pool threads */

    /* Pollable fds only. Guarded by op_lock. */
    pthread_mutex_t op_lock;
    ov_fifo waiting[2];     /* per direction, FIFO */
    ntp__rfd read_watch;    /* EPOLLIN on read_fd */
    ntp__rfd write_watch;   /* EPOLLOUT on write_fd */
    int read_fd, write_fd;  /* our duplicates of fd, or -1 */
    ntp__rtimer reap;       /* destroys the object on the reactor thread */

    /* Guarded by the pool lock. */
    ov_fifo done;           /* one entry per queued run */
    uint64_t expected;      /* announced, not completed nor cancelled */
    uint32_t gen;           /* bumped by a cancelling wait and by close */

    /* Set once before the first operation (ntp__io_set_on_done). */
    ntp__io_done_fn on_done;
};

/* Completion waiters of ntp_overlapped_result without an event. */
static pthread_mutex_t ov_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ov_cond = PTHREAD_COND_INITIALIZER;
/* How many threads sleep on ov_cond: completions broadcast only then. A
 * waiter counts itself before reading the status, a completion writes the
 * status before reading the count (both sequentially consistent), so one
 * of them sees the other. */
static atomic_int ov_waiters;

static void
fifo_push(ov_fifo *f, ntp_overlapped *ov)
{
    ov->next_ = NULL;
    if (f->tail)
        f->tail->next_ = ov;
    else
        f->head = ov;
    f->tail = ov;
}

/* Unlink ov wherever it is; false if it is not there. */
static bool
fifo_remove(ov_fifo *f, ntp_overlapped *ov)
{
    ntp_overlapped *prev = NULL;
    for (ntp_overlapped *o = f->head; o; prev = o, o = o->next_) {
        if (o != ov)
            continue;
        if (prev)
            prev->next_ = o->next_;
        else
            f->head = o->next_;
        if (f->tail == o)
            f->tail = prev;
        return true;
    }
    return false;
}

static ntp_overlapped *
fifo_pop(ov_fifo *f)
{
    ntp_overlapped *ov = f->head;
    if (ov) {
        f->head = ov->next_;
        if (f->head == NULL)
            f->tail = NULL;
    }
    return ov;
}

static bool
check_io(ntp_io *io, const char *fn)
{
    if (ntp__object_check(io, NTP__KIND_IO))
        return true;
    ntp__diag("%s: not an I/O object (%p)", fn, (void *)io);
    return false;
}

static ntp_status
status_of_errno(int e)
{
    switch (e) {
    case EBADF: return NTP_EBADF;
    case ENOMEM: return NTP_ENOMEM;
    case EEXIST: return NTP_EEXIST;
    case EPERM: case EACCES: return NTP_EPERM;
    case EINTR: return NTP_EINTR;
    case EAGAIN: return NTP_EAGAIN;
    case ECANCELED: return NTP_ECANCELED;
    case EMFILE: case ENFILE: return NTP_EMFILE;
    default: return -e; /* EPIPE, ECONNRESET, EIO...: still a negative errno */
    }
}

/*
 * Record the end of an operation and queue its callback. No lock but maybe
 * op_lock held. The event is set before the run is queued, as Windows sets
 * hEvent before the completion packet; our reference keeps it alive even if
 * the callback closes it meanwhile. Then the operation's pin goes: returns
 * true if that was the object's last hold, and the caller must destroy it
 * (after dropping op_lock; see LIFETIME for the reactor thread).
 */
static bool
complete(ntp_io *io, ntp_overlapped *ov, ntp_status result, size_t nbytes)
{
    ntp_handle *event = ov->event;
    if (event && ntp__handle_ref(event) < 0)
        event = NULL;
    if (io->on_done)
        io->on_done(ov, result, nbytes);
    ov->bytes_ = nbytes;
    /* The status is final before the event is set, as on Windows, and it is
     * the last thing read or written in ov unless a callback is due: an
     * application that expects none may free ov as soon as it sees the
     * status (found by the stress test under TSan, when gen_ was read after
     * the status was stored). */
    uint32_t gen = ov->gen_;
    atomic_store(&ov->status_, result); /* seq_cst: see ov_waiters */
    if (event) {
        (void)ntp_event_set(event);
        ntp__handle_unref(event);
    }

    ntp_pool *p = io->base.pool;
    ntp__kick k = {0};
    bool dropped_unannounced = false;
    pthread_mutex_lock(&p->lock);
    if (gen != io->gen) {
        /* Issued before a cancelling wait or the close: dropped. */
    } else if (io->expected > 0) {
        io->expected--;
        fifo_push(&io->done, ov);
        ntp__pool_post_locked(p, &io->base, &k);
    } else {
        dropped_unannounced = true;
    }
    if (io->base.waiters && io->expected == 0)
        pthread_cond_broadcast(&io->base.settled);
    pthread_mutex_unlock(&p->lock);
    ntp__pool_kick(p, &k); /* our pin keeps the object, and it the pool */

    if (atomic_load(&ov_waiters) > 0) {
        pthread_mutex_lock(&ov_lock);
        pthread_cond_broadcast(&ov_cond);
        pthread_mutex_unlock(&ov_lock);
    }
    if (dropped_unannounced)
        ntp__diag("I/O object %p: a completion arrived without "
                  "ntp_io_start (StartThreadpoolIo); dropped",
                  (void *)io);

    pthread_mutex_lock(&p->lock);
    io->base.pins--; /* the operation's pin */
    bool destroy = ntp__object_settle_locked(&io->base);
    pthread_mutex_unlock(&p->lock);
    return destroy;
}

/* An io_uring operation ended, on the reactor thread (io_uring.c). */
void
ntp__io_uring_done(void *op, int res)
{
    ntp_overlapped *ov = op;
    ntp_io *io = ov->io_;
    pthread_mutex_lock(&io->op_lock);
    (void)fifo_remove(&io->waiting[ov->op_], ov);
    pthread_mutex_unlock(&io->op_lock);
    ntp_status st = res < 0 ? status_of_errno(-res) : 0;
    if (complete(io, ov, st, res < 0 ? 0 : (size_t)res))
        ntp__rtimer_arm(&io->reap, NTP__CLOCK_MONOTONIC, 0, 0);
}

/* Destruction handed over by a readiness report (LIFETIME). */
static void
reap_fire(ntp__rtimer *rt)
{
    ntp_io *io = ntp__container_of(rt, ntp_io, reap);
    ntp__object_destroy(&io->base);
}

/* Try one operation on a non-blocking fd: true if it finished (result and
 * bytes set), false if the fd is not ready. */
static bool
try_stream_op(ntp_io *io, ntp_overlapped *ov, ntp_status *result,
              size_t *nbytes)
{
    ssize_t n;
    do {
        n = ov->op_ == OP_READ ? read(io->fd, ov->buf_, ov->len_)
                               : write(io->fd, ov->buf_, ov->len_);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return false;
    *result = n < 0 ? status_of_errno(errno) : 0;
    *nbytes = n < 0 ? 0 : (size_t)n;
    return true;
}

/* Serve the queue of one direction as far as the fd allows; re-arm the
 * watch if something is left. op_lock held. */
static bool
serve_locked(ntp_io *io, int dir)
{
    ov_fifo *q = &io->waiting[dir];
    bool destroy = false;
    while (q->head) {
        ntp_status result;
        size_t nbytes;
        if (!try_stream_op(io, q->head, &result, &nbytes)) {
            ntp__rfd_rearm(dir == OP_READ ? &io->read_watch
                                          : &io->write_watch);
            break;
        }
        /* Only the last operation's pin can be the last hold: the ones
         * still queued hold theirs. */
        destroy = complete(io, fifo_pop(q), result, nbytes);
    }
    return destroy;
}

/* A readiness report, on the reactor thread, no lock held. */
static void
serve(ntp_io *io, int dir)
{
    pthread_mutex_lock(&io->op_lock);
    bool destroy = serve_locked(io, dir);
    pthread_mutex_unlock(&io->op_lock);
    if (destroy)
        ntp__rtimer_arm(&io->reap, NTP__CLOCK_MONOTONIC, 0, 0);
}

static void
read_ready(ntp__rfd *w, uint32_t revents)
{
    (void)revents;
    serve(ntp__container_of(w, ntp_io, read_watch), OP_READ);
}

static void
write_ready(ntp__rfd *w, uint32_t revents)
{
    (void)revents;
    serve(ntp__container_of(w, ntp_io, write_watch), OP_WRITE);
}

/* A regular-file operation, on a pool thread. */
static void
file_op(ntp_instance *inst, void *arg)
{
    ntp_overlapped *ov = arg;
    ntp_io *io = ov->io_;
    (void)inst;
    ssize_t n;
    do {
        if (ov->offset == NTP_IO_STREAM)
            n = ov->op_ == OP_READ ? read(io->fd, ov->buf_, ov->len_)
                                   : write(io->fd, ov->buf_, ov->len_);
        else
            n = ov->op_ == OP_READ
                    ? pread(io->fd, ov->buf_, ov->len_, (off_t)ov->offset)
                    : pwrite(io->fd, ov->buf_, ov->len_, (off_t)ov->offset);
    } while (n < 0 && errno == EINTR);
    if (complete(io, ov, n < 0 ? status_of_errno(errno) : 0,
                 n < 0 ? 0 : (size_t)n))
        ntp__object_destroy(&io->base);
}

/* Start an operation. Returns 0 when it is under way, or an error when it
 * could not start. With at_once non-NULL, returns 1 instead when the
 * operation finished successfully inside this call, with *at_once its byte
 * count: taken from our locals, because its callback may already have run
 * and freed ov (ReadFile's TRUE, win32_file.c). */
static ntp_status
issue(ntp_io *io, ntp_overlapped *ov, void *buf, size_t len, int op,
      const char *fn, size_t *at_once)
{
    if (!check_io(io, fn) || ov == NULL || (buf == NULL && len > 0))
        return NTP_EINVAL;
    if (atomic_load(&io->base.closed)) {
        ntp__diag("%s: I/O object %p was closed", fn, (void *)io);
        return NTP_EINVAL;
    }
    if (!io->regular_file && ov->offset != NTP_IO_STREAM && ov->offset != 0)
        return NTP_EINVAL; /* pipes and sockets have no offsets */
    ov->io_ = io;
    ov->buf_ = buf;
    ov->len_ = len;
    ov->op_ = op;
    ov->bytes_ = 0;
    ov->next_ = NULL;
    atomic_store(&ov->status_, NTP_EBUSY); /* pending */
    if (ov->event)
        (void)ntp_event_reset(ov->event); /* as ReadFile resets hEvent */

    ntp_pool *p = io->base.pool;
    pthread_mutex_lock(&p->lock);
    ntp__object_pin_locked(&io->base); /* the operation's pin */
    ov->gen_ = io->gen;
    pthread_mutex_unlock(&p->lock);

    if (io->uring) {
        uint64_t offset = ov->offset;
        pthread_mutex_lock(&io->op_lock);
        fifo_push(&io->waiting[op], ov); /* in flight, for cancelling */
        ntp_status st = ntp__uring_submit(ov, io->fd, op == OP_WRITE, buf,
                                          len, offset);
        if (st < 0)
            (void)fifo_remove(&io->waiting[op], ov);
        pthread_mutex_unlock(&io->op_lock);
        if (st < 0) {
            atomic_store(&ov->status_, st);
            ntp__object_unpin(&io->base);
        }
        return st;
    }

    if (io->regular_file) {
        ntp_env env;
        ntp_env_init(&env);
        ntp_env_set_pool(&env, p->is_default ? NULL : p);
        ntp_status st = ntp_try_submit(file_op, ov, &env);
        if (st < 0) {
            atomic_store(&ov->status_, st);
            ntp__object_unpin(&io->base);
        }
        return st;
    }

    pthread_mutex_lock(&io->op_lock);
    ov_fifo *q = &io->waiting[op];
    ntp_status result = 0;
    size_t nbytes = 0;
    bool destroy = false;
    bool finished = false;
    if (q->head == NULL && try_stream_op(io, ov, &result, &nbytes)) {
        finished = true;
        destroy = complete(io, ov, result, nbytes);
    } else {
        bool was_idle = q->head == NULL;
        fifo_push(q, ov);
        if (was_idle)
            ntp__rfd_rearm(op == OP_READ ? &io->read_watch
                                         : &io->write_watch);
    }
    pthread_mutex_unlock(&io->op_lock);
    if (destroy) /* closed by another thread while we issued */
        ntp__object_destroy(&io->base);
    if (at_once && finished && result == 0 && (nbytes > 0 || len == 0)) {
        *at_once = nbytes;
        return 1;
    }
    return 0;
}

ntp_status
ntp_io_read(ntp_io *io, ntp_overlapped *ov, void *buf, size_t len)
{
    return issue(io, ov, buf, len, OP_READ, "ntp_io_read", NULL);
}

ntp_status
ntp_io_write(ntp_io *io, ntp_overlapped *ov, const void *buf, size_t len)
{
    return issue(io, ov, (void *)buf, len, OP_WRITE, "ntp_io_write", NULL);
}

void
ntp__io_set_on_done(ntp_io *io, ntp__io_done_fn fn)
{
    io->on_done = fn;
}

ntp_status
ntp__io_issue(ntp_io *io, ntp_overlapped *ov, void *buf, size_t len,
              bool write, size_t *at_once)
{
    return issue(io, ov, buf, len, write ? OP_WRITE : OP_READ,
                 write ? "WriteFile" : "ReadFile", at_once);
}

/* Complete the operations waiting for the fd (all, or `which`) with
 * NTP_ECANCELED. Sets *found; returns true if the caller must destroy the
 * object (complete()). */
static bool
cancel_waiting(ntp_io *io, ntp_overlapped *which, bool *found_out)
{
    bool found = false, destroy = false;
    pthread_mutex_lock(&io->op_lock);
    if (io->uring) {
        /* Ask the kernel; the completions come with -ECANCELED (or with
         * their result, if they finished first). */
        for (int dir = 0; dir < 2; dir++)
            for (ntp_overlapped *o = io->waiting[dir].head; o; o = o->next_)
                if (which == NULL || which == o) {
                    found = true;
                    ntp__uring_cancel(o);
                }
        pthread_mutex_unlock(&io->op_lock);
        *found_out = found;
        return false;
    }
    for (int dir = 0; dir < 2; dir++) {
        ov_fifo keep = {NULL, NULL};
        ntp_overlapped *ov;
        while ((ov = fifo_pop(&io->waiting[dir])) != NULL) {
            if (which == NULL || which == ov) {
                found = true;
                destroy = complete(io, ov, NTP_ECANCELED, 0);
            } else {
                fifo_push(&keep, ov);
            }
        }
        io->waiting[dir] = keep;
        if (keep.head == NULL)
            (void)ntp__rfd_disarm(dir == OP_READ ? &io->read_watch
                                                 : &io->write_watch);
    }
    pthread_mutex_unlock(&io->op_lock);
    *found_out = found;
    return destroy;
}

ntp_status
ntp_io_cancel_ops(ntp_io *io, ntp_overlapped *which)
{
    if (!check_io(io, "ntp_io_cancel_ops"))
        return NTP_EINVAL;
    if (io->regular_file && !io->uring)
        return NTP_ENOENT; /* nothing ever waits for a regular file */
    bool found = false;
    if (cancel_waiting(io, which, &found))
        ntp__object_destroy(&io->base);
    return found ? 0 : NTP_ENOENT;
}

ntp_status
ntp_overlapped_result(ntp_overlapped *ov, size_t *nbytes, bool wait)
{
    if (ov == NULL)
        return NTP_EINVAL;
    int st = atomic_load_explicit(&ov->status_, memory_order_acquire);
    if (st == NTP_EBUSY && wait) {
        if (ov->event) {
            (void)ntp_wait_for_single(ov->event, NTP_INFINITE, false);
        }
        ntp__blocking_enter();
        pthread_mutex_lock(&ov_lock);
        atomic_fetch_add(&ov_waiters, 1);
        while ((st = atomic_load(&ov->status_)) == NTP_EBUSY)
            pthread_cond_wait(&ov_cond, &ov_lock);
        atomic_fetch_sub(&ov_waiters, 1);
        pthread_mutex_unlock(&ov_lock);
        ntp__blocking_leave();
    }
    if (st == NTP_EBUSY)
        return NTP_EBUSY;
    if (nbytes)
        *nbytes = ov->bytes_;
    return st;
}

/* ---- the object kind ---- */

static void
io_invoke(ntp__object *obj, ntp_instance *inst)
{
    ntp_io *io = (ntp_io *)obj;
    pthread_mutex_lock(&obj->pool->lock);
    ntp_overlapped *ov = fifo_pop(&io->done);
    pthread_mutex_unlock(&obj->pool->lock);
    if (ov == NULL)
        return; /* cannot happen: one completion per post */
    io->cb(inst, obj->ctx, ov, atomic_load(&ov->status_), ov->bytes_, io);
}

/* The application released the object (close, or its cleanup group); it
 * is pinned by ntp__object_close meanwhile. Operations still waiting for
 * the fd are cancelled, and no completion of this object calls back any
 * more, whether cancelled here or still running on a pool thread; runs
 * already queued still happen (SPEC 2, Closing). */
static void
io_disarm(ntp__object *obj)
{
    ntp_io *io = (ntp_io *)obj;
    pthread_mutex_lock(&obj->pool->lock);
    io->gen++;
    io->expected = 0;
    if (obj->waiters)
        pthread_cond_broadcast(&obj->settled);
    pthread_mutex_unlock(&obj->pool->lock);
    if (!io->regular_file || io->uring) {
        bool found;
        (void)cancel_waiting(io, NULL, &found); /* pinned: never the last */
    }
}

static void
io_finalize(ntp__object *obj)
{
    ntp_io *io = (ntp_io *)obj;
    if (!io->regular_file && !io->uring) {
        ntp__rfd_remove(&io->read_watch);
        ntp__rfd_remove(&io->write_watch);
        close(io->read_fd);
        close(io->write_fd);
    }
    pthread_mutex_destroy(&io->op_lock);
}

static const ntp__object_ops io_ops = {.kind = NTP__KIND_IO,
                                       .name = "I/O object",
                                       .invoke = io_invoke,
                                       .disarm = io_disarm,
                                       .finalize = io_finalize};

ntp_status
ntp_io_create(ntp_io **out, int fd, ntp_io_cb cb, void *ctx,
              const ntp_env *env)
{
    if (out == NULL)
        return NTP_EINVAL;
    *out = NULL;
    if (cb == NULL)
        return NTP_EINVAL;
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0)
        return NTP_EBADF;
    ntp_status st = ntp__reactor_start();
    if (st < 0)
        return st;
    ntp_io *io = ntp__calloc(1, sizeof *io);
    if (io == NULL)
        return NTP_ENOMEM;
    io->cb = cb;
    io->fd = fd;
    io->read_fd = io->write_fd = -1;
    ntp__rtimer_init(&io->reap, reap_fire);
    io->regular_file = S_ISREG(sb.st_mode) || S_ISBLK(sb.st_mode) ||
                       S_ISDIR(sb.st_mode);
    pthread_mutex_init(&io->op_lock, NULL);
    const char *backend = getenv("NTP_IO_BACKEND");
    io->uring = io->regular_file &&
                !(backend && strcmp(backend, "fallback") == 0) &&
                ntp__uring_available();
    if (!io->regular_file && !io->uring) {
        io->read_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        io->write_fd = io->read_fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (io->write_fd < 0) {
            st = status_of_errno(errno);
            goto fail;
        }
        ntp__rfd_init(&io->read_watch, io->read_fd, EPOLLIN, read_ready);
        ntp__rfd_init(&io->write_watch, io->write_fd, EPOLLOUT, write_ready);
        st = ntp__rfd_add(&io->read_watch);
        if (st == 0) {
            st = ntp__rfd_add(&io->write_watch);
            if (st < 0)
                ntp__rfd_remove(&io->read_watch);
        }
        if (st == NTP_ENOTSUP) {
            /* Not pollable after all (an odd device): treat it as a file. */
            close(io->read_fd);
            close(io->write_fd);
            io->read_fd = io->write_fd = -1;
            io->regular_file = true;
            st = 0;
        }
        if (st < 0)
            goto fail;
        if (!io->regular_file) {
            int flags = fcntl(fd, F_GETFL);
            if (flags >= 0 && !(flags & O_NONBLOCK))
                (void)fcntl(fd, F_SETFL, flags | O_NONBLOCK);
        }
    }
    st = ntp__object_init(&io->base, &io_ops, ctx, env);
    if (st < 0) {
        if (!io->regular_file && !io->uring) {
            ntp__rfd_remove(&io->read_watch);
            ntp__rfd_remove(&io->write_watch);
        }
        goto fail;
    }
    *out = io;
    ntp__object_unpin(&io->base); /* the creation pin */
    return 0;

fail:
    if (io->read_fd >= 0)
        close(io->read_fd);
    if (io->write_fd >= 0)
        close(io->write_fd);
    pthread_mutex_destroy(&io->op_lock);
    ntp__free(io);
    return st;
}

void
ntp_io_start(ntp_io *io)
{
    if (!check_io(io, "ntp_io_start"))
        return;
    pthread_mutex_lock(&io->base.pool->lock);
    io->expected++;
    pthread_mutex_unlock(&io->base.pool->lock);
}

void
ntp_io_cancel(ntp_io *io)
{
    if (!check_io(io, "ntp_io_cancel"))
        return;
    bool unmatched = false;
    pthread_mutex_lock(&io->base.pool->lock);
    if (io->expected > 0) {
        io->expected--;
        if (io->expected == 0 && io->base.waiters)
            pthread_cond_broadcast(&io->base.settled);
    } else {
        unmatched = true;
    }
    pthread_mutex_unlock(&io->base.pool->lock);
    if (unmatched)
        ntp__diag("ntp_io_cancel: I/O object %p has no announced "
                  "operation to withdraw", (void *)io);
}

/* WaitForThreadpoolIoCallbacks: nothing queued, nothing running but us,
 * nothing announced still to complete. */
static bool
io_callbacks_done(const ntp__object *obj, uint32_t self)
{
    const ntp_io *io = (const ntp_io *)obj;
    return obj->pending == 0 && obj->associated <= self && io->expected == 0;
}

void
ntp_io_wait(ntp_io *io, bool cancel_pending)
{
    if (!check_io(io, "ntp_io_wait"))
        return;
    ntp__object *obj = &io->base;
    ntp_pool *p = obj->pool;
    ntp_instance *inst = ntp__current_instance;
    uint32_t self = inst && inst->obj == obj && inst->associated ? 1 : 0;
    bool entered = false;
    pthread_mutex_lock(&p->lock);
    if (cancel_pending) {
        (void)ntp__object_cancel_posts_locked(obj);
        io->done.head = io->done.tail = NULL; /* their completions */
        io->gen++;
        io->expected = 0;
    }
    obj->pins++;
    ntp__object_wait_until_locked(obj, io_callbacks_done, self, &entered);
    obj->pins--;
    bool destroy = ntp__object_settle_locked(obj);
    pthread_mutex_unlock(&p->lock);
    if (entered)
        ntp__blocking_leave();
    if (destroy)
        ntp__object_destroy(obj);
}

void
ntp_io_close(ntp_io *io)
{
    if (io == NULL || !check_io(io, "ntp_io_close"))
        return;
    ntp__object_close(&io->base);
}

const char *
ntp_io_backend(const ntp_io *io)
{
    if (!ntp__object_check(io, NTP__KIND_IO))
        return NULL;
    return io->uring ? "io_uring" : io->regular_file ? "threads" : "epoll";
}

ntp_status
ntp_io_set_release(ntp_io *io, ntp_release_cb release)
{
    if (!ntp__object_check(io, NTP__KIND_IO) || atomic_load(&io->base.closed))
        return NTP_EINVAL;
    pthread_mutex_lock(&io->base.pool->lock);
    io->base.release = release;
    pthread_mutex_unlock(&io->base.pool->lock);
    return 0;
}
