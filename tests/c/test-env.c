/*
 * test-env.c -- callback environments: validation, copying at creation,
 * priorities, runs-long, finalization, the library reference and the
 * persistent thread (SPEC 5, CONFORMANCE A9-A11, A15, C34, D46).
 */
#include "helpers.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

static long
gettid_now(void)
{
    return (long)syscall(SYS_gettid);
}

static atomic_int runs;

static void
count_work_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    atomic_fetch_add(&runs, 1);
}

static void
count_simple_cb(ntp_instance *inst, void *ctx)
{
    atomic_fetch_add(&runs, 1);
}

/* Run order, as a string of one-letter labels. */
static char order[64];
static atomic_int order_len;

/* Writers take turns; the length is published after the label is
 * written, so a reader that sees length n sees the first n labels. */
static pthread_mutex_t order_lock = PTHREAD_MUTEX_INITIALIZER;

static void
record_label(void *ctx)
{
    pthread_mutex_lock(&order_lock);
    int i = atomic_load(&order_len);
    if (i < (int)sizeof order - 1) {
        order[i] = (char)(intptr_t)ctx;
    }
    atomic_store(&order_len, i + 1);
    pthread_mutex_unlock(&order_lock);
}

static void
label_work_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    record_label(ctx);
}

static void
label_simple_cb(ntp_instance *inst, void *ctx)
{
    record_label(ctx);
}

/* ------------------------------------------------------------------------ */
/* Validation                                                                */
/* ------------------------------------------------------------------------ */

TEST_IMPL(env_init_defaults)
{
    ntp_env env;
    memset(&env, 0xa5, sizeof env);
    ntp_env_init(&env);
    ASSERT_EQ(env.version, 3);
    ASSERT_NULL(env.pool);
    ASSERT_NULL(env.cleanup_group);
    ASSERT(env.cancel_cb == NULL);
    ASSERT_NULL(env.library);
    ASSERT(env.finalization_cb == NULL);
    ASSERT_EQ(env.flags, 0);
    ASSERT_EQ(env.priority, NTP_PRIORITY_NORMAL);

    ntp_env_set_runs_long(&env);
    ntp_env_set_persistent(&env);
    ASSERT_EQ(env.flags, NTP_ENV_RUNS_LONG | NTP_ENV_PERSISTENT);
    ntp_env_set_priority(&env, NTP_PRIORITY_LOW);
    ASSERT_EQ(env.priority, NTP_PRIORITY_LOW);
    ntp_env_destroy(&env);
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(env_invalid_priority_rejected)
{
    static const int bad[] = {3, 10, -1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ntp_env env;
        ntp_env_init(&env);
        /* Stored by the setter, rejected at creation (A10). */
        ntp_env_set_priority(&env, bad[i]);
        ASSERT_EQ(env.priority, bad[i]);
        ntp_work *work = NULL;
        ASSERT_STATUS(ntp_work_create(&work, count_work_cb, NULL, &env),
                      NTP_EINVAL);
        ASSERT_STATUS(ntp_try_submit(count_simple_cb, NULL, &env),
                      NTP_EINVAL);
    }
    ASSERT_EQ(ntp_debug_live_objects(), 0);

    /* The three valid ones are accepted. */
    for (int p = NTP_PRIORITY_HIGH; p <= NTP_PRIORITY_LOW; p++) {
        ntp_env env;
        ntp_env_init(&env);
        ntp_env_set_priority(&env, p);
        ntp_work *work = NULL;
        ASSERT_OK(ntp_work_create(&work, count_work_cb, NULL, &env));
        ntp_work_submit(work);
        ntp_work_wait(work, false);
        ntp_work_close(work);
        ASSERT_OK(ntp_try_submit(count_simple_cb, NULL, &env));
    }
    /* Only the accepted ones ran. */
    TEST_WAIT_UNTIL(atomic_load(&runs) == 6, 5000);
    test_sleep_ms(20);
    ASSERT_EQ(atomic_load(&runs), 6);
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(env_bad_version_rejected)
{
    static const unsigned bad[] = {0, 2, 4, 100};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ntp_env env;
        ntp_env_init(&env);
        env.version = bad[i];
        ntp_work *work = NULL;
        ASSERT_STATUS(ntp_work_create(&work, count_work_cb, NULL, &env),
                      NTP_EINVAL);
        ASSERT_STATUS(ntp_try_submit(count_simple_cb, NULL, &env),
                      NTP_EINVAL);
    }
    ASSERT_EQ(ntp_debug_live_objects(), 0);

    /* Version 1 (Vista) and 3 (Windows 7+) are accepted (A11). */
    static const unsigned good[] = {1, 3};
    for (size_t i = 0; i < 2; i++) {
        ntp_env env;
        ntp_env_init(&env);
        env.version = good[i];
        ntp_work *work = NULL;
        ASSERT_OK(ntp_work_create(&work, count_work_cb, NULL, &env));
        ntp_work_submit(work);
        ntp_work_wait(work, false);
        ntp_work_close(work);
    }
    ASSERT_EQ(atomic_load(&runs), 2);
    ASSERT_NO_LIVE_OBJECTS();
}

static atomic_int cancel_calls;

static void
count_cancel_cb(void *object_ctx, void *cleanup_ctx)
{
    atomic_fetch_add(&cancel_calls, 1);
}

static atomic_int releases;

static void
count_release_cb(void *ctx)
{
    atomic_fetch_add(&releases, 1);
}

TEST_IMPL(env_edits_after_creation_ignored)
{
    ntp_pool *p1 = make_pool(2);
    ntp_pool *p2 = make_pool(2);
    ntp_cleanup_group *group = NULL;
    ASSERT_OK(ntp_cleanup_group_create(&group));

    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, p1);
    ntp_work *work = NULL;
    ASSERT_OK(ntp_work_create(&work, count_work_cb, NULL, &env));
    ASSERT_OK(ntp_work_set_release(work, count_release_cb));

    /* The object copied the environment: none of this reaches it (A15). */
    ntp_env_set_pool(&env, p2);
    ntp_env_set_priority(&env, 10);
    ntp_env_set_cleanup_group(&env, group, count_cancel_cb);
    env.version = 99;
    ntp_env_destroy(&env);

    for (int i = 0; i < 3; i++) {
        ntp_work_submit(work);
    }
    ntp_work_wait(work, false);
    ASSERT_EQ(atomic_load(&runs), 3);
    TEST_WAIT_UNTIL(stats_of(p1).callbacks_run == 3, 2000);
    ASSERT_EQ(stats_of(p2).callbacks_run, 0);
    ASSERT_EQ(stats_of(p1).objects, 1);
    ASSERT_EQ(stats_of(p2).objects, 0);

    /* Not a member of the group named after creation. */
    ASSERT_OK(ntp_cleanup_group_close_members(group, true, NULL));
    ASSERT_EQ(atomic_load(&cancel_calls), 0);
    ASSERT_EQ(atomic_load(&releases), 0);
    ntp_work_submit(work);
    ntp_work_wait(work, false);
    ASSERT_EQ(atomic_load(&runs), 4);

    ntp_work_close(work);
    TEST_WAIT_UNTIL(atomic_load(&releases) == 1, 2000);
    ntp_cleanup_group_close(group);
    ntp_pool_close(p1);
    ntp_pool_close(p2);
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* Priorities                                                                */
/* ------------------------------------------------------------------------ */

static void
env_with_priority(ntp_env *env, ntp_pool *pool, int priority)
{
    ntp_env_init(env);
    ntp_env_set_pool(env, pool);
    ntp_env_set_priority(env, priority);
}

TEST_IMPL(env_priority_order)
{
    ntp_pool *pool = make_pool(1);
    pool_blocker b;
    blocker_start(&b, pool);

    /* Queue L N H l h on distinct objects behind the blocked worker. */
    static const struct {
        char label;
        int priority;
    } plan[] = {
        {'L', NTP_PRIORITY_LOW},  {'N', NTP_PRIORITY_NORMAL},
        {'H', NTP_PRIORITY_HIGH}, {'l', NTP_PRIORITY_LOW},
        {'h', NTP_PRIORITY_HIGH},
    };
    ntp_work *works[5];
    for (int i = 0; i < 5; i++) {
        ntp_env env;
        env_with_priority(&env, pool, plan[i].priority);
        ASSERT_OK(ntp_work_create(&works[i], label_work_cb,
                                  (void *)(intptr_t)plan[i].label, &env));
    }
    for (int i = 0; i < 5; i++) {
        ntp_work_submit(works[i]);
    }
    ntp_pool_stats st = stats_of(pool);
    ASSERT_EQ(st.queued[NTP_PRIORITY_HIGH], 2);
    ASSERT_EQ(st.queued[NTP_PRIORITY_NORMAL], 1);
    ASSERT_EQ(st.queued[NTP_PRIORITY_LOW], 2);

    blocker_finish(&b);
    for (int i = 0; i < 5; i++) {
        ntp_work_wait(works[i], false);
        ntp_work_close(works[i]);
    }
    /* Highest first, FIFO within one priority (A9). */
    ASSERT_EQ(atomic_load(&order_len), 5);
    ASSERT_STR_EQ(order, "HhNLl");
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(env_priority_order_simple)
{
    ntp_pool *pool = make_pool(1);
    pool_blocker b;
    blocker_start(&b, pool);

    /* The same with simple callbacks, as Wine's test does it. */
    static const struct {
        char label;
        int priority;
    } plan[] = {
        {'L', NTP_PRIORITY_LOW},  {'N', NTP_PRIORITY_NORMAL},
        {'H', NTP_PRIORITY_HIGH}, {'l', NTP_PRIORITY_LOW},
        {'h', NTP_PRIORITY_HIGH},
    };
    for (int i = 0; i < 5; i++) {
        ntp_env env;
        env_with_priority(&env, pool, plan[i].priority);
        ASSERT_OK(ntp_try_submit(label_simple_cb,
                                 (void *)(intptr_t)plan[i].label, &env));
    }
    blocker_finish(&b);
    TEST_WAIT_UNTIL(atomic_load(&order_len) == 5, 5000);
    ASSERT_STR_EQ(order, "HhNLl");
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(env_fifo_within_priority)
{
    ntp_pool *pool = make_pool(1);
    pool_blocker b;
    blocker_start(&b, pool);

    /* Low-priority simple callbacks a..j interleaved with normal-priority
     * work objects 0..9: the normal ones first, each priority in
     * submission order. */
    ntp_work *works[10];
    for (int i = 0; i < 10; i++) {
        ntp_env env;
        env_with_priority(&env, pool, NTP_PRIORITY_NORMAL);
        ASSERT_OK(ntp_work_create(&works[i], label_work_cb,
                                  (void *)(intptr_t)('0' + i), &env));
    }
    for (int i = 0; i < 10; i++) {
        ntp_env env;
        env_with_priority(&env, pool, NTP_PRIORITY_LOW);
        ASSERT_OK(ntp_try_submit(label_simple_cb,
                                 (void *)(intptr_t)('a' + i), &env));
        ntp_work_submit(works[i]);
    }
    blocker_finish(&b);
    TEST_WAIT_UNTIL(atomic_load(&order_len) == 20, 5000);
    ASSERT_STR_EQ(order, "0123456789abcdefghij");
    for (int i = 0; i < 10; i++) {
        ntp_work_close(works[i]);
    }
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* Runs-long, finalization                                                   */
/* ------------------------------------------------------------------------ */

static atomic_int may_run_long_result = -1;
static atomic_int long_running_inside = -1;
static ntp_pool *stats_pool;

static void
runs_long_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    atomic_store(&may_run_long_result, ntp_instance_may_run_long(inst));
    atomic_store(&long_running_inside,
                 (int)stats_of(stats_pool).long_running);
}

TEST_IMPL(env_runs_long_may_run_long_true)
{
    /* A max-1 pool is full while its one callback runs; a runs-long
     * object is pre-marked, so may_run_long says yes at once (E50). */
    ntp_pool *pool = make_pool(1);
    stats_pool = pool;
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);
    ntp_env_set_runs_long(&env);
    ntp_work *work = NULL;
    ASSERT_OK(ntp_work_create(&work, runs_long_cb, NULL, &env));
    ntp_work_submit(work);
    ntp_work_wait(work, false);
    ASSERT_EQ(atomic_load(&may_run_long_result), 1);
    ASSERT_EQ(atomic_load(&long_running_inside), 1);
    ntp_work_close(work);

    /* The same pool without runs-long says no (E47): the flag is what
     * made the difference. */
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);
    ASSERT_OK(ntp_work_create(&work, runs_long_cb, NULL, &env));
    ntp_work_submit(work);
    ntp_work_wait(work, false);
    ASSERT_EQ(atomic_load(&may_run_long_result), 0);
    ntp_work_close(work);

    ASSERT_EQ(stats_of(pool).long_running, 0);
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}

/* Finalization bookkeeping for one run at a time (max-1 pool). */
static ntp_handle *fin_event;
static _Atomic(ntp_instance *) cb_inst;
static atomic_long cb_tid;
static atomic_bool cb_returned;
static atomic_int fin_calls;
static atomic_int fin_mismatches;
static void *const FIN_CTX = (void *)0x5151;

static void
fin_work_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    atomic_store(&cb_returned, false);
    atomic_store(&cb_inst, inst);
    atomic_store(&cb_tid, gettid_now());
    ASSERT_OK(ntp_event_reset(fin_event));
    ASSERT_OK(ntp_instance_set_event_on_return(inst, fin_event));
    atomic_fetch_add(&runs, 1);
    atomic_store(&cb_returned, true); /* last statement before return */
}

static void
fin_simple_cb(ntp_instance *inst, void *ctx)
{
    fin_work_cb(inst, ctx, NULL);
}

static void
finalization_cb(ntp_instance *inst, void *ctx)
{
    /* Same thread, same instance, after the callback, before the
     * completion actions (D46, D44). */
    if (atomic_load(&cb_tid) != gettid_now()
        || atomic_load(&cb_inst) != inst || !atomic_load(&cb_returned)
        || ctx != FIN_CTX
        || ntp_wait_for_single(fin_event, 0, false) != NTP_WAIT_TIMEOUT) {
        atomic_fetch_add(&fin_mismatches, 1);
    }
    atomic_fetch_add(&fin_calls, 1);
}

TEST_IMPL(env_finalization_after_callback)
{
    ntp_pool *pool = make_pool(1);
    fin_event = make_event();
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);
    ntp_env_set_finalization(&env, finalization_cb);
    ntp_work *work = NULL;
    ASSERT_OK(ntp_work_create(&work, fin_work_cb, FIN_CTX, &env));

    for (int i = 0; i < 3; i++) {
        ntp_work_submit(work);
    }
    ntp_work_wait(work, false);
    /* Once per callback, and finished before the wait returned (D45). */
    ASSERT_EQ(atomic_load(&runs), 3);
    ASSERT_EQ(atomic_load(&fin_calls), 3);
    ASSERT_EQ(atomic_load(&fin_mismatches), 0);
    ASSERT_STATUS(ntp_wait_for_single(fin_event, 0, false),
                  NTP_WAIT_OBJECT_0);

    ntp_work_close(work);
    ASSERT_OK(ntp_handle_close(fin_event));
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(env_finalization_simple)
{
    ntp_pool *pool = make_pool(1);
    fin_event = make_event();
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);
    ntp_env_set_finalization(&env, finalization_cb);

    /* Simple callbacks get the finalization callback too (C34). */
    ASSERT_OK(ntp_try_submit(fin_simple_cb, FIN_CTX, &env));
    wait_signalled(fin_event);
    ASSERT_EQ(atomic_load(&fin_calls), 1);
    ASSERT_EQ(atomic_load(&fin_mismatches), 0);
    ASSERT_OK(ntp_try_submit(fin_simple_cb, FIN_CTX, &env));
    TEST_WAIT_UNTIL(atomic_load(&fin_calls) == 2, 5000);
    ASSERT_EQ(atomic_load(&fin_mismatches), 0);
    ASSERT_EQ(atomic_load(&runs), 2);

    /* The event may be set before the one-shot object is gone. */
    TEST_WAIT_UNTIL(stats_of(pool).objects == 0, 2000);
    ASSERT_OK(ntp_handle_close(fin_event));
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* The library reference                                                     */
/* ------------------------------------------------------------------------ */

static bool
module_loaded(const char *path)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (h == NULL) {
        return false;
    }
    dlclose(h); /* RTLD_NOLOAD took a reference too */
    return true;
}

static atomic_int module_value;

static void
call_module_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    int (*fn)(void) = (int (*)(void))ctx;
    atomic_store(&module_value, fn());
}

TEST_IMPL(env_library_kept_loaded)
{
    const char *path = TEST_MODULE("testmod");
    ASSERT(!module_loaded(path));
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NOT_NULL(lib);
    void *sym = dlsym(lib, "ntp_testmod_value");
    ASSERT_NOT_NULL(sym);

    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_library(&env, lib);
    ntp_work *work = NULL;
    ASSERT_OK(ntp_work_create(&work, call_module_cb, sym, &env));

    /* Our own reference goes; the object's keeps the module mapped. */
    ASSERT_EQ(dlclose(lib), 0);
    ASSERT(module_loaded(path));
    ntp_work_submit(work);
    ntp_work_wait(work, false);
    ASSERT_EQ(atomic_load(&module_value), 42);
    ASSERT(module_loaded(path));

    /* The reference is dropped when the object is freed. */
    ntp_work_close(work);
    TEST_WAIT_UNTIL(!module_loaded(path), 2000);
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* Persistent callbacks                                                      */
/* ------------------------------------------------------------------------ */

static atomic_long persistent_tids[4];
static atomic_int persistent_runs;

static void
persistent_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    int i = atomic_load(&persistent_runs);
    if (i < 4) {
        atomic_store(&persistent_tids[i], gettid_now());
    }
    atomic_fetch_add(&persistent_runs, 1);
}

TEST_IMPL(env_persistent_same_thread)
{
    ntp_pool *pool = make_pool(4);
    ASSERT_OK(ntp_pool_set_idle_timeout(pool, 50));
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);
    ntp_env_set_persistent(&env);
    ntp_work *work = NULL;
    ASSERT_OK(ntp_work_create(&work, persistent_cb, NULL, &env));

    /* Gaps longer than the idle timeout: an ordinary worker would have
     * retired between the runs; the persistent thread does not. Kernel
     * thread ids, unlike pthread_t values, are not recycled at once. */
    for (int i = 0; i < 4; i++) {
        ntp_work_submit(work);
        ntp_work_wait(work, false);
        ASSERT_EQ(atomic_load(&persistent_runs), i + 1);
        if (i < 3) {
            test_sleep_ms(150);
        }
    }
    long tid = atomic_load(&persistent_tids[0]);
    ASSERT_NE(tid, 0);
    ASSERT_NE(tid, gettid_now());
    for (int i = 1; i < 4; i++) {
        ASSERT_EQ(atomic_load(&persistent_tids[i]), tid);
    }
    ntp_pool_stats st = stats_of(pool);
    ASSERT_EQ(st.persistent_thread, 1);
    ASSERT_EQ(st.threads_retired, 0);

    ntp_work_close(work);
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}
