/*
 * pools.c -- the pools of pools.h. Each adapter is as thin as its API
 * allows, so the comparison measures the pools, not the glue.
 */
#include "pools.h"
#include "common.h"

#include <ntpool.h>

#include <glib.h>
#include <uv.h>

#include <pthread.h>

const char *const bench_pool_names[] = {"ntpool-work", "ntpool-try", "glib",
                                        "libuv",       "plain",      NULL};

/* ---- a plain mutex + condvar pool ---- */

typedef struct plain_pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    void (**fns)(void);
    size_t head, tail, cap;
    bool quit;
    unsigned idle;
    pthread_t threads[64];
    unsigned nthreads;
} plain_pool;

static void *
plain_worker(void *arg)
{
    plain_pool *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (p->head == p->tail && !p->quit) {
            p->idle++;
            pthread_cond_wait(&p->cond, &p->lock);
            p->idle--;
        }
        if (p->head == p->tail)
            break;
        void (*fn)(void) = p->fns[p->head++ % p->cap];
        pthread_mutex_unlock(&p->lock);
        fn();
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* ---- the adapters ---- */

struct bench_pool {
    int kind;
    void (*fn)(void);
    ntp_pool *np;
    ntp_env env;
    ntp_work *work;
    GThreadPool *gp;
    uv_loop_t *loop;
    uv_work_t *reqs;
    long next_req, max_posts;
    plain_pool plain;
};

enum { NTPOOL_WORK, NTPOOL_TRY, GLIB, LIBUV, PLAIN };

static void
on_work(ntp_instance *inst, void *ctx, ntp_work *w)
{
    (void)inst, (void)w;
    ((bench_pool *)ctx)->fn();
}

static void
on_simple(ntp_instance *inst, void *ctx)
{
    (void)inst;
    ((bench_pool *)ctx)->fn();
}

static void
on_glib(gpointer data, gpointer user)
{
    (void)data;
    ((bench_pool *)user)->fn();
}

static void
on_uv(uv_work_t *req)
{
    ((bench_pool *)req->data)->fn();
}

static void
on_uv_after(uv_work_t *req, int status)
{
    (void)req, (void)status;
}

bench_pool *
bench_pool_start(const char *name, void (*fn)(void), long max_posts)
{
    int kind = -1;
    for (int i = 0; bench_pool_names[i]; i++)
        if (!strcmp(bench_pool_names[i], name))
            kind = i;
    if (kind < 0)
        return NULL;
    bench_pool *bp = calloc(1, sizeof *bp);
    bp->kind = kind;
    bp->fn = fn;
    bp->max_posts = max_posts;
    unsigned n = bench_ncpu();
    switch (kind) {
    case NTPOOL_WORK:
    case NTPOOL_TRY:
        if (ntp_pool_create(&bp->np) != 0)
            abort();
        ntp_pool_set_max_threads(bp->np, n);
        /* Started up front, as the plain pool's: thread start-up is not
         * what is measured. */
        ntp_pool_set_min_threads(bp->np, n);
        ntp_env_init(&bp->env);
        ntp_env_set_pool(&bp->env, bp->np);
        if (kind == NTPOOL_WORK
            && ntp_work_create(&bp->work, on_work, bp, &bp->env) != 0)
            abort();
        break;
    case GLIB:
        bp->gp = g_thread_pool_new(on_glib, bp, (gint)n, FALSE, NULL);
        break;
    case LIBUV: {
        char threads[16];
        snprintf(threads, sizeof threads, "%u", n);
        setenv("UV_THREADPOOL_SIZE", threads, 1);
        bp->loop = uv_default_loop();
        bp->reqs = calloc((size_t)max_posts, sizeof *bp->reqs);
        break;
    }
    case PLAIN: {
        plain_pool *p = &bp->plain;
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->cond, NULL);
        p->cap = (size_t)max_posts + 1;
        p->fns = calloc(p->cap, sizeof *p->fns);
        p->nthreads = n > 64 ? 64 : n;
        for (unsigned i = 0; i < p->nthreads; i++)
            pthread_create(&p->threads[i], NULL, plain_worker, p);
        break;
    }
    }
    return bp;
}

void
bench_pool_post(bench_pool *bp)
{
    switch (bp->kind) {
    case NTPOOL_WORK:
        ntp_work_submit(bp->work);
        break;
    case NTPOOL_TRY:
        if (ntp_try_submit(on_simple, bp, &bp->env) != 0)
            abort();
        break;
    case GLIB:
        g_thread_pool_push(bp->gp, GINT_TO_POINTER(1), NULL);
        break;
    case LIBUV: {
        uv_work_t *req = &bp->reqs[bp->next_req++ % bp->max_posts];
        req->data = bp;
        uv_queue_work(bp->loop, req, on_uv, on_uv_after);
        break;
    }
    case PLAIN: {
        plain_pool *p = &bp->plain;
        pthread_mutex_lock(&p->lock);
        p->fns[p->tail++ % p->cap] = bp->fn;
        bool wake = p->idle > 0;
        pthread_mutex_unlock(&p->lock);
        if (wake)
            pthread_cond_signal(&p->cond); /* after unlocking: DESIGN 7 */
        break;
    }
    }
}

void
bench_pool_finish(bench_pool *bp)
{
    if (bp->kind == LIBUV)
        uv_run(bp->loop, UV_RUN_DEFAULT);
}

void
bench_pool_stop(bench_pool *bp)
{
    switch (bp->kind) {
    case NTPOOL_WORK:
        ntp_work_wait(bp->work, false);
        ntp_work_close(bp->work);
        ntp_pool_close(bp->np);
        break;
    case NTPOOL_TRY:
        ntp_pool_close(bp->np);
        break;
    case GLIB:
        g_thread_pool_free(bp->gp, FALSE, TRUE);
        break;
    case LIBUV:
        uv_run(bp->loop, UV_RUN_DEFAULT);
        uv_loop_close(bp->loop);
        free(bp->reqs);
        break;
    case PLAIN: {
        plain_pool *p = &bp->plain;
        pthread_mutex_lock(&p->lock);
        p->quit = true;
        pthread_mutex_unlock(&p->lock);
        pthread_cond_broadcast(&p->cond);
        for (unsigned i = 0; i < p->nthreads; i++)
            pthread_join(p->threads[i], NULL);
        free(p->fns);
        break;
    }
    }
    free(bp);
}
