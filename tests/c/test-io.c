/*
 * test-io.c -- I/O completion objects (SPEC 9, CONFORMANCE J 101-111):
 * reads and writes on pipes, sockets and regular files, announcements,
 * cancellation, waits, closing with operations in flight.
 */
#include "task.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LONG_WAIT_MS (10000u * test_timeout_multiplier())

/* What the last callback saw; callbacks may run in parallel, hence the
 * lock. */
typedef struct seen {
    pthread_mutex_t lock;
    atomic_int calls;
    ntp_overlapped *last_ov;
    ntp_status last_result;
    size_t last_bytes;
    ntp_handle *done; /* auto-reset event set on each callback */
} seen;

static void
io_cb(ntp_instance *inst, void *ctx, ntp_overlapped *ov, ntp_status result,
      size_t nbytes, ntp_io *io)
{
    seen *s = ctx;
    (void)inst, (void)io;
    pthread_mutex_lock(&s->lock);
    s->last_ov = ov;
    s->last_result = result;
    s->last_bytes = nbytes;
    pthread_mutex_unlock(&s->lock);
    atomic_fetch_add(&s->calls, 1);
    ASSERT_OK(ntp_event_set(s->done));
}

static void
seen_init(seen *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    ASSERT_OK(ntp_event_create(&s->done, false, false));
}

static void
seen_wait(seen *s)
{
    ASSERT_STATUS(ntp_wait_for_single(s->done, LONG_WAIT_MS, false),
                  NTP_WAIT_OBJECT_0);
}

static void
seen_close(seen *s)
{
    ASSERT_OK(ntp_handle_close(s->done));
}

TEST_IMPL(io_pipe_read_completes_when_data_arrives)
{
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    seen s;
    seen_init(&s);
    ntp_io *io = NULL;
    ASSERT_OK(ntp_io_create(&io, fds[0], io_cb, &s, NULL));

    char buf[16] = {0};
    ntp_overlapped ov = {.offset = NTP_IO_STREAM};
    ntp_io_start(io);
    ASSERT_OK(ntp_io_read(io, &ov, buf, sizeof buf));
    size_t n = 99;
    ASSERT_STATUS(ntp_overlapped_result(&ov, &n, false), NTP_EBUSY);
    usleep(20000);
    ASSERT_EQ(atomic_load(&s.calls), 0); /* nothing to read yet */

    ASSERT_EQ(write(fds[1], "hello", 5), 5);
    seen_wait(&s);
    ASSERT_EQ(atomic_load(&s.calls), 1);
    ASSERT_PTR_EQ(s.last_ov, &ov);
    ASSERT_OK(s.last_result);
    ASSERT_EQ(s.last_bytes, 5);
    ASSERT(memcmp(buf, "hello", 5) == 0);
    ASSERT_OK(ntp_overlapped_result(&ov, &n, false));
    ASSERT_EQ(n, 5);

    ntp_io_wait(io, false);
    ntp_io_close(io);
    close(fds[0]);
    close(fds[1]);
    seen_close(&s);
    ASSERT_NO_LIVE_OBJECTS();
}

/* CONFORMANCE 107: an operation that finishes at once still gets its
 * callback; 105: two starts and two operations, two callbacks. */
TEST_IMPL(io_immediate_completion_still_calls_back)
{
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    seen s;
    seen_init(&s);
    ntp_io *io = NULL;
    ASSERT_OK(ntp_io_create(&io, sv[0], io_cb, &s, NULL));
    ASSERT_EQ(write(sv[1], "abcdef", 6), 6);

    char a[3], b[3];
    ntp_overlapped ova = {.offset = NTP_IO_STREAM};
    ntp_overlapped ovb = {.offset = NTP_IO_STREAM};
    ntp_io_start(io);
    ASSERT_OK(ntp_io_read(io, &ova, a, 3));
    ntp_io_start(io);
    ASSERT_OK(ntp_io_read(io, &ovb, b, 3));
    ntp_io_wait(io, false);
    ASSERT_EQ(atomic_load(&s.calls), 2);
    ASSERT(memcmp(a, "abc", 3) == 0);
    ASSERT(memcmp(b, "def", 3) == 0);

    /* A write completes as well, and the peer sees the bytes. */
    ntp_overlapped ovw = {.offset = NTP_IO_STREAM};
    ntp_io_start(io);
    ASSERT_OK(ntp_io_write(io, &ovw, "xyz", 3));
    ntp_io_wait(io, false);
    ASSERT_EQ(atomic_load(&s.calls), 3);
    ASSERT_PTR_EQ(s.last_ov, &ovw);
    ASSERT_EQ(s.last_bytes, 3);
    char c[3];
    ASSERT_EQ(read(sv[1], c, 3), 3);
    ASSERT(memcmp(c, "xyz", 3) == 0);

    ntp_io_close(io);
    close(sv[0]);
    close(sv[1]);
    seen_close(&s);
    ASSERT_NO_LIVE_OBJECTS();
}

/* Many reads queued on an empty socket complete in order as data comes. */
TEST_IMPL(io_queued_reads_complete_in_order)
{
    enum { N = 100 };
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    seen s;
    seen_init(&s);
    ntp_io *io = NULL;
    ASSERT_OK(ntp_io_create(&io, sv[0], io_cb, &s, NULL));
    static ntp_overlapped ov[N];
    static unsigned char buf[N];
    for (int i = 0; i < N; i++) {
        ov[i].offset = NTP_IO_STREAM;
        ntp_io_start(io);
        ASSERT_OK(ntp_io_read(io, &ov[i], &buf[i], 1));
    }
    for (int i = 0; i < N; i++) {
        unsigned char byte = (unsigned char)i;
        ASSERT_EQ(write(sv[1], &byte, 1), 1);
    }
    ntp_io_wait(io, false);
    ASSERT_EQ(atomic_load(&s.calls), N);
    for (int i = 0; i < N; i++) {
        size_t n = 0;
        ASSERT_OK(ntp_overlapped_result(&ov[i], &n, false));
        ASSERT_EQ(n, 1);
        ASSERT_EQ(buf[i], i);
    }
    ntp_io_close(io);
    close(sv[0]);
    close(sv[1]);
    seen_close(&s);
    ASSERT_NO_LIVE_OBJECTS();
}

/* Regular files run on io_uring where the kernel allows it, else on pool
 * threads; each file test runs both ways. */
static void
use_backend(const char *want)
{
    if (strcmp(want, "fallback") == 0)
        ASSERT_EQ(setenv("NTP_IO_BACKEND", "fallback", 1), 0);
    else
        ASSERT_EQ(unsetenv("NTP_IO_BACKEND"), 0);
}

static void
expect_backend(ntp_io *io, const char *want)
{
    const char *got = ntp_io_backend(io);
    ASSERT_NOT_NULL(got);
    if (strcmp(want, "io_uring") == 0 && strcmp(got, "io_uring") != 0)
        TEST_SKIP("no io_uring here (liburing absent or the kernel "
                  "refuses a ring)");
    ASSERT_STR_EQ(got, want);
}

static void
regular_file_at_offsets(const char *backend)
{
    char path[] = "/tmp/ntpool-io-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    unlink(path);
    seen s;
    seen_init(&s);
    ntp_io *io = NULL;
    ASSERT_OK(ntp_io_create(&io, fd, io_cb, &s, NULL));
    expect_backend(io, backend);

    ntp_handle *ev = NULL;
    ASSERT_OK(ntp_event_create(&ev, true, false));
    ntp_overlapped w1 = {.offset = 4, .event = ev};
    ntp_overlapped w2 = {.offset = 0};
    ntp_io_start(io);
    ASSERT_OK(ntp_io_write(io, &w1, "5678", 4));
    ntp_io_start(io);
    ASSERT_OK(ntp_io_write(io, &w2, "1234", 4));
    size_t n = 0;
    ASSERT_OK(ntp_overlapped_result(&w1, &n, true)); /* waits on its event */
    ASSERT_EQ(n, 4);
    ASSERT_STATUS(ntp_wait_for_single(ev, 0, false), NTP_WAIT_OBJECT_0);
    ntp_io_wait(io, false);
    ASSERT_EQ(atomic_load(&s.calls), 2);

    char buf[8] = {0};
    ntp_overlapped r = {.offset = 2};
    ntp_io_start(io);
    ASSERT_OK(ntp_io_read(io, &r, buf, sizeof buf));
    ntp_io_wait(io, false);
    ASSERT_EQ(atomic_load(&s.calls), 3);
    ASSERT_EQ(s.last_bytes, 6); /* to the end of the 8-byte file */
    ASSERT(memcmp(buf, "345678", 6) == 0);

    /* Reading at the end gives 0 bytes, not an error. */
    ntp_overlapped eof = {.offset = 100};
    ntp_io_start(io);
    ASSERT_OK(ntp_io_read(io, &eof, buf, sizeof buf));
    ntp_io_wait(io, false);
    ASSERT_OK(s.last_result);
    ASSERT_EQ(s.last_bytes, 0);

    ntp_io_close(io);
    close(fd);
    ASSERT_OK(ntp_handle_close(ev));
    seen_close(&s);
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(io_regular_file_at_offsets_io_uring)
{
    use_backend("io_uring");
    regular_file_at_offsets("io_uring");
}

TEST_IMPL(io_regular_file_at_offsets_threads)
{
    use_backend("fallback");
    regular_file_at_offsets("threads");
}

/* CONFORMANCE 109: a cancelled pending read calls back with the cancel
 * error and 0 bytes. */
TEST_IMPL(io_cancel_pending_read)
{
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    seen s;
    seen_init(&s);
    ntp_io *io = NULL;
    ASSERT_OK(ntp_io_create(&io, fds[0], io_cb, &s, NULL));
    char buf[4];
    ntp_overlapped a = {.offset = NTP_IO_STREAM};
    ntp_overlapped b = {.offset = NTP_IO_STREAM};
    ntp_io_start(io);
    ASSERT_OK(ntp_io_read(io, &a, buf, 4));
    ntp_io_start(io);
    ASSERT_OK(ntp_io_read(io, &b, buf, 4));

    ASSERT_OK(ntp_io_cancel_ops(io, &b)); /* CancelIoEx(h, &b) */
    seen_wait(&s);
    ASSERT_PTR_EQ(s.last_ov, &b);
    ASSERT_STATUS(s.last_result, NTP_ECANCELED);
    ASSERT_EQ(s.last_bytes, 0);
    ASSERT_STATUS(ntp_io_cancel_ops(io, &b), NTP_ENOENT);

    ASSERT_OK(ntp_io_cancel_ops(io, NULL)); /* CancelIo: the rest */
    ntp_io_wait(io, false);
    ASSERT_EQ(atomic_load(&s.calls), 2);
    ASSERT_PTR_EQ(s.last_ov, &a);
    ASSERT_STATUS(s.last_result, NTP_ECANCELED);
    ASSERT_STATUS(ntp_io_cancel_ops(io, NULL), NTP_ENOENT);

    ntp_io_close(io);
    close(fds[0]);
    close(fds[1]);
    seen_close(&s);
    ASSERT_NO_LIVE_OBJECTS();
}

/* CONFORMANCE 102, 106, 108, 110: the accounting of announcements. */
TEST_IMPL(io_start_cancel_and_wait_accounting)
{
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    seen s;
    seen_init(&s);
    ntp_io *io = NULL;
    ASSERT_OK(ntp_io_create(&io, fds[0], io_cb, &s, NULL));

    ntp_io_wait(io, false); /* nothing started: returns at once */

    /* An operation that fails to start is withdrawn; the wait returns. */
    ntp_io_start(io);
    ASSERT_STATUS(ntp_io_read(io, NULL, NULL, 0), NTP_EINVAL);
    ntp_io_cancel(io);
    ntp_io_wait(io, false);

    /* Start with no operation, then wait with cancel: returns at once and
     * the completion still expected is dropped when it comes. */
    char buf[4];
    ntp_overlapped ov = {.offset = NTP_IO_STREAM};
    ntp_io_start(io);
    ASSERT_OK(ntp_io_read(io, &ov, buf, 4));
    ntp_io_wait(io, true);
    ASSERT_EQ(write(fds[1], "zz", 2), 2);
    size_t n = 0;
    ASSERT_OK(ntp_overlapped_result(&ov, &n, true)); /* the read did happen */
    ASSERT_EQ(n, 2);
    ntp_io_wait(io, false);
    ASSERT_EQ(atomic_load(&s.calls), 0); /* its callback was dropped */

    ntp_io_close(io);
    close(fds[0]);
    close(fds[1]);
    seen_close(&s);
    ASSERT_NO_LIVE_OBJECTS();
}

static atomic_int diag_unannounced;

static void
count_diag(const char *message, void *data)
{
    (void)data;
    if (strstr(message, "without ntp_io_start"))
        atomic_fetch_add(&diag_unannounced, 1);
}

TEST_IMPL(io_unannounced_completion_is_dropped_and_reported)
{
    ntp_set_diagnostic_handler(count_diag, NULL);
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    seen s;
    seen_init(&s);
    ntp_io *io = NULL;
    ASSERT_OK(ntp_io_create(&io, sv[0], io_cb, &s, NULL));
    ntp_overlapped ov = {.offset = NTP_IO_STREAM};
    ASSERT_OK(ntp_io_write(io, &ov, "x", 1)); /* no ntp_io_start */
    size_t n = 0;
    ASSERT_OK(ntp_overlapped_result(&ov, &n, true));
    ntp_io_wait(io, false);
    ASSERT_EQ(atomic_load(&s.calls), 0);
    ASSERT_EQ(atomic_load(&diag_unannounced), 1);
    ntp_io_close(io);
    close(sv[0]);
    close(sv[1]);
    seen_close(&s);
    ASSERT_NO_LIVE_OBJECTS();
}

/* Closing with an operation waiting for its fd cancels it, calls nothing
 * back any more and frees the object. */
TEST_IMPL(io_close_cancels_operations_in_flight)
{
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    seen s;
    seen_init(&s);
    ntp_io *io = NULL;
    ASSERT_OK(ntp_io_create(&io, fds[0], io_cb, &s, NULL));
    char buf[4];
    ntp_overlapped ov = {.offset = NTP_IO_STREAM};
    ntp_io_start(io);
    ASSERT_OK(ntp_io_read(io, &ov, buf, 4));
    ntp_io_close(io);
    size_t n = 1;
    ASSERT_STATUS(ntp_overlapped_result(&ov, &n, true), NTP_ECANCELED);
    ASSERT_EQ(n, 0);
    TEST_WAIT_UNTIL(ntp_debug_live_objects() == 1, 5000); /* s.done */
    ASSERT_EQ(write(fds[1], "late", 4), 4); /* nobody reads it now */
    usleep(20000);
    ASSERT_EQ(atomic_load(&s.calls), 0);
    close(fds[0]);
    close(fds[1]);
    seen_close(&s);
    ASSERT_NO_LIVE_OBJECTS();
}

/* CONFORMANCE 111: a regular-file operation in flight when the object is
 * closed keeps it alive until it ends (done, or cancelled by the kernel if
 * it had not started), then frees it. Its callback runs only if it
 * completed before the close (the write may be that quick). */
static void
close_with_file_operation_running(const char *backend)
{
    char path[] = "/tmp/ntpool-io-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    unlink(path);
    seen s;
    seen_init(&s);
    ntp_io *io = NULL;
    ASSERT_OK(ntp_io_create(&io, fd, io_cb, &s, NULL));
    expect_backend(io, backend);
    static char big[1 << 20];
    ntp_overlapped ov = {.offset = 0};
    ntp_io_start(io);
    ASSERT_OK(ntp_io_write(io, &ov, big, sizeof big));
    ntp_io_close(io);
    size_t n = 0;
    ntp_status st = ntp_overlapped_result(&ov, &n, true);
    if (st == 0)
        ASSERT_EQ(n, sizeof big); /* it ran to the end */
    else
        ASSERT_STATUS(st, NTP_ECANCELED);
    TEST_WAIT_UNTIL(ntp_debug_live_objects() == 1, 5000);
    ASSERT_LE(atomic_load(&s.calls), 1);
    close(fd);
    seen_close(&s);
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(io_close_with_file_operation_running_io_uring)
{
    use_backend("io_uring");
    close_with_file_operation_running("io_uring");
}

TEST_IMPL(io_close_with_file_operation_running_threads)
{
    use_backend("fallback");
    close_with_file_operation_running("threads");
}

TEST_IMPL(io_bad_arguments)
{
    seen s;
    seen_init(&s);
    ntp_io *io = NULL;
    ASSERT_STATUS(ntp_io_create(NULL, 0, io_cb, &s, NULL), NTP_EINVAL);
    ASSERT_STATUS(ntp_io_create(&io, -1, io_cb, &s, NULL), NTP_EBADF);
    ASSERT_NULL(io);
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    ASSERT_STATUS(ntp_io_create(&io, fds[0], NULL, &s, NULL), NTP_EINVAL);
    ASSERT_OK(ntp_io_create(&io, fds[0], io_cb, &s, NULL));
    ASSERT_STR_EQ(ntp_io_backend(io), "epoll");
    ASSERT_NULL(ntp_io_backend(NULL));
    char buf[1];
    ntp_overlapped at = {.offset = 5}; /* a pipe has no offsets */
    ASSERT_STATUS(ntp_io_read(io, &at, buf, 1), NTP_EINVAL);
    ASSERT_STATUS(ntp_io_read(NULL, &at, buf, 1), NTP_EINVAL);
    ASSERT_STATUS(ntp_io_read((ntp_io *)(void *)s.done, &at, buf, 1),
                  NTP_EINVAL);
    ASSERT_STATUS(ntp_overlapped_result(NULL, NULL, false), NTP_EINVAL);
    ntp_io_start(NULL);
    ntp_io_cancel(NULL);
    ntp_io_wait(NULL, false);
    ntp_io_close(NULL);
    ntp_io_close(io);
    close(fds[0]);
    close(fds[1]);
    seen_close(&s);
    ASSERT_NO_LIVE_OBJECTS();
}

/* A cancelling wait after an announcement with no operation behind it
 * (CONFORMANCE J106) must not swallow the completion of a later, announced
 * operation: the cancel drops the completions of operations issued before
 * it, not a count of the next ones. */
TEST_IMPL(io_cancel_of_unissued_announcement_spares_later_completions)
{
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    seen s;
    seen_init(&s);
    ntp_io *io = NULL;
    ASSERT_OK(ntp_io_create(&io, fds[0], io_cb, &s, NULL));

    ntp_io_start(io); /* announced, never issued */
    ntp_io_wait(io, true);

    char buf[4];
    ntp_overlapped ov = {.offset = NTP_IO_STREAM};
    ntp_io_start(io);
    ASSERT_OK(ntp_io_read(io, &ov, buf, sizeof buf));
    ASSERT_EQ(write(fds[1], "ok", 2), 2);
    ntp_io_wait(io, false); /* returns only once the callback has run */
    ASSERT_EQ(atomic_load(&s.calls), 1);
    ASSERT_PTR_EQ(s.last_ov, &ov);
    ASSERT_EQ(s.last_bytes, 2);

    ntp_io_close(io);
    close(fds[0]);
    close(fds[1]);
    seen_close(&s);
    ASSERT_NO_LIVE_OBJECTS();
}
