/*
 * test-stress-found.c -- regression tests for the bugs the stress program
 * (tests/stress/) and the fuzzer (tests/fuzz/) found, each reduced to the
 * interleaving that exposed it and repeated until it would have shown.
 */
#include "helpers.h"

#include <stdatomic.h>
#include <unistd.h>

static atomic_int io_completions;

static void
count_cb(ntp_instance *inst, void *ctx, ntp_overlapped *ov, ntp_status result,
         size_t nbytes, ntp_io *io)
{
    (void)inst, (void)ctx, (void)ov, (void)io;
    ASSERT(result == 0 || result == NTP_ECANCELED);
    ASSERT_LE(nbytes, 1);
    atomic_fetch_add(&io_completions, 1);
}

/*
 * CancelIoEx on a pipe while the reactor serves a readiness report of the
 * same object. cancel_waiting held the object's op_lock while disarming
 * the watch, and the disarm waited for the report in progress to end --
 * which was waiting for op_lock: both threads hung (found by the stress
 * program's I/O part, seed 57193580838608). The data written makes the
 * report happen; the cancel right after it races with it.
 */
TEST_IMPL(stress_found_io_cancel_during_readiness_report)
{
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    ntp_io *io = NULL;
    ASSERT_OK(ntp_io_create(&io, fds[0], count_cb, NULL, NULL));
    atomic_store(&io_completions, 0);

    int issued = 0;
    uint64_t until = test_now_ms() + 1000;
    while (test_now_ms() < until) {
        char buf[1];
        ntp_overlapped ov = {.offset = NTP_IO_STREAM};
        ntp_io_start(io);
        ASSERT_OK(ntp_io_read(io, &ov, buf, sizeof buf));
        issued++;
        ASSERT_EQ(write(fds[1], "x", 1), 1);
        ntp_status st = ntp_io_cancel_ops(io, NULL);
        ASSERT(st == 0 || st == NTP_ENOENT);
        ntp_io_wait(io, false); /* its callback, whichever way it ended */
        ASSERT_EQ(atomic_load(&io_completions), issued);
        /* A cancelled read left its byte in the pipe: drain it so the
         * next read has to wait for the reactor again. */
        if (st == 0) {
            ntp_overlapped drain = {.offset = NTP_IO_STREAM};
            ntp_io_start(io);
            ASSERT_OK(ntp_io_read(io, &drain, buf, sizeof buf));
            issued++;
            ntp_io_wait(io, false);
            ASSERT_EQ(atomic_load(&io_completions), issued);
        }
    }
    ntp_io_close(io);
    close(fds[0]);
    close(fds[1]);
    ASSERT_NO_LIVE_OBJECTS();
}
