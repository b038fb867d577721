/*
 * pools.h -- the thread pools the throughput and latency cases compare,
 * behind one interface: start a pool that runs `fn` per post, post from
 * the calling thread, finish (let the pool do whatever it needs on the
 * posting thread), stop.
 *
 *   ntpool-work  one ntpool work object submitted once per post
 *   ntpool-try   one ntp_try_submit (TrySubmitThreadpoolCallback) per post
 *   glib         GLib's GThreadPool, g_thread_pool_push
 *   libuv        libuv's uv_queue_work from the loop thread; finish runs
 *                the loop, which reaps the after-work callbacks: both are
 *                part of what a libuv user pays
 *   plain        a mutex + condition variable pool written for the
 *                benchmark, the baseline a programmer writes by hand
 *
 * Every pool gets as many threads as the process has CPUs.
 */
#ifndef NTP_BENCH_POOLS_H
#define NTP_BENCH_POOLS_H

#include <stdbool.h>

typedef struct bench_pool bench_pool;

/* NULL if `name` is not one of the above. `fn` runs once per post, on a
 * pool thread; `max_posts` bounds the posts in flight (libuv needs one
 * request per post). */
bench_pool *bench_pool_start(const char *name, void (*fn)(void),
                             long max_posts);
void bench_pool_post(bench_pool *bp);
/* After the posts: libuv runs its loop until every request is reaped;
 * the others return at once. */
void bench_pool_finish(bench_pool *bp);
/* Wait for what is still running, then free everything. */
void bench_pool_stop(bench_pool *bp);
/* The names, NULL-terminated, for usage messages. */
extern const char *const bench_pool_names[];

#endif /* NTP_BENCH_POOLS_H */
