/*
 * tour.c -- a guided tour of ntpool, the Windows (Vista+) thread pool on
 * Linux. Run it (`make demo`) and read the output next to the code: each
 * step says what it does, does it, and reports what happened.
 *
 * The Win32 name of each call is in the comments, so a reader who knows
 * the Windows thread pool (or the book chapter in the seeds) can follow
 * along: ntp_work_create is CreateThreadpoolWork, and so on.
 *
 * Every step waits for its callbacks before the next one prints, so the
 * output comes out in the same order on every run. Callbacks print only
 * where a single callback runs at a time.
 */
#include "ntpool.h"

#include <dlfcn.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Stop the tour on any unexpected failure, saying which call failed. */
#define CHECK(call)                                                          \
    do {                                                                     \
        int check_rc_ = (call);                                              \
        if (check_rc_ != 0) {                                                \
            fprintf(stderr, "tour: %s failed: %s (%s)\n", #call,            \
                    ntp_strerror(check_rc_), ntp_err_name(check_rc_));       \
            exit(1);                                                         \
        }                                                                    \
    } while (0)

/* Nothing in the tour takes long; 10 s means something is broken. */
#define TOUR_TIMEOUT_MS 10000u

static pthread_t main_thread;

static void
step(int n, const char *title)
{
    printf("\n%d. %s\n", n, title);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("   ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
}

static const char *
which_thread(void)
{
    return pthread_equal(pthread_self(), main_thread) ? "the main thread"
                                                      : "a pool thread";
}

static ntp_handle *
new_event(void)
{
    ntp_handle *ev = NULL;
    CHECK(ntp_event_create(&ev, true, false)); /* CreateEvent, manual */
    return ev;
}

static void
wait_for(ntp_handle *h)
{
    int r = ntp_wait_for_single(h, TOUR_TIMEOUT_MS, false);
    if (r != NTP_WAIT_OBJECT_0 && r != NTP_WAIT_ABANDONED_0) {
        fprintf(stderr, "tour: a wait returned %d\n", r);
        exit(1);
    }
}

static const char *
wait_result_name(int r)
{
    switch (r) {
    case NTP_WAIT_OBJECT_0:
        return "WAIT_OBJECT_0";
    case NTP_WAIT_ABANDONED_0:
        return "WAIT_ABANDONED";
    case NTP_WAIT_TIMEOUT:
        return "WAIT_TIMEOUT";
    default:
        return ntp_err_name(r);
    }
}

/* ------------------------------------------------------------------------ */
/* Callbacks                                                                 */
/* ------------------------------------------------------------------------ */

/* Step 9: a periodic timer counts its ticks and stops itself after 5. */
typedef struct ticker {
    atomic_int ticks;
    uint64_t start_ns;
    ntp_handle *done;
} ticker;

static uint64_t
now_ms_since(uint64_t start_ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec -
            start_ns) / 1000000u;
}

static void
tick(ntp_instance *inst, void *ctx, ntp_timer *timer)
{
    ticker *t = ctx;
    int n = atomic_fetch_add(&t->ticks, 1) + 1;
    say("timer: tick %d at %3" PRIu64 " ms, on %s", n,
        now_ms_since(t->start_ns), which_thread());
    if (n == 5) {
        /* SetThreadpoolTimer(timer, NULL, 0, 0): no further ticks. */
        ntp_timer_set(timer, ntp_due_none(), 0, 0);
        ntp_instance_set_event_on_return(inst, t->done);
    }
}

/* Step 10: a wait callback reports what it was told. */
typedef struct waiter {
    const char *what;
    ntp_handle *done;
} waiter;

static void
wait_done(ntp_instance *inst, void *ctx, ntp_wait *wait, uint32_t result)
{
    waiter *w = ctx;
    (void)wait;
    say("wait callback: %s -> %s", w->what, wait_result_name((int)result));
    ntp_instance_set_event_on_return(inst, w->done);
}

/* Step 2: counts its runs. */
static atomic_int work_runs;

static void
count_work(ntp_instance *inst, void *ctx, ntp_work *work)
{
    atomic_fetch_add(&work_runs, 1);
}

/* What most one-off callbacks below get as their context: something to
 * show, and an event the pool sets once the callback has returned. */
typedef struct errand {
    const char *text;
    const ntp_env *env;
    ntp_handle *done;
    ntp_handle *go;
    ntp_handle *semaphore;
    ntp_handle *mutex;
    ntp_cs *cs;
    double result;
    bool answer;
} errand;

/* Step 3: a simple callback. */
static void
hello(ntp_instance *inst, void *ctx)
{
    errand *e = ctx;
    say("callback: hello from %s; my context says \"%s\"", which_thread(),
        e->text);
    /* SetEventWhenCallbackReturns: the pool sets the event after we have
     * returned, so whoever waits for it knows this callback is over. */
    CHECK(ntp_instance_set_event_on_return(inst, e->done));
}

/* Step 4: holds a pool's only thread until its gate opens. */
typedef struct gate {
    ntp_handle *inside;
    ntp_handle *open;
} gate;

static void
hold_thread(ntp_instance *inst, void *ctx, ntp_work *work)
{
    gate *g = ctx;
    CHECK(ntp_event_set(g->inside));
    wait_for(g->open);
}

static void
prioritised(ntp_instance *inst, void *ctx)
{
    errand *e = ctx;
    say("callback: the %s-priority callback runs", e->text);
    /* ReleaseSemaphoreWhenCallbackReturns: one count per finished run. */
    CHECK(ntp_instance_release_semaphore_on_return(inst, e->semaphore, 1));
}

/* Step 5: one callback per completion action. */
static void
set_event_action(ntp_instance *inst, void *ctx)
{
    errand *e = ctx;
    CHECK(ntp_instance_set_event_on_return(inst, e->done));
    bool set = ntp_wait_for_single(e->done, 0, false) == NTP_WAIT_OBJECT_0;
    say("callback: asked for the event; while I run it is %s",
        set ? "already set (wrong!)" : "not set yet");
}

static void
release_semaphore_action(ntp_instance *inst, void *ctx)
{
    errand *e = ctx;
    CHECK(ntp_instance_release_semaphore_on_return(inst, e->semaphore, 2));
    say("callback: asked for the semaphore to be released by 2");
}

static void
release_mutex_action(ntp_instance *inst, void *ctx)
{
    errand *e = ctx;
    /* A mutex belongs to the thread that took it: only this pool thread
     * can release it, which the pool does for us after we return. */
    wait_for(e->mutex);
    CHECK(ntp_instance_release_mutex_on_return(inst, e->mutex));
    CHECK(ntp_instance_set_event_on_return(inst, e->done));
    say("callback: took the mutex on %s; the pool will release it",
        which_thread());
}

static void
leave_cs_action(ntp_instance *inst, void *ctx)
{
    errand *e = ctx;
    ntp_cs_enter(e->cs);
    CHECK(ntp_instance_leave_cs_on_return(inst, e->cs));
    CHECK(ntp_instance_set_event_on_return(inst, e->done));
    say("callback: entered the critical section; the pool will leave it");
}

static void
free_library_action(ntp_instance *inst, void *ctx)
{
    errand *e = ctx;
    /* LoadLibrary + GetProcAddress, the Linux way. */
    void *libm = dlopen(e->text, RTLD_NOW | RTLD_LOCAL);
    if (libm == NULL) {
        say("callback: could not load %s: %s", e->text, dlerror());
        CHECK(ntp_instance_set_event_on_return(inst, e->done));
        return;
    }
    double (*cosine)(double) = (double (*)(double))dlsym(libm, "cos");
    e->result = cosine != NULL ? cosine(0.0) : -1.0;
    /* FreeLibraryWhenCallbackReturns: our reference is dropped only once
     * our code (which might live in that very library) has stopped. */
    CHECK(ntp_instance_free_library_on_return(inst, libm));
    CHECK(ntp_instance_set_event_on_return(inst, e->done));
    say("callback: loaded %s and computed cos(0) = %.1f", e->text,
        e->result);
}

/* Step 6: may_run_long, and a second callback that runs meanwhile. */
static void
helper(ntp_instance *inst, void *ctx)
{
    errand *e = ctx;
    CHECK(ntp_instance_release_semaphore_on_return(inst, e->semaphore, 1));
}

static void
long_running(ntp_instance *inst, void *ctx)
{
    errand *e = ctx;
    /* CallbackMayRunLong: "I will keep this thread for a while." True
     * means the pool has (or just started) another thread for the rest
     * of its queue. */
    e->answer = ntp_instance_may_run_long(inst);
    /* So this callback may wait for another one without starving it. */
    CHECK(ntp_try_submit(helper, e, e->env));
    e->result =
        ntp_wait_for_single(e->semaphore, TOUR_TIMEOUT_MS, false)
                == NTP_WAIT_OBJECT_0
            ? 1.0
            : 0.0;
    CHECK(ntp_instance_set_event_on_return(inst, e->done));
}

/* Step 7: a callback that lets its waiters go before it ends. */
static atomic_bool stays_behind_finished;

static void
stays_behind(ntp_instance *inst, void *ctx, ntp_work *work)
{
    errand *e = ctx;
    /* DisassociateCurrentThreadFromCallback: ntp_work_wait no longer
     * waits for this callback (a cleanup group still would). Actions
     * asked for still happen when it returns. */
    CHECK(ntp_instance_set_event_on_return(inst, e->done));
    ntp_instance_disassociate(inst);
    wait_for(e->go); /* set by the main thread after its wait returned */
    atomic_store(&stays_behind_finished, true);
}

/* Step 8: a cleanup group with a cancel callback. */
static atomic_int group_runs;

static void
group_work(ntp_instance *inst, void *ctx, ntp_work *work)
{
    atomic_fetch_add(&group_runs, 1);
}

static void
cancelled(void *object_ctx, void *cleanup_ctx)
{
    say("cancel callback: %s (cleanup context \"%s\") on %s",
        (const char *)object_ctx, (const char *)cleanup_ctx,
        which_thread());
}

/* ------------------------------------------------------------------------ */
/* The tour                                                                  */
/* ------------------------------------------------------------------------ */

int
main(int argc, char **argv)
{
    main_thread = pthread_self();
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("A tour of ntpool %d.%d.%d, the Windows thread pool on Linux.\n",
           NTP_VERSION_MAJOR, NTP_VERSION_MINOR, NTP_VERSION_PATCH);
    /* `tour run.json` records a timeline of the whole tour (Chrome Trace
     * Event JSON; python3 -m ntpool.trace draws it). */
    const char *trace_path = argc > 1 ? argv[1] : NULL;
    if (trace_path)
        CHECK(ntp_trace_start(trace_path));

    /* ------------------------------------------------------------------ */
    step(1, "A private pool (CreateThreadpool), min 1, max 4 threads");
    ntp_pool *pool = NULL;
    CHECK(ntp_pool_create(&pool));
    ntp_pool_stats st;
    CHECK(ntp_pool_stats_get(pool, &st));
    say("a new pool starts no thread: %u threads", st.threads);
    ntp_pool_set_max_threads(pool, 4);        /* SetThreadpoolThreadMaximum */
    CHECK(ntp_pool_set_min_threads(pool, 1)); /* SetThreadpoolThreadMinimum */
    CHECK(ntp_pool_stats_get(pool, &st));
    say("the minimum starts its threads at once: %u thread, at most %u",
        st.threads, st.max_threads);

    /* A callback environment (TP_CALLBACK_ENVIRON) says where objects
     * made with it run: here, on our pool. */
    ntp_env env;
    ntp_env_init(&env);           /* InitializeThreadpoolEnvironment */
    ntp_env_set_pool(&env, pool); /* SetThreadpoolCallbackPool */

    /* ------------------------------------------------------------------ */
    step(2, "A work object (CreateThreadpoolWork), posted 5 times");
    ntp_work *work = NULL;
    CHECK(ntp_work_create(&work, count_work, NULL, &env));
    for (int i = 0; i < 5; i++) {
        ntp_work_submit(work); /* SubmitThreadpoolWork: cannot fail */
    }
    ntp_work_wait(work, false); /* WaitForThreadpoolWorkCallbacks */
    say("5 posts gave %d runs (posts are never merged, and may run in "
        "parallel)", atomic_load(&work_runs));
    /* Kept open until the end, so the pool dump has an object to show. */

    /* ------------------------------------------------------------------ */
    step(3, "A simple callback (TrySubmitThreadpoolCallback)");
    errand hi = {.text = "tour", .done = new_event()};
    CHECK(ntp_try_submit(hello, &hi, &env));
    wait_for(hi.done);
    say("main: the event is set, so the callback has returned; its "
        "one-shot object freed itself");
    CHECK(ntp_handle_close(hi.done));

    /* ------------------------------------------------------------------ */
    step(4, "Priorities (SetThreadpoolCallbackPriority)");
    /* Priorities decide which queued callback a free thread takes next,
     * so callbacks must queue: a one-thread pool, kept busy meanwhile. */
    ntp_pool *serial = NULL;
    CHECK(ntp_pool_create(&serial));
    ntp_pool_set_max_threads(serial, 1);
    ntp_env serial_env;
    ntp_env_init(&serial_env);
    ntp_env_set_pool(&serial_env, serial);
    gate g = {.inside = new_event(), .open = new_event()};
    ntp_work *holder = NULL;
    CHECK(ntp_work_create(&holder, hold_thread, &g, &serial_env));
    ntp_work_submit(holder);
    wait_for(g.inside);

    ntp_handle *finished = NULL;
    CHECK(ntp_semaphore_create(&finished, 0, 3)); /* CreateSemaphore */
    static const struct {
        const char *name;
        ntp_priority priority;
    } order[] = {{"low", NTP_PRIORITY_LOW},
                 {"normal", NTP_PRIORITY_NORMAL},
                 {"high", NTP_PRIORITY_HIGH}};
    errand prio[3];
    for (int i = 0; i < 3; i++) {
        prio[i] = (errand){.text = order[i].name, .semaphore = finished};
        ntp_env e = serial_env;
        ntp_env_set_priority(&e, (int)order[i].priority);
        CHECK(ntp_try_submit(prioritised, &prio[i], &e));
    }
    CHECK(ntp_pool_stats_get(serial, &st));
    say("main: queued low, normal, high behind a busy thread "
        "(queued: %" PRIu64 " high, %" PRIu64 " normal, %" PRIu64 " low)",
        st.queued[NTP_PRIORITY_HIGH], st.queued[NTP_PRIORITY_NORMAL],
        st.queued[NTP_PRIORITY_LOW]);
    CHECK(ntp_event_set(g.open));
    for (int i = 0; i < 3; i++) {
        wait_for(finished);
    }
    say("main: highest priority first, whatever the submission order");
    ntp_work_wait(holder, false);
    ntp_work_close(holder);
    CHECK(ntp_handle_close(finished));

    /* ------------------------------------------------------------------ */
    step(5, "Completion actions (...WhenCallbackReturns)");
    /* Each asks the pool to do one thing after the callback returns:
     * release something that guards the callback's own code or data. */
    errand act = {.done = new_event()};

    CHECK(ntp_try_submit(set_event_action, &act, &env));
    wait_for(act.done);
    say("main: ...and the event was set once it had returned");

    CHECK(ntp_semaphore_create(&act.semaphore, 0, 10));
    CHECK(ntp_try_submit(release_semaphore_action, &act, &env));
    wait_for(act.semaphore);
    wait_for(act.semaphore);
    int third = ntp_wait_for_single(act.semaphore, 0, false);
    say("main: took the semaphore twice; a third try gives %s",
        wait_result_name(third));
    CHECK(ntp_handle_close(act.semaphore));

    CHECK(ntp_event_reset(act.done));
    CHECK(ntp_mutex_create(&act.mutex, false)); /* CreateMutex */
    CHECK(ntp_try_submit(release_mutex_action, &act, &env));
    wait_for(act.done);
    int got = ntp_wait_for_single(act.mutex, 0, false);
    say("main: took the mutex: %s (released, not abandoned)",
        wait_result_name(got));
    CHECK(ntp_mutex_release(act.mutex));
    CHECK(ntp_handle_close(act.mutex));

    CHECK(ntp_event_reset(act.done));
    ntp_cs cs;
    ntp_cs_init(&cs); /* InitializeCriticalSection */
    act.cs = &cs;
    CHECK(ntp_try_submit(leave_cs_action, &act, &env));
    wait_for(act.done);
    bool entered = ntp_cs_try_enter(&cs);
    say("main: TryEnterCriticalSection %s", entered ? "succeeds" : "fails");
    if (entered) {
        CHECK(ntp_cs_leave(&cs));
    }
    ntp_cs_destroy(&cs);

    CHECK(ntp_event_reset(act.done));
    act.text = "libm.so.6";
    CHECK(ntp_try_submit(free_library_action, &act, &env));
    wait_for(act.done);
    say("main: the callback's reference to %s is dropped; the pool "
        "called dlclose after it returned", act.text);
    CHECK(ntp_handle_close(act.done));

    /* ------------------------------------------------------------------ */
    step(6, "A long callback (CallbackMayRunLong)");
    errand lr = {.done = new_event(), .env = &env};
    CHECK(ntp_semaphore_create(&lr.semaphore, 0, 1));
    CHECK(ntp_try_submit(long_running, &lr, &env));
    wait_for(lr.done);
    say("may_run_long answered %s; while the long callback kept its "
        "thread, another callback %s", lr.answer ? "yes" : "no",
        lr.result == 1.0 ? "ran beside it" : "did not run (wrong!)");
    CHECK(ntp_handle_close(lr.done));
    CHECK(ntp_handle_close(lr.semaphore));

    /* ------------------------------------------------------------------ */
    step(7, "Letting waiters go early "
            "(DisassociateCurrentThreadFromCallback)");
    errand dis = {.done = new_event(), .go = new_event()};
    ntp_work *behind = NULL;
    CHECK(ntp_work_create(&behind, stays_behind, &dis, &env));
    ntp_work_submit(behind);
    ntp_work_wait(behind, false);
    say("main: ntp_work_wait returned; the callback has %s",
        atomic_load(&stays_behind_finished) ? "finished (wrong!)"
                                            : "not finished yet");
    CHECK(ntp_event_set(dis.go));
    wait_for(dis.done);
    say("main: now it has %s, and its set-event action still ran",
        atomic_load(&stays_behind_finished) ? "finished" : "not finished");
    ntp_work_close(behind);
    CHECK(ntp_handle_close(dis.done));
    CHECK(ntp_handle_close(dis.go));

    /* ------------------------------------------------------------------ */
    step(8, "A cleanup group (CreateThreadpoolCleanupGroup)");
    /* Objects made with an environment that names a group are its
     * members; one call releases them all, optionally cancelling what
     * has not started. The serial pool is kept busy again, so the posts
     * below stay queued. */
    CHECK(ntp_event_reset(g.inside));
    CHECK(ntp_event_reset(g.open));
    CHECK(ntp_work_create(&holder, hold_thread, &g, &serial_env));
    ntp_work_submit(holder);
    wait_for(g.inside);

    ntp_cleanup_group *group = NULL;
    CHECK(ntp_cleanup_group_create(&group));
    ntp_env group_env = serial_env;
    /* SetThreadpoolCallbackCleanupGroup, with a cancel callback. */
    ntp_env_set_cleanup_group(&group_env, group, cancelled);
    static const char *const names[] = {"job A", "job B", "job C"};
    for (int i = 0; i < 3; i++) {
        ntp_work *member = NULL;
        CHECK(ntp_work_create(&member, group_work, (void *)names[i],
                              &group_env));
        for (int posts = 0; posts < 2 - i; posts++) {
            ntp_work_submit(member); /* A: 2 posts, B: 1, C: none */
        }
    }
    say("main: 3 members, 3 posts queued; cancelling them all");
    /* CloseThreadpoolCleanupGroupMembers(group, TRUE, "tour"). */
    CHECK(ntp_cleanup_group_close_members(group, true, "tour"));
    say("main: members released; %d of their posts ran",
        atomic_load(&group_runs));
    ntp_cleanup_group_close(group); /* CloseThreadpoolCleanupGroup */
    CHECK(ntp_event_set(g.open));
    ntp_work_wait(holder, false);
    ntp_work_close(holder);

    /* ------------------------------------------------------------------ */
    step(9, "A periodic timer (CreateThreadpoolTimer), every 20 ms");
    {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ticker tk = {.start_ns = (uint64_t)ts.tv_sec * 1000000000u +
                                 (uint64_t)ts.tv_nsec,
                     .done = new_event()};
        ntp_timer *timer = NULL;
        CHECK(ntp_timer_create(&timer, tick, &tk, &env));
        /* SetThreadpoolTimer(timer, due -10 ms, period 20 ms, window 5 ms):
         * the window lets ntpool fire it up to 5 ms late, together with
         * other timers, for fewer wake-ups. */
        ntp_timer_set(timer, ntp_due_in_ms(10), 20, 5);
        wait_for(tk.done);
        ntp_timer_wait(timer, false); /* WaitForThreadpoolTimerCallbacks */
        say("main: 5 ticks; the timer is %s", ntp_timer_is_set(timer)
                                                  ? "still set"
                                                  : "no longer set");
        ntp_timer_close(timer);
        CHECK(ntp_handle_close(tk.done));
    }

    /* ------------------------------------------------------------------ */
    step(10, "Waits (CreateThreadpoolWait) on an event, a timeout, a pipe");
    {
        waiter on_event = {"the event was set", new_event()};
        waiter on_timeout = {"nobody set the event within 30 ms",
                             new_event()};
        waiter on_pipe = {"the pipe became readable", new_event()};
        ntp_handle *ev = NULL;
        CHECK(ntp_event_create(&ev, false, false)); /* auto-reset */
        ntp_wait *w1 = NULL, *w2 = NULL, *w3 = NULL;
        CHECK(ntp_wait_create(&w1, wait_done, &on_event, &env));
        CHECK(ntp_wait_create(&w2, wait_done, &on_timeout, &env));
        CHECK(ntp_wait_create(&w3, wait_done, &on_pipe, &env));

        ntp_wait_set(w1, ev, NTP_INFINITE); /* SetThreadpoolWait */
        say("main: setting the event; no thread was parked on it");
        CHECK(ntp_event_set(ev));
        wait_for(on_event.done);

        ntp_handle *quiet = NULL;
        CHECK(ntp_event_create(&quiet, true, false));
        ntp_wait_set(w2, quiet, 30);
        wait_for(on_timeout.done);

        /* Any file descriptor can be waited on: readable = signalled. */
        int fds[2];
        if (pipe(fds) != 0) {
            perror("pipe");
            return 1;
        }
        ntp_handle *readable = NULL;
        CHECK(ntp_fd_handle_create(&readable, fds[0]));
        ntp_wait_set(w3, readable, NTP_INFINITE);
        say("main: writing a byte into the pipe");
        if (write(fds[1], "x", 1) != 1) {
            perror("write");
            return 1;
        }
        wait_for(on_pipe.done);

        ntp_wait_close(w1);
        ntp_wait_close(w2);
        ntp_wait_close(w3);
        CHECK(ntp_handle_close(readable));
        close(fds[0]);
        close(fds[1]);
        CHECK(ntp_handle_close(ev));
        CHECK(ntp_handle_close(quiet));
        CHECK(ntp_handle_close(on_event.done));
        CHECK(ntp_handle_close(on_timeout.done));
        CHECK(ntp_handle_close(on_pipe.done));
    }

    /* ------------------------------------------------------------------ */
    step(11, "What the pool did (the !tp debugger extension)");
    CHECK(ntp_pool_stats_get(pool, &st));
    say("threads now %u (min %u, max %u), created %" PRIu64
        ", callbacks run %" PRIu64,
        st.threads, st.min_threads, st.max_threads, st.threads_created,
        st.callbacks_run);
    fflush(stdout);
    CHECK(ntp_pool_dump(pool, NTP_DUMP_MEMBERS | NTP_DUMP_QUEUE, stdout));
    fflush(stdout);

    /* Closing: objects first, then pools; nothing blocks. */
    ntp_work_close(work);
    ntp_pool_close(serial);
    ntp_pool_close(pool);
    CHECK(ntp_handle_close(g.inside));
    CHECK(ntp_handle_close(g.open));
    if (trace_path) {
        CHECK(ntp_trace_stop());
        printf("\nThe timeline of the tour is in %s.\n", trace_path);
    }
    printf("\nEnd of the tour.\n");
    return 0;
}
