/*
 * test-cleanup.c -- cleanup groups: releasing members with and without
 * cancelling, the cancel callback's contract, members closed by the
 * application, reuse and misuse (SPEC 4, CONFORMANCE G56-G65).
 */
#include "helpers.h"

#include <pthread.h>
#include <stdatomic.h>

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

static uint64_t
queued_total(ntp_pool *pool)
{
    ntp_pool_stats st;
    ASSERT_OK(ntp_pool_stats_get(pool, &st));
    return st.queued[0] + st.queued[1] + st.queued[2];
}

static ntp_cleanup_group *
make_group(void)
{
    ntp_cleanup_group *group = NULL;
    ASSERT_OK(ntp_cleanup_group_create(&group));
    ASSERT_NOT_NULL(group);
    return group;
}

static void
member_env(ntp_env *env, ntp_pool *pool, ntp_cleanup_group *group,
           ntp_cleanup_cancel_cb cancel_cb)
{
    ntp_env_init(env);
    ntp_env_set_pool(env, pool);
    ntp_env_set_cleanup_group(env, group, cancel_cb);
}

static atomic_int diag_count;

static void
capture_diag(const char *message, void *data)
{
    atomic_fetch_add(&diag_count, 1);
}

/* Sets `event` once the pool's queue is down to `queued` posts: the moment
 * a cancelling close_members has dropped them. */
typedef struct opener {
    pthread_t thread;
    ntp_pool *pool;
    uint64_t queued;
    ntp_handle *event;
} opener;

static void *
opener_main(void *arg)
{
    opener *o = arg;
    uint64_t end = test_now_ms() + LONG_WAIT_MS;
    while (queued_total(o->pool) > o->queued && test_now_ms() < end) {
        test_sleep_ms(1);
    }
    ASSERT_OK(ntp_event_set(o->event));
    return NULL;
}

static void
opener_start(opener *o, ntp_pool *pool, uint64_t queued, ntp_handle *ev)
{
    o->pool = pool;
    o->queued = queued;
    o->event = ev;
    ASSERT_EQ(pthread_create(&o->thread, NULL, opener_main, o), 0);
}

static void
opener_join(opener *o)
{
    ASSERT_EQ(pthread_join(o->thread, NULL), 0);
}

/*
 * Every object of these tests has a `member` as its ctx: counts of its
 * runs, cancel calls and releases, so a test can check each exactly.
 */
typedef struct member {
    ntp_work *work;
    atomic_int runs;
    atomic_int cancels;
    atomic_int releases;
    atomic_bool callback_returned;
    atomic_bool returned_before_cancel;
    atomic_int bad_cancel;
} member;

static pthread_t main_thread;
static void *const CLEANUP_CTX = (void *)0xc1ea;

static void
count_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    member *m = ctx;
    atomic_fetch_add(&m->runs, 1);
}

static void
slow_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    member *m = ctx;
    test_sleep_ms(20);
    atomic_fetch_add(&m->runs, 1);
}

static void
member_cancel_cb(void *object_ctx, void *cleanup_ctx)
{
    member *m = object_ctx;
    /* With the cleanup ctx, on the calling thread, after the member's
     * running callback returned (G59-G61). */
    if (cleanup_ctx != CLEANUP_CTX
        || !pthread_equal(pthread_self(), main_thread)) {
        atomic_fetch_add(&m->bad_cancel, 1);
    }
    if (atomic_load(&m->callback_returned)) {
        atomic_store(&m->returned_before_cancel, true);
    }
    atomic_fetch_add(&m->cancels, 1);
}

static void
member_release_cb(void *ctx)
{
    member *m = ctx;
    atomic_fetch_add(&m->releases, 1);
}

static void
member_create(member *m, ntp_work_cb cb, const ntp_env *env)
{
    ASSERT_OK(ntp_work_create(&m->work, cb, m, env));
    ASSERT_OK(ntp_work_set_release(m->work, member_release_cb));
}

/* The blocking callback: signals `started`, waits for `release`. */
static ntp_handle *started;
static ntp_handle *release;

static void
blocking_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    member *m = ctx;
    atomic_fetch_add(&m->runs, 1);
    ASSERT_OK(ntp_event_set(started));
    wait_signalled(release);
    atomic_store(&m->callback_returned, true); /* just before returning */
}

/* ------------------------------------------------------------------------ */
/* close_members without cancelling                                          */
/* ------------------------------------------------------------------------ */

TEST_IMPL(cleanup_close_members_waits)
{
    main_thread = pthread_self();
    ntp_pool *pool = make_pool(2);
    ntp_cleanup_group *group = make_group();
    ntp_env env;
    member_env(&env, pool, group, member_cancel_cb);
    member a = {0}, b = {0};
    member_create(&a, slow_cb, &env);
    member_create(&b, slow_cb, &env);
    ASSERT_EQ(ntp_debug_live_objects(), 4);

    for (int i = 0; i < 3; i++) {
        ntp_work_submit(a.work);
    }
    ntp_work_submit(b.work);
    ntp_work_submit(b.work);

    /* Waits for every queued and running callback (G57)... */
    ASSERT_OK(ntp_cleanup_group_close_members(group, false, CLEANUP_CTX));
    ASSERT_EQ(atomic_load(&a.runs), 3);
    ASSERT_EQ(atomic_load(&b.runs), 2);
    /* ...calls no cancel callback, and releases every member once. */
    ASSERT_EQ(atomic_load(&a.cancels), 0);
    ASSERT_EQ(atomic_load(&b.cancels), 0);
    TEST_WAIT_UNTIL(ntp_debug_live_objects() == 2, 5000);
    ASSERT_EQ(atomic_load(&a.releases), 1);
    ASSERT_EQ(atomic_load(&b.releases), 1);

    ntp_cleanup_group_close(group);
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
    ASSERT_EQ(atomic_load(&a.releases), 1);
    ASSERT_EQ(atomic_load(&b.releases), 1);
}

/* ------------------------------------------------------------------------ */
/* close_members with cancelling                                             */
/* ------------------------------------------------------------------------ */

/*
 * On a max-1 pool: `running` is inside its callback, `pending` has 5 posts
 * queued behind it, and `idle[4]` were never submitted. The running one is
 * released only after the queue has been dropped.
 */
typedef struct cancel_scene {
    ntp_pool *pool;
    ntp_cleanup_group *group;
    member running, pending, idle[4];
} cancel_scene;

static void
cancel_scene_run(cancel_scene *s)
{
    main_thread = pthread_self();
    memset(s, 0, sizeof *s);
    started = make_event();
    release = make_event();
    s->pool = make_pool(1);
    s->group = make_group();
    ntp_env env;
    member_env(&env, s->pool, s->group, member_cancel_cb);
    member_create(&s->running, blocking_cb, &env);
    member_create(&s->pending, count_cb, &env);
    for (int i = 0; i < 4; i++) {
        member_create(&s->idle[i], count_cb, &env);
    }

    ntp_work_submit(s->running.work);
    wait_signalled(started);
    for (int i = 0; i < 5; i++) {
        ntp_work_submit(s->pending.work);
    }
    ASSERT_EQ(queued_total(s->pool), 5);

    opener o;
    opener_start(&o, s->pool, 0, release);
    ASSERT_OK(ntp_cleanup_group_close_members(s->group, true, CLEANUP_CTX));
    opener_join(&o);
}

static void
cancel_scene_finish(cancel_scene *s)
{
    ntp_cleanup_group_close(s->group);
    ntp_pool_close(s->pool);
    TEST_WAIT_UNTIL(ntp_debug_live_objects() == 2, 5000);
    ASSERT_OK(ntp_handle_close(started));
    ASSERT_OK(ntp_handle_close(release));
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(cleanup_cancel_drops_unstarted)
{
    cancel_scene s;
    cancel_scene_run(&s);
    /* The running callback was waited for; the 5 queued ones dropped. */
    ASSERT(atomic_load(&s.running.callback_returned));
    ASSERT_EQ(atomic_load(&s.running.runs), 1);
    ASSERT_EQ(atomic_load(&s.pending.runs), 0);
    ASSERT_EQ(queued_total(s.pool), 0);
    test_sleep_ms(50);
    ASSERT_EQ(atomic_load(&s.pending.runs), 0);
    for (int i = 0; i < 4; i++) {
        ASSERT_EQ(atomic_load(&s.idle[i].runs), 0);
    }
    cancel_scene_finish(&s);
}

TEST_IMPL(cleanup_cancel_callback_once_per_member)
{
    cancel_scene s;
    cancel_scene_run(&s);
    /* One call per member, 6 in all: the idle ones included, one for the
     * object with 5 dropped posts (G59); all with (object ctx, cleanup
     * ctx) on this thread (G60); the running one's after it returned
     * (G61). */
    member *all[6] = {&s.running, &s.pending, &s.idle[0],
                      &s.idle[1], &s.idle[2], &s.idle[3]};
    for (int i = 0; i < 6; i++) {
        ASSERT_EQ(atomic_load(&all[i]->cancels), 1);
        ASSERT_EQ(atomic_load(&all[i]->bad_cancel), 0);
    }
    ASSERT(atomic_load(&s.running.returned_before_cancel));
    /* Then every member is released, once. */
    TEST_WAIT_UNTIL(ntp_debug_live_objects() == 4, 5000);
    for (int i = 0; i < 6; i++) {
        ASSERT_EQ(atomic_load(&all[i]->releases), 1);
    }
    cancel_scene_finish(&s);
    for (int i = 0; i < 6; i++) {
        ASSERT_EQ(atomic_load(&all[i]->cancels), 1);
        ASSERT_EQ(atomic_load(&all[i]->releases), 1);
    }
}

/* Closes its own object during the group's release. */
static void
close_self_late_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    member *m = ctx;
    atomic_fetch_add(&m->runs, 1);
    ASSERT_OK(ntp_event_set(started));
    wait_signalled(release);
    ntp_work_close(work);
    atomic_store(&m->callback_returned, true);
}

TEST_IMPL(cleanup_closed_members_no_cancel)
{
    main_thread = pthread_self();
    ntp_set_diagnostic_handler(capture_diag, NULL);
    started = make_event();
    release = make_event();
    ntp_pool *pool = make_pool(1);
    ntp_cleanup_group *group = make_group();
    ntp_env env;
    member_env(&env, pool, group, member_cancel_cb);

    /* before: closed by the application before the call;
     * during: closes itself in its callback while the group waits for it;
     * idle, dropped: members the application never closed. */
    member before = {0}, during = {0}, idle = {0}, dropped = {0};
    member_create(&before, count_cb, &env);
    member_create(&during, close_self_late_cb, &env);
    member_create(&idle, count_cb, &env);
    member_create(&dropped, count_cb, &env);

    ntp_work_close(before.work);
    TEST_WAIT_UNTIL(atomic_load(&before.releases) == 1, 2000);
    ntp_work_submit(during.work);
    wait_signalled(started);
    ntp_work_submit(dropped.work);

    /* `during` is released (and closes itself) only after the call has
     * dropped `dropped`'s post, so the close happens inside the call. */
    opener o;
    opener_start(&o, pool, 0, release);
    ASSERT_OK(ntp_cleanup_group_close_members(group, true, CLEANUP_CTX));
    opener_join(&o);
    ASSERT(atomic_load(&during.callback_returned));

    /* No cancel callback for the objects the application closed (G62)...*/
    ASSERT_EQ(atomic_load(&before.cancels), 0);
    ASSERT_EQ(atomic_load(&during.cancels), 0);
    ASSERT_EQ(atomic_load(&idle.cancels), 1);
    ASSERT_EQ(atomic_load(&dropped.cancels), 1);
    ASSERT_EQ(atomic_load(&dropped.runs), 0);

    /* ...and nobody is freed twice, nor is a double close reported. */
    ntp_cleanup_group_close(group);
    ntp_pool_close(pool);
    TEST_WAIT_UNTIL(ntp_debug_live_objects() == 2, 5000);
    member *all[4] = {&before, &during, &idle, &dropped};
    for (int i = 0; i < 4; i++) {
        ASSERT_EQ(atomic_load(&all[i]->releases), 1);
        ASSERT_EQ(atomic_load(&all[i]->bad_cancel), 0);
    }
    ASSERT_EQ(atomic_load(&diag_count), 0);

    ASSERT_OK(ntp_handle_close(started));
    ASSERT_OK(ntp_handle_close(release));
    ntp_set_diagnostic_handler(NULL, NULL);
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(cleanup_non_members_unaffected)
{
    main_thread = pthread_self();
    started = make_event();
    release = make_event();
    ntp_pool *pool = make_pool(1);
    ntp_cleanup_group *group = make_group();

    ntp_env plain;
    ntp_env_init(&plain);
    ntp_env_set_pool(&plain, pool);
    ntp_env env;
    member_env(&env, pool, group, member_cancel_cb);

    member blocker = {0}, outsider = {0}, insider = {0};
    member_create(&blocker, blocking_cb, &plain);
    member_create(&outsider, count_cb, &plain);
    member_create(&insider, count_cb, &env);

    ntp_work_submit(blocker.work);
    wait_signalled(started);
    for (int i = 0; i < 3; i++) {
        ntp_work_submit(insider.work);
        ntp_work_submit(outsider.work);
    }
    ASSERT_EQ(queued_total(pool), 6);

    /* The member's posts go; the non-members' stay queued and run (G63).
     * Nothing of the group is running, so the call does not wait for the
     * blocker. */
    ASSERT_OK(ntp_cleanup_group_close_members(group, true, CLEANUP_CTX));
    ASSERT_EQ(queued_total(pool), 3);
    ASSERT_EQ(atomic_load(&insider.cancels), 1);
    ASSERT_EQ(atomic_load(&blocker.cancels), 0);
    ASSERT_EQ(atomic_load(&outsider.cancels), 0);

    ASSERT_OK(ntp_event_set(release));
    ntp_work_wait(outsider.work, false);
    ASSERT_EQ(atomic_load(&outsider.runs), 3);
    ASSERT_EQ(atomic_load(&insider.runs), 0);
    ASSERT_EQ(atomic_load(&blocker.releases), 0);
    ASSERT_EQ(atomic_load(&outsider.releases), 0);

    ntp_work_wait(blocker.work, false);
    ntp_work_close(blocker.work);
    ntp_work_close(outsider.work);
    ntp_cleanup_group_close(group);
    ntp_pool_close(pool);
    TEST_WAIT_UNTIL(ntp_debug_live_objects() == 2, 5000);
    ASSERT_EQ(atomic_load(&insider.releases), 1);
    ASSERT_EQ(atomic_load(&blocker.releases), 1);
    ASSERT_EQ(atomic_load(&outsider.releases), 1);
    ASSERT_OK(ntp_handle_close(started));
    ASSERT_OK(ntp_handle_close(release));
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(cleanup_group_reusable)
{
    ntp_pool *pool = make_pool(2);
    ntp_cleanup_group *group = make_group();
    ntp_env env;
    member_env(&env, pool, group, NULL);

    /* Released members leave an empty group that takes new members (G64),
     * and a group can be released again and again. */
    member rounds[3];
    memset(rounds, 0, sizeof rounds);
    for (int r = 0; r < 3; r++) {
        member_create(&rounds[r], slow_cb, &env);
        ntp_work_submit(rounds[r].work);
        ntp_work_submit(rounds[r].work);
        ASSERT_OK(ntp_cleanup_group_close_members(group, false, NULL));
        ASSERT_EQ(atomic_load(&rounds[r].runs), 2);
        TEST_WAIT_UNTIL(atomic_load(&rounds[r].releases) == 1, 2000);
        for (int earlier = 0; earlier < r; earlier++) {
            /* Released once only, not again by a later round. */
            ASSERT_EQ(atomic_load(&rounds[earlier].releases), 1);
        }
    }
    /* An empty group releases nothing and does not block. */
    ASSERT_OK(ntp_cleanup_group_close_members(group, true, NULL));

    ntp_cleanup_group_close(group);
    ntp_pool_close(pool);
    ASSERT_NO_LIVE_OBJECTS();
}

static ntp_cleanup_group *self_group;
static atomic_int deadlk_false = 1;
static atomic_int deadlk_true = 1;

static void
close_own_group_cb(ntp_instance *inst, void *ctx, ntp_work *work)
{
    member *m = ctx;
    if (atomic_fetch_add(&m->runs, 1) == 0) {
        /* It would wait for this very callback: refused (SPEC 4). */
        atomic_store(&deadlk_false,
                     ntp_cleanup_group_close_members(self_group, false,
                                                     NULL));
        atomic_store(&deadlk_true,
                     ntp_cleanup_group_close_members(self_group, true,
                                                     CLEANUP_CTX));
    }
}

TEST_IMPL(cleanup_close_members_from_callback_edeadlk)
{
    main_thread = pthread_self();
    ntp_set_diagnostic_handler(capture_diag, NULL);
    self_group = make_group();
    ntp_env env;
    member_env(&env, NULL, self_group, member_cancel_cb);
    member self = {0}, other = {0};
    member_create(&self, close_own_group_cb, &env);
    member_create(&other, count_cb, &env);

    ntp_work_submit(self.work);
    ntp_work_wait(self.work, false);
    ASSERT_STATUS(atomic_load(&deadlk_false), NTP_EDEADLK);
    ASSERT_STATUS(atomic_load(&deadlk_true), NTP_EDEADLK);

    /* Nothing was released or cancelled: both members still work. */
    ASSERT_EQ(atomic_load(&self.releases), 0);
    ASSERT_EQ(atomic_load(&other.releases), 0);
    ASSERT_EQ(atomic_load(&self.cancels), 0);
    ASSERT_EQ(atomic_load(&other.cancels), 0);
    ntp_work_submit(self.work);
    ntp_work_submit(other.work);
    ntp_work_wait(self.work, false);
    ntp_work_wait(other.work, false);
    ASSERT_EQ(atomic_load(&self.runs), 2);
    ASSERT_EQ(atomic_load(&other.runs), 1);

    /* From an outside thread the same call works. */
    ASSERT_OK(ntp_cleanup_group_close_members(self_group, false, NULL));
    TEST_WAIT_UNTIL(atomic_load(&self.releases) == 1
                        && atomic_load(&other.releases) == 1,
                    2000);
    ntp_cleanup_group_close(self_group);
    ntp_set_diagnostic_handler(NULL, NULL);
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(cleanup_close_nonempty_refused)
{
    ntp_set_diagnostic_handler(capture_diag, NULL);
    ntp_cleanup_group *group = make_group();
    ntp_env env;
    member_env(&env, NULL, group, NULL);
    member m = {0};
    member_create(&m, count_cb, &env);

    /* Refused with a diagnostic; the member keeps working (SPEC 4). */
    ntp_cleanup_group_close(group);
    ASSERT_EQ(atomic_load(&diag_count), 1);
    ntp_work_submit(m.work);
    ntp_work_wait(m.work, false);
    ASSERT_EQ(atomic_load(&m.runs), 1);
    ASSERT_EQ(atomic_load(&m.releases), 0);

    /* The group is still usable: release its member, then close it. */
    ASSERT_OK(ntp_cleanup_group_close_members(group, false, NULL));
    TEST_WAIT_UNTIL(atomic_load(&m.releases) == 1, 2000);
    ntp_cleanup_group_close(group);
    ASSERT_EQ(atomic_load(&diag_count), 1);
    ntp_cleanup_group_close(NULL); /* documented as a harmless no-op */
    ntp_set_diagnostic_handler(NULL, NULL);
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(cleanup_member_closed_by_app_leaves_group)
{
    main_thread = pthread_self();
    ntp_cleanup_group *group = make_group();
    ntp_env env;
    member_env(&env, NULL, group, member_cancel_cb);
    member m = {0};
    member_create(&m, count_cb, &env);
    ntp_work_submit(m.work);
    ntp_work_wait(m.work, false);

    /* Closing a member removes it from the group (SPEC 4): an empty group
     * can then be closed without complaint. */
    ntp_work_close(m.work);
    TEST_WAIT_UNTIL(atomic_load(&m.releases) == 1, 2000);
    ASSERT_OK(ntp_cleanup_group_close_members(group, true, CLEANUP_CTX));
    ASSERT_EQ(atomic_load(&m.cancels), 0);
    ASSERT_EQ(atomic_load(&m.releases), 1);
    ntp_set_diagnostic_handler(capture_diag, NULL);
    ntp_cleanup_group_close(group);
    ASSERT_EQ(atomic_load(&diag_count), 0);
    ntp_set_diagnostic_handler(NULL, NULL);
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(cleanup_null_refused)
{
    ASSERT_STATUS(ntp_cleanup_group_create(NULL), NTP_EINVAL);
    ASSERT_STATUS(ntp_cleanup_group_close_members(NULL, false, NULL),
                  NTP_EINVAL);
    ASSERT_STATUS(ntp_cleanup_group_close_members(NULL, true, NULL),
                  NTP_EINVAL);
    ntp_cleanup_group_close(NULL);
    ASSERT_NO_LIVE_OBJECTS();
}
