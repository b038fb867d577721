/*
 * fuzz_ops.c -- a libFuzzer target that reads its input as a program of
 * operations on pools, cleanup groups, callback objects, handles, I/O
 * objects (pipes, sockets, regular files, bound fds), waitable timers with
 * completion routines, APCs and the original API (work items, registered
 * waits, timer queues), with valid and invalid arguments (NULL,
 * closed-and-forgotten slots, objects of the wrong kind passed to a
 * function, out-of-range values, unknown flags, bad fds).
 *
 * Each input runs in a fresh "world" of slots; at its end everything still
 * open is closed and every object must be gone within a bounded time, so
 * a leak, a lost release or a hang is a finding, as is anything ASan and
 * UBSan see. Each operation is one byte of opcode followed by argument
 * bytes; running out of input ends the program.
 *
 * Build and run: `make test-fuzz` (a short run over tests/fuzz/corpus), or
 * `build-fuzz/fuzz-ops -max_total_time=600 build-fuzz/corpus
 * tests/fuzz/corpus` for a longer one.
 */
#define _GNU_SOURCE
#include <ntpool.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#define NPOOLS 2
#define NGROUPS 2
#define NOBJS 4
#define NHANDLES 4
#define OVS_PER_IO 6
#define IO_BUF 16

/*
 * An I/O object slot. Each overlapped is used once (an operation's
 * overlapped may not be reused before its completion is delivered, and a
 * completion dropped by a cancelling wait is never delivered). LIFETIME:
 * the slot and its buffers are the world's, which outlives every
 * operation: close_io waits for each one to finish first.
 */
typedef struct io_slot {
    ntp_io *io;
    int fd, peer; /* peer: the other end of a pipe or socket, or -1 */
    bool stream;
    unsigned used; /* overlapped structures issued, ov[0..used) */
    ntp_overlapped ov[OVS_PER_IO];
    char buf[OVS_PER_IO][IO_BUF];
} io_slot;

typedef struct world {
    ntp_pool *pools[NPOOLS];
    ntp_cleanup_group *groups[NGROUPS];
    ntp_work *works[NOBJS];
    ntp_timer *timers[NOBJS];
    ntp_wait *waits[NOBJS];
    /* Which group slot each object joined (-1: none), so releasing the
     * group's members forgets them too. */
    int work_group[NOBJS], timer_group[NOBJS], wait_group[NOBJS];
    ntp_handle *handles[NHANDLES];
    io_slot ios[NOBJS];
    ntp_registered_wait *rwaits[NOBJS];
    ntp_timer_queue *queue; /* NULL: only the default queue */
    ntp_timer_queue_timer *qtimers[NOBJS];
    bool qtimer_in_queue[NOBJS]; /* in `queue`, not the default one */
} world;

typedef struct input {
    const uint8_t *p;
    size_t n;
} input;

static bool
take(input *in, uint8_t *b)
{
    if (in->n == 0)
        return false;
    *b = *in->p++;
    in->n--;
    return true;
}

static uint8_t
arg(input *in)
{
    uint8_t b = 0;
    (void)take(in, &b);
    return b;
}

/* ---- callbacks: quick, and touching nothing the program may close ---- */

static atomic_long callbacks;

static void
work_cb(ntp_instance *inst, void *ctx, ntp_work *w)
{
    (void)ctx, (void)w;
    atomic_fetch_add(&callbacks, 1);
    if (atomic_load(&callbacks) % 5 == 0)
        (void)ntp_instance_may_run_long(inst);
}

static void
simple_cb(ntp_instance *inst, void *ctx)
{
    (void)inst, (void)ctx;
    atomic_fetch_add(&callbacks, 1);
}

static void
timer_cb(ntp_instance *inst, void *ctx, ntp_timer *t)
{
    (void)inst, (void)ctx, (void)t;
    atomic_fetch_add(&callbacks, 1);
}

static void
wait_cb(ntp_instance *inst, void *ctx, ntp_wait *w, uint32_t r)
{
    (void)inst, (void)ctx, (void)w, (void)r;
    atomic_fetch_add(&callbacks, 1);
}

static void
io_cb(ntp_instance *inst, void *ctx, ntp_overlapped *ov, ntp_status result,
      size_t nbytes, ntp_io *io)
{
    (void)inst, (void)ctx, (void)ov, (void)result, (void)nbytes, (void)io;
    atomic_fetch_add(&callbacks, 1);
}

static void
bound_cb(void *ctx, ntp_status result, size_t nbytes, ntp_overlapped *ov)
{
    (void)ctx, (void)result, (void)nbytes, (void)ov;
    atomic_fetch_add(&callbacks, 1);
}

static void
wait_or_timer_cb(void *ctx, bool fired)
{
    (void)ctx, (void)fired;
    atomic_fetch_add(&callbacks, 1);
}

static uint32_t
work_item_cb(void *ctx)
{
    (void)ctx;
    atomic_fetch_add(&callbacks, 1);
    return 0;
}

static void
apc_cb(void *arg)
{
    (void)arg;
    atomic_fetch_add(&callbacks, 1);
}

static void
timer_apc_cb(void *arg, uint32_t low, uint32_t high)
{
    (void)arg, (void)low, (void)high;
    atomic_fetch_add(&callbacks, 1);
}

static void
cancel_cb(void *object_ctx, void *cleanup_ctx)
{
    (void)object_ctx, (void)cleanup_ctx;
}

static void
quiet(const char *message, void *data)
{
    (void)message, (void)data; /* misuse is the point; stay quiet */
}

/* ---- helpers ---- */

static ntp_env
env_from(world *w, input *in, int *group_slot)
{
    uint8_t b = arg(in);
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, w->pools[b % NPOOLS]); /* NULL: default pool */
    *group_slot = -1;
    int g = (b >> 1) % (NGROUPS + 1);
    if (g < NGROUPS && w->groups[g]) {
        ntp_env_set_cleanup_group(&env, w->groups[g],
                                  (b & 0x40) ? cancel_cb : NULL);
        *group_slot = g;
    }
    /* Priorities 0..3: 3 is invalid and must be refused at creation. */
    ntp_env_set_priority(&env, (b >> 3) & 3);
    if (b & 0x80)
        ntp_env_set_runs_long(&env);
    return env;
}

/* Due times kept short, so that ends of programs do not wait long. */
static ntp_due
due_from(input *in)
{
    uint8_t b = arg(in);
    switch (b % 4) {
    case 0:
        return ntp_due_none();
    case 1:
        return ntp_due_in_ms(0);
    case 2:
        return ntp_due_in_ms(b >> 5);
    default: {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        /* An absolute time up to 3 ms ahead, or in the past. */
        int64_t ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec
                     + ((int64_t)(b >> 2) - 16) * 100000;
        return ntp_due_at_unix_ns(ns > 0 ? (uint64_t)ns : 1);
    }
    }
}

/* A handle slot, or NULL, or (rarely) an object of another kind. */
static ntp_handle *
handle_from(world *w, uint8_t b)
{
    if (b % 8 == 7 && w->works[0])
        return (ntp_handle *)(void *)w->works[0]; /* the wrong kind */
    return b % 8 < NHANDLES ? w->handles[b % 8] : NULL;
}

static void
forget_members(world *w, int g)
{
    for (int i = 0; i < NOBJS; i++) {
        if (w->work_group[i] == g)
            w->works[i] = NULL, w->work_group[i] = -1;
        if (w->timer_group[i] == g)
            w->timers[i] = NULL, w->timer_group[i] = -1;
        if (w->wait_group[i] == g)
            w->waits[i] = NULL, w->wait_group[i] = -1;
    }
}

static void
close_work(world *w, int i, bool cancel)
{
    if (w->works[i]) {
        ntp_work_wait(w->works[i], cancel);
        ntp_work_close(w->works[i]);
        w->works[i] = NULL;
        w->work_group[i] = -1;
    }
}

static void
close_timer(world *w, int i, bool cancel)
{
    if (w->timers[i]) {
        ntp_timer_set(w->timers[i], ntp_due_none(), 0, 0);
        ntp_timer_wait(w->timers[i], cancel);
        ntp_timer_close(w->timers[i]);
        w->timers[i] = NULL;
        w->timer_group[i] = -1;
    }
}

static void
close_wait(world *w, int i, bool cancel)
{
    if (w->waits[i]) {
        ntp_wait_set(w->waits[i], NULL, 0);
        ntp_wait_wait(w->waits[i], cancel);
        ntp_wait_close(w->waits[i]);
        w->waits[i] = NULL;
        w->wait_group[i] = -1;
    }
}

static void
close_group(world *w, int g, bool cancel)
{
    if (w->groups[g]) {
        (void)ntp_cleanup_group_close_members(w->groups[g], cancel, NULL);
        forget_members(w, g);
        ntp_cleanup_group_close(w->groups[g]);
        w->groups[g] = NULL;
    }
}

static void
close_handle(world *w, int i)
{
    if (w->handles[i]) {
        /* A mutex the program took must be given back first: closing an
         * owned mutex is fine, but keep the test about the pool. */
        (void)ntp_handle_close(w->handles[i]);
        w->handles[i] = NULL;
    }
}

/* WT_* flags: mostly valid ones, sometimes unknown bits (refused) or a
 * max-threads limit in the high half. */
static uint32_t
flags_from(uint8_t b)
{
    static const uint32_t known[] = {NTP_WT_EXECUTEDEFAULT,
                                     NTP_WT_EXECUTELONGFUNCTION,
                                     NTP_WT_EXECUTEINPERSISTENTTHREAD,
                                     NTP_WT_EXECUTEINWAITTHREAD,
                                     NTP_WT_EXECUTEINTIMERTHREAD,
                                     NTP_WT_EXECUTEONLYONCE,
                                     NTP_WT_EXECUTEINIOTHREAD,
                                     0x400u /* unknown */};
    uint32_t flags = known[b % 8];
    if (b & 0x80)
        NTP_WT_SET_MAX_THREADPOOL_THREADS(flags, 1 + (b >> 3) % 8);
    return flags;
}

/* NULL, NTP_COMPLETION_WAIT or a handle slot (of any kind) as the
 * completion argument of an unregister or delete. */
static ntp_handle *
completion_from(world *w, uint8_t b)
{
    switch (b % 3) {
    case 0:
        return NULL;
    case 1:
        return NTP_COMPLETION_WAIT;
    default:
        return handle_from(w, b >> 2);
    }
}

/* A pipe, a socket pair or an unlinked temporary file; false if the
 * system refused. */
static bool
open_io_fds(io_slot *s, uint8_t kind)
{
    int fds[2];
    s->peer = -1;
    s->stream = true;
    if (kind % 3 == 0) {
        if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
            return false;
    } else if (kind % 3 == 1) {
        int type = SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK;
        if (socketpair(AF_UNIX, type, 0, fds) != 0)
            return false;
    } else {
        char path[] = "/tmp/ntpool-fuzz-XXXXXX";
        s->fd = mkostemp(path, O_CLOEXEC);
        if (s->fd < 0)
            return false;
        unlink(path);
        s->stream = false;
        return true;
    }
    s->fd = fds[0];
    s->peer = fds[1];
    return true;
}

static void
close_io_fds(io_slot *s)
{
    close(s->fd);
    if (s->peer >= 0)
        close(s->peer);
    s->fd = s->peer = -1;
}

/* Create (or bind) an I/O object on new fds. */
static void
open_io(world *w, int i, uint8_t b, input *in)
{
    io_slot *s = &w->ios[i];
    if (s->io || !open_io_fds(s, b))
        return;
    s->used = 0;
    ntp_status st;
    if (b & 0x80) {
        st = ntp_bind_io_completion_callback(&s->io, s->fd, bound_cb, NULL,
                                             (b & 0x40) ? 1 : 0);
    } else {
        int g;
        ntp_env env = env_from(w, in, &g);
        /* Not in a group: releasing the group's members would free the
         * object under its operations' feet. */
        ntp_env_set_cleanup_group(&env, NULL, NULL);
        st = ntp_io_create(&s->io, s->fd, io_cb, NULL, &env);
    }
    if (st != 0) {
        s->io = NULL;
        close_io_fds(s);
    }
}

static void
issue_io(io_slot *s, uint8_t b)
{
    if (s->io == NULL || s->used == OVS_PER_IO)
        return;
    unsigned k = s->used;
    ntp_overlapped *ov = &s->ov[k];
    memset(ov, 0, sizeof *ov);
    /* Offsets on a stream are refused; so is a NULL buffer. */
    ov->offset = (b & 0x40) ? (b >> 2) % 8 : NTP_IO_STREAM;
    if (!s->stream && ov->offset == NTP_IO_STREAM)
        ov->offset = 0;
    size_t len = 1 + (b >> 3) % IO_BUF;
    void *buf = (b & 0x20) && !(b & 0x40) ? NULL : s->buf[k];
    ntp_io_start(s->io);
    ntp_status st = (b & 1) ? ntp_io_write(s->io, ov, buf, len)
                            : ntp_io_read(s->io, ov, buf, len);
    if (st != 0)
        ntp_io_cancel(s->io); /* refused: withdraw the announcement */
    else
        s->used++;
}

/* End every operation, then close: CancelIoEx ends those waiting for a
 * stream; a cancelling wait may have dropped completions, so the wait for
 * callbacks alone does not prove an operation over -- its overlapped
 * does. */
static void
close_io(world *w, int i, bool cancel)
{
    io_slot *s = &w->ios[i];
    if (s->io == NULL)
        return;
    (void)ntp_io_cancel_ops(s->io, NULL);
    ntp_io_wait(s->io, cancel);
    for (unsigned k = 0; k < s->used; k++) {
        size_t n;
        (void)ntp_overlapped_result(&s->ov[k], &n, true);
    }
    ntp_io_close(s->io);
    s->io = NULL;
    close_io_fds(s);
}

static void
forget_queue_timers(world *w)
{
    for (int i = 0; i < NOBJS; i++)
        if (w->qtimer_in_queue[i])
            w->qtimers[i] = NULL, w->qtimer_in_queue[i] = false;
}

/* The I/O, APC and original-API operations (opcodes 32 and up). */
static void
step_more(world *w, uint8_t op, uint8_t a, input *in)
{
    int i = a % NOBJS;
    bool flag = a & 0x80;
    io_slot *s = &w->ios[i];
    switch (op % 16) {
    case 0:
        open_io(w, i, arg(in), in);
        break;
    case 1:
        issue_io(s, arg(in));
        break;
    case 2:
        if (s->peer >= 0) {
            char bytes[64];
            memset(bytes, 'x', sizeof bytes);
            (void)!write(s->peer, bytes, 1 + (a >> 2) % sizeof bytes);
        }
        break;
    case 3:
        if (s->io)
            (void)ntp_io_cancel_ops(s->io, (a & 0x40) && s->used
                                               ? &s->ov[(a >> 2) % s->used]
                                               : NULL);
        break;
    case 4:
        if (s->io && (!flag || !s->stream))
            ntp_io_wait(s->io, true); /* without cancel it may block */
        else if (s->io)
            (void)ntp_io_cancel_ops(s->io, NULL), ntp_io_wait(s->io, false);
        break;
    case 5:
        close_io(w, i, flag);
        break;
    case 6: {
        /* Bad calls: a bad fd, an fd bound twice, an unannounced
         * cancel, the wrong kind of object. */
        ntp_io *io = NULL;
        if (ntp_io_create(&io, -1 - (a % 3), io_cb, NULL, NULL) == 0)
            abort();
        if (s->io) {
            if (ntp_bind_io_completion_callback(&io, s->fd, bound_cb, NULL,
                                                0) == 0)
                ntp_io_close(io);
            ntp_io_cancel(s->io);
        }
        ntp_io_start((ntp_io *)(void *)w->works[i]);
        (void)ntp_io_read((ntp_io *)(void *)w->timers[i], NULL, NULL, 0);
        break;
    }
    case 7:
        if (!w->rwaits[i]) {
            uint8_t b = arg(in);
            uint32_t flags = flags_from(arg(in));
            /* A re-arming wait with timeout 0 would call back without
             * pause until unregistered: allowed only for ONLYONCE. */
            uint32_t timeout = (b & 0x80) ? NTP_INFINITE : 1 + (b >> 4) % 4;
            if ((flags & NTP_WT_EXECUTEONLYONCE) && (b & 0x40))
                timeout = 0;
            if (ntp_register_wait(&w->rwaits[i], handle_from(w, b),
                                  wait_or_timer_cb, NULL, timeout, flags)
                != 0)
                w->rwaits[i] = NULL;
        }
        break;
    case 8:
        if (w->rwaits[i]) {
            ntp_status st = ntp_unregister_wait_ex(
                w->rwaits[i], completion_from(w, arg(in)));
            /* Refused (a completion that is not an event): still ours. */
            if (st == 0 || st == NTP_EINPROGRESS)
                w->rwaits[i] = NULL;
        }
        break;
    case 9:
        (void)ntp_queue_user_work_item(flag ? NULL : work_item_cb, NULL,
                                       flags_from(arg(in)));
        break;
    case 10:
        if (w->queue == NULL) {
            (void)ntp_timer_queue_create(&w->queue);
        } else {
            ntp_status st = ntp_timer_queue_delete_ex(
                w->queue, completion_from(w, arg(in)));
            if (st == 0 || st == NTP_EINPROGRESS) {
                w->queue = NULL;
                forget_queue_timers(w);
            }
        }
        break;
    case 11:
        if (!w->qtimers[i]) {
            uint8_t b = arg(in);
            bool in_queue = flag && w->queue;
            if (ntp_timer_queue_timer_create(&w->qtimers[i],
                                             in_queue ? w->queue : NULL,
                                             wait_or_timer_cb, NULL, b % 4,
                                             (b >> 2) % 3, flags_from(arg(in)))
                == 0)
                w->qtimer_in_queue[i] = in_queue;
            else
                w->qtimers[i] = NULL;
        }
        break;
    case 12:
        if (w->qtimers[i]) {
            uint8_t b = arg(in);
            (void)ntp_timer_queue_timer_change(w->queue, w->qtimers[i], b % 4,
                                               (b >> 2) % 3);
        }
        break;
    case 13:
        if (w->qtimers[i]) {
            ntp_status st = ntp_timer_queue_timer_delete(
                w->queue, w->qtimers[i], completion_from(w, arg(in)));
            if (st == 0 || st == NTP_EINPROGRESS)
                w->qtimers[i] = NULL, w->qtimer_in_queue[i] = false;
        }
        (void)ntp_timer_queue_delete(NULL); /* the default: refused */
        break;
    case 14: {
        /* APCs to this thread, by pseudo-handle or by a real one, and a
         * waitable timer's completion routine; an alertable sleep or wait
         * runs them. */
        ntp_handle *h = handle_from(w, a);
        if (a & 0x40) {
            (void)ntp_waitable_timer_set_apc(h, due_from(in),
                                             (int8_t)arg(in) % 3,
                                             flag ? timer_apc_cb : NULL, NULL);
        } else if (flag) {
            ntp_handle *self = NULL;
            if (ntp_thread_current(&self) == 0) {
                (void)ntp_queue_apc(self, apc_cb, NULL);
                (void)ntp_handle_close(self);
            }
        } else {
            (void)ntp_queue_apc(NTP_CURRENT_THREAD, apc_cb, NULL);
            (void)ntp_queue_apc(h, (a & 0x20) ? apc_cb : NULL, NULL);
        }
        break;
    }
    default:
        if (a & 0x40)
            (void)ntp_waitable_timer_cancel(handle_from(w, a));
        else if (a & 0x20)
            (void)ntp_wait_for_single(handle_from(w, a), (a >> 3) % 2, true);
        else
            (void)ntp_sleep_ex((a >> 3) % 2, true);
        break;
    }
}

/* ---- one operation ---- */

static void
step(world *w, uint8_t op, input *in)
{
    uint8_t a = arg(in);
    int i = a % NOBJS;
    bool flag = a & 0x80;
    if (op % 48 >= 32) {
        step_more(w, op, a, in);
        return;
    }
    switch (op % 32) {
    case 0:
        if (!w->pools[a % NPOOLS] &&
            ntp_pool_create(&w->pools[a % NPOOLS]) == 0)
            ntp_pool_set_max_threads(w->pools[a % NPOOLS], 1 + (a >> 4) % 4);
        break;
    case 1:
        if (w->pools[a % NPOOLS]) {
            ntp_pool_close(w->pools[a % NPOOLS]);
            w->pools[a % NPOOLS] = NULL;
        }
        break;
    case 2:
        if (w->pools[a % NPOOLS])
            ntp_pool_set_max_threads(w->pools[a % NPOOLS], (a >> 2) % 6);
        break;
    case 3:
        if (w->pools[a % NPOOLS])
            (void)ntp_pool_set_min_threads(w->pools[a % NPOOLS], (a >> 2) % 4);
        break;
    case 4:
        if (!w->groups[a % NGROUPS])
            (void)ntp_cleanup_group_create(&w->groups[a % NGROUPS]);
        break;
    case 5:
        close_group(w, a % NGROUPS, flag);
        break;
    case 6: {
        if (w->works[i])
            break;
        int g;
        ntp_env env = env_from(w, in, &g);
        if (ntp_work_create(&w->works[i], work_cb, NULL, &env) == 0)
            w->work_group[i] = g;
        break;
    }
    case 7:
        if (w->works[i])
            for (int k = 0; k <= (a >> 2) % 16; k++)
                ntp_work_submit(w->works[i]);
        break;
    case 8:
        if (w->works[i])
            ntp_work_wait(w->works[i], flag);
        break;
    case 9:
        close_work(w, i, flag);
        break;
    case 10: {
        int g;
        ntp_env env = env_from(w, in, &g);
        (void)ntp_try_submit(simple_cb, NULL, &env);
        break;
    }
    case 11: {
        if (w->timers[i])
            break;
        int g;
        ntp_env env = env_from(w, in, &g);
        if (ntp_timer_create(&w->timers[i], timer_cb, NULL, &env) == 0)
            w->timer_group[i] = g;
        break;
    }
    case 12:
        if (w->timers[i]) {
            ntp_due due = due_from(in);
            uint8_t b = arg(in);
            (void)ntp_timer_set_ex(w->timers[i], due, b % 4, b >> 4);
        }
        break;
    case 13:
        if (w->timers[i])
            ntp_timer_wait(w->timers[i], flag);
        break;
    case 14:
        close_timer(w, i, flag);
        break;
    case 15: {
        if (w->waits[i])
            break;
        int g;
        ntp_env env = env_from(w, in, &g);
        if (ntp_wait_create(&w->waits[i], wait_cb, NULL, &env) == 0)
            w->wait_group[i] = g;
        break;
    }
    case 16:
        if (w->waits[i]) {
            uint8_t b = arg(in);
            ntp_wait_set(w->waits[i], handle_from(w, b),
                         (b & 0x80) ? NTP_INFINITE : (b >> 4) % 4);
        }
        break;
    case 17:
        if (w->waits[i])
            ntp_wait_wait(w->waits[i], flag);
        break;
    case 18:
        close_wait(w, i, flag);
        break;
    case 19:
        if (!w->handles[a % NHANDLES])
            (void)ntp_event_create(&w->handles[a % NHANDLES], flag, a & 0x40);
        break;
    case 20:
        if (!w->handles[a % NHANDLES]) {
            /* Out-of-range counts included: refused with an error. */
            int32_t initial = (int8_t)arg(in), max = (int8_t)arg(in);
            (void)ntp_semaphore_create(&w->handles[a % NHANDLES], initial,
                                       max);
        }
        break;
    case 21:
        if (!w->handles[a % NHANDLES])
            (void)ntp_mutex_create(&w->handles[a % NHANDLES], false);
        break;
    case 22:
        if (!w->handles[a % NHANDLES])
            (void)ntp_waitable_timer_create(&w->handles[a % NHANDLES], flag);
        break;
    case 23: {
        ntp_handle *h = handle_from(w, a);
        switch ((a >> 3) % 3) {
        case 0: (void)ntp_event_set(h); break;
        case 1: (void)ntp_event_reset(h); break;
        default: (void)ntp_event_pulse(h); break;
        }
        break;
    }
    case 24: {
        int32_t prev;
        (void)ntp_semaphore_release(handle_from(w, a), (int8_t)arg(in), &prev);
        break;
    }
    case 25: {
        /* Take and give back at once: a mutex held across operations
         * would make a later wait by this thread recursive, fine, but
         * never released. */
        ntp_handle *h = handle_from(w, a);
        if (ntp_wait_for_single(h, 0, false) == NTP_WAIT_OBJECT_0 &&
            h != NULL)
            (void)ntp_mutex_release(h);
        break;
    }
    case 26:
        (void)ntp_wait_for_single(handle_from(w, a), (a >> 6) % 2, false);
        break;
    case 27: {
        ntp_handle *hs[NHANDLES];
        uint32_t n = 0;
        for (int k = 0; k < NHANDLES; k++)
            if (w->handles[k])
                hs[n++] = w->handles[k];
        (void)ntp_wait_for_multiple(n, hs, flag, 0, false);
        break;
    }
    case 28:
        close_handle(w, a % NHANDLES);
        break;
    case 29:
        if (w->handles[a % NHANDLES])
            (void)ntp_waitable_timer_set(w->handles[a % NHANDLES],
                                         due_from(in), (int8_t)arg(in) % 3);
        break;
    case 30:
        /* Objects of the wrong kind and NULLs: refused, never a crash. */
        ntp_timer_set((ntp_timer *)(void *)w->works[i], ntp_due_in_ms(0), 0,
                      0);
        ntp_work_submit((ntp_work *)(void *)w->timers[i]);
        ntp_wait_set((ntp_wait *)(void *)w->handles[i % NHANDLES], NULL, 0);
        (void)ntp_event_set((ntp_handle *)(void *)w->pools[0]);
        ntp_work_submit(NULL);
        ntp_timer_close(NULL);
        (void)ntp_handle_close(NULL);
        break;
    default:
        if (w->works[i] && w->works[(i + 1) % NOBJS])
            ntp_work_wait(w->works[(i + 1) % NOBJS], false);
        break;
    }
}

static void
end_world(world *w)
{
    for (int i = 0; i < NOBJS; i++) {
        close_work(w, i, true);
        close_timer(w, i, true);
        close_wait(w, i, true);
        close_io(w, i, true);
        if (w->rwaits[i])
            (void)ntp_unregister_wait_ex(w->rwaits[i], NTP_COMPLETION_WAIT);
        if (w->qtimers[i] && !w->qtimer_in_queue[i])
            (void)ntp_timer_queue_timer_delete(NULL, w->qtimers[i],
                                               NTP_COMPLETION_WAIT);
    }
    if (w->queue)
        (void)ntp_timer_queue_delete_ex(w->queue, NTP_COMPLETION_WAIT);
    for (int g = 0; g < NGROUPS; g++)
        close_group(w, g, true);
    for (int i = 0; i < NHANDLES; i++)
        close_handle(w, i);
    for (int p = 0; p < NPOOLS; p++)
        if (w->pools[p])
            ntp_pool_close(w->pools[p]);
    /* Simple callbacks and closed pools finish on their own. A waitable
     * timer's completion APC queued to this thread holds a reference to
     * the timer until it runs, and an expiry may queue one until the
     * handle is closed: so the APCs run here, after the closes, by
     * sleeping alertably. */
    for (int ms = 0; ntp_debug_live_objects() != 0; ms++) {
        if (ms > 10000) {
            fprintf(stderr,
                    "fuzz-ops: %ld objects still alive 10 s after "
                    "the program closed everything\n",
                    ntp_debug_live_objects());
            abort();
        }
        (void)ntp_sleep_ex(1, true);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool once;
    if (!once) {
        once = true;
        ntp_set_diagnostic_handler(quiet, NULL);
        /* Idle default-pool workers leave quickly between inputs. */
        (void)ntp_pool_set_idle_timeout(ntp_pool_default(), 100);
    }
    world w;
    memset(&w, 0, sizeof w);
    for (int i = 0; i < NOBJS; i++) {
        w.work_group[i] = w.timer_group[i] = w.wait_group[i] = -1;
        w.ios[i].fd = w.ios[i].peer = -1;
    }
    input in = {data, size > 4096 ? 4096 : size};
    uint8_t op;
    while (take(&in, &op))
        step(&w, op, &in);
    end_world(&w);
    return 0;
}
