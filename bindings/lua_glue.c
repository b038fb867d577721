/*
 * lua_glue.c -- Lua trampolines, the Lua lock and its count hook, and the
 * release of Lua values held by callbacks.
 *
 * THE LUA LOCK. A lua_State is not thread safe, so each state that loads
 * ntpool gets one lock (struct lstate), the GIL of that state: the OS
 * thread that runs Lua code of the state holds it.
 *   - require "ntpool" takes it for the calling thread, which keeps it
 *     while the script runs;
 *   - every ntpool call that can block drops it while blocked (BLOCKING);
 *   - a count hook (inherited by coroutines created afterwards) gives it
 *     up and queues for it again when a worker is waiting, so a script that
 *     computes without calling ntpool still lets callbacks run;
 *   - a pool thread that has a Lua callback to run takes it, runs the
 *     callback in a coroutine of the state's cache, and gives it back.
 *     Callback coroutines have no count hook: a callback is never
 *     interrupted by other Lua code of the state except inside a blocking
 *     ntpool call, so callbacks need no lock among themselves for a
 *     read-modify-write of a shared variable (a coroutine the script
 *     created keeps its hook, even when a callback resumes it, as
 *     ntpool.await does). The script, by contrast, can be interrupted
 *     between any two VM instructions while a callback waits (as a
 *     Python thread can): a read-modify-write it shares with callbacks
 *     needs a critical section.
 * The lock is a ticket lock (first come, first served). A plain mutex
 * released and retaken by the hook lets the releasing thread win again
 * almost every time (measured: a worker waited 5.7 ms behind a busy script;
 * 9 us with tickets).
 *
 * The one rule for users: a C function of another library that blocks
 * while holding the lock (io.read on a terminal, os.execute, socket.select)
 * stops every callback of the state until it returns.
 *
 * LIFETIMES. A callback object (work, timer, wait) is a userdata holding a
 * struct cbctx *, the context given to the core. The Lua function is the
 * userdata's user value, so the garbage collector traces it through the
 * object (a callback that captures its own object is no leak). While the
 * object has something pending (submitted posts, an armed timer or wait,
 * a callback running) the registry holds the userdata (c->selfref), so it
 * cannot be collected under its callbacks. The cbctx is freed when both
 * the userdata (its __gc) and the core (its release hook, called once after
 * the final callback) are done with it (c->refs). The release hook may run
 * on any thread, even one that holds core locks, so it never waits for the
 * Lua lock: it queues the context on S->releases, and whoever next takes
 * the lock finishes the job. An environment's finalizer runs after the
 * callback (fin_tramp) while the object is still counted in flight, so
 * the object stays anchored until then. An I/O operation's memory (lop)
 * and a waitable timer's completion routine have lifetimes of their own,
 * described where they are defined.
 *
 * CLOSING THE STATE. The state's anchor userdata is made first, so
 * lua_close finalizes it last, after every ntpool object's __gc has closed
 * its core object (which stops timers and waits). Its finalizer marks the
 * state closing (queued callbacks then return at once without running
 * Lua), drops the lock, waits until the callbacks that are running have
 * returned, and marks the state dead; contexts released afterwards are
 * freed without touching Lua. struct lstate itself is reference counted
 * (one for the Lua state, one per live context) and freed with the last.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "lua_glue.h"

#include <dlfcn.h>
#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ntpool.h"

#define HOOK_COUNT 1000 /* VM instructions between lock-handoff checks */
#define COROUTINE_CACHE 32

/* ------------------------------------------------------------------------ */
/* State and lock                                                            */
/* ------------------------------------------------------------------------ */

typedef struct cbctx cbctx;

typedef struct lstate {
    pthread_mutex_t m;    /* guards everything below but L/T/refs of Lua */
    pthread_cond_t turn;  /* "serving moved" (ticket waiters) */
    pthread_cond_t idle;  /* "running reached 0" (state close) */
    unsigned long next;   /* next ticket to hand out */
    atomic_ulong serving; /* ticket that holds the lock: written under m,
                           * read by spinners without it */
    atomic_uint waiting;  /* threads queued for the lock (hook reads) */
    unsigned parked;      /* of those, asleep on `turn` */
    unsigned running;     /* callbacks admitted and not finished */
    bool closing;         /* lua_close began: run no more callbacks */
    bool dead;            /* lua_close done: L and T are gone */
    unsigned refs;        /* 1 for the Lua state + 1 per cbctx */
    cbctx *releases;      /* contexts the core released, to finish */
    lua_State *L;         /* the main thread */
    lua_State *T;         /* a private thread for stack work */
    int cotab;            /* registry ref: the cached coroutines */
    lua_State *co[COROUTINE_CACHE]; /* the same, by slot (Lua lock) */
    int co_free[COROUTINE_CACHE];   /* slots of the idle ones */
    int co_nfree, co_count;         /* idle slots, slots in use */
    int objtab;                     /* registry ref: weak cbctx -> userdata */
    int ovtab;  /* registry ref: weak lop -> ntpool.overlapped */
    int instmt; /* registry ref: the ntpool.instance metatable */
    /* Identities of metatables the hot paths test (test_udata); the
     * registry holds the tables under their names for the state's life. */
    const void *poolmt, *envmt;
    const void *cbmt[5]; /* by enum cb_kind (not SIMPLE) */
    int errref;          /* registry ref: ntpool.on_error handler */
    int wtfns;           /* registry ref: waitable timer routines by id */
} lstate;

static const char STATE_KEY = 'S';

/* How long a thread whose ticket is not yet served watches for its turn,
 * yielding the CPU between looks, before it sleeps on `turn`. Most holds
 * are one short callback, shorter than a sleep and wake-up (two futex
 * calls, two context switches): two pool threads taking turns at a
 * backlog of trivial callbacks spent about 10 us per callback asleep. */
#define TICKET_SPIN_NS 20000

static uint64_t
mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Wait until ticket `mine` is served. S->m held on entry and return. A
 * waiter counts in S->waiting (the count hook hands the lock over when
 * it is not 0) while it spins and while it sleeps; only sleepers count in
 * S->parked, which tells the releaser whether to broadcast. */
static void
ticket_wait_locked(lstate *S, unsigned long mine)
{
    if (atomic_load_explicit(&S->serving, memory_order_relaxed) == mine) {
        return;
    }
    atomic_fetch_add_explicit(&S->waiting, 1, memory_order_relaxed);
    pthread_mutex_unlock(&S->m);
    /* acquire: what the previous holder did under the lock is seen. */
    bool served = false;
    uint64_t start = mono_ns();
    for (unsigned i = 1;; i++) {
        if (atomic_load_explicit(&S->serving, memory_order_acquire) == mine) {
            served = true;
            break;
        }
        sched_yield();
        if (i % 8 == 0 && mono_ns() - start >= TICKET_SPIN_NS) {
            break;
        }
    }
    pthread_mutex_lock(&S->m);
    if (!served) {
        S->parked++;
        while (atomic_load_explicit(&S->serving, memory_order_relaxed)
               != mine) {
            pthread_cond_wait(&S->turn, &S->m);
        }
        S->parked--;
    }
    atomic_fetch_sub_explicit(&S->waiting, 1, memory_order_relaxed);
}

/* Serve the next ticket. S->m held. */
static void
ticket_next_locked(lstate *S)
{
    unsigned long next =
        atomic_load_explicit(&S->serving, memory_order_relaxed) + 1;
    /* release: pairs with the spinners' acquire. */
    atomic_store_explicit(&S->serving, next, memory_order_release);
    if (S->parked != 0) {
        /* Every sleeper checks its own ticket; only one can go. */
        pthread_cond_broadcast(&S->turn);
    }
}

static void
lock_acquire(lstate *S)
{
    pthread_mutex_lock(&S->m);
    ticket_wait_locked(S, S->next++);
    pthread_mutex_unlock(&S->m);
}

static void
lock_release(lstate *S)
{
    pthread_mutex_lock(&S->m);
    ticket_next_locked(S);
    pthread_mutex_unlock(&S->m);
}

static void finish_releases(lstate *S);

/* Drop the lock around a call that can block, then take it back (at the
 * back of the queue) and finish what the core released meanwhile. */
#define BLOCKING(S, stmt)                                                     \
    do {                                                                      \
        lock_release(S);                                                      \
        stmt;                                                                 \
        lock_acquire(S);                                                      \
        finish_releases(S);                                                   \
    } while (0)

static void
state_unref_locked(lstate *S, bool *free_it)
{
    *free_it = (--S->refs == 0);
}

static void
state_free(lstate *S)
{
    pthread_mutex_destroy(&S->m);
    pthread_cond_destroy(&S->turn);
    pthread_cond_destroy(&S->idle);
    free(S);
}

/* The count hook: hand the lock over when somebody waits for it. */
static void
count_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &STATE_KEY);
    lstate *S = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (S != NULL
        && atomic_load_explicit(&S->waiting, memory_order_relaxed) != 0) {
        lock_release(S);
        lock_acquire(S);
        finish_releases(S);
    }
}

static lstate *
upstate(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

/* Runtime failure: fail, "EINVAL: invalid argument", "EINVAL". */
static int
push_fail(lua_State *L, ntp_status st)
{
    luaL_pushfail(L);
    lua_pushfstring(L, "%s: %s", ntp_err_name(st), ntp_strerror(st));
    lua_pushstring(L, ntp_err_name(st));
    return 3;
}

static int
push_ok_or_fail(lua_State *L, ntp_status st)
{
    if (st < 0) {
        return push_fail(L, st);
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* Seconds (a number, nil = infinite) to a ms timeout. */
static uint32_t
opt_timeout_ms(lua_State *L, int idx)
{
    if (lua_isnoneornil(L, idx)) {
        return NTP_INFINITE;
    }
    lua_Number s = luaL_checknumber(L, idx);
    luaL_argcheck(L, s >= 0 && s == s, idx, "timeout must be >= 0 seconds");
    double ms = ceil(s * 1000.0);
    if (ms >= (double)NTP_INFINITE) {
        return NTP_INFINITE - 1;
    }
    return (uint32_t)ms;
}

/* ------------------------------------------------------------------------ */
/* Callback contexts                                                         */
/* ------------------------------------------------------------------------ */

enum cb_kind { CB_WORK, CB_TIMER, CB_WAIT, CB_SIMPLE, CB_IO };

/* One read or write of an I/O object: the OVERLAPPED and its buffer, which
 * must stay put until the operation is over. Linked in its object's
 * context (Lua lock) until its completion is delivered (its callback) or
 * dropped (then the context's release, which comes after the last
 * operation in flight, unlinks it). It is freed at that point, unless the
 * ntpool.overlapped userdata that io:read/io:write returned still points
 * at it (held): then `done` is set and that userdata's __gc frees it. Both
 * flags are read and written under the Lua lock. */
typedef struct lop {
    ntp_overlapped ov; /* first: the callback gets &ov */
    struct lop *prev, *next;
    int is_write;
    bool held; /* an ntpool.overlapped userdata points here */
    bool done; /* unlinked: the core and the context are done with it */
    size_t len;
    char buf[];
} lop;

/* The context is done with op (unlinked already): free it, or leave it to
 * the ntpool.overlapped userdata that still holds it. Lua lock held. */
static void
lop_done(lop *op)
{
    if (op->held) {
        op->done = true;
    } else {
        free(op);
    }
}

struct cbctx {
    lstate *S;
    int kind;             /* enum cb_kind */
    void *obj;            /* the core object (NULL once closed) */
    int refs;             /* userdata + core; under the Lua lock */
    int selfref;          /* registry ref to the userdata, or LUA_NOREF */
    int fnref;            /* CB_SIMPLE only: registry ref to the function */
    unsigned pending;     /* work: posts submitted and not yet started */
    unsigned inflight;    /* callbacks running now */
    bool armed;           /* timer/wait: set and not yet fired (one-shot) */
    bool periodic;        /* timer: period > 0 */
    int cancelref;        /* registry ref: cleanup-group cancel fn, or none */
    int finref;           /* registry ref: environment finalizer, or none */
    struct lgroup *group; /* the cleanup group it is a member of, or NULL */
    cbctx *gprev, *gnext; /* the group's member list (Lua lock) */
    lop *ops;             /* I/O operations not yet delivered */
    cbctx *next_release;
};

/* A cleanup group and the contexts of its members that are still open
 * (the Lua side needs them: after close_members their core objects are
 * gone, so their userdata must not close them again). */
typedef struct lgroup {
    ntp_cleanup_group *g; /* NULL once closed */
    cbctx *members;
} lgroup;

static void
group_unlink(cbctx *c)
{
    if (c->group == NULL) {
        return;
    }
    if (c->gprev != NULL) {
        c->gprev->gnext = c->gnext;
    } else {
        c->group->members = c->gnext;
    }
    if (c->gnext != NULL) {
        c->gnext->gprev = c->gprev;
    }
    c->group = NULL;
    c->gprev = c->gnext = NULL;
}

static void
group_link(lgroup *g, cbctx *c)
{
    c->group = g;
    c->gprev = NULL;
    c->gnext = g->members;
    if (g->members != NULL) {
        g->members->gprev = c;
    }
    g->members = c;
}

/* Lua lock held. Frees c if nobody references it any more. */
static void
ctx_unref(lstate *S, cbctx *c)
{
    if (--c->refs > 0) {
        return;
    }
    group_unlink(c);
    while (c->ops != NULL) {
        lop *op = c->ops;
        c->ops = op->next;
        lop_done(op);
    }
    if (!S->dead) {
        lua_State *T = S->T;
        if (c->cancelref != LUA_NOREF) {
            luaL_unref(T, LUA_REGISTRYINDEX, c->cancelref);
        }
        if (c->finref != LUA_NOREF) {
            luaL_unref(T, LUA_REGISTRYINDEX, c->finref);
        }
        if (c->selfref != LUA_NOREF) {
            luaL_unref(T, LUA_REGISTRYINDEX, c->selfref);
        }
        if (c->fnref != LUA_NOREF) {
            luaL_unref(T, LUA_REGISTRYINDEX, c->fnref);
        }
    }
    free(c);
    pthread_mutex_lock(&S->m);
    bool free_it;
    state_unref_locked(S, &free_it);
    pthread_mutex_unlock(&S->m);
    if (free_it) {
        state_free(S);
    }
}

/* A context released after the Lua state died: no Lua to touch, and no
 * ntpool.overlapped userdata left to hold its operations (they were all
 * finalized before the state's anchor). */
static void
ctx_free_dead(cbctx *c)
{
    while (c->ops != NULL) {
        lop *op = c->ops;
        c->ops = op->next;
        free(op);
    }
    free(c);
}

/* The core's release hook: any thread, maybe with core locks held, so it
 * never waits for the Lua lock (see the file comment). */
static void
ctx_release_hook(void *arg)
{
    cbctx *c = arg;
    lstate *S = c->S;
    pthread_mutex_lock(&S->m);
    if (S->dead) {
        /* The Lua state is gone: nothing to unref there. */
        bool free_it;
        ctx_free_dead(c);
        state_unref_locked(S, &free_it);
        pthread_mutex_unlock(&S->m);
        if (free_it) {
            state_free(S);
        }
        return;
    }
    c->next_release = S->releases;
    S->releases = c;
    pthread_mutex_unlock(&S->m);
}

/* Lua lock held. */
static void
finish_releases(lstate *S)
{
    pthread_mutex_lock(&S->m);
    cbctx *list = S->releases;
    S->releases = NULL;
    pthread_mutex_unlock(&S->m);
    while (list != NULL) {
        cbctx *c = list;
        list = c->next_release;
        ctx_unref(S, c);
    }
}

static cbctx *
ctx_new(lua_State *L, lstate *S, int kind)
{
    cbctx *c = calloc(1, sizeof *c);
    if (c == NULL) {
        luaL_error(L, "not enough memory");
    }
    c->S = S;
    c->kind = kind;
    c->refs = 1;
    c->selfref = LUA_NOREF;
    c->fnref = LUA_NOREF;
    c->cancelref = LUA_NOREF;
    c->finref = LUA_NOREF;
    pthread_mutex_lock(&S->m);
    S->refs++;
    pthread_mutex_unlock(&S->m);
    return c;
}

/* Hold the userdata in the registry while something is pending; drop it
 * when nothing is. ud_idx: the userdata's stack index in L, or 0 (then it
 * is looked up; if it is gone there is nothing to hold). */
static void
ctx_update_anchor(lua_State *L, cbctx *c, int ud_idx)
{
    /* Posts submitted before a close still run (CloseThreadpoolWork), so
     * pending keeps the object (and its function) after close too. */
    bool want =
        c->pending > 0 || c->inflight > 0 || (c->armed && c->obj != NULL);
    if (want && c->selfref == LUA_NOREF) {
        if (ud_idx != 0) {
            lua_pushvalue(L, ud_idx);
        } else {
            lua_rawgeti(L, LUA_REGISTRYINDEX, c->S->objtab);
            lua_rawgetp(L, -1, c);
            lua_remove(L, -2);
        }
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
        } else {
            c->selfref = luaL_ref(L, LUA_REGISTRYINDEX);
        }
    } else if (!want && c->selfref != LUA_NOREF) {
        luaL_unref(L, LUA_REGISTRYINDEX, c->selfref);
        c->selfref = LUA_NOREF;
    }
}

/* ------------------------------------------------------------------------ */
/* Instances                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct linstance {
    ntp_instance *inst; /* NULL once its callback returned */
} linstance;

static ntp_instance *
check_instance(lua_State *L)
{
    linstance *li = luaL_checkudata(L, 1, "ntpool.instance");
    if (li->inst == NULL) {
        luaL_error(L, "instance used after its callback returned");
    }
    return li->inst;
}

/* ------------------------------------------------------------------------ */
/* Running a callback                                                        */
/* ------------------------------------------------------------------------ */

static int
traceback_handler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring")
            && lua_type(L, -1) == LUA_TSTRING) {
            return 1;
        }
        msg = lua_pushfstring(L, "(error object is a %s value)",
                              luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* The error message is on top of co: hand it to ntpool.on_error's handler,
 * or to warn. Never raises. */
static void
report_error(lstate *S, lua_State *co)
{
    if (S->errref != LUA_NOREF) {
        lua_pushcfunction(co, traceback_handler);
        lua_rawgeti(co, LUA_REGISTRYINDEX, S->errref);
        lua_pushvalue(co, -3);
        if (lua_pcall(co, 1, 0, -3) == LUA_OK) {
            lua_pop(co, 1);
            return;
        }
        lua_warning(co, "ntpool: error in on_error handler: ", 1);
        lua_warning(co, lua_tostring(co, -1) ? lua_tostring(co, -1) : "?", 0);
        lua_pop(co, 2);
    }
    const char *msg = lua_tostring(co, -1);
    lua_warning(co, "ntpool: error in callback: ", 1);
    lua_warning(co, msg != NULL ? msg : "?", 0);
}

/* A new coroutine for callbacks, pushed on S->T. No count hook (T's would
 * be inherited): a callback keeps the lock until it returns or blocks in
 * ntpool, so callbacks never interleave between two VM instructions
 * (`n = n + 1` in callbacks loses no update), and do not pay for the
 * hook. */
static lua_State *
coroutine_new(lstate *S)
{
    lua_State *co = lua_newthread(S->T);
    lua_sethook(co, NULL, 0, 0);
    return co;
}

/* Lua lock held: a coroutine to run a callback in, and its slot for
 * coroutine_put. The cache: up to COROUTINE_CACHE coroutines anchored in
 * the table S->cotab (slot i at index i + 1), their pointers in S->co,
 * the idle ones' slots in S->co_free -- so taking and giving back one is
 * a few C operations, no Lua table traffic. Beyond the cache (that many
 * callbacks blocked at once), a coroutine is anchored by a registry
 * reference, encoded as a negative slot. */
static lua_State *
coroutine_get(lstate *S, int *slot)
{
    if (S->co_nfree > 0) {
        *slot = S->co_free[--S->co_nfree];
        return S->co[*slot];
    }
    lua_State *T = S->T;
    lua_State *co = coroutine_new(S);
    if (S->co_count < COROUTINE_CACHE) {
        *slot = S->co_count++;
        S->co[*slot] = co;
        lua_rawgeti(T, LUA_REGISTRYINDEX, S->cotab);
        lua_insert(T, -2);
        lua_rawseti(T, -2, *slot + 1);
        lua_pop(T, 1);
    } else {
        *slot = -luaL_ref(T, LUA_REGISTRYINDEX);
    }
    return co;
}

static void
coroutine_put(lstate *S, lua_State *co, int slot)
{
    lua_State *T = S->T;
    lua_settop(co, 0);
    if (slot < 0) {
        luaL_unref(T, LUA_REGISTRYINDEX, -slot);
        return;
    }
    if (lua_status(co) != LUA_OK) {
        /* Unusable (an error left it dead): a fresh one takes the slot. */
        co = coroutine_new(S);
        S->co[slot] = co;
        lua_rawgeti(T, LUA_REGISTRYINDEX, S->cotab);
        lua_insert(T, -2);
        lua_rawseti(T, -2, slot + 1);
        lua_pop(T, 1);
    }
    S->co_free[S->co_nfree++] = slot;
}

static void
lop_unlink(cbctx *c, lop *op)
{
    if (op->prev != NULL) {
        op->prev->next = op->next;
    } else {
        c->ops = op->next;
    }
    if (op->next != NULL) {
        op->next->prev = op->prev;
    }
    op->prev = op->next = NULL;
}

/* luaL_setmetatable(co, "ntpool.instance") without the lookup by name
 * (an interned-string search per callback). */
static void
set_instance_meta(lstate *S, lua_State *co)
{
    lua_rawgeti(co, LUA_REGISTRYINDEX, S->instmt);
    lua_setmetatable(co, -2);
}

static void callback_end(lstate *S);

/* A thread with Lua code of S to run (a pool thread, or one running an
 * APC): take the Lua lock. false, with the lock not held, if the state is
 * closing: then nothing of Lua may be touched. Counted in S->running from
 * before the wait for the lock, so that closing the state waits for it.
 * This is lock_acquire with the admission folded into the same hold of
 * S->m: one lock and unlock per callback when nobody waits. */
static bool
callback_begin(lstate *S)
{
    pthread_mutex_lock(&S->m);
    if (S->closing) {
        pthread_mutex_unlock(&S->m);
        return false;
    }
    S->running++;
    ticket_wait_locked(S, S->next++);
    bool closing = S->closing;
    bool releases = S->releases != NULL;
    pthread_mutex_unlock(&S->m);
    if (closing) {
        callback_end(S);
        return false;
    }
    if (releases) {
        finish_releases(S);
    }
    return true;
}

/* The end of what callback_begin admitted: give the lock back (as
 * lock_release, in the same hold of S->m as the count). */
static void
callback_end(lstate *S)
{
    pthread_mutex_lock(&S->m);
    S->running--;
    if (S->closing && S->running == 0) {
        pthread_cond_broadcast(&S->idle);
    }
    ticket_next_locked(S);
    pthread_mutex_unlock(&S->m);
}

/* Every trampoline comes here on its pool thread: take the Lua lock (or
 * give up if the state is closing), run fn(inst, obj[, extra]) in a cached
 * coroutine under a traceback handler, report errors, give the lock back. */
static void
run_callback(cbctx *c, ntp_instance *inst, bool has_extra, lua_Integer extra,
             ntp_overlapped *ov, ntp_status iores, size_t nbytes)
{
    lstate *S = c->S;
    if (callback_begin(S)) {
        int coref;
        lua_State *co = coroutine_get(S, &coref);
        /* Stack: 1 traceback handler, 2 the instance (kept there so the
         * collector cannot free it while the callback runs, whatever the
         * callback does with its copy), then fn and its arguments. */
        lua_pushcfunction(co, traceback_handler);
        linstance *li = lua_newuserdatauv(co, sizeof *li, 0);
        li->inst = inst;
        set_instance_meta(S, co);
        int nargs = 1;
        if (c->kind == CB_SIMPLE) {
            lua_rawgeti(co, LUA_REGISTRYINDEX, c->fnref);
            lua_pushvalue(co, 2);
        } else {
            if ((c->kind == CB_WORK || c->kind == CB_IO) && c->pending > 0) {
                c->pending--;
            }
            if (c->kind == CB_WAIT || (c->kind == CB_TIMER && !c->periodic)) {
                c->armed = false;
            }
            lua_rawgeti(co, LUA_REGISTRYINDEX, S->objtab);
            lua_rawgetp(co, -1, c);
            lua_remove(co, -2);
            /* The function is the object's user value. An object that
             * was collected (unreachable, nothing pending) runs nothing. */
            if (lua_isuserdata(co, -1)) {
                lua_getiuservalue(co, -1, 1);
            } else {
                lua_pushnil(co);
            }
            lua_insert(co, -2); /* fn, obj */
            lua_pushvalue(co, 2);
            lua_insert(co, -2); /* fn, inst, obj */
            nargs = 2;
        }
        if (has_extra) {
            lua_pushinteger(co, extra);
            nargs++;
        }
        if (ov != NULL) {
            /* read: the data; write: the bytes written; failure: nil,
             * message, errname; then the operation's ntpool.overlapped
             * (nil if it was collected). The operation is over: free
             * it. */
            lop *op = (lop *)ov;
            if (iores < 0) {
                lua_pushnil(co);
                lua_pushfstring(co, "%s: %s", ntp_err_name(iores),
                                ntp_strerror(iores));
                lua_pushstring(co, ntp_err_name(iores));
            } else {
                if (!op->is_write) {
                    lua_pushlstring(co, op->buf, nbytes);
                } else {
                    lua_pushinteger(co, (lua_Integer)nbytes);
                }
                lua_pushnil(co);
                lua_pushnil(co);
            }
            lua_rawgeti(co, LUA_REGISTRYINDEX, S->ovtab);
            lua_rawgetp(co, -1, op);
            lua_remove(co, -2);
            nargs += 4;
            lop_unlink(c, op);
            lop_done(op);
        }
        c->inflight++;
        if (lua_isfunction(co, -1 - nargs)) {
            if (lua_pcall(co, nargs, 0, 1) != LUA_OK) {
                report_error(S, co);
            }
        }
        /* lua_settop below also drops the instance: it dies here. */
        li->inst = NULL;
        /* The environment's finalizer runs next (fin_tramp): the object
         * stays anchored until then. */
        if (c->finref == LUA_NOREF) {
            c->inflight--;
            ctx_update_anchor(co, c, 0);
        }
        coroutine_put(S, co, coref);
        callback_end(S);
    }
}

/* The environment's finalization callback (ntp_env_set_finalization): the
 * core calls it on the same thread right after the callback returned, with
 * the same instance, before the completion actions. fn(inst, obj); obj is
 * nil for try_submit callbacks. The object's context is alive: the core's
 * release comes after this. */
static void
fin_tramp(ntp_instance *inst, void *ctx)
{
    cbctx *c = ctx;
    lstate *S = c->S;
    if (!callback_begin(S)) {
        return;
    }
    int coref;
    lua_State *co = coroutine_get(S, &coref);
    lua_pushcfunction(co, traceback_handler);
    linstance *li = lua_newuserdatauv(co, sizeof *li, 0);
    li->inst = inst;
    set_instance_meta(S, co);
    lua_rawgeti(co, LUA_REGISTRYINDEX, c->finref);
    lua_pushvalue(co, 2);
    if (c->kind == CB_SIMPLE) {
        lua_pushnil(co);
    } else {
        lua_rawgeti(co, LUA_REGISTRYINDEX, S->objtab);
        lua_rawgetp(co, -1, c);
        lua_remove(co, -2);
    }
    if (lua_pcall(co, 2, 0, 1) != LUA_OK) {
        report_error(S, co);
    }
    li->inst = NULL;
    c->inflight--;
    ctx_update_anchor(co, c, 0);
    coroutine_put(S, co, coref);
    callback_end(S);
}

static void
work_tramp(ntp_instance *inst, void *ctx, ntp_work *w)
{
    (void)w;
    run_callback(ctx, inst, false, 0, NULL, 0, 0);
}

static void
timer_tramp(ntp_instance *inst, void *ctx, ntp_timer *t)
{
    (void)t;
    run_callback(ctx, inst, false, 0, NULL, 0, 0);
}

static void
wait_tramp(ntp_instance *inst, void *ctx, ntp_wait *w, uint32_t result)
{
    (void)w;
    run_callback(ctx, inst, true, (lua_Integer)result, NULL, 0, 0);
}

static void
io_tramp(ntp_instance *inst, void *ctx, ntp_overlapped *ov, ntp_status result,
         size_t nbytes, ntp_io *io)
{
    (void)io;
    run_callback(ctx, inst, false, 0, ov, result, nbytes);
}

static void
simple_tramp(ntp_instance *inst, void *ctx)
{
    run_callback(ctx, inst, false, 0, NULL, 0, 0);
}

/* ------------------------------------------------------------------------ */
/* Pools, environments                                                       */
/* ------------------------------------------------------------------------ */

typedef struct lpool {
    ntp_pool *pool; /* NULL once closed */
    bool is_default;
} lpool;

static lpool *
check_pool_open(lua_State *L, int idx)
{
    lpool *p = luaL_checkudata(L, idx, "ntpool.pool");
    if (p->pool == NULL) {
        luaL_error(L, "operation on closed ntpool.pool");
    }
    return p;
}

static int
l_pool_new(lua_State *L)
{
    lua_Integer mn = luaL_optinteger(L, 1, 0);
    lua_Integer mx = luaL_optinteger(L, 2, NTP_DEFAULT_MAX_THREADS);
    luaL_argcheck(L, mn >= 0 && mn <= 100000, 1, "min out of range");
    luaL_argcheck(L, mx >= 1 && mx <= 100000, 2, "max out of range");
    luaL_argcheck(L, mn <= mx, 1, "min greater than max");
    lpool *p = lua_newuserdatauv(L, sizeof *p, 0);
    p->pool = NULL;
    p->is_default = false;
    luaL_setmetatable(L, "ntpool.pool");
    ntp_pool *pool;
    ntp_status st = ntp_pool_create(&pool);
    if (st < 0) {
        return push_fail(L, st);
    }
    p->pool = pool;
    ntp_pool_set_max_threads(pool, (unsigned)mx);
    st = ntp_pool_set_min_threads(pool, (unsigned)mn);
    if (st < 0) {
        ntp_pool_close(pool);
        p->pool = NULL;
        return push_fail(L, st);
    }
    return 1;
}

/* luaL_testudata, with the metatable known by identity (mt) rather than
 * by name: a name costs a string-table search on every call of the hot
 * paths (submit, try_submit). */
static void *
test_udata(lua_State *L, int idx, const void *mt)
{
    void *p = lua_touserdata(L, idx);
    if (p == NULL || !lua_getmetatable(L, idx)) {
        return NULL;
    }
    bool same = lua_topointer(L, -1) == mt;
    lua_pop(L, 1);
    return same ? p : NULL;
}

static int
l_pool_default(lua_State *L)
{
    ntp_pool *pool = ntp_pool_default();
    if (pool == NULL) {
        return push_fail(L, NTP_ENOMEM);
    }
    lpool *p = lua_newuserdatauv(L, sizeof *p, 0);
    p->pool = pool;
    p->is_default = true;
    luaL_setmetatable(L, "ntpool.pool");
    return 1;
}

static int
l_pool_gc(lua_State *L)
{
    lpool *p = luaL_checkudata(L, 1, "ntpool.pool");
    if (p->pool != NULL && !p->is_default) {
        ntp_pool_close(p->pool); /* never blocks */
    }
    p->pool = NULL;
    return 0;
}

static int
l_pool_close(lua_State *L)
{
    check_pool_open(L, 1);
    return l_pool_gc(L);
}

static int
l_pool_set_max(lua_State *L)
{
    lpool *p = check_pool_open(L, 1);
    lua_Integer mx = luaL_checkinteger(L, 2);
    luaL_argcheck(L, mx >= 0 && mx <= 100000, 2, "out of range");
    ntp_pool_set_max_threads(p->pool, (unsigned)mx);
    lua_settop(L, 1);
    return 1;
}

static int
l_pool_set_min(lua_State *L)
{
    lpool *p = check_pool_open(L, 1);
    lua_Integer mn = luaL_checkinteger(L, 2);
    luaL_argcheck(L, mn >= 0 && mn <= 100000, 2, "out of range");
    ntp_status st = ntp_pool_set_min_threads(p->pool, (unsigned)mn);
    if (st < 0) {
        return push_fail(L, st);
    }
    lua_settop(L, 1);
    return 1;
}

void
ntpool_lua_push_stats(lua_State *L, const ntp_pool_stats *s)
{
    lua_createtable(L, 0, 12);
#define SETI(name, v)                                                         \
    (lua_pushinteger(L, (lua_Integer)(v)), lua_setfield(L, -2, name))
    SETI("threads", s->threads);
    SETI("idle", s->idle);
    SETI("running", s->running);
    SETI("long_running", s->long_running);
    SETI("min_threads", s->min_threads);
    SETI("max_threads", s->max_threads);
    SETI("objects", s->objects);
    SETI("queued", s->queued[0] + s->queued[1] + s->queued[2]);
    SETI("callbacks_run", s->callbacks_run);
    SETI("threads_created", s->threads_created);
    SETI("threads_retired", s->threads_retired);
#undef SETI
}

static int
l_pool_stats(lua_State *L)
{
    lpool *p = check_pool_open(L, 1);
    ntp_pool_stats s;
    ntp_status st = ntp_pool_stats_get(p->pool, &s);
    if (st < 0) {
        return push_fail(L, st);
    }
    ntpool_lua_push_stats(L, &s);
    return 1;
}

/* pool:dump([flags]) -> the text of the seeds' `!tp` dump (ntp_pool_dump):
 * flags 0 the pool's line and its threads, NTP_DUMP_ONE_LINE the line
 * alone, NTP_DUMP_MEMBERS the objects too, NTP_DUMP_QUEUE the queue per
 * priority. The core writes under the pool lock, never blocking on a
 * callback, so the Lua lock is kept. */
static int
l_pool_dump(lua_State *L)
{
    lpool *p = check_pool_open(L, 1);
    lua_Integer flags = luaL_optinteger(L, 2, 0);
    luaL_argcheck(L,
                  flags >= 0
                      && flags <= (NTP_DUMP_ONE_LINE | NTP_DUMP_MEMBERS
                                   | NTP_DUMP_QUEUE),
                  2, "flags must be 0 .. 7");
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (mem == NULL) {
        return push_fail(L, NTP_ENOMEM);
    }
    ntp_status st = ntp_pool_dump(p->pool, (unsigned)flags, mem);
    if (fclose(mem) != 0 && st == 0) {
        st = NTP_ENOMEM;
    }
    if (st < 0 || text == NULL) {
        free(text);
        return push_fail(L, st < 0 ? st : NTP_ENOMEM);
    }
    /* Copied into Lua before it is freed; should the copy itself fail
     * (out of memory, which raises) the text leaks once. */
    lua_pushlstring(L, text, len);
    free(text);
    return 1;
}

/* An environment: an ntp_env plus what it names, which must outlive it:
 * user value 1 the pool, 2 the cleanup group, 3 the group's cancel
 * function, 4 the finalizer. */
typedef struct lenv {
    ntp_env env;
    void *library; /* dlopen() reference for ntp_env_set_library, or NULL;
                      dropped by __gc (objects hold their own) */
} lenv;

static void cancel_tramp(void *object_ctx, void *cleanup_ctx);
static void fin_tramp(ntp_instance *inst, void *ctx);

static lgroup *
check_group_open(lua_State *L, int idx)
{
    lgroup *g = luaL_checkudata(L, idx, "ntpool.cleanup_group");
    if (g->g == NULL) {
        luaL_error(L, "operation on closed ntpool.cleanup_group");
    }
    return g;
}

static int
l_env_new(lua_State *L)
{
    /* env(pool, priority, runs_long, persistent, cleanup_group, cancel,
     *     finalize, library) */
    lpool *p = lua_isnoneornil(L, 1) ? NULL : check_pool_open(L, 1);
    lgroup *g = lua_isnoneornil(L, 5) ? NULL : check_group_open(L, 5);
    if (!lua_isnoneornil(L, 6)) {
        luaL_checktype(L, 6, LUA_TFUNCTION);
        luaL_argcheck(L, g != NULL, 6,
                      "a cancel function needs a cleanup group");
    }
    bool finalize = !lua_isnoneornil(L, 7);
    if (finalize) {
        luaL_checktype(L, 7, LUA_TFUNCTION);
    }
    const char *library = luaL_optstring(L, 8, NULL);
    lua_Integer prio = luaL_optinteger(L, 2, NTP_PRIORITY_NORMAL);
    luaL_argcheck(L, prio >= 0 && prio < NTP_PRIORITY_COUNT, 2,
                  "priority must be 0 (high), 1 (normal) or 2 (low)");
    lenv *e = lua_newuserdatauv(L, sizeof *e, 4);
    ntp_env_init(&e->env);
    e->library = NULL;
    luaL_setmetatable(L, "ntpool.environment");
    if (library != NULL) {
        /* SetThreadpoolCallbackLibrary: a module already loaded (as an
         * HMODULE names one); each object made with the environment keeps
         * it mapped while its callbacks can run. */
        e->library = dlopen(library, RTLD_NOW | RTLD_NOLOAD);
        if (e->library == NULL) {
            return push_fail(L, NTP_ENOENT);
        }
        ntp_env_set_library(&e->env, e->library);
    }
    if (p != NULL) {
        ntp_env_set_pool(&e->env, p->pool);
        lua_pushvalue(L, 1);
        lua_setiuservalue(L, -2, 1);
    }
    if (g != NULL) {
        bool cancel = !lua_isnoneornil(L, 6);
        ntp_env_set_cleanup_group(&e->env, g->g, cancel ? cancel_tramp : NULL);
        lua_pushvalue(L, 5);
        lua_setiuservalue(L, -2, 2);
        if (cancel) {
            lua_pushvalue(L, 6);
            lua_setiuservalue(L, -2, 3);
        }
    }
    if (finalize) {
        ntp_env_set_finalization(&e->env, fin_tramp);
        lua_pushvalue(L, 7);
        lua_setiuservalue(L, -2, 4);
    }
    ntp_env_set_priority(&e->env, (int)prio);
    if (lua_toboolean(L, 3)) {
        ntp_env_set_runs_long(&e->env);
    }
    if (lua_toboolean(L, 4)) {
        ntp_env_set_persistent(&e->env);
    }
    return 1;
}

/* An environment owns nothing native (ntp_env_destroy is a no-op): its
 * finalizer only exists so that every ntpool object has __gc/__close. */
static int
l_env_gc(lua_State *L)
{
    /* Checked: a script can call the metamethod on anything. */
    lenv *e = luaL_checkudata(L, 1, "ntpool.environment");
    ntp_env_destroy(&e->env);
    if (e->library != NULL) {
        dlclose(e->library);
        e->library = NULL;
    }
    return 0;
}

static int
l_env_tostring(lua_State *L)
{
    lua_pushfstring(L, "ntpool.environment (%p)",
                    luaL_checkudata(L, 1, "ntpool.environment"));
    return 1;
}

/* Argument idx: nil, a pool or an environment. */
static const ntp_env *
opt_env(lua_State *L, int idx, ntp_env *tmp)
{
    if (lua_isnoneornil(L, idx)) {
        return NULL;
    }
    lstate *S = upstate(L);
    lenv *e = test_udata(L, idx, S->envmt);
    if (e != NULL) {
        lua_getiuservalue(L, idx, 1);
        if (!lua_isnil(L, -1)) {
            check_pool_open(L, lua_gettop(L));
        }
        lua_getiuservalue(L, idx, 2);
        if (!lua_isnil(L, -1)) {
            check_group_open(L, lua_gettop(L));
        }
        lua_pop(L, 2);
        return &e->env;
    }
    lpool *p = test_udata(L, idx, S->poolmt);
    if (p == NULL) {
        luaL_typeerror(L, idx, "ntpool.pool or ntpool.environment");
    }
    if (p->pool == NULL) {
        luaL_error(L, "operation on closed ntpool.pool");
    }
    ntp_env_init(tmp);
    ntp_env_set_pool(tmp, p->pool);
    return tmp;
}

/* ------------------------------------------------------------------------ */
/* Callback objects: work, timer, wait                                       */
/* ------------------------------------------------------------------------ */

typedef struct lcbobj {
    cbctx *c;
} lcbobj;

static const char *const CB_NAMES[] = {"ntpool.work", "ntpool.timer",
                                       "ntpool.wait", NULL, "ntpool.io"};

/* Methods: argument 1 of type `kind`, open if asked (raises otherwise). */
static cbctx *
check_cb(lua_State *L, int kind, bool open)
{
    lcbobj *o = test_udata(L, 1, upstate(L)->cbmt[kind]);
    if (o == NULL) {
        o = luaL_checkudata(L, 1, CB_NAMES[kind]); /* raises the message */
    }
    /* o->c is NULL once __close or __gc ran (a <close> variable that
     * escaped its scope): closed too, with nothing left to look at. */
    if (o->c == NULL || (open && o->c->obj == NULL)) {
        luaL_error(L, "operation on closed %s", CB_NAMES[kind]);
    }
    return o->c;
}

/* If env_idx holds an environment: c takes its finalizer (copied at
 * creation, as the core copies the environment); if it has a cleanup
 * group, c becomes a member (ud_idx, its userdata, keeps the group alive:
 * user value 3) and takes the group's cancel function. */
static void
env_membership(lua_State *L, int env_idx, cbctx *c, int ud_idx)
{
    if (test_udata(L, env_idx, c->S->envmt) == NULL) {
        return;
    }
    lua_getiuservalue(L, env_idx, 4);
    if (lua_isfunction(L, -1)) {
        c->finref = luaL_ref(L, LUA_REGISTRYINDEX);
    } else {
        lua_pop(L, 1);
    }
    lua_getiuservalue(L, env_idx, 2);
    lgroup *g = lua_touserdata(L, -1);
    if (g == NULL) {
        lua_pop(L, 1);
        return;
    }
    if (ud_idx != 0) {
        group_link(g, c);
        lua_setiuservalue(L, ud_idx, 3);
    } else {
        lua_pop(L, 1);
    }
    lua_getiuservalue(L, env_idx, 3);
    if (lua_isfunction(L, -1)) {
        c->cancelref = luaL_ref(L, LUA_REGISTRYINDEX);
    } else {
        lua_pop(L, 1);
    }
}

/* new(fn, env): the userdata with fn as user value 1 and, for waits, the
 * handle being waited for as user value 2. */
static int
cb_new(lua_State *L, int kind, int fd)
{
    lstate *S = upstate(L);
    luaL_checktype(L, 1, LUA_TFUNCTION);
    ntp_env tmp;
    const ntp_env *env = opt_env(L, 2, &tmp);
    lcbobj *o = lua_newuserdatauv(L, sizeof *o, 3);
    o->c = NULL;
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    cbctx *c = ctx_new(L, S, kind);
    o->c = c;
    luaL_setmetatable(L, CB_NAMES[kind]);
    ntp_status st;
    switch (kind) {
    case CB_WORK:
        st = ntp_work_create((ntp_work **)&c->obj, work_tramp, c, env);
        if (st == 0) {
            ntp_work_set_release(c->obj, ctx_release_hook);
        }
        break;
    case CB_TIMER:
        st = ntp_timer_create((ntp_timer **)&c->obj, timer_tramp, c, env);
        if (st == 0) {
            ntp_timer_set_release(c->obj, ctx_release_hook);
        }
        break;
    case CB_IO:
        st = ntp_io_create((ntp_io **)&c->obj, fd, io_tramp, c, env);
        if (st == 0) {
            ntp_io_set_release(c->obj, ctx_release_hook);
        }
        break;
    default:
        st = ntp_wait_create((ntp_wait **)&c->obj, wait_tramp, c, env);
        if (st == 0) {
            ntp_wait_set_release(c->obj, ctx_release_hook);
        }
        break;
    }
    if (st < 0) {
        c->obj = NULL;
        return push_fail(L, st);
    }
    c->refs++; /* the core's, dropped by the release hook */
    env_membership(L, 2, c, lua_gettop(L));
    lua_rawgeti(L, LUA_REGISTRYINDEX, S->objtab);
    lua_pushvalue(L, -2);
    lua_rawsetp(L, -2, c);
    lua_pop(L, 1);
    return 1;
}

static int
l_work_new(lua_State *L)
{
    return cb_new(L, CB_WORK, -1);
}
static int
l_timer_new(lua_State *L)
{
    return cb_new(L, CB_TIMER, -1);
}
static int
l_wait_new(lua_State *L)
{
    return cb_new(L, CB_WAIT, -1);
}

static void
cb_close_core(lua_State *L, cbctx *c)
{
    if (c->obj == NULL) {
        return;
    }
    void *obj = c->obj;
    c->obj = NULL;
    group_unlink(c);
    c->armed = false;
    switch (c->kind) {
    case CB_WORK:
        ntp_work_close(obj);
        break;
    case CB_TIMER:
        ntp_timer_close(obj);
        break;
    case CB_IO:
        ntp_io_close(obj);
        break;
    default:
        ntp_wait_close(obj);
        break;
    }
    ctx_update_anchor(L, c, 0);
}

static int
cb_gc_kind(lua_State *L, int kind)
{
    lcbobj *o = luaL_checkudata(L, 1, CB_NAMES[kind]);
    cbctx *c = o->c;
    if (c == NULL) {
        return 0;
    }
    o->c = NULL;
    cb_close_core(L, c);
    ctx_unref(c->S, c);
    return 0;
}

static int
cb_close_kind(lua_State *L, int kind)
{
    cbctx *c = check_cb(L, kind, true);
    cb_close_core(L, c);
    return 0;
}

static int
cb_tostring_kind(lua_State *L, int kind)
{
    lcbobj *o = luaL_checkudata(L, 1, CB_NAMES[kind]);
    if (o->c == NULL || o->c->obj == NULL) {
        lua_pushfstring(L, "%s (closed)", CB_NAMES[kind]);
    } else {
        lua_pushfstring(L, "%s (%p)", CB_NAMES[kind], o->c->obj);
    }
    return 1;
}

#define CB_COMMON(name, KIND)                                                 \
    static int l_##name##_gc(lua_State *L)                                    \
    {                                                                         \
        return cb_gc_kind(L, KIND);                                           \
    }                                                                         \
    static int l_##name##_close(lua_State *L)                                 \
    {                                                                         \
        return cb_close_kind(L, KIND);                                        \
    }                                                                         \
    static int l_##name##_tostring(lua_State *L)                              \
    {                                                                         \
        return cb_tostring_kind(L, KIND);                                     \
    }
CB_COMMON(work, CB_WORK)
CB_COMMON(timer, CB_TIMER)
CB_COMMON(wait, CB_WAIT)
CB_COMMON(io, CB_IO)

static int
l_work_submit(lua_State *L)
{
    cbctx *c = check_cb(L, CB_WORK, true);
    c->pending++;
    ctx_update_anchor(L, c, 1);
    ntp_work_submit(c->obj);
    lua_settop(L, 1);
    return 1;
}

static int
l_work_wait(lua_State *L)
{
    lstate *S = upstate(L);
    cbctx *c = check_cb(L, CB_WORK, true);
    bool cancel = lua_toboolean(L, 2);
    ntp_work *w = c->obj;
    BLOCKING(S, ntp_work_wait(w, cancel));
    /* Every post ran or was dropped; only disassociated callbacks can
     * still be running. */
    c->pending = 0;
    ctx_update_anchor(L, c, 1);
    return 0;
}

static ntp_due
check_due(lua_State *L, int idx)
{
    if (lua_isnoneornil(L, idx)) {
        return ntp_due_none();
    }
    lua_Number s = luaL_checknumber(L, idx);
    luaL_argcheck(L, s == s, idx, "due time is NaN");
    if (s <= 0) {
        return ntp_due_in_ns(0);
    }
    double ns = s * 1e9;
    if (ns > 9.2e18) {
        ns = 9.2e18;
    }
    return ntp_due_in_ns((uint64_t)ns);
}

static uint32_t
opt_ms(lua_State *L, int idx)
{
    lua_Number s = luaL_optnumber(L, idx, 0);
    luaL_argcheck(L, s >= 0 && s < 4.0e6, idx, "must be 0 .. 4e6 seconds");
    return (uint32_t)llround(s * 1000.0);
}

static int
l_timer_set(lua_State *L)
{
    cbctx *c = check_cb(L, CB_TIMER, true);
    ntp_due due = check_due(L, 2);
    uint32_t period = opt_ms(L, 3);
    uint32_t window = opt_ms(L, 4);
    c->armed = due.kind != NTP_DUE_NONE;
    c->periodic = period > 0;
    ctx_update_anchor(L, c, 1);
    bool was = ntp_timer_set_ex(c->obj, due, period, window);
    lua_pushboolean(L, was);
    return 1;
}

static int
l_timer_is_set(lua_State *L)
{
    cbctx *c = check_cb(L, CB_TIMER, true);
    lua_pushboolean(L, ntp_timer_is_set(c->obj));
    return 1;
}

static int
l_timer_wait(lua_State *L)
{
    lstate *S = upstate(L);
    cbctx *c = check_cb(L, CB_TIMER, true);
    bool cancel = lua_toboolean(L, 2);
    ntp_timer *t = c->obj;
    BLOCKING(S, ntp_timer_wait(t, cancel));
    ctx_update_anchor(L, c, 1);
    return 0;
}

/* Handles: every waitable object is a userdata starting with lhandle. */
typedef struct lhandle {
    ntp_handle *h;   /* NULL once closed */
    uint64_t apc_id; /* waitable timer: its completion routine's id, or 0 */
} lhandle;

static const char *const HANDLE_NAMES[] = {"ntpool.event",
                                           "ntpool.semaphore",
                                           "ntpool.mutex",
                                           "ntpool.waitable_timer",
                                           "ntpool.thread",
                                           "ntpool.fd_handle",
                                           NULL};

/* Any open handle at idx. */
static ntp_handle *
check_any_handle(lua_State *L, int idx)
{
    for (int i = 0; HANDLE_NAMES[i] != NULL; i++) {
        lhandle *h = luaL_testudata(L, idx, HANDLE_NAMES[i]);
        if (h != NULL) {
            if (h->h == NULL) {
                luaL_error(L, "operation on closed %s", HANDLE_NAMES[i]);
            }
            return h->h;
        }
    }
    luaL_typeerror(L, idx, "ntpool handle");
    return NULL;
}

/* The handle userdata at idx, open or closed; raises for anything else
 * (the metamethods below can be called by a script on any value). */
static lhandle *
check_handle_udata(lua_State *L, int idx)
{
    for (int i = 0; HANDLE_NAMES[i] != NULL; i++) {
        lhandle *h = luaL_testudata(L, idx, HANDLE_NAMES[i]);
        if (h != NULL) {
            return h;
        }
    }
    luaL_typeerror(L, idx, "ntpool handle");
    return NULL;
}

/* wait:set(handle or nil, timeout_s) -> true if this cancelled a wait that
 * was still pending (SetThreadpoolWaitEx); nil timeout: none. */
static int
l_wait_set(lua_State *L)
{
    cbctx *c = check_cb(L, CB_WAIT, true);
    ntp_handle *h = NULL;
    if (!lua_isnoneornil(L, 2)) {
        h = check_any_handle(L, 2);
    }
    ntp_due timeout = check_due(L, 3);
    lua_pushvalue(L, 2); /* keep the handle alive while waited for */
    lua_setiuservalue(L, 1, 2);
    c->armed = h != NULL;
    ctx_update_anchor(L, c, 1);
    lua_pushboolean(L, ntp_wait_set_ex(c->obj, h, timeout));
    return 1;
}

static int
l_wait_wait(lua_State *L)
{
    lstate *S = upstate(L);
    cbctx *c = check_cb(L, CB_WAIT, true);
    bool cancel = lua_toboolean(L, 2);
    ntp_wait *w = c->obj;
    BLOCKING(S, ntp_wait_wait(w, cancel));
    ctx_update_anchor(L, c, 1);
    return 0;
}

/* io(fd_or_file, fn, env): the file (if any) is user value 2, kept open
 * as long as the object. */
static int
l_io_new(lua_State *L)
{
    int fd;
    lua_settop(L, 3);
    luaL_Stream *s = luaL_testudata(L, 1, LUA_FILEHANDLE);
    if (s != NULL) {
        luaL_argcheck(L, s->closef != NULL && s->f != NULL, 1,
                      "file is closed");
        fd = fileno(s->f);
    } else {
        lua_Integer n = luaL_checkinteger(L, 1);
        luaL_argcheck(L, n >= 0 && n <= INT32_MAX, 1, "bad fd");
        fd = (int)n;
    }
    lua_rotate(L, 1, -1); /* fn, env, file */
    int n = cb_new(L, CB_IO, fd);
    if (n != 1) {
        return n;
    }
    lua_pushvalue(L, 3);
    lua_setiuservalue(L, 4, 2);
    return 1;
}

static uint64_t
opt_offset(lua_State *L, int idx)
{
    if (lua_isnoneornil(L, idx)) {
        return NTP_IO_STREAM;
    }
    lua_Integer off = luaL_checkinteger(L, idx);
    luaL_argcheck(L, off >= 0, idx, "offset must be >= 0");
    return (uint64_t)off;
}

/* An operation as io:read/io:write return it (an OVERLAPPED): user value
 * 1 is the I/O object, so the object's context -- which links op until
 * the operation is over -- outlives this userdata. op stays valid while
 * the userdata holds it (lop.held); its __gc lets go. */
typedef struct lov {
    lop *op; /* NULL once let go */
} lov;

/* ov:result([wait]) -> bytes transferred (and for a read the data), as
 * GetOverlappedResult; fail, "EBUSY: ...", "EBUSY" while under way and
 * wait is false; with wait, blocks (Lua lock dropped) until it is over.
 * An operation whose completion ntpool dropped (io:wait(true)) reports
 * here only. */
static int
l_ov_result(lua_State *L)
{
    lstate *S = upstate(L);
    lov *o = luaL_checkudata(L, 1, "ntpool.overlapped");
    if (o->op == NULL) {
        return luaL_error(L, "operation on released ntpool.overlapped");
    }
    bool wait = lua_toboolean(L, 2);
    lop *op = o->op;
    size_t n = 0;
    ntp_status st;
    if (wait) {
        BLOCKING(S, st = ntp_overlapped_result(&op->ov, &n, true));
    } else {
        st = ntp_overlapped_result(&op->ov, &n, false);
    }
    if (st < 0) {
        return push_fail(L, st);
    }
    lua_pushinteger(L, (lua_Integer)n);
    if (op->is_write) {
        return 1;
    }
    lua_pushlstring(L, op->buf, n);
    return 2;
}

static int
l_ov_gc(lua_State *L)
{
    lov *o = luaL_checkudata(L, 1, "ntpool.overlapped"); /* see l_env_gc */
    if (o->op != NULL) {
        lop *op = o->op;
        o->op = NULL;
        op->held = false;
        if (op->done) {
            free(op);
        }
    }
    return 0;
}

static int
l_ov_tostring(lua_State *L)
{
    lov *o = luaL_checkudata(L, 1, "ntpool.overlapped");
    if (o->op == NULL) {
        lua_pushliteral(L, "ntpool.overlapped (released)");
    } else {
        lua_pushfstring(L, "ntpool.overlapped (%s %p)",
                        o->op->is_write ? "write" : "read", (void *)o->op);
    }
    return 1;
}

/* Starts one operation of len bytes at off (data: what to write, NULL for
 * a read); its completion comes to the callback. Returns the
 * ntpool.overlapped for it. */
static int
io_start_op(lua_State *L, cbctx *c, size_t len, const char *data, uint64_t off)
{
    /* The userdata first: making it may raise (out of memory), which must
     * not leak op. */
    lov *o = lua_newuserdatauv(L, sizeof *o, 1);
    o->op = NULL;
    luaL_setmetatable(L, "ntpool.overlapped");
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    lop *op = calloc(1, sizeof *op + len + 1);
    if (op == NULL) {
        return push_fail(L, NTP_ENOMEM);
    }
    if (data != NULL) {
        memcpy(op->buf, data, len);
        op->is_write = 1;
    }
    op->ov.offset = off;
    op->len = len;
    op->next = c->ops;
    if (c->ops != NULL) {
        c->ops->prev = op;
    }
    c->ops = op;
    c->pending++;
    ctx_update_anchor(L, c, 1);
    ntp_io_start(c->obj);
    ntp_status st = op->is_write
                        ? ntp_io_write(c->obj, &op->ov, op->buf, op->len)
                        : ntp_io_read(c->obj, &op->ov, op->buf, op->len);
    if (st < 0) {
        ntp_io_cancel(c->obj);
        lop_unlink(c, op);
        free(op);
        c->pending--;
        ctx_update_anchor(L, c, 1);
        return push_fail(L, st);
    }
    o->op = op;
    op->held = true;
    /* For the callback, which gets it back (Lua lock held: it cannot run
     * before this). */
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->S->ovtab);
    lua_pushvalue(L, -2);
    lua_rawsetp(L, -2, op);
    lua_pop(L, 1);
    return 1;
}

/* io:read(size[, offset]): the callback gets the data (a string, empty at
 * end of file). */
static int
l_io_read(lua_State *L)
{
    cbctx *c = check_cb(L, CB_IO, true);
    lua_Integer size = luaL_checkinteger(L, 2);
    luaL_argcheck(L, size > 0 && size <= (1 << 30), 2,
                  "size must be 1 .. 2^30");
    uint64_t off = opt_offset(L, 3);
    return io_start_op(L, c, (size_t)size, NULL, off);
}

/* io:write(data[, offset]): the callback gets the bytes written. */
static int
l_io_write(lua_State *L)
{
    cbctx *c = check_cb(L, CB_IO, true);
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);
    uint64_t off = opt_offset(L, 3);
    return io_start_op(L, c, len, data, off);
}

/* io:cancel([ov]): the operation ov (default: every operation) still
 * waiting for its fd completes with ECANCELED; fail with ENOENT if there
 * was none. */
static int
l_io_cancel(lua_State *L)
{
    cbctx *c = check_cb(L, CB_IO, true);
    ntp_overlapped *ov = NULL;
    if (!lua_isnoneornil(L, 2)) {
        lov *o = luaL_checkudata(L, 2, "ntpool.overlapped");
        luaL_argcheck(L, o->op != NULL, 2, "released ntpool.overlapped");
        ov = &o->op->ov;
    }
    return push_ok_or_fail(L, ntp_io_cancel_ops(c->obj, ov));
}

static int
l_io_wait(lua_State *L)
{
    lstate *S = upstate(L);
    cbctx *c = check_cb(L, CB_IO, true);
    bool cancel = lua_toboolean(L, 2);
    ntp_io *io = c->obj;
    BLOCKING(S, ntp_io_wait(io, cancel));
    /* Operations whose completion was dropped stay linked until the
     * context is freed (the core frees the object after they end). */
    c->pending = 0;
    ctx_update_anchor(L, c, 1);
    return 0;
}

static int
l_try_submit(lua_State *L)
{
    lstate *S = upstate(L);
    luaL_checktype(L, 1, LUA_TFUNCTION);
    ntp_env tmp;
    const ntp_env *env = opt_env(L, 2, &tmp);
    cbctx *c = ctx_new(L, S, CB_SIMPLE);
    lua_pushvalue(L, 1);
    c->fnref = luaL_ref(L, LUA_REGISTRYINDEX);
    c->refs = 1; /* the core's only: there is no userdata */
    env_membership(L, 2, c, 0);
    ntp_status st = ntp_try_submit_ex(simple_tramp, c, env, ctx_release_hook);
    if (st < 0) {
        ctx_unref(S, c);
        return push_fail(L, st);
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Synchronization objects                                                   */
/* ------------------------------------------------------------------------ */

enum { H_EVENT, H_SEM, H_MUTEX, H_WTIMER, H_THREAD, H_FD };

static lhandle *
new_handle(lua_State *L, int kind)
{
    lhandle *h = lua_newuserdatauv(L, sizeof *h, 0);
    h->h = NULL;
    h->apc_id = 0;
    luaL_setmetatable(L, HANDLE_NAMES[kind]);
    return h;
}

static ntp_handle *
check_handle(lua_State *L, int idx, int kind)
{
    lhandle *h = luaL_checkudata(L, idx, HANDLE_NAMES[kind]);
    if (h->h == NULL) {
        luaL_error(L, "operation on closed %s", HANDLE_NAMES[kind]);
    }
    return h->h;
}

static int
l_event_new(lua_State *L)
{
    lhandle *h = new_handle(L, H_EVENT);
    ntp_status st =
        ntp_event_create(&h->h, lua_toboolean(L, 1), lua_toboolean(L, 2));
    return st < 0 ? push_fail(L, st) : 1;
}

static int
l_semaphore_new(lua_State *L)
{
    lua_Integer initial = luaL_checkinteger(L, 1);
    lua_Integer max = luaL_checkinteger(L, 2);
    luaL_argcheck(L, initial >= 0 && initial <= INT32_MAX, 1, "out of range");
    luaL_argcheck(L, max > 0 && max <= INT32_MAX, 2, "must be > 0");
    luaL_argcheck(L, initial <= max, 1, "initial count greater than max");
    lhandle *h = new_handle(L, H_SEM);
    ntp_status st =
        ntp_semaphore_create(&h->h, (int32_t)initial, (int32_t)max);
    return st < 0 ? push_fail(L, st) : 1;
}

static int
l_mutex_new(lua_State *L)
{
    lhandle *h = new_handle(L, H_MUTEX);
    ntp_status st = ntp_mutex_create(&h->h, lua_toboolean(L, 1));
    return st < 0 ? push_fail(L, st) : 1;
}

static int
l_waitable_timer_new(lua_State *L)
{
    lhandle *h = new_handle(L, H_WTIMER);
    ntp_status st = ntp_waitable_timer_create(&h->h, lua_toboolean(L, 1));
    return st < 0 ? push_fail(L, st) : 1;
}

/* fd_handle(fd or io file) */
static int
l_fd_handle_new(lua_State *L)
{
    int fd;
    luaL_Stream *s = luaL_testudata(L, 1, LUA_FILEHANDLE);
    if (s != NULL) {
        luaL_argcheck(L, s->closef != NULL && s->f != NULL, 1,
                      "file is closed");
        fd = fileno(s->f);
    } else {
        lua_Integer n = luaL_checkinteger(L, 1);
        luaL_argcheck(L, n >= 0 && n <= INT32_MAX, 1, "bad fd");
        fd = (int)n;
    }
    lhandle *h = new_handle(L, H_FD);
    ntp_status st = ntp_fd_handle_create(&h->h, fd);
    return st < 0 ? push_fail(L, st) : 1;
}

static int
l_thread_current(lua_State *L)
{
    lhandle *h = new_handle(L, H_THREAD);
    ntp_status st = ntp_thread_current(&h->h);
    return st < 0 ? push_fail(L, st) : 1;
}

/* ------------------------------------------------------------------------ */
/* Completion routines of waitable timers                                    */
/* ------------------------------------------------------------------------ */

/*
 * wt:set(due, period, fn): on each expiry the core queues an APC to the
 * setting thread, which calls fn at its next alertable wait. The core may
 * run an APC queued before the timer was closed after the close, and never
 * says when it is done with the routine's argument; so the argument is not
 * memory but an id, never reused, that the list below maps to its state
 * while the timer is open. The function is S->wtfns[id] in the state's
 * registry. Closing the timer (or the state) removes both, so an APC that
 * comes later finds nothing and does nothing.
 */
typedef struct wtapc {
    uint64_t id;
    lstate *S;
    struct wtapc *next;
} wtapc;

static pthread_mutex_t wtapc_lock = PTHREAD_MUTEX_INITIALIZER;
static wtapc *wtapc_list;          /* guarded by wtapc_lock */
static uint64_t wtapc_next_id = 1; /* guarded by wtapc_lock */

static void
state_unref(lstate *S)
{
    pthread_mutex_lock(&S->m);
    bool free_it;
    state_unref_locked(S, &free_it);
    pthread_mutex_unlock(&S->m);
    if (free_it) {
        state_free(S);
    }
}

/* A new id for S, or 0 if out of memory. */
static uint64_t
wtapc_register(lstate *S)
{
    wtapc *e = malloc(sizeof *e);
    if (e == NULL) {
        return 0;
    }
    e->S = S;
    pthread_mutex_lock(&wtapc_lock);
    e->id = wtapc_next_id++;
    e->next = wtapc_list;
    wtapc_list = e;
    pthread_mutex_unlock(&wtapc_lock);
    return e->id;
}

/* Forget one id (id != 0) or, with S, every id of S. */
static void
wtapc_forget(uint64_t id, const lstate *S)
{
    pthread_mutex_lock(&wtapc_lock);
    for (wtapc **pe = &wtapc_list; *pe != NULL;) {
        wtapc *e = *pe;
        if ((id != 0 && e->id == id) || (S != NULL && e->S == S)) {
            *pe = e->next;
            free(e);
        } else {
            pe = &e->next;
        }
    }
    pthread_mutex_unlock(&wtapc_lock);
}

/* The APC, on the thread that set the timer, inside one of its alertable
 * waits (which dropped the Lua lock): fn(expiry as a FILETIME integer). */
static void
wtapc_tramp(void *arg, uint32_t time_low, uint32_t time_high)
{
    uint64_t id = (uint64_t)(uintptr_t)arg;
    lstate *S = NULL;
    pthread_mutex_lock(&wtapc_lock);
    for (wtapc *e = wtapc_list; e != NULL; e = e->next) {
        if (e->id == id) {
            S = e->S;
            /* Hold the state: the entry may go once the list is unlocked. */
            pthread_mutex_lock(&S->m);
            S->refs++;
            pthread_mutex_unlock(&S->m);
            break;
        }
    }
    pthread_mutex_unlock(&wtapc_lock);
    if (S == NULL) {
        return; /* the timer was closed */
    }
    if (callback_begin(S)) {
        int coref;
        lua_State *co = coroutine_get(S, &coref);
        lua_pushcfunction(co, traceback_handler);
        lua_rawgeti(co, LUA_REGISTRYINDEX, S->wtfns);
        lua_rawgeti(co, -1, (lua_Integer)id);
        lua_remove(co, -2);
        if (lua_isfunction(co, -1)) {
            lua_pushinteger(
                co, (lua_Integer)(((uint64_t)time_high << 32) | time_low));
            if (lua_pcall(co, 1, 0, 1) != LUA_OK) {
                report_error(S, co);
            }
        }
        coroutine_put(S, co, coref);
        callback_end(S);
    }
    state_unref(S);
}

/* __gc/__close for handles: close if open, never raise. */
static int
l_handle_gc(lua_State *L)
{
    lhandle *h = check_handle_udata(L, 1);
    if (h->apc_id != 0) {
        wtapc_forget(h->apc_id, NULL);
        lua_rawgetp(L, LUA_REGISTRYINDEX, &STATE_KEY);
        lstate *S = lua_touserdata(L, -1);
        lua_pop(L, 1);
        if (S != NULL) {
            lua_rawgeti(L, LUA_REGISTRYINDEX, S->wtfns);
            lua_pushnil(L);
            lua_rawseti(L, -2, (lua_Integer)h->apc_id);
            lua_pop(L, 1);
        }
        h->apc_id = 0;
    }
    if (h->h != NULL) {
        ntp_handle_close(h->h);
        h->h = NULL;
    }
    return 0;
}

static int
l_handle_close(lua_State *L)
{
    check_any_handle(L, 1);
    return l_handle_gc(L);
}

static int
l_handle_tostring(lua_State *L)
{
    lhandle *h = check_handle_udata(L, 1);
    luaL_getmetafield(L, 1, "__name");
    const char *name = lua_tostring(L, -1);
    if (h->h == NULL) {
        lua_pushfstring(L, "%s (closed)", name);
    } else {
        lua_pushfstring(L, "%s (%p)", name, (void *)h->h);
    }
    return 1;
}

static int
l_handle_fileno(lua_State *L)
{
    ntp_handle *h = check_any_handle(L, 1);
    int fd;
    ntp_status st = ntp_handle_get_fd(h, &fd);
    if (st < 0) {
        return push_fail(L, st);
    }
    lua_pushinteger(L, fd);
    return 1;
}

/* h:wait([timeout_s, alertable]) -> raw result: WAIT_OBJECT_0, ... */
static int
l_handle_wait_raw(lua_State *L)
{
    lstate *S = upstate(L);
    ntp_handle *h = check_any_handle(L, 1);
    uint32_t timeout = opt_timeout_ms(L, 2);
    bool alertable = lua_toboolean(L, 3);
    int r;
    BLOCKING(S, r = ntp_wait_for_single(h, timeout, alertable));
    if (r < 0) {
        return push_fail(L, r);
    }
    lua_pushinteger(L, r);
    return 1;
}

static int
l_event_set(lua_State *L)
{
    return push_ok_or_fail(L, ntp_event_set(check_handle(L, 1, H_EVENT)));
}
static int
l_event_reset(lua_State *L)
{
    return push_ok_or_fail(L, ntp_event_reset(check_handle(L, 1, H_EVENT)));
}
static int
l_event_pulse(lua_State *L)
{
    return push_ok_or_fail(L, ntp_event_pulse(check_handle(L, 1, H_EVENT)));
}

/* sem:release([n]) -> previous count */
static int
l_semaphore_release(lua_State *L)
{
    ntp_handle *h = check_handle(L, 1, H_SEM);
    lua_Integer n = luaL_optinteger(L, 2, 1);
    luaL_argcheck(L, n > 0 && n <= INT32_MAX, 2, "count must be > 0");
    int32_t prev = 0;
    ntp_status st = ntp_semaphore_release(h, (int32_t)n, &prev);
    if (st < 0) {
        return push_fail(L, st);
    }
    lua_pushinteger(L, prev);
    return 1;
}

static int
l_mutex_release(lua_State *L)
{
    return push_ok_or_fail(L, ntp_mutex_release(check_handle(L, 1, H_MUTEX)));
}

/* wt:set(due_s, period_s[, fn]): fn(expiry_filetime), the completion
 * routine, runs on this thread at its alertable waits (see wtapc above).
 * Without fn, a routine set before is dropped. */
static int
l_waitable_timer_set(lua_State *L)
{
    lstate *S = upstate(L);
    ntp_handle *h = check_handle(L, 1, H_WTIMER);
    lhandle *lh = lua_touserdata(L, 1);
    luaL_checknumber(L, 2);
    ntp_due due = check_due(L, 2);
    uint32_t period = opt_ms(L, 3);
    bool routine = !lua_isnoneornil(L, 4);
    if (routine) {
        luaL_checktype(L, 4, LUA_TFUNCTION);
    }
    if (routine && lh->apc_id == 0) {
        lh->apc_id = wtapc_register(S);
        if (lh->apc_id == 0) {
            return push_fail(L, NTP_ENOMEM);
        }
    }
    if (lh->apc_id != 0) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, S->wtfns);
        lua_pushvalue(L, 4); /* nil drops the routine's function */
        lua_rawseti(L, -2, (lua_Integer)lh->apc_id);
        lua_pop(L, 1);
    }
    if (!routine) {
        return push_ok_or_fail(
            L, ntp_waitable_timer_set(h, due, (int32_t)period));
    }
    return push_ok_or_fail(
        L, ntp_waitable_timer_set_apc(h, due, (int32_t)period, wtapc_tramp,
                                      (void *)(uintptr_t)lh->apc_id));
}

static int
l_waitable_timer_cancel(lua_State *L)
{
    return push_ok_or_fail(
        L, ntp_waitable_timer_cancel(check_handle(L, 1, H_WTIMER)));
}

/* wait_for_multiple(handles, all, timeout_s, alertable) -> raw result */
static int
l_wait_for_multiple(lua_State *L)
{
    lstate *S = upstate(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 1);
    luaL_argcheck(L, n >= 1 && n <= NTP_MAXIMUM_WAIT_OBJECTS, 1,
                  "needs 1 to 64 handles");
    ntp_handle *hs[NTP_MAXIMUM_WAIT_OBJECTS];
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i);
        hs[i - 1] = check_any_handle(L, lua_gettop(L));
        lua_pop(L, 1);
    }
    bool all = lua_toboolean(L, 2);
    uint32_t timeout = opt_timeout_ms(L, 3);
    bool alertable = lua_toboolean(L, 4);
    int r;
    /* The table keeps the handles alive while we wait. */
    BLOCKING(S, r = ntp_wait_for_multiple((uint32_t)n, hs, all, timeout,
                                          alertable));
    if (r < 0) {
        return push_fail(L, r);
    }
    lua_pushinteger(L, r);
    return 1;
}

static int
l_sleep_ex(lua_State *L)
{
    lstate *S = upstate(L);
    uint32_t ms = opt_timeout_ms(L, 1);
    bool alertable = lua_toboolean(L, 2);
    int r;
    BLOCKING(S, r = ntp_sleep_ex(ms, alertable));
    lua_pushinteger(L, r);
    return 1;
}

/* Critical sections live in the userdata (which never moves). */
typedef struct lcs {
    ntp_cs cs;
    bool live;
} lcs;

static lcs *
check_cs(lua_State *L, int idx)
{
    lcs *c = luaL_checkudata(L, idx, "ntpool.critical_section");
    if (!c->live) {
        luaL_error(L, "operation on closed ntpool.critical_section");
    }
    return c;
}

static int
l_cs_new(lua_State *L)
{
    lcs *c = lua_newuserdatauv(L, sizeof *c, 0);
    c->live = false;
    luaL_setmetatable(L, "ntpool.critical_section");
    ntp_cs_init(&c->cs);
    c->live = true;
    return 1;
}

static int
l_cs_enter(lua_State *L)
{
    lstate *S = upstate(L);
    lcs *c = check_cs(L, 1);
    if (!ntp_cs_try_enter(&c->cs)) {
        BLOCKING(S, ntp_cs_enter(&c->cs));
    }
    return 0;
}

static int
l_cs_try_enter(lua_State *L)
{
    lua_pushboolean(L, ntp_cs_try_enter(&check_cs(L, 1)->cs));
    return 1;
}

static int
l_cs_leave(lua_State *L)
{
    return push_ok_or_fail(L, ntp_cs_leave(&check_cs(L, 1)->cs));
}

static int
l_cs_gc(lua_State *L)
{
    lcs *c = luaL_checkudata(L, 1, "ntpool.critical_section");
    if (c->live) {
        c->live = false;
        ntp_cs_destroy(&c->cs);
    }
    return 0;
}

static int
l_cs_close(lua_State *L)
{
    check_cs(L, 1);
    return l_cs_gc(L);
}

static int
l_cs_tostring(lua_State *L)
{
    lcs *c = luaL_checkudata(L, 1, "ntpool.critical_section");
    if (c->live) {
        lua_pushfstring(L, "ntpool.critical_section (%p)", (void *)c);
    } else {
        lua_pushliteral(L, "ntpool.critical_section (closed)");
    }
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Instance methods                                                          */
/* ------------------------------------------------------------------------ */

static int
l_inst_may_run_long(lua_State *L)
{
    lua_pushboolean(L, ntp_instance_may_run_long(check_instance(L)));
    return 1;
}

static int
l_inst_disassociate(lua_State *L)
{
    ntp_instance_disassociate(check_instance(L));
    return 0;
}

static int
l_inst_set_event(lua_State *L)
{
    ntp_instance *i = check_instance(L);
    return push_ok_or_fail(
        L, ntp_instance_set_event_on_return(i, check_handle(L, 2, H_EVENT)));
}

static int
l_inst_release_sem(lua_State *L)
{
    ntp_instance *i = check_instance(L);
    ntp_handle *h = check_handle(L, 2, H_SEM);
    lua_Integer n = luaL_optinteger(L, 3, 1);
    luaL_argcheck(L, n > 0 && n <= INT32_MAX, 3, "count must be > 0");
    return push_ok_or_fail(
        L, ntp_instance_release_semaphore_on_return(i, h, (uint32_t)n));
}

static int
l_inst_release_mutex(lua_State *L)
{
    ntp_instance *i = check_instance(L);
    return push_ok_or_fail(L, ntp_instance_release_mutex_on_return(
                                  i, check_handle(L, 2, H_MUTEX)));
}

static int
l_inst_leave_cs(lua_State *L)
{
    ntp_instance *i = check_instance(L);
    return push_ok_or_fail(
        L, ntp_instance_leave_cs_on_return(i, &check_cs(L, 2)->cs));
}

/* free_library_on_return(path): dlopen the library now (one reference),
 * and let the core dlclose it after the callback returns. */
static int
l_inst_free_library(lua_State *L)
{
    ntp_instance *i = check_instance(L);
    const char *path = luaL_checkstring(L, 2);
    void *lib = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (lib == NULL) {
        return push_fail(L, NTP_ENOENT);
    }
    ntp_status st = ntp_instance_free_library_on_return(i, lib);
    if (st < 0) {
        dlclose(lib);
    }
    return push_ok_or_fail(L, st);
}

static int
l_inst_tostring(lua_State *L)
{
    linstance *li = luaL_checkudata(L, 1, "ntpool.instance");
    if (li->inst == NULL) {
        lua_pushliteral(L, "ntpool.instance (expired)");
    } else {
        lua_pushfstring(L, "ntpool.instance (%p)", (void *)li->inst);
    }
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Module-level functions                                                    */
/* ------------------------------------------------------------------------ */

static int
l_on_error(lua_State *L)
{
    lstate *S = upstate(L);
    if (!lua_isnil(L, 1)) {
        luaL_checktype(L, 1, LUA_TFUNCTION);
    }
    if (S->errref != LUA_NOREF) {
        luaL_unref(L, LUA_REGISTRYINDEX, S->errref);
        S->errref = LUA_NOREF;
    }
    if (!lua_isnil(L, 1)) {
        lua_pushvalue(L, 1);
        S->errref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    return 0;
}

/* trace_start(path): record every pool's activity (ntp_trace_start) until
 * trace_stop(), which writes the Chrome Trace Event JSON file; it may
 * take a while for a long trace, so the Lua lock is dropped meanwhile. */
static int
l_trace_start(lua_State *L)
{
    return push_ok_or_fail(L, ntp_trace_start(luaL_checkstring(L, 1)));
}

static int
l_trace_stop(lua_State *L)
{
    lstate *S = upstate(L);
    ntp_status st;
    BLOCKING(S, st = ntp_trace_stop());
    return push_ok_or_fail(L, st);
}

/* The calling OS thread's id (GetCurrentThreadId): shows which pool
 * thread runs a callback. */
static int
l_thread_id(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)gettid());
    return 1;
}

/* clock() -> seconds of CLOCK_MONOTONIC, as a float: timing from Lua
 * (os.clock is CPU time of the whole process, os.time whole seconds). */
static int
l_clock(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
    return 1;
}

static int
l_live_objects(lua_State *L)
{
    lua_pushinteger(L, ntp_debug_live_objects());
    return 1;
}

/* Lua lock statistics for tests: threads waiting for the lock. */
static int
l_lock_waiting(lua_State *L)
{
    lstate *S = upstate(L);
    lua_pushinteger(L, atomic_load(&S->waiting));
    return 1;
}

/* The finalizer of the state's anchor: see CLOSING THE STATE above. */
static int
l_state_gc(lua_State *L)
{
    lstate **pS = lua_touserdata(L, 1);
    lstate *S = *pS;
    if (S == NULL) {
        return 0;
    }
    *pS = NULL;
    /* Completion routines that come later find their timer gone. */
    wtapc_forget(0, S);
    pthread_mutex_lock(&S->m);
    S->closing = true;
    pthread_mutex_unlock(&S->m);
    lock_release(S);
    pthread_mutex_lock(&S->m);
    while (S->running > 0) {
        pthread_cond_wait(&S->idle, &S->m);
    }
    pthread_mutex_unlock(&S->m);
    lock_acquire(S);
    /* From here on the release hook frees contexts itself; the ones it
     * queued before are freed here. Their registry entries go with the
     * state, so nothing is unreferenced. */
    pthread_mutex_lock(&S->m);
    S->dead = true;
    S->L = S->T = NULL;
    cbctx *list = S->releases;
    S->releases = NULL;
    while (list != NULL) {
        cbctx *c = list;
        list = c->next_release;
        ctx_free_dead(c);
        S->refs--;
    }
    bool free_it;
    state_unref_locked(S, &free_it);
    pthread_mutex_unlock(&S->m);
    if (free_it) {
        state_free(S);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* APCs                                                                      */
/* ------------------------------------------------------------------------ */

/* One queued APC. It holds the state (S->refs) and two registry refs; it
 * is freed after it ran. An APC the core discards (its thread exited
 * first) is never freed: the core gives no notice of that. */
typedef struct lapc {
    lstate *S;
    int fnref, dataref;
} lapc;

/* Runs on the target thread inside an alertable wait, which ntpool entered
 * with the Lua lock dropped (BLOCKING), or on a thread that has no Lua. */
static void
apc_tramp(void *arg)
{
    lapc *a = arg;
    lstate *S = a->S;
    if (callback_begin(S)) {
        int coref;
        lua_State *co = coroutine_get(S, &coref);
        lua_pushcfunction(co, traceback_handler);
        lua_rawgeti(co, LUA_REGISTRYINDEX, a->fnref);
        lua_rawgeti(co, LUA_REGISTRYINDEX, a->dataref);
        if (lua_pcall(co, 1, 0, 1) != LUA_OK) {
            report_error(S, co);
        }
        coroutine_put(S, co, coref);
        luaL_unref(S->T, LUA_REGISTRYINDEX, a->fnref);
        luaL_unref(S->T, LUA_REGISTRYINDEX, a->dataref);
        callback_end(S);
    }
    free(a);
    state_unref(S);
}

/* queue_apc(fn, thread_handle_or_nil, data): nil is the calling thread. */
static int
l_queue_apc(lua_State *L)
{
    lstate *S = upstate(L);
    luaL_checktype(L, 1, LUA_TFUNCTION);
    ntp_handle *th = NTP_CURRENT_THREAD;
    if (!lua_isnoneornil(L, 2)) {
        th = check_handle(L, 2, H_THREAD);
    }
    lapc *a = malloc(sizeof *a);
    if (a == NULL) {
        return push_fail(L, NTP_ENOMEM);
    }
    a->S = S;
    lua_pushvalue(L, 1);
    a->fnref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushvalue(L, 3);
    a->dataref = luaL_ref(L, LUA_REGISTRYINDEX);
    pthread_mutex_lock(&S->m);
    S->refs++;
    pthread_mutex_unlock(&S->m);
    ntp_status st = ntp_queue_apc(th, apc_tramp, a);
    if (st < 0) {
        luaL_unref(L, LUA_REGISTRYINDEX, a->fnref);
        luaL_unref(L, LUA_REGISTRYINDEX, a->dataref);
        pthread_mutex_lock(&S->m);
        S->refs--; /* the state holds its own reference: never 0 here */
        pthread_mutex_unlock(&S->m);
        free(a);
        return push_fail(L, st);
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Cleanup groups                                                            */
/* ------------------------------------------------------------------------ */

struct cleanup_call {
    lstate *S;
    int valref; /* registry ref: close_members' context value */
};

/* The environment's cancel callback, called by close_members on the thread
 * that called it (which dropped the Lua lock there): fn(object, value). */
static void
cancel_tramp(void *object_ctx, void *cleanup_ctx)
{
    cbctx *c = object_ctx;
    struct cleanup_call *cc = cleanup_ctx;
    if (c == NULL || cc == NULL) {
        return;
    }
    lstate *S = cc->S;
    lock_acquire(S);
    if (c->cancelref != LUA_NOREF) {
        int coref;
        lua_State *co = coroutine_get(S, &coref);
        lua_pushcfunction(co, traceback_handler);
        lua_rawgeti(co, LUA_REGISTRYINDEX, c->cancelref);
        lua_rawgeti(co, LUA_REGISTRYINDEX, S->objtab);
        lua_rawgetp(co, -1, c);
        lua_remove(co, -2);
        lua_rawgeti(co, LUA_REGISTRYINDEX, cc->valref);
        if (lua_pcall(co, 2, 0, 1) != LUA_OK) {
            report_error(S, co);
        }
        coroutine_put(S, co, coref);
    }
    lock_release(S);
}

static int
l_group_new(lua_State *L)
{
    lgroup *g = lua_newuserdatauv(L, sizeof *g, 0);
    g->g = NULL;
    g->members = NULL;
    luaL_setmetatable(L, "ntpool.cleanup_group");
    ntp_status st = ntp_cleanup_group_create(&g->g);
    return st < 0 ? push_fail(L, st) : 1;
}

/* g:close_members(cancel_pending, value): releases every member; with
 * cancel_pending, the environment's cancel function gets (object, value)
 * for each member not closed by the script. Members are closed after. */
static int
l_group_close_members(lua_State *L)
{
    lstate *S = upstate(L);
    lgroup *g = check_group_open(L, 1);
    bool cancel = lua_toboolean(L, 2);
    lua_settop(L, 3);
    struct cleanup_call cc = {S, LUA_NOREF};
    lua_pushvalue(L, 3);
    cc.valref = luaL_ref(L, LUA_REGISTRYINDEX);
    size_t n = 0;
    for (cbctx *c = g->members; c != NULL; c = c->gnext) {
        n++;
    }
    /* Scratch memory the GC frees; each member is held (refs) so that a
     * release finished meanwhile cannot free it under us. */
    cbctx **cs = lua_newuserdatauv(L, (n + 1) * sizeof *cs, 0);
    void **objs = lua_newuserdatauv(L, (n + 1) * sizeof *objs, 0);
    size_t i = 0;
    for (cbctx *c = g->members; c != NULL; c = c->gnext, i++) {
        cs[i] = c;
        objs[i] = c->obj;
        c->refs++;
        /* Closed from now on: the group releases the core object. */
        c->obj = NULL;
        c->armed = false;
        c->pending = 0;
    }
    ntp_cleanup_group *grp = g->g;
    ntp_status st;
    BLOCKING(S, st = ntp_cleanup_group_close_members(grp, cancel, &cc));
    for (i = 0; i < n; i++) {
        cbctx *c = cs[i];
        if (st == NTP_EDEADLK) {
            c->obj = objs[i]; /* nothing was released */
        } else {
            group_unlink(c);
            ctx_update_anchor(L, c, 0);
        }
        ctx_unref(S, c);
    }
    luaL_unref(L, LUA_REGISTRYINDEX, cc.valref);
    return push_ok_or_fail(L, st);
}

static int
l_group_gc(lua_State *L)
{
    lgroup *g = luaL_checkudata(L, 1, "ntpool.cleanup_group");
    /* Members keep their group alive (user value 3), so an unreachable
     * group has none left on the Lua side. */
    if (g->g != NULL && g->members == NULL) {
        ntp_cleanup_group_close(g->g);
    }
    g->g = NULL;
    return 0;
}

static int
l_group_close(lua_State *L)
{
    lgroup *g = check_group_open(L, 1);
    if (g->members != NULL) {
        return luaL_error(L, "ntpool.cleanup_group still has members "
                             "(call close_members first)");
    }
    return l_group_gc(L);
}

static int
l_group_tostring(lua_State *L)
{
    lgroup *g = luaL_checkudata(L, 1, "ntpool.cleanup_group");
    if (g->g == NULL) {
        lua_pushliteral(L, "ntpool.cleanup_group (closed)");
    } else {
        lua_pushfstring(L, "ntpool.cleanup_group (%p)", (void *)g->g);
    }
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Registration                                                              */
/* ------------------------------------------------------------------------ */

static void
new_meta(lua_State *L, lstate *S, const char *name, const luaL_Reg *methods,
         lua_CFunction gc, lua_CFunction tostring)
{
    luaL_newmetatable(L, name);
    lua_pushlightuserdata(L, S);
    luaL_setfuncs(L, methods, 1);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "__index");
    if (gc != NULL) {
        lua_pushcfunction(L, gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, gc);
        lua_setfield(L, -2, "__close");
    }
    if (tostring != NULL) {
        lua_pushcfunction(L, tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
}

static const luaL_Reg pool_methods[] = {{"close", l_pool_close},
                                        {"set_max_threads", l_pool_set_max},
                                        {"set_min_threads", l_pool_set_min},
                                        {"stats", l_pool_stats},
                                        {"dump", l_pool_dump},
                                        {NULL, NULL}};

static int
l_pool_tostring(lua_State *L)
{
    lpool *p = luaL_checkudata(L, 1, "ntpool.pool");
    if (p->pool == NULL) {
        lua_pushliteral(L, "ntpool.pool (closed)");
    } else {
        lua_pushfstring(L, "ntpool.pool (%p)", (void *)p->pool);
    }
    return 1;
}

static const luaL_Reg work_methods[] = {{"submit", l_work_submit},
                                        {"wait", l_work_wait},
                                        {"close", l_work_close},
                                        {NULL, NULL}};
static const luaL_Reg timer_methods[] = {{"set", l_timer_set},
                                         {"is_set", l_timer_is_set},
                                         {"wait", l_timer_wait},
                                         {"close", l_timer_close},
                                         {NULL, NULL}};
static const luaL_Reg wait_methods[] = {{"set", l_wait_set},
                                        {"wait", l_wait_wait},
                                        {"close", l_wait_close},
                                        {NULL, NULL}};
static const luaL_Reg io_methods[] = {
    {"read", l_io_read}, {"write", l_io_write}, {"cancel", l_io_cancel},
    {"wait", l_io_wait}, {"close", l_io_close}, {NULL, NULL}};
static const luaL_Reg ov_methods[] = {{"result", l_ov_result}, {NULL, NULL}};
static const luaL_Reg event_methods[] = {{"set", l_event_set},
                                         {"reset", l_event_reset},
                                         {"pulse", l_event_pulse},
                                         {"wait_raw", l_handle_wait_raw},
                                         {"close", l_handle_close},
                                         {"fileno", l_handle_fileno},
                                         {NULL, NULL}};
static const luaL_Reg sem_methods[] = {{"release", l_semaphore_release},
                                       {"wait_raw", l_handle_wait_raw},
                                       {"close", l_handle_close},
                                       {"fileno", l_handle_fileno},
                                       {NULL, NULL}};
static const luaL_Reg mutex_methods[] = {{"release", l_mutex_release},
                                         {"wait_raw", l_handle_wait_raw},
                                         {"close", l_handle_close},
                                         {NULL, NULL}};
static const luaL_Reg wtimer_methods[] = {
    {"set", l_waitable_timer_set},   {"cancel", l_waitable_timer_cancel},
    {"wait_raw", l_handle_wait_raw}, {"close", l_handle_close},
    {"fileno", l_handle_fileno},     {NULL, NULL}};
static const luaL_Reg plain_handle_methods[] = {
    {"wait_raw", l_handle_wait_raw}, {"close", l_handle_close}, {NULL, NULL}};
static const luaL_Reg cs_methods[] = {{"enter", l_cs_enter},
                                      {"try_enter", l_cs_try_enter},
                                      {"leave", l_cs_leave},
                                      {"close", l_cs_close},
                                      {NULL, NULL}};
static const luaL_Reg inst_methods[] = {
    {"may_run_long", l_inst_may_run_long},
    {"disassociate", l_inst_disassociate},
    {"set_event_on_return", l_inst_set_event},
    {"release_semaphore_on_return", l_inst_release_sem},
    {"release_mutex_on_return", l_inst_release_mutex},
    {"leave_critical_section_on_return", l_inst_leave_cs},
    {"free_library_on_return", l_inst_free_library},
    {NULL, NULL}};
static const luaL_Reg no_methods[] = {{NULL, NULL}};
static const luaL_Reg group_methods[] = {
    {"close_members", l_group_close_members},
    {"close", l_group_close},
    {NULL, NULL}};

static const luaL_Reg glue_funcs[] = {
    {"pool", l_pool_new},
    {"default_pool", l_pool_default},
    {"environment", l_env_new},
    {"cleanup_group", l_group_new},
    {"work", l_work_new},
    {"timer", l_timer_new},
    {"wait", l_wait_new},
    {"try_submit", l_try_submit},
    {"io", l_io_new},
    {"event", l_event_new},
    {"semaphore", l_semaphore_new},
    {"mutex", l_mutex_new},
    {"waitable_timer", l_waitable_timer_new},
    {"fd_handle", l_fd_handle_new},
    {"current_thread", l_thread_current},
    {"critical_section", l_cs_new},
    {"wait_for_single", l_handle_wait_raw},
    {"wait_for_multiple", l_wait_for_multiple},
    {"sleep_ex", l_sleep_ex},
    {"queue_apc", l_queue_apc},
    {"on_error", l_on_error},
    {"trace_start", l_trace_start},
    {"trace_stop", l_trace_stop},
    {"live_objects", l_live_objects},
    {"clock", l_clock},
    {"thread_id", l_thread_id},
    {"lock_waiting", l_lock_waiting},
    {NULL, NULL}};

/* The code of this module must stay mapped while pool threads can run it
 * (a trampoline, a release hook): lua_close would dlclose it. Pin it. */
static void
pin_module(void)
{
    Dl_info info;
    if (dladdr((void *)pin_module, &info) != 0 && info.dli_fname != NULL) {
        (void)dlopen(info.dli_fname, RTLD_NOW | RTLD_NODELETE);
    }
}

static lstate *
state_setup(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &STATE_KEY);
    lstate *S = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (S != NULL) {
        return S; /* loaded before: this thread already holds the lock */
    }
    pin_module();
    S = calloc(1, sizeof *S);
    if (S == NULL) {
        luaL_error(L, "not enough memory");
    }
    pthread_mutex_init(&S->m, NULL);
    pthread_cond_init(&S->turn, NULL);
    pthread_cond_init(&S->idle, NULL);
    S->refs = 1;
    S->errref = LUA_NOREF;
    /* The anchor's finalizer closes the state; made first, it runs last. */
    lstate **anchor = lua_newuserdatauv(L, sizeof *anchor, 0);
    *anchor = S;
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, l_state_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushlightuserdata(L, S);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &STATE_KEY);

    lua_State *main;
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    main = lua_tothread(L, -1);
    lua_pop(L, 1);
    S->L = main;
    lua_sethook(main, count_hook, LUA_MASKCOUNT, HOOK_COUNT);
    if (L != main) {
        lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_COUNT);
    }
    S->T = lua_newthread(main);
    luaL_ref(main, LUA_REGISTRYINDEX);
    lua_newtable(L);
    S->cotab = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "v");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    S->objtab = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "v");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    S->ovtab = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    S->wtfns = luaL_ref(L, LUA_REGISTRYINDEX);
    lock_acquire(S); /* for the thread running the script */
    return S;
}

int
ntpool_lua_glue_open(lua_State *L)
{
    lstate *S = state_setup(L);
    new_meta(L, S, "ntpool.pool", pool_methods, l_pool_gc, l_pool_tostring);
    new_meta(L, S, "ntpool.environment", no_methods, l_env_gc, l_env_tostring);
    new_meta(L, S, "ntpool.cleanup_group", group_methods, l_group_gc,
             l_group_tostring);
    new_meta(L, S, "ntpool.work", work_methods, l_work_gc, l_work_tostring);
    new_meta(L, S, "ntpool.timer", timer_methods, l_timer_gc,
             l_timer_tostring);
    new_meta(L, S, "ntpool.wait", wait_methods, l_wait_gc, l_wait_tostring);
    new_meta(L, S, "ntpool.io", io_methods, l_io_gc, l_io_tostring);
    new_meta(L, S, "ntpool.overlapped", ov_methods, l_ov_gc, l_ov_tostring);
    new_meta(L, S, "ntpool.event", event_methods, l_handle_gc,
             l_handle_tostring);
    new_meta(L, S, "ntpool.semaphore", sem_methods, l_handle_gc,
             l_handle_tostring);
    new_meta(L, S, "ntpool.mutex", mutex_methods, l_handle_gc,
             l_handle_tostring);
    new_meta(L, S, "ntpool.waitable_timer", wtimer_methods, l_handle_gc,
             l_handle_tostring);
    new_meta(L, S, "ntpool.thread", plain_handle_methods, l_handle_gc,
             l_handle_tostring);
    new_meta(L, S, "ntpool.fd_handle", plain_handle_methods, l_handle_gc,
             l_handle_tostring);
    new_meta(L, S, "ntpool.critical_section", cs_methods, l_cs_gc,
             l_cs_tostring);
    new_meta(L, S, "ntpool.instance", inst_methods, NULL, l_inst_tostring);
    luaL_getmetatable(L, "ntpool.instance");
    S->instmt = luaL_ref(L, LUA_REGISTRYINDEX);
    luaL_getmetatable(L, "ntpool.pool");
    S->poolmt = lua_topointer(L, -1);
    luaL_getmetatable(L, "ntpool.environment");
    S->envmt = lua_topointer(L, -1);
    lua_pop(L, 2);
    for (int k = 0; k < (int)(sizeof S->cbmt / sizeof S->cbmt[0]); k++) {
        S->cbmt[k] = NULL;
        if (CB_NAMES[k] != NULL) {
            luaL_getmetatable(L, CB_NAMES[k]);
            S->cbmt[k] = lua_topointer(L, -1);
            lua_pop(L, 1);
        }
    }
    lua_createtable(L, 0, 32);
    lua_pushlightuserdata(L, S);
    luaL_setfuncs(L, glue_funcs, 1);
#define SETC(name, v)                                                         \
    (lua_pushinteger(L, (lua_Integer)(v)), lua_setfield(L, -2, name))
    SETC("WAIT_OBJECT_0", NTP_WAIT_OBJECT_0);
    SETC("WAIT_ABANDONED_0", NTP_WAIT_ABANDONED_0);
    SETC("WAIT_IO_COMPLETION", NTP_WAIT_IO_COMPLETION);
    SETC("WAIT_TIMEOUT", NTP_WAIT_TIMEOUT);
    SETC("INFINITE", NTP_INFINITE);
#undef SETC
    return 1;
}

/* ------------------------------------------------------------------------ */
/* For the SWIG half (lua_typemaps.i)                                        */
/* ------------------------------------------------------------------------ */

void *
ntpool_lua_check(lua_State *L, int idx, int kind)
{
    switch (kind) {
    case NTPL_POOL:
        return check_pool_open(L, idx)->pool;
    case NTPL_GROUP:
        return check_group_open(L, idx)->g;
    case NTPL_TIMER:
    case NTPL_IO: {
        int k = kind == NTPL_TIMER ? CB_TIMER : CB_IO;
        lcbobj *o = luaL_checkudata(L, idx, CB_NAMES[k]);
        if (o->c == NULL || o->c->obj == NULL) {
            luaL_error(L, "operation on closed %s", CB_NAMES[k]);
        }
        return o->c->obj;
    }
    case NTPL_HANDLE:
        return check_any_handle(L, idx);
    case NTPL_INSTANCE: {
        linstance *li = luaL_checkudata(L, idx, "ntpool.instance");
        if (li->inst == NULL) {
            luaL_error(L, "instance used after its callback returned");
        }
        return li->inst;
    }
    default:
        return &check_cs(L, idx)->cs;
    }
}

/* Should making the userdata raise (out of memory), `core` leaks: it was
 * created by the core before this was called. */
void
ntpool_lua_push_new(lua_State *L, int kind, void *core)
{
    if (kind == NTPL_POOL) {
        lpool *p = lua_newuserdatauv(L, sizeof *p, 0);
        p->pool = core;
        p->is_default = core == ntp_pool_default();
        luaL_setmetatable(L, "ntpool.pool");
    } else if (kind == NTPL_GROUP) {
        lgroup *g = lua_newuserdatauv(L, sizeof *g, 0);
        g->g = core;
        g->members = NULL;
        luaL_setmetatable(L, "ntpool.cleanup_group");
    } else {
        /* A handle: its kind picks the metatable (HANDLE_NAMES follows
         * ntp_handle_kind, which starts at 1). */
        int hk = ntp_handle_kind_of(core);
        if (hk < NTP_HANDLE_EVENT || hk > NTP_HANDLE_FD) {
            ntp_handle_close(core);
            luaL_error(L, "ntpool.raw: unknown handle kind %d", hk);
        }
        lhandle *h = new_handle(L, hk - NTP_HANDLE_EVENT);
        h->h = core;
    }
}

static lstate *
registry_state(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &STATE_KEY);
    lstate *S = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return S;
}

void
ntpool_lua_blocking_begin(lua_State *L)
{
    lock_release(registry_state(L));
}

void
ntpool_lua_blocking_end(lua_State *L)
{
    lstate *S = registry_state(L);
    lock_acquire(S);
    finish_releases(S);
}

#ifndef NTPOOL_LUA_WITH_SWIG
/* Without the SWIG mirror, ntpool.raw is the glue alone. */
int luaopen_ntpool_raw(lua_State *L);
__attribute__((visibility("default"))) int
luaopen_ntpool_raw(lua_State *L)
{
    lua_createtable(L, 0, 1);
    ntpool_lua_glue_open(L);
    lua_setfield(L, -2, "glue");
    return 1;
}
#endif
