/*
 * test-errors.c -- status codes and their names, NULL out-parameters, and
 * allocation failures (STYLE 4.3, SPEC 14).
 */
#include "task.h"

#include <limits.h>
#include <stdatomic.h>

/* ------------------------------------------------------------------------ */
/* ntp_strerror / ntp_err_name                                               */
/* ------------------------------------------------------------------------ */

typedef struct known_code {
    int status;
    int errno_value;
    const char *name;
    const char *message;
} known_code;

static const known_code known[] = {
#define XX(name, msg) {NTP_##name, name, #name, msg},
    NTP_ERRNO_MAP(XX)
#undef XX
};
#define N_KNOWN (sizeof known / sizeof known[0])

TEST_IMPL(errors_strerror_every_code)
{
    ASSERT_GE(N_KNOWN, 17); /* the map grows; it never shrinks */
    for (size_t i = 0; i < N_KNOWN; i++) {
        /* Negative errno values, as libuv does. */
        ASSERT_EQ(known[i].status, -known[i].errno_value);
        ASSERT_LT(known[i].status, 0);
        ASSERT_STR_EQ(ntp_strerror(known[i].status), known[i].message);
        ASSERT_STR_EQ(ntp_err_name(known[i].status), known[i].name);
        /* Distinct codes have distinct names. */
        for (size_t j = 0; j < i; j++) {
            ASSERT_NE(known[i].status, known[j].status);
        }
    }
    ASSERT_STR_EQ(ntp_err_name(0), "OK");
    ASSERT_NOT_NULL(ntp_strerror(0));
    for (size_t i = 0; i < N_KNOWN; i++) {
        ASSERT(strcmp(ntp_strerror(0), known[i].message) != 0);
    }
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(errors_unknown_codes)
{
    /* Never NULL, and never mistaken for a known code. */
    static const int unknown[] = {1, 42, -4095, -9999, INT_MIN, INT_MAX};
    for (size_t u = 0; u < sizeof unknown / sizeof unknown[0]; u++) {
        const char *msg = ntp_strerror(unknown[u]);
        const char *name = ntp_err_name(unknown[u]);
        ASSERT_NOT_NULL(msg);
        ASSERT_NOT_NULL(name);
        ASSERT(strcmp(name, "OK") != 0);
        for (size_t i = 0; i < N_KNOWN; i++) {
            ASSERT(strcmp(msg, known[i].message) != 0);
            ASSERT(strcmp(name, known[i].name) != 0);
        }
    }
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* NULL arguments                                                            */
/* ------------------------------------------------------------------------ */

static atomic_int diag_count;

static void
capture_diag(const char *message, void *data)
{
    ASSERT_NOT_NULL(message);
    atomic_fetch_add(&diag_count, 1);
}

static void
noop_work_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
}

static void
noop_simple_cb(ntp_instance *inst, void *ctx)
{
}

TEST_IMPL(errors_null_out_params)
{
    ntp_set_diagnostic_handler(capture_diag, NULL);
    ntp_pool *pool = NULL;
    ASSERT_OK(ntp_pool_create(&pool));
    ntp_handle *ev = NULL;
    ASSERT_OK(ntp_event_create(&ev, true, false));

    /* Constructors without somewhere to put the object. */
    ASSERT_STATUS(ntp_pool_create(NULL), NTP_EINVAL);
    ASSERT_STATUS(ntp_cleanup_group_create(NULL), NTP_EINVAL);
    ASSERT_STATUS(ntp_work_create(NULL, noop_work_cb, NULL, NULL),
                  NTP_EINVAL);
    ASSERT_STATUS(ntp_event_create(NULL, true, false), NTP_EINVAL);
    ASSERT_STATUS(ntp_semaphore_create(NULL, 0, 1), NTP_EINVAL);
    ASSERT_STATUS(ntp_mutex_create(NULL, false), NTP_EINVAL);

    /* Queries without somewhere to put the answer. */
    size_t reserve, commit;
    ntp_pool_stats st;
    ASSERT_STATUS(ntp_pool_stats_get(pool, NULL), NTP_EINVAL);
    ASSERT_STATUS(ntp_pool_get_stack(pool, NULL, &commit), NTP_EINVAL);
    ASSERT_STATUS(ntp_pool_get_stack(pool, &reserve, NULL), NTP_EINVAL);
    ASSERT_STATUS(ntp_handle_get_fd(ev, NULL), NTP_EINVAL);

    /* NULL objects. */
    ASSERT_STATUS(ntp_pool_stats_get(NULL, &st), NTP_EINVAL);
    ASSERT_STATUS(ntp_pool_set_min_threads(NULL, 1), NTP_EINVAL);
    ASSERT_STATUS(ntp_pool_set_stack(NULL, 1, 1), NTP_EINVAL);
    ASSERT_STATUS(ntp_pool_set_idle_timeout(NULL, 10), NTP_EINVAL);
    ASSERT_STATUS(ntp_pool_dump(NULL, 0, stderr), NTP_EINVAL);
    ASSERT_STATUS(ntp_work_set_release(NULL, NULL), NTP_EINVAL);
    ASSERT_STATUS(ntp_try_submit(NULL, NULL, NULL), NTP_EINVAL);
    ASSERT_STATUS(ntp_work_create(&(ntp_work *){NULL}, NULL, NULL, NULL),
                  NTP_EINVAL);
    ASSERT_STATUS(ntp_cleanup_group_close_members(NULL, false, NULL),
                  NTP_EINVAL);
    ASSERT_STATUS(ntp_event_set(NULL), NTP_EINVAL);
    ASSERT_STATUS(ntp_handle_close(NULL), NTP_EINVAL);

    /* Objects of the wrong type are recognised by their tag. */
    ASSERT_STATUS(ntp_pool_stats_get((ntp_pool *)(void *)ev, &st),
                  NTP_EINVAL);
    ASSERT_STATUS(ntp_pool_set_min_threads((ntp_pool *)(void *)ev, 1),
                  NTP_EINVAL);
    ASSERT_STATUS(
        ntp_cleanup_group_close_members((ntp_cleanup_group *)(void *)pool,
                                        false, NULL),
        NTP_EINVAL);
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, (ntp_pool *)(void *)ev);
    ASSERT_STATUS(ntp_work_create(&(ntp_work *){NULL}, noop_work_cb, NULL,
                                  &env),
                  NTP_EINVAL);
    ASSERT_STATUS(ntp_try_submit(noop_simple_cb, NULL, &env), NTP_EINVAL);
    ntp_env_init(&env);
    ntp_env_set_cleanup_group(&env, (ntp_cleanup_group *)(void *)pool,
                              NULL);
    ASSERT_STATUS(ntp_work_create(&(ntp_work *){NULL}, noop_work_cb, NULL,
                                  &env),
                  NTP_EINVAL);

    /* Void calls diagnose instead of crashing. */
    int before = atomic_load(&diag_count);
    ntp_pool_set_max_threads(NULL, 1);
    ASSERT_GE(atomic_load(&diag_count), before + 1);
    ntp_pool_close(NULL);
    ntp_cleanup_group_close(NULL);

    /* None of that created anything. */
    ASSERT_EQ(ntp_debug_live_objects(), 2);
    ASSERT_OK(ntp_handle_close(ev));
    ntp_pool_close(pool);
    ntp_set_diagnostic_handler(NULL, NULL);
    ASSERT_NO_LIVE_OBJECTS();
}

/* ------------------------------------------------------------------------ */
/* Allocation failures                                                       */
/* ------------------------------------------------------------------------ */

/* Fails every allocation after the first `budget`. */
static atomic_long budget;
static atomic_long allocations;

static void *
failing_malloc(size_t size, void *data)
{
    atomic_fetch_add(&allocations, 1);
    if (atomic_fetch_sub(&budget, 1) <= 0) {
        return NULL;
    }
    return malloc(size);
}

static void
plain_free(void *ptr, void *data)
{
    free(ptr);
}

/* Create one of everything that can fail for lack of memory; each either
 * works or reports NTP_ENOMEM, leaving nothing behind. */
static void
create_everything(ntp_pool *pool)
{
    ntp_status st;
    ntp_pool *p = NULL;
    st = ntp_pool_create(&p);
    ASSERT(st == 0 || st == NTP_ENOMEM);
    if (st == 0) {
        ntp_pool_close(p);
    }
    ntp_cleanup_group *g = NULL;
    st = ntp_cleanup_group_create(&g);
    ASSERT(st == 0 || st == NTP_ENOMEM);
    if (st == 0) {
        ntp_cleanup_group_close(g);
    }
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);
    ntp_work *w = NULL;
    st = ntp_work_create(&w, noop_work_cb, NULL, &env);
    ASSERT(st == 0 || st == NTP_ENOMEM);
    if (st == 0) {
        ntp_work_close(w);
    }
    st = ntp_try_submit(noop_simple_cb, NULL, &env);
    ASSERT(st == 0 || st == NTP_ENOMEM);
    ntp_handle *h = NULL;
    st = ntp_event_create(&h, false, false);
    ASSERT(st == 0 || st == NTP_ENOMEM);
    if (st == 0) {
        ASSERT_OK(ntp_handle_close(h));
    }
    st = ntp_semaphore_create(&h, 0, 1);
    ASSERT(st == 0 || st == NTP_ENOMEM);
    if (st == 0) {
        ASSERT_OK(ntp_handle_close(h));
    }
}

TEST_IMPL(errors_enomem)
{
    /* A pool made beforehand, with its worker running, so that the loop
     * exercises the constructors rather than thread start-up. */
    ntp_pool *pool = NULL;
    ASSERT_OK(ntp_pool_create(&pool));
    ASSERT_OK(ntp_pool_set_min_threads(pool, 1));

    ntp_set_allocator(failing_malloc, plain_free, NULL);
    atomic_store(&budget, 0);
    ntp_pool *p = NULL;
    ASSERT_STATUS(ntp_pool_create(&p), NTP_ENOMEM);
    ntp_cleanup_group *g = NULL;
    ASSERT_STATUS(ntp_cleanup_group_create(&g), NTP_ENOMEM);
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);
    ntp_work *w = NULL;
    ASSERT_STATUS(ntp_work_create(&w, noop_work_cb, NULL, &env), NTP_ENOMEM);
    ASSERT_STATUS(ntp_try_submit(noop_simple_cb, NULL, &env), NTP_ENOMEM);
    ntp_handle *h = NULL;
    ASSERT_STATUS(ntp_event_create(&h, false, false), NTP_ENOMEM);
    ASSERT_EQ(ntp_debug_live_objects(), 1);

    /* Fail the first, second, ... allocation of each constructor in
     * turn: no crash, no leak (ASan checks the memory, the live count
     * the objects). */
    for (long n = 0; n < 12; n++) {
        atomic_store(&budget, n);
        create_everything(pool);
        ntp_set_allocator(NULL, NULL, NULL);
        TEST_WAIT_UNTIL(ntp_debug_live_objects() == 1, 5000);
        ntp_set_allocator(failing_malloc, plain_free, NULL);
    }
    ntp_set_allocator(NULL, NULL, NULL);
    ASSERT_GT(atomic_load(&allocations), 0);

    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}
