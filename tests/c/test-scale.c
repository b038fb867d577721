/*
 * test-scale.c -- many posts: exact counts at a million callbacks, posting
 * without allocating, and cancelling a long queue exactly (SPEC 2 "No
 * failure after creation", SPEC 6, STYLE 4.3).
 */
#include "helpers.h"

#include <pthread.h>
#include <stdatomic.h>

/* The plain build always does the full count; sanitizer builds (whose
 * multiplier is above 1) divide it, since they run ~10x slower. */
static long
scaled(long n)
{
    return n / (long)test_timeout_multiplier();
}

static uint64_t
queued_total(ntp_pool *pool)
{
    ntp_pool_stats st = stats_of(pool);
    return st.queued[0] + st.queued[1] + st.queued[2];
}

static atomic_long runs;

static void
count_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    atomic_fetch_add_explicit(&runs, 1, memory_order_relaxed);
}

typedef struct submitter {
    pthread_t thread;
    ntp_work *work;
    long count;
} submitter;

static void *
submitter_main(void *arg)
{
    submitter *s = arg;
    for (long i = 0; i < s->count; i++) {
        ntp_work_submit(s->work);
    }
    return NULL;
}

/* Submit `total` posts of `work` from two threads at once. */
static void
submit_from_two_threads(ntp_work *work, long total)
{
    submitter s[2] = {{.work = work, .count = total / 2},
                      {.work = work, .count = total - total / 2}};
    for (int i = 0; i < 2; i++) {
        ASSERT_EQ(pthread_create(&s[i].thread, NULL, submitter_main, &s[i]),
                  0);
    }
    for (int i = 0; i < 2; i++) {
        ASSERT_EQ(pthread_join(s[i].thread, NULL), 0);
    }
}

TEST_IMPL(scale_million_posts)
{
    long total = scaled(1000000);
    ntp_pool *pool = NULL;
    ASSERT_OK(ntp_pool_create(&pool));
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);
    ntp_work *work = NULL;
    ASSERT_OK(ntp_work_create(&work, count_cb, NULL, &env));

    /* Every post is one callback, none lost or doubled under contention
     * between two submitters and the workers. */
    uint64_t t0 = test_now_ms();
    submit_from_two_threads(work, total);
    ntp_work_wait(work, false);
    uint64_t elapsed = test_now_ms() - t0;
    ASSERT_EQ(atomic_load(&runs), total);
    TEST_WAIT_UNTIL(stats_of(pool).callbacks_run == (uint64_t)total, 2000);
    fprintf(stderr, "%ld posts ran in %" PRIu64 " ms\n", total, elapsed);

    ntp_work_close(work);
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}

/* Counts every allocation ntpool makes, and forwards it. */
static atomic_long allocs;
static atomic_long frees;

static void *
counting_malloc(size_t size, void *data)
{
    atomic_fetch_add(&allocs, 1);
    return malloc(size);
}

static void
counting_free(void *ptr, void *data)
{
    atomic_fetch_add(&frees, 1);
    free(ptr);
}

TEST_IMPL(scale_submit_never_allocates)
{
    long total = scaled(100000);
    ntp_pool *pool = NULL;
    ASSERT_OK(ntp_pool_create(&pool));
    /* Workers started up front (min = max), so the measured part is the
     * posting, the callbacks and the wait. */
    ASSERT_OK(ntp_pool_set_min_threads(pool, 2));
    ntp_pool_set_max_threads(pool, 2);
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);
    ntp_work *work = NULL;
    ASSERT_OK(ntp_work_create(&work, count_cb, NULL, &env));

    ntp_set_allocator(counting_malloc, counting_free, NULL);
    for (long i = 0; i < total; i++) {
        ntp_work_submit(work);
    }
    ntp_work_wait(work, false);
    /* A second burst after the first has drained, from two threads. */
    submit_from_two_threads(work, total);
    ntp_work_wait(work, true);
    ntp_work_wait(work, false);
    long allocations = atomic_load(&allocs);
    long releases = atomic_load(&frees);
    ntp_set_allocator(NULL, NULL, NULL);

    /* Submit and wait cannot fail, so they must not allocate (STYLE
     * 4.3): the bookkeeping lives in the object and on the stacks. */
    ASSERT_EQ(allocations, 0);
    ASSERT_EQ(releases, 0);
    ASSERT_GE(atomic_load(&runs), total);

    ntp_work_close(work);
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}

/* The first run blocks the pool's only worker until released. */
static ntp_handle *first_started;
static ntp_handle *first_release;

static void
first_blocks_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    if (atomic_fetch_add(&runs, 1) == 0) {
        ASSERT_OK(ntp_event_set(first_started));
        ASSERT_STATUS(ntp_wait_for_single(first_release, LONG_WAIT_MS,
                                          false),
                      NTP_WAIT_OBJECT_0);
    }
}

typedef struct opener {
    pthread_t thread;
    ntp_pool *pool;
} opener;

/* Release the blocked run once the cancelling wait emptied the queue. */
static void *
opener_main(void *arg)
{
    opener *o = arg;
    uint64_t end = test_now_ms() + LONG_WAIT_MS;
    while (queued_total(o->pool) > 0 && test_now_ms() < end) {
        test_sleep_ms(1);
    }
    ASSERT_OK(ntp_event_set(first_release));
    return NULL;
}

TEST_IMPL(scale_cancel_drops_exact)
{
    long total = scaled(200000);
    ntp_pool *pool = NULL;
    ASSERT_OK(ntp_pool_create(&pool));
    ntp_pool_set_max_threads(pool, 1);
    ASSERT_OK(ntp_event_create(&first_started, true, false));
    ASSERT_OK(ntp_event_create(&first_release, true, false));
    ntp_env env;
    ntp_env_init(&env);
    ntp_env_set_pool(&env, pool);
    ntp_work *work = NULL;
    ASSERT_OK(ntp_work_create(&work, first_blocks_cb, NULL, &env));

    ntp_work_submit(work);
    ASSERT_STATUS(ntp_wait_for_single(first_started, LONG_WAIT_MS, false),
                  NTP_WAIT_OBJECT_0);
    /* The single worker is blocked, so every further post stays queued
     * and the number dropped is known exactly. */
    submit_from_two_threads(work, total);
    ASSERT_EQ(queued_total(pool), (uint64_t)total);

    opener o = {.pool = pool};
    ASSERT_EQ(pthread_create(&o.thread, NULL, opener_main, &o), 0);
    ntp_work_wait(work, true);
    ASSERT_EQ(pthread_join(o.thread, NULL), 0);
    /* submitted = ran + dropped: 1 + total = 1 + total. */
    ASSERT_EQ(atomic_load(&runs), 1);
    ASSERT_EQ(queued_total(pool), 0);

    /* Still exact afterwards: the object's count was reset, not left
     * owing dropped posts. */
    submit_from_two_threads(work, 1000);
    ntp_work_wait(work, false);
    ASSERT_EQ(atomic_load(&runs), 1001);
    test_sleep_ms(20);
    ASSERT_EQ(atomic_load(&runs), 1001);

    ntp_work_close(work);
    ASSERT_OK(ntp_handle_close(first_started));
    ASSERT_OK(ntp_handle_close(first_release));
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}
