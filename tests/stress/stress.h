/*
 * stress.h -- what the parts of the stress program share: the failure
 * counter and its CHECK/MUST macros, the per-thread random numbers, the
 * process-wide objects callbacks may target, and the entry points of the
 * I/O part (stress_io.c) and of the original-API part (stress_legacy.c).
 *
 * Each part keeps its own ledger and has four entry points: one random
 * operation (called by the driver threads, any number at once), a drain
 * (after the drivers have joined: close what is left), a "settled" test
 * (every callback it expects has run) and a check of its ledger.
 */
#ifndef NTP_STRESS_H
#define NTP_STRESS_H

#include <ntpool.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

extern atomic_int stress_failures;

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "stress: %s:%d: check failed: %s: ", __FILE__,    \
                    __LINE__, #cond);                                         \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
            atomic_fetch_add(&stress_failures, 1);                            \
        }                                                                     \
    } while (0)

/* For calls that cannot fail in a correct program: a failure ends the run
 * at once (exit status 2), since the ledger would be meaningless. */
#define MUST(call)                                                            \
    do {                                                                      \
        ntp_status must_st_ = (call);                                         \
        if (must_st_ != 0) {                                                  \
            fprintf(stderr, "stress: %s failed: %s\n", #call,                 \
                    ntp_strerror(must_st_));                                  \
            exit(2);                                                          \
        }                                                                     \
    } while (0)

/* Per-thread random numbers (xorshift64*): a driver's sequence of
 * operations depends on its seed only. */
typedef struct rng {
    uint64_t s;
} rng;

static inline uint64_t
rng_next(rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1DULL;
}

static inline unsigned
rng_below(rng *r, unsigned n)
{
    return (unsigned)(rng_next(r) % n);
}

/* Created before the drivers start, closed after the final drain. */
extern ntp_handle *stress_signalled_event; /* manual-reset, always set */
extern ntp_pool *stress_shared_pool;

/* Allocate or die: the stress program does not test allocation failure
 * (tests/c/test-faults.c does). */
void *stress_calloc(size_t n, size_t size);

/* I/O objects over pipes, sockets and regular files (stress_io.c). */
void stress_io_op(rng *r);
void stress_io_drain(rng *r);
bool stress_io_settled(void);
void stress_io_check(void);
void stress_io_report(void);
/* ntp_io_wait(io, true), counting the posts it drops apart from the
 * others (stress.c). */
void stress_io_cancelling_wait(ntp_io *io);

/* QueueUserWorkItem, RegisterWaitForSingleObject, timer queues and
 * (stress_legacy.c). BindIoCompletionCallback is in the I/O part. */
void stress_legacy_op(rng *r);
void stress_legacy_drain(void);
bool stress_legacy_settled(void);
void stress_legacy_check(void);
void stress_legacy_report(void);

#endif
