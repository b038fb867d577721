/*
 * fuzz_ops.c -- a libFuzzer target that reads its input as a program of
 * operations on pools, cleanup groups, callback objects and handles, with
 * valid and invalid arguments (NULL, closed-and-forgotten slots, objects of
 * the wrong kind passed to a function, out-of-range values).
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

#define NPOOLS 2
#define NGROUPS 2
#define NOBJS 4
#define NHANDLES 4

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
        int64_t ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec +
                     ((int64_t)(b >> 2) - 16) * 100000;
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

/* ---- one operation ---- */

static void
step(world *w, uint8_t op, input *in)
{
    uint8_t a = arg(in);
    int i = a % NOBJS;
    bool flag = a & 0x80;
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
    }
    for (int g = 0; g < NGROUPS; g++)
        close_group(w, g, true);
    for (int i = 0; i < NHANDLES; i++)
        close_handle(w, i);
    for (int p = 0; p < NPOOLS; p++)
        if (w->pools[p])
            ntp_pool_close(w->pools[p]);
    /* Simple callbacks and closed pools finish on their own. */
    for (int ms = 0; ntp_debug_live_objects() != 0; ms++) {
        if (ms > 10000) {
            fprintf(stderr, "fuzz-ops: %ld objects still alive 10 s after "
                            "the program closed everything\n",
                    ntp_debug_live_objects());
            abort();
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
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
    for (int i = 0; i < NOBJS; i++)
        w.work_group[i] = w.timer_group[i] = w.wait_group[i] = -1;
    input in = {data, size > 4096 ? 4096 : size};
    uint8_t op;
    while (take(&in, &op))
        step(&w, op, &in);
    end_world(&w);
    return 0;
}
