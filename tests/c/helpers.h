/*
 * helpers.h -- small fixtures several test files share (helpers.c). The
 * runner and the assertions are in task.h.
 */
#ifndef NTP_TEST_HELPERS_H
#define NTP_TEST_HELPERS_H

#include "task.h"

/* A wait the test expects to succeed; reaching it is the failure. */
#define LONG_WAIT_MS (10000u * test_timeout_multiplier())

/* A private pool with at most `max` threads. */
ntp_pool *make_pool(unsigned max);
ntp_pool_stats stats_of(ntp_pool *pool);
/* A manual-reset event, not set. */
ntp_handle *make_event(void);
/* Wait for h, failing the test after LONG_WAIT_MS. */
void wait_signalled(ntp_handle *h);

/* Holds the only worker of a max-1 pool until released, so that what is
 * posted meanwhile queues and a test can look at the order it runs in. It
 * blocks in an ntpool wait, which on a max-1 pool starts no other worker. */
typedef struct pool_blocker {
    ntp_work *work;
    ntp_handle *started;
    ntp_handle *release;
} pool_blocker;
void blocker_start(pool_blocker *b, ntp_pool *pool); /* returns once it runs */
void blocker_release(pool_blocker *b);
void blocker_finish(pool_blocker *b); /* release, wait for it, free it */

#endif /* NTP_TEST_HELPERS_H */
