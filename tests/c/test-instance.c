/*
 * test-instance.c -- callback instances: the completion actions, their
 * order, may_run_long, disassociate and the thread rules (SPEC 10,
 * CONFORMANCE D36-D46, E47-E51, F52-F55).
 */
#include "helpers.h"

#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

static bool
is_signalled(ntp_handle *h)
{
    return ntp_wait_for_single(h, 0, false) == NTP_WAIT_OBJECT_0;
}

static ntp_work *
make_work(ntp_work_cb cb, void *ctx, ntp_pool *pool)
{
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);
    ntp_work *work = NULL;
    ASSERT_OK(ntp_work_create(&work, cb, ctx, &env));
    return work;
}

/* Submit once, wait, close: the common shape of the action tests. */
static void
run_once(ntp_work_cb cb, void *ctx, ntp_pool *pool)
{
    ntp_work *work = make_work(cb, ctx, pool);
    ntp_work_submit(work);
    ntp_work_wait(work, false);
    ntp_work_close(work);
}

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

static atomic_int diag_count;

static void
capture_diag(const char *message, void *data)
{
    atomic_fetch_add(&diag_count, 1);
}

/* Shared by the action tests; each test sets what it uses. */
static ntp_handle *ev1, *ev2, *sem1, *sem2, *mtx1, *mtx2;
static ntp_cs cs1, cs2;
static atomic_int failures;
static atomic_int runs;

static void
check(bool ok)
{
    if (!ok) {
        atomic_fetch_add(&failures, 1);
    }
}

/* ------------------------------------------------------------------------ */
/* Completion actions                                                        */
/* ------------------------------------------------------------------------ */

static void
set_event_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    check(ntp_instance_set_event_on_return(inst, ev1) == 0);
    /* Requested, but not performed while the callback runs (D36). */
    test_sleep_ms(20);
    check(!is_signalled(ev1));
    atomic_fetch_add(&runs, 1);
}

TEST_IMPL(instance_set_event_on_return)
{
    ev1 = make_event();
    run_once(set_event_cb, NULL, NULL);
    /* Done before the wait returned. */
    ASSERT(is_signalled(ev1));
    ASSERT_EQ(atomic_load(&runs), 1);
    ASSERT_EQ(atomic_load(&failures), 0);
    ASSERT_OK(ntp_handle_close(ev1));
    ASSERT_NO_LIVE_OBJECTS();
}

static void
release_sem_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    check(ntp_instance_release_semaphore_on_return(inst, sem1, 3) == 0);
    check(ntp_wait_for_single(sem1, 0, false) == NTP_WAIT_TIMEOUT);
}

TEST_IMPL(instance_release_semaphore_on_return)
{
    ASSERT_OK(ntp_semaphore_create(&sem1, 0, 10));
    run_once(release_sem_cb, NULL, NULL);
    /* Released by 3: exactly 3 takes succeed, the 4th times out (D37). */
    for (int i = 0; i < 3; i++) {
        ASSERT_STATUS(ntp_wait_for_single(sem1, 0, false),
                      NTP_WAIT_OBJECT_0);
    }
    ASSERT_STATUS(ntp_wait_for_single(sem1, 0, false), NTP_WAIT_TIMEOUT);
    ASSERT_EQ(atomic_load(&failures), 0);
    ASSERT_OK(ntp_handle_close(sem1));
    ASSERT_NO_LIVE_OBJECTS();
}

static void
release_mutex_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    /* Acquire on the worker; the worker releases it after return. */
    check(ntp_wait_for_single(mtx1, 0, false) == NTP_WAIT_OBJECT_0);
    check(ntp_instance_release_mutex_on_return(inst, mtx1) == 0);
}

TEST_IMPL(instance_release_mutex_on_return)
{
    ASSERT_OK(ntp_mutex_create(&mtx1, false));
    ntp_pool *pool = make_pool(1);
    run_once(release_mutex_cb, NULL, pool);
    /* Another thread takes it cleanly: released, not abandoned (D38),
     * although the worker thread is still alive and idle. */
    ASSERT_STATUS(ntp_wait_for_single(mtx1, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_OK(ntp_mutex_release(mtx1));
    ASSERT_EQ(atomic_load(&failures), 0);
    ASSERT_OK(ntp_handle_close(mtx1));
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}

static void
leave_cs_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    ntp_cs_enter(&cs1);
    check(ntp_instance_leave_cs_on_return(inst, &cs1) == 0);
}

TEST_IMPL(instance_leave_cs_on_return)
{
    ntp_cs_init(&cs1);
    run_once(leave_cs_cb, NULL, NULL);
    /* Left by the worker after return (D39): free for this thread. */
    ASSERT(ntp_cs_try_enter(&cs1));
    ASSERT_OK(ntp_cs_leave(&cs1));
    ASSERT_EQ(atomic_load(&failures), 0);
    ntp_cs_destroy(&cs1);
    ASSERT_NO_LIVE_OBJECTS();
}

static atomic_int module_value;

static void
free_library_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    const char *path = ctx;
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    check(lib != NULL);
    if (lib == NULL) {
        return;
    }
    int (*fn)(void) = (int (*)(void))dlsym(lib, "ntp_testmod_value");
    check(fn != NULL);
    if (fn != NULL) {
        atomic_store(&module_value, fn());
    }
    check(ntp_instance_free_library_on_return(inst, lib) == 0);
    check(module_loaded(path));
}

TEST_IMPL(instance_free_library_on_return)
{
    const char *path = TEST_MODULE("testmod");
    ASSERT(!module_loaded(path));
    run_once(free_library_cb, (void *)path, NULL);
    /* The callback's load was the only one: dlclose'd after return, so
     * the module is gone by the time the wait returns (D40). */
    ASSERT_EQ(atomic_load(&module_value), 42);
    ASSERT(!module_loaded(path));
    ASSERT_EQ(atomic_load(&failures), 0);
    ASSERT_NO_LIVE_OBJECTS();
}

static void
all_actions_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    const char *path = ctx;
    check(ntp_wait_for_single(mtx1, 0, false) == NTP_WAIT_OBJECT_0);
    ntp_cs_enter(&cs1);
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    check(lib != NULL);
    check(ntp_instance_set_event_on_return(inst, ev1) == 0);
    check(ntp_instance_release_semaphore_on_return(inst, sem1, 2) == 0);
    check(ntp_instance_release_mutex_on_return(inst, mtx1) == 0);
    check(ntp_instance_leave_cs_on_return(inst, &cs1) == 0);
    check(ntp_instance_free_library_on_return(inst, lib) == 0);
}

TEST_IMPL(instance_all_actions_combined)
{
    const char *path = TEST_MODULE("testmod");
    ev1 = make_event();
    ASSERT_OK(ntp_semaphore_create(&sem1, 0, 10));
    ASSERT_OK(ntp_mutex_create(&mtx1, false));
    ntp_cs_init(&cs1);

    /* One of each kind in one callback: all take effect (D41). */
    run_once(all_actions_cb, (void *)path, NULL);
    ASSERT_EQ(atomic_load(&failures), 0);
    ASSERT(is_signalled(ev1));
    ASSERT_STATUS(ntp_wait_for_single(sem1, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_STATUS(ntp_wait_for_single(sem1, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_STATUS(ntp_wait_for_single(sem1, 0, false), NTP_WAIT_TIMEOUT);
    ASSERT_STATUS(ntp_wait_for_single(mtx1, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_OK(ntp_mutex_release(mtx1));
    ASSERT(ntp_cs_try_enter(&cs1));
    ASSERT_OK(ntp_cs_leave(&cs1));
    ASSERT(!module_loaded(path));

    ntp_cs_destroy(&cs1);
    ASSERT_OK(ntp_handle_close(ev1));
    ASSERT_OK(ntp_handle_close(sem1));
    ASSERT_OK(ntp_handle_close(mtx1));
    ASSERT_NO_LIVE_OBJECTS();
}

static void
second_request_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    /* One action per kind: the second request is refused and the first
     * one kept (D43, SPEC 10). */
    check(ntp_instance_set_event_on_return(inst, ev1) == 0);
    check(ntp_instance_set_event_on_return(inst, ev2) == NTP_EEXIST);
    check(ntp_instance_set_event_on_return(inst, ev1) == NTP_EEXIST);

    check(ntp_instance_release_semaphore_on_return(inst, sem1, 1) == 0);
    check(ntp_instance_release_semaphore_on_return(inst, sem2, 1)
          == NTP_EEXIST);
    check(ntp_instance_release_semaphore_on_return(inst, sem1, 5)
          == NTP_EEXIST);

    check(ntp_wait_for_single(mtx1, 0, false) == NTP_WAIT_OBJECT_0);
    check(ntp_wait_for_single(mtx2, 0, false) == NTP_WAIT_OBJECT_0);
    check(ntp_instance_release_mutex_on_return(inst, mtx1) == 0);
    check(ntp_instance_release_mutex_on_return(inst, mtx2) == NTP_EEXIST);
    /* mtx2 stays ours: release it by hand. */
    check(ntp_mutex_release(mtx2) == 0);

    ntp_cs_enter(&cs1);
    check(ntp_instance_leave_cs_on_return(inst, &cs1) == 0);
    check(ntp_instance_leave_cs_on_return(inst, &cs2) == NTP_EEXIST);
}

TEST_IMPL(instance_second_action_eexist)
{
    ntp_set_diagnostic_handler(capture_diag, NULL);
    ev1 = make_event();
    ev2 = make_event();
    ASSERT_OK(ntp_semaphore_create(&sem1, 0, 10));
    ASSERT_OK(ntp_semaphore_create(&sem2, 0, 10));
    ASSERT_OK(ntp_mutex_create(&mtx1, false));
    ASSERT_OK(ntp_mutex_create(&mtx2, false));
    ntp_cs_init(&cs1);
    ntp_cs_init(&cs2);

    run_once(second_request_cb, NULL, NULL);
    ASSERT_EQ(atomic_load(&failures), 0);
    /* The first of each kind took effect... */
    ASSERT(is_signalled(ev1));
    ASSERT_STATUS(ntp_wait_for_single(sem1, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_STATUS(ntp_wait_for_single(sem1, 0, false), NTP_WAIT_TIMEOUT);
    ASSERT_STATUS(ntp_wait_for_single(mtx1, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_OK(ntp_mutex_release(mtx1));
    ASSERT(ntp_cs_try_enter(&cs1));
    ASSERT_OK(ntp_cs_leave(&cs1));
    /* ...the refused ones did not. */
    ASSERT(!is_signalled(ev2));
    ASSERT_STATUS(ntp_wait_for_single(sem2, 0, false), NTP_WAIT_TIMEOUT);

    ntp_cs_destroy(&cs1);
    ntp_cs_destroy(&cs2);
    ntp_handle *all[] = {ev1, ev2, sem1, sem2, mtx1, mtx2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        ASSERT_OK(ntp_handle_close(all[i]));
    }
    ntp_set_diagnostic_handler(NULL, NULL);
    ASSERT_NO_LIVE_OBJECTS();
}

/* Order: the finalization callback sees none of the actions done. */
static atomic_int fin_calls;

static void
order_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    const char *path = ctx;
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    check(lib != NULL);
    check(ntp_instance_set_event_on_return(inst, ev1) == 0);
    check(ntp_instance_release_semaphore_on_return(inst, sem1, 1) == 0);
    check(ntp_instance_free_library_on_return(inst, lib) == 0);
}

static void
order_finalization_cb(ntp_instance *inst, void *ctx)
{
    check(!is_signalled(ev1));
    check(ntp_wait_for_single(sem1, 0, false) == NTP_WAIT_TIMEOUT);
    check(module_loaded((const char *)ctx));
    atomic_fetch_add(&fin_calls, 1);
}

TEST_IMPL(instance_finalization_before_actions)
{
    const char *path = TEST_MODULE("testmod");
    ev1 = make_event();
    ASSERT_OK(ntp_semaphore_create(&sem1, 0, 10));
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_finalization(&env, order_finalization_cb);
    ntp_work *work = NULL;
    ASSERT_OK(ntp_work_create(&work, order_cb, (void *)path, &env));
    ntp_work_submit(work);
    ntp_work_wait(work, false);
    /* Finalization first (D44), then the actions, all before the wait
     * returned (D45). */
    ASSERT_EQ(atomic_load(&fin_calls), 1);
    ASSERT_EQ(atomic_load(&failures), 0);
    ASSERT(is_signalled(ev1));
    ASSERT_STATUS(ntp_wait_for_single(sem1, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT(!module_loaded(path));
    ntp_work_close(work);
    ASSERT_OK(ntp_handle_close(ev1));
    ASSERT_OK(ntp_handle_close(sem1));
    ASSERT_NO_LIVE_OBJECTS();
}

static void
per_run_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    /* Only the first run asks; actions belong to one run (D42). */
    if (atomic_fetch_add(&runs, 1) == 0) {
        check(ntp_instance_release_semaphore_on_return(inst, sem1, 1) == 0);
    }
}

TEST_IMPL(instance_actions_per_run)
{
    ASSERT_OK(ntp_semaphore_create(&sem1, 0, 10));
    ntp_pool *pool = make_pool(1);
    ntp_work *work = make_work(per_run_cb, NULL, pool);
    for (int i = 0; i < 4; i++) {
        ntp_work_submit(work);
    }
    ntp_work_wait(work, false);
    ASSERT_EQ(atomic_load(&runs), 4);
    ASSERT_STATUS(ntp_wait_for_single(sem1, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_STATUS(ntp_wait_for_single(sem1, 0, false), NTP_WAIT_TIMEOUT);
    ASSERT_EQ(atomic_load(&failures), 0);
    ntp_work_close(work);
    ntp_pool_close(pool);
    ASSERT_OK(ntp_handle_close(sem1));
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* may_run_long                                                              */
/* ------------------------------------------------------------------------ */

static ntp_pool *cb_pool;
static atomic_int first_result = -1;
static atomic_int long_running_after_two = -1;

static void
may_run_long_full_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    atomic_store(&first_result, ntp_instance_may_run_long(inst));
    /* Marking twice: harmless, and still counted once. */
    (void)ntp_instance_may_run_long(inst);
    atomic_store(&long_running_after_two,
                 (int)stats_of(cb_pool).long_running);
    atomic_fetch_add(&runs, 1);
}

TEST_IMPL(instance_may_run_long_full_pool)
{
    /* Max 1, called from the one running callback: no thread can be had
     * (E47); the callback keeps running and is marked anyway (E49). */
    cb_pool = make_pool(1);
    run_once(may_run_long_full_cb, NULL, cb_pool);
    ASSERT_EQ(atomic_load(&runs), 1);
    ASSERT_EQ(atomic_load(&first_result), 0);
    ASSERT_EQ(atomic_load(&long_running_after_two), 1);
    TEST_WAIT_UNTIL(stats_of(cb_pool).long_running == 0, 2000);
    ntp_pool_close(cb_pool);
    ASSERT_NO_LIVE_OBJECTS();
}

/*
 * Growable pool: `spinners` callbacks plus the long one fill every
 * runnable slot of the pool (one per CPU), busy outside ntpool, so a
 * queued callback gets a thread only through may_run_long (or, 50 ms
 * later, the starvation check).
 */
static atomic_int spinners_in;
static atomic_bool stop_spinning;
static atomic_bool other_ran;
static atomic_bool go_long;
static atomic_int long_result = -1;
static atomic_int other_ran_while_inside = -1;

static void
spin_until(atomic_bool *flag)
{
    uint64_t end = test_now_ms() + LONG_WAIT_MS;
    while (!atomic_load(flag) && test_now_ms() < end) {
        test_sleep_ms(1);
    }
}

static void
spinner_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    atomic_fetch_add(&spinners_in, 1);
    spin_until(&stop_spinning);
}

static void
long_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    atomic_fetch_add(&spinners_in, 1);
    spin_until(&go_long);
    atomic_store(&long_result, ntp_instance_may_run_long(inst));
    /* Still inside: the other callback must get a thread now. */
    spin_until(&other_ran);
    atomic_store(&other_ran_while_inside, atomic_load(&other_ran));
}

static void
other_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    atomic_store(&other_ran, true);
}

TEST_IMPL(instance_may_run_long_growable)
{
    ntp_pool *pool = make_pool(NTP_DEFAULT_MAX_THREADS);
    ntp_work *spinner = make_work(spinner_cb, NULL, pool);
    ntp_work *longw = make_work(long_cb, NULL, pool);
    ntp_work *other = make_work(other_cb, NULL, pool);

    /* The pool's CPU target is the affinity mask's size. */
    long ncpu = 1;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        ncpu = CPU_COUNT(&set);
    }
    ntp_work_submit(longw);
    for (long i = 1; i < ncpu; i++) {
        ntp_work_submit(spinner);
    }
    TEST_WAIT_UNTIL(atomic_load(&spinners_in) == ncpu, 5000);
    ntp_work_submit(other);

    /* It returns true and at once provides a thread (E48). */
    atomic_store(&go_long, true);
    ntp_work_wait(longw, false);
    ASSERT_EQ(atomic_load(&long_result), 1);
    ASSERT_EQ(atomic_load(&other_ran_while_inside), 1);
    /* The thread came from may_run_long, not from the starvation check
     * 50 ms later (too tight a margin to hold under sanitizers). */
    if (test_timeout_multiplier() == 1) {
        ASSERT_EQ(stats_of(pool).starvation_adds, 0);
    }

    atomic_store(&stop_spinning, true);
    ntp_work_wait(spinner, false);
    ntp_work_wait(other, false);
    ntp_work_close(spinner);
    ntp_work_close(longw);
    ntp_work_close(other);
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* Disassociate                                                              */
/* ------------------------------------------------------------------------ */

static atomic_bool disassoc_done;

static void
disassociate_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    check(ntp_instance_set_event_on_return(inst, ev1) == 0);
    ntp_instance_disassociate(inst);
    ntp_instance_disassociate(inst); /* twice is harmless (F55) */
    /* The object stays usable here. */
    check(ntp_work_context(work) == ctx);
    check(ntp_wait_for_single(ev2, LONG_WAIT_MS, false)
          == NTP_WAIT_OBJECT_0);
    atomic_store(&disassoc_done, true);
}

TEST_IMPL(instance_disassociate)
{
    ev1 = make_event(); /* set on return */
    ev2 = make_event(); /* lets the callback finish */
    int ctx;
    ntp_work *work = make_work(disassociate_cb, &ctx, NULL);
    ntp_work_submit(work);

    /* Returns while the callback still runs (F52)... */
    ntp_work_wait(work, false);
    ASSERT(!atomic_load(&disassoc_done));
    ASSERT(!is_signalled(ev1));

    /* ...which finishes normally, and its action still runs (F55). */
    ASSERT_OK(ntp_event_set(ev2));
    wait_signalled(ev1);
    ASSERT(atomic_load(&disassoc_done));
    ASSERT_EQ(atomic_load(&failures), 0);

    ntp_work_close(work);
    /* The close must outlive the disassociated callback's last use. */
    TEST_WAIT_UNTIL(ntp_debug_live_objects() == 2, 5000);
    ASSERT_OK(ntp_handle_close(ev1));
    ASSERT_OK(ntp_handle_close(ev2));
    ASSERT_NO_LIVE_OBJECTS();
}

static atomic_int group_cb_done;

static void
disassociate_slow_work_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    ntp_instance_disassociate(inst);
    test_sleep_ms(100);
    atomic_fetch_add(&group_cb_done, 1);
}

static void
disassociate_slow_simple_cb(ntp_instance *inst, void *ctx)
{
    disassociate_slow_work_cb(inst, ctx, NULL);
}

TEST_IMPL(instance_disassociate_group_waits)
{
    ntp_cleanup_group *group = NULL;
    ASSERT_OK(ntp_cleanup_group_create(&group));
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_cleanup_group(&env, group, NULL);
    ntp_work *work = NULL;
    ASSERT_OK(ntp_work_create(&work, disassociate_slow_work_cb, NULL, &env));
    ntp_work_submit(work);
    ASSERT_OK(ntp_try_submit(disassociate_slow_simple_cb, NULL, &env));

    /* The group still waits for disassociated callbacks, of work objects
     * and of simple callbacks alike (F54). */
    ASSERT_OK(ntp_cleanup_group_close_members(group, false, NULL));
    ASSERT_EQ(atomic_load(&group_cb_done), 2);
    ntp_cleanup_group_close(group);
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* Thread rules and ntp_instance_current                                     */
/* ------------------------------------------------------------------------ */

static _Atomic(ntp_instance *) shared_inst;
static _Atomic(ntp_instance *) current_inside;

static void
hold_instance_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    atomic_store(&current_inside, ntp_instance_current());
    atomic_store(&shared_inst, inst);
    check(ntp_event_set(ev1) == 0);
    check(ntp_wait_for_single(ev2, LONG_WAIT_MS, false)
          == NTP_WAIT_OBJECT_0);
}

TEST_IMPL(instance_foreign_thread_refused)
{
    ntp_set_diagnostic_handler(capture_diag, NULL);
    ev1 = make_event();
    ev2 = make_event();
    ASSERT_OK(ntp_semaphore_create(&sem1, 0, 10));
    ASSERT_OK(ntp_mutex_create(&mtx1, false));
    ntp_cs_init(&cs1);
    ntp_work *work = make_work(hold_instance_cb, NULL, NULL);
    ntp_work_submit(work);
    wait_signalled(ev1);
    ntp_instance *inst = atomic_load(&shared_inst);
    ASSERT_NOT_NULL(inst);

    /* The instance is alive, but this is not its thread (SPEC 10). */
    ASSERT_STATUS(ntp_instance_set_event_on_return(inst, ev2), NTP_EINVAL);
    ASSERT_STATUS(ntp_instance_release_semaphore_on_return(inst, sem1, 1),
                  NTP_EINVAL);
    ASSERT_STATUS(ntp_instance_release_mutex_on_return(inst, mtx1),
                  NTP_EINVAL);
    ASSERT_STATUS(ntp_instance_leave_cs_on_return(inst, &cs1), NTP_EINVAL);
    ASSERT_STATUS(ntp_instance_free_library_on_return(inst, NULL),
                  NTP_EINVAL);
    ASSERT(!ntp_instance_may_run_long(inst)); /* refused, as Wine (E51) */
    int before = atomic_load(&diag_count);
    ntp_instance_disassociate(inst);
    ASSERT_GE(atomic_load(&diag_count), before + 1);
    ASSERT_NULL(ntp_instance_current());

    /* Let the callback finish. */
    ASSERT_OK(ntp_event_set(ev2));
    ntp_work_wait(work, false);
    ASSERT_PTR_EQ(atomic_load(&current_inside), inst);
    /* Nothing was registered from here: the semaphore stays at 0. */
    ASSERT_STATUS(ntp_wait_for_single(sem1, 0, false), NTP_WAIT_TIMEOUT);
    ASSERT_EQ(atomic_load(&failures), 0);

    ntp_work_close(work);
    ntp_cs_destroy(&cs1);
    ASSERT_OK(ntp_handle_close(ev1));
    ASSERT_OK(ntp_handle_close(ev2));
    ASSERT_OK(ntp_handle_close(sem1));
    ASSERT_OK(ntp_handle_close(mtx1));
    ntp_set_diagnostic_handler(NULL, NULL);
    ASSERT_NO_LIVE_OBJECTS();
}

static _Atomic(ntp_instance *) param_inst;

static void
current_work_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    atomic_store(&param_inst, inst);
    atomic_store(&current_inside, ntp_instance_current());
}

static void
current_simple_cb(ntp_instance *inst, void *ctx)
{
    check(ntp_instance_current() == inst);
    check(inst != NULL);
    atomic_fetch_add(&runs, 1);
}

TEST_IMPL(instance_current)
{
    ASSERT_NULL(ntp_instance_current());
    ntp_work *work = make_work(current_work_cb, NULL, NULL);
    ntp_work_submit(work);
    ntp_work_wait(work, false);
    ASSERT_NOT_NULL(atomic_load(&param_inst));
    ASSERT_PTR_EQ(atomic_load(&current_inside), atomic_load(&param_inst));
    ASSERT_NULL(ntp_instance_current());
    ntp_work_close(work);

    ASSERT_OK(ntp_try_submit(current_simple_cb, NULL, NULL));
    TEST_WAIT_UNTIL(atomic_load(&runs) == 1, 5000);
    ASSERT_EQ(atomic_load(&failures), 0);
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(instance_null_refused)
{
    ntp_set_diagnostic_handler(capture_diag, NULL);
    ev1 = make_event();
    ntp_cs_init(&cs1);
    ASSERT_STATUS(ntp_instance_set_event_on_return(NULL, ev1), NTP_EINVAL);
    ASSERT_STATUS(ntp_instance_release_semaphore_on_return(NULL, ev1, 1),
                  NTP_EINVAL);
    ASSERT_STATUS(ntp_instance_release_mutex_on_return(NULL, ev1),
                  NTP_EINVAL);
    ASSERT_STATUS(ntp_instance_leave_cs_on_return(NULL, &cs1), NTP_EINVAL);
    ASSERT_STATUS(ntp_instance_free_library_on_return(NULL, NULL),
                  NTP_EINVAL);
    ASSERT(!ntp_instance_may_run_long(NULL));
    int before = atomic_load(&diag_count);
    ntp_instance_disassociate(NULL);
    ASSERT_GE(atomic_load(&diag_count), before + 1);
    ntp_cs_destroy(&cs1);
    ASSERT_OK(ntp_handle_close(ev1));
    ntp_set_diagnostic_handler(NULL, NULL);
    ASSERT_NO_LIVE_OBJECTS();
}

static void
null_args_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    /* A valid instance with NULL or zero arguments is refused, and the
     * refusals do not use up the one action of each kind. */
    check(ntp_instance_set_event_on_return(inst, NULL) == NTP_EINVAL);
    check(ntp_instance_release_semaphore_on_return(inst, NULL, 1)
          == NTP_EINVAL);
    check(ntp_instance_release_mutex_on_return(inst, NULL) == NTP_EINVAL);
    check(ntp_instance_leave_cs_on_return(inst, NULL) == NTP_EINVAL);
    check(ntp_instance_free_library_on_return(inst, NULL) == NTP_EINVAL);
    check(ntp_instance_set_event_on_return(inst, ev1) == 0);
    check(ntp_instance_release_semaphore_on_return(inst, sem1, 1) == 0);
}

TEST_IMPL(instance_null_arguments_refused)
{
    ev1 = make_event();
    ASSERT_OK(ntp_semaphore_create(&sem1, 0, 10));
    run_once(null_args_cb, NULL, NULL);
    ASSERT_EQ(atomic_load(&failures), 0);
    ASSERT(is_signalled(ev1));
    ASSERT_STATUS(ntp_wait_for_single(sem1, 0, false), NTP_WAIT_OBJECT_0);
    ASSERT_OK(ntp_handle_close(ev1));
    ASSERT_OK(ntp_handle_close(sem1));
    ASSERT_NO_LIVE_OBJECTS();
}
