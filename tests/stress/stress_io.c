/*
 * stress_io.c -- the I/O part of the stress program: I/O objects over
 * pipes, stream sockets and regular files, some bound with
 * ntp_bind_io_completion_callback, with reads and writes, operations that
 * fail to start (ntp_io_cancel), feeding the other end, CancelIoEx,
 * waits with and without cancel, GetOverlappedResult, and closing from
 * outside or from inside a completion callback.
 *
 * THE LEDGER. Every operation the core accepted (ntp_io_read/write
 * returned 0) must end in exactly one completion callback, or -- only
 * after ntp_io_wait(io, true) or a close with operations outstanding --
 * in none, and then its overlapped must report it finished. Completion
 * callbacks check "never twice"; the I/O object's release hook checks the
 * rest for each of its operations, and at the end every release hook
 * must have run (settled) and the process must hold no more fds than at
 * the start.
 *
 * OWNERSHIP. An episode (one I/O object, its fds, its operations) sits
 * in a slot while no driver uses it; a driver takes it with an atomic
 * exchange, so only one thread at a time issues operations on it. The
 * callbacks touch only the operation counters and, for the close from
 * inside, the gate and the flag below.
 *
 * LIFETIME of an episode (the allocation holds the overlapped structures
 * and their buffers, which must outlive the operations): for an object
 * made with ntp_io_create, its release hook (io_release) checks the
 * ledger, closes our fds and the events and frees the episode; the core
 * runs it after the last callback and the last operation in flight. A
 * bound object's release hook belongs to the binding, so a bound episode
 * is only ever ended by the driver: CancelIoEx, ntp_io_wait(false) (after
 * which no callback will run), close, GetOverlappedResult with wait for
 * each operation (one whose completion a cancelling wait discarded may
 * still be in flight), and only then the checks and the free.
 */
#define _GNU_SOURCE
#include "stress.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NIO_SLOTS 4
#define OPS_PER_EPISODE 8
#define OP_BUF 64
#define FILE_SPAN 256 /* file operations land in [0, FILE_SPAN + OP_BUF) */
#define EPISODE_MAGIC 0x10e915u

static atomic_uint_fast64_t io_episodes, io_bound_episodes;
static atomic_uint_fast64_t io_issued, io_callbacks, io_silenced;
static atomic_uint_fast64_t io_start_failures, io_cancelled_results;
static atomic_uint_fast64_t io_closed_inside, io_live_episodes;

typedef enum io_kind { KIND_PIPE, KIND_SOCKET, KIND_FILE } io_kind;
static const char *const kind_names[] = {"pipe", "socket", "file"};

typedef struct io_op {
    ntp_overlapped ov; /* first: a callback's ov is its io_op */
    char buf[OP_BUF];
    atomic_uint callbacks;
} io_op;

typedef struct io_episode {
    unsigned magic;
    io_kind kind;
    bool bound;
    ntp_io *io;
    int fd;   /* the fd of the I/O object */
    int peer; /* the other end (pipe writer, socket peer); -1 for a file */
    ntp_handle *op_event; /* some operations set it when they complete */
    unsigned nops;        /* operations accepted, in ops[0..nops) */
    io_op ops[OPS_PER_EPISODE];
    /* Set by ntp_io_wait(io, true), and by a close with operations that
     * may be outstanding: from then on an operation may end with no
     * callback. Written by the owning driver only. */
    bool may_silence;
    /* Close from inside: the driver sets close_inside, issues a last
     * operation, then sets the gate and lets go. A callback that sees
     * close_inside waits for the gate first, so no callback closes (and
     * frees) the object while the driver still uses it. */
    atomic_bool close_inside;
    ntp_handle *gate; /* manual-reset event */
} io_episode;

static _Atomic(io_episode *) io_slots[NIO_SLOTS];

static void
episode_free(io_episode *e)
{
    close(e->fd);
    if (e->peer >= 0)
        close(e->peer);
    MUST(ntp_handle_close(e->op_event));
    MUST(ntp_handle_close(e->gate));
    e->magic = 0;
    free(e);
    atomic_fetch_sub(&io_live_episodes, 1);
}

/* The ledger of one episode, once nothing can touch it any more. */
static void
episode_check(io_episode *e)
{
    for (unsigned i = 0; i < e->nops; i++) {
        io_op *op = &e->ops[i];
        unsigned n = atomic_load(&op->callbacks);
        if (n == 1)
            continue;
        CHECK(n == 0, "operation %u of an I/O object: %u callbacks", i, n);
        CHECK(e->may_silence,
              "operation %u of an I/O object lost: no callback, and no "
              "cancelling wait or close",
              i);
        size_t nbytes;
        CHECK(ntp_overlapped_result(&op->ov, &nbytes, false) != NTP_EBUSY,
              "operation %u (%s, %s): no callback and still pending after the "
              "object's end",
              i, kind_names[e->kind], e->bound ? "bound" : "not bound");
        atomic_fetch_add(&io_silenced, 1);
    }
}

static void
io_release(void *p)
{
    io_episode *e = p;
    CHECK(e->magic == EPISODE_MAGIC, "release of a dead I/O episode");
    episode_check(e);
    episode_free(e);
}

static void
account(io_episode *e, ntp_overlapped *ov, ntp_status result, size_t nbytes)
{
    CHECK(e->magic == EPISODE_MAGIC, "I/O callback after the release");
    io_op *op = (io_op *)ov;
    CHECK(op >= e->ops && op < e->ops + OPS_PER_EPISODE,
          "completion of a foreign overlapped");
    CHECK(atomic_fetch_add(&op->callbacks, 1) == 0,
          "an I/O completion delivered twice");
    CHECK(result <= 0, "I/O result %d", result);
    CHECK(nbytes <= OP_BUF, "%zu bytes for a %d-byte buffer", nbytes, OP_BUF);
    if (result == NTP_ECANCELED) {
        CHECK(nbytes == 0, "a cancelled operation moved %zu bytes", nbytes);
        atomic_fetch_add(&io_cancelled_results, 1);
    }
    atomic_fetch_add(&io_callbacks, 1);
    if (atomic_load(&e->close_inside)) {
        (void)ntp_wait_for_single(e->gate, NTP_INFINITE, false);
        if (atomic_exchange(&e->close_inside, false)) {
            atomic_fetch_add(&io_closed_inside, 1);
            ntp_io_close(e->io); /* closing from inside its own callback */
        }
    }
}

static void
io_cb(ntp_instance *inst, void *ctx, ntp_overlapped *ov, ntp_status result,
      size_t nbytes, ntp_io *io)
{
    io_episode *e = ctx;
    (void)inst;
    CHECK(io == e->io, "callback of another I/O object");
    account(e, ov, result, nbytes);
}

static void
bound_cb(void *ctx, ntp_status result, size_t nbytes, ntp_overlapped *ov)
{
    account(ctx, ov, result, nbytes);
}

/* Make the fds of one kind; false if the system refused (fd limit). */
static bool
open_fds(io_episode *e)
{
    int fds[2];
    switch (e->kind) {
    case KIND_PIPE:
        if (pipe2(fds, O_CLOEXEC) != 0)
            return false;
        e->fd = fds[0];
        e->peer = fds[1];
        break;
    case KIND_SOCKET:
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
            return false;
        e->fd = fds[0];
        e->peer = fds[1];
        break;
    default: {
        const char *dir = getenv("TMPDIR");
        char path[4096];
        snprintf(path, sizeof path, "%s/ntpool-stress-XXXXXX",
                 dir && *dir ? dir : "/tmp");
        e->fd = mkostemp(path, O_CLOEXEC);
        if (e->fd < 0)
            return false;
        unlink(path);
        e->peer = -1;
        break;
    }
    }
    /* Feeding must never block a driver: a full pipe just refuses. */
    if (e->peer >= 0)
        (void)fcntl(e->peer, F_SETFL, O_NONBLOCK);
    return true;
}

static io_episode *
episode_new(rng *r)
{
    io_episode *e = stress_calloc(1, sizeof *e);
    e->magic = EPISODE_MAGIC;
    e->kind = (io_kind)rng_below(r, 3);
    if (!open_fds(e)) {
        free(e);
        return NULL;
    }
    MUST(ntp_event_create(&e->op_event, true, false));
    MUST(ntp_event_create(&e->gate, true, false));
    atomic_fetch_add(&io_live_episodes, 1);
    atomic_fetch_add(&io_episodes, 1);
    if (rng_below(r, 4) == 0) {
        ntp_status st =
            ntp_bind_io_completion_callback(&e->io, e->fd, bound_cb, e, 0);
        /* NTP_EINVAL: our fd number was bound by an episode whose
         * binding ends asynchronously (its release hook) and the
         * kernel gave the number to us; make a plain object then. */
        CHECK(st == 0 || st == NTP_EINVAL, "bind: %s", ntp_strerror(st));
        if (st == 0) {
            e->bound = true;
            atomic_fetch_add(&io_bound_episodes, 1);
            return e;
        }
    }
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, rng_below(r, 2) ? stress_shared_pool : NULL);
    MUST(ntp_io_create(&e->io, e->fd, io_cb, e, &env));
    MUST(ntp_io_set_release(e->io, io_release));
    return e;
}

/* Issue one read or write. Returns false if the episode has no overlapped
 * left. */
static bool
issue(io_episode *e, rng *r, bool write)
{
    if (e->nops == OPS_PER_EPISODE)
        return false;
    io_op *op = &e->ops[e->nops];
    memset(&op->ov, 0, sizeof op->ov);
    op->ov.offset =
        e->kind == KIND_FILE ? rng_below(r, FILE_SPAN) : NTP_IO_STREAM;
    op->ov.event = rng_below(r, 2) ? e->op_event : NULL;
    size_t len = 1 + rng_below(r, OP_BUF);
    memset(op->buf, 'a' + (int)e->nops, sizeof op->buf);
    ntp_io_start(e->io);
    /* On a pipe's read end a write fails in the kernel: it completes
     * with an error, which the ledger counts like any completion. */
    ntp_status st = write ? ntp_io_write(e->io, &op->ov, op->buf, len)
                          : ntp_io_read(e->io, &op->ov, op->buf, len);
    CHECK(st == 0, "ntp_io_%s: %s", write ? "write" : "read",
          ntp_strerror(st));
    if (st != 0) {
        ntp_io_cancel(e->io);
        return true;
    }
    e->nops++;
    atomic_fetch_add(&io_issued, 1);
    return true;
}

/* An operation that cannot start (an offset on a stream, a NULL buffer):
 * the error comes back, and ntp_io_cancel withdraws the announcement. */
static void
issue_bad(io_episode *e)
{
    ntp_overlapped ov;
    memset(&ov, 0, sizeof ov);
    ntp_io_start(e->io);
    ntp_status st;
    if (e->kind == KIND_FILE) {
        st = ntp_io_read(e->io, &ov, NULL, 8);
    } else {
        ov.offset = 12;
        st = ntp_io_read(e->io, &ov, (char[8]){0}, 8);
    }
    CHECK(st == NTP_EINVAL, "a bad operation started: %s", ntp_strerror(st));
    ntp_io_cancel(e->io);
    atomic_fetch_add(&io_start_failures, 1);
}

/* Enough bytes for every read an episode can have pending. */
static void
feed(io_episode *e, size_t n)
{
    char bytes[OPS_PER_EPISODE * OP_BUF];
    if (e->peer < 0)
        return;
    if (n > sizeof bytes)
        n = sizeof bytes;
    memset(bytes, 'z', n);
    ssize_t w = write(e->peer, bytes, n);
    CHECK(w >= 0 || errno == EAGAIN, "feeding the peer: %s", strerror(errno));
}

/* End every operation still waiting for its fd (CancelIoEx), then wait
 * for every callback: after this, nothing of the object is in flight. */
static void
settle_episode(io_episode *e)
{
    if (e->kind != KIND_FILE) {
        ntp_status st = ntp_io_cancel_ops(e->io, NULL);
        CHECK(st == 0 || st == NTP_ENOENT, "CancelIoEx: %s", ntp_strerror(st));
    }
    ntp_io_wait(e->io, false);
}

/* Close from outside. Gracefully (every operation settled first, then
 * the ledger must be exact) or abruptly (with operations pending). */
static void
dispose(io_episode *e, rng *r)
{
    if (e->bound || rng_below(r, 2)) {
        settle_episode(e);
        for (unsigned i = 0; i < e->nops && !e->may_silence; i++)
            CHECK(atomic_load(&e->ops[i].callbacks) == 1,
                  "operation %u: %u callbacks after a full wait", i,
                  atomic_load(&e->ops[i].callbacks));
    } else {
        e->may_silence = true;
    }
    bool bound = e->bound; /* an unbound e may be freed by the close */
    ntp_io_close(e->io);
    if (bound) {
        /* No callback to come (settle_episode). An operation whose
         * completion a cancelling wait discarded may still be in flight
         * (the wait no longer counts it): wait for each to finish before
         * the overlapped structures go. Streams have none waiting any
         * more (CancelIoEx), files always finish. */
        for (unsigned i = 0; i < e->nops; i++) {
            size_t nbytes;
            (void)ntp_overlapped_result(&e->ops[i].ov, &nbytes, true);
        }
        episode_check(e);
        episode_free(e);
    }
}

/* Close from inside: the next callback closes the object. A last
 * operation makes sure there is one: a file operation always completes,
 * and feeding enough bytes completes every read pending on a stream.
 * Even after a cancelling wait, whose discards take the first
 * completions to arrive, one more completion arrives than there are
 * discards, so one callback runs. */
static void
hand_over_for_close(io_episode *e, rng *r)
{
    if (e->nops == OPS_PER_EPISODE) {
        dispose(e, r); /* no overlapped left for a last operation */
        return;
    }
    e->may_silence = true;
    atomic_store(&e->close_inside, true);
    (void)issue(e, r, e->kind == KIND_SOCKET && rng_below(r, 2));
    feed(e, OPS_PER_EPISODE * OP_BUF);
    MUST(ntp_event_set(e->gate)); /* e may be gone from here on */
}

/* One random operation on an episode the caller owns. Returns false if
 * the episode was closed. */
static bool
episode_op(io_episode *e, rng *r)
{
    switch (rng_below(r, 16)) {
    case 0:
    case 1:
    case 2:
    case 3:
        if (!issue(e, r, false)) {
            dispose(e, r);
            return false;
        }
        break;
    case 4:
    case 5:
        /* A write on a pipe's read end fails in the kernel, sometimes. */
        if (e->kind != KIND_PIPE || rng_below(r, 4) == 0)
            (void)issue(e, r, true);
        break;
    case 6:
        issue_bad(e);
        break;
    case 7:
    case 8:
        feed(e, 1 + rng_below(r, OPS_PER_EPISODE * OP_BUF));
        break;
    case 9: {
        ntp_overlapped *which = e->nops && rng_below(r, 2)
                                    ? &e->ops[rng_below(r, e->nops)].ov
                                    : NULL;
        ntp_status st = ntp_io_cancel_ops(e->io, which);
        CHECK(st == 0 || st == NTP_ENOENT, "CancelIoEx: %s", ntp_strerror(st));
        break;
    }
    case 10:
        if (rng_below(r, 2)) {
            e->may_silence = true;
            stress_io_cancelling_wait(e->io);
        } else {
            settle_episode(e);
        }
        break;
    case 11:
        /* A finished operation reports its result; a file operation
         * always finishes, so waiting for one is bounded. */
        if (e->nops > 0) {
            io_op *op = &e->ops[rng_below(r, e->nops)];
            size_t nbytes = 0;
            bool wait = e->kind == KIND_FILE;
            ntp_status st = ntp_overlapped_result(&op->ov, &nbytes, wait);
            CHECK(
                !wait || st != NTP_EBUSY,
                "GetOverlappedResult waited and found the operation pending");
            CHECK(st == NTP_EBUSY || nbytes <= OP_BUF, "%zu bytes", nbytes);
        }
        break;
    case 12:
        dispose(e, r);
        return false;
    case 13:
        if (!e->bound) {
            hand_over_for_close(e, r);
            return false;
        }
        break;
    default:
        break;
    }
    return true;
}

void
stress_io_op(rng *r)
{
    unsigned s = rng_below(r, NIO_SLOTS);
    io_episode *e = atomic_exchange(&io_slots[s], NULL);
    if (e == NULL && (e = episode_new(r)) == NULL)
        return; /* out of fds: skip */
    if (!episode_op(e, r))
        return;
    io_episode *expected = NULL;
    if (!atomic_compare_exchange_strong(&io_slots[s], &expected, e))
        dispose(e, r); /* the slot was refilled meanwhile */
}

void
stress_io_drain(rng *r)
{
    for (unsigned s = 0; s < NIO_SLOTS; s++) {
        io_episode *e = atomic_exchange(&io_slots[s], NULL);
        if (e)
            dispose(e, r);
    }
}

bool
stress_io_settled(void)
{
    return atomic_load(&io_live_episodes) == 0;
}

void
stress_io_check(void)
{
    CHECK(stress_io_settled(), "%" PRIu64 " I/O episodes never released",
          (uint64_t)io_live_episodes);
    CHECK(io_issued == io_callbacks + io_silenced,
          "I/O operations %" PRIu64 " != callbacks %" PRIu64
          " + silenced %" PRIu64,
          (uint64_t)io_issued, (uint64_t)io_callbacks, (uint64_t)io_silenced);
}

void
stress_io_report(void)
{
    printf("stress: I/O: %" PRIu64 " objects (%" PRIu64 " bound), %" PRIu64
           " operations: %" PRIu64 " callbacks (%" PRIu64
           " cancelled), %" PRIu64
           " silenced by close or cancelling wait; %" PRIu64
           " refused starts; %" PRIu64 " closed from inside\n",
           (uint64_t)io_episodes, (uint64_t)io_bound_episodes,
           (uint64_t)io_issued, (uint64_t)io_callbacks,
           (uint64_t)io_cancelled_results, (uint64_t)io_silenced,
           (uint64_t)io_start_failures, (uint64_t)io_closed_inside);
}
