/*
 * io_uring.c -- one process-wide io_uring for the I/O objects.
 *
 * Submissions come from any thread under sq_lock (a leaf lock). The ring
 * signals completions on an eventfd that the reactor watches like any
 * other fd; the reactor thread is then the only consumer of the completion
 * queue, and takes each entry under sq_lock too (see ring_ready). The ring lives as long as the
 * process: it is set up on first use and never torn down (as the reactor).
 * Without liburing at build time, or if the kernel refuses a ring
 * (seccomp, io_uring_disabled), ntp__uring_available says no and io.c
 * uses its epoll and pool-thread paths.
 */
#include "io_uring.h"
#include "reactor.h"

#include <pthread.h>

#ifdef NTP_HAVE_LIBURING

#include <errno.h>
#include <liburing.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define RING_ENTRIES 256
#define RING_CQ_ENTRIES 4096

static pthread_once_t ring_once = PTHREAD_ONCE_INIT;
static bool ring_usable;
static struct io_uring ring;
static pthread_mutex_t sq_lock = PTHREAD_MUTEX_INITIALIZER;
static int ring_efd = -1;
static ntp__rfd ring_watch;

/* The eventfd became readable: drain it, then every completion. On the
 * reactor thread, no lock held. */
static void
ring_ready(ntp__rfd *w, uint32_t revents)
{
    (void)w, (void)revents;
    uint64_t count;
    while (read(ring_efd, &count, sizeof count) > 0)
        ;
    for (;;) {
        /* Each completion is taken under sq_lock: the submitter wrote the
         * operation's record before submitting under the same lock, and
         * the kernel's ordering between the two is invisible to TSan. */
        struct io_uring_cqe *cqe;
        pthread_mutex_lock(&sq_lock);
        if (io_uring_peek_cqe(&ring, &cqe) != 0) {
            pthread_mutex_unlock(&sq_lock);
            break;
        }
        void *op = io_uring_cqe_get_data(cqe);
        int res = cqe->res;
        io_uring_cqe_seen(&ring, cqe);
        pthread_mutex_unlock(&sq_lock);
        if (op != NULL) /* NULL: a cancel request or a neutered entry */
            ntp__io_uring_done(op, res);
    }
    ntp__rfd_rearm(&ring_watch);
}

static void
ring_setup(void)
{
    struct io_uring_params params = {0};
    params.flags = IORING_SETUP_CQSIZE;
    params.cq_entries = RING_CQ_ENTRIES;
    if (io_uring_queue_init_params(RING_ENTRIES, &ring, &params) < 0)
        return;
    ring_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (ring_efd < 0 || io_uring_register_eventfd(&ring, ring_efd) < 0 ||
        ntp__reactor_start() < 0)
        goto fail;
    ntp__rfd_init(&ring_watch, ring_efd, EPOLLIN, ring_ready);
    if (ntp__rfd_add(&ring_watch) < 0)
        goto fail;
    ntp__rfd_rearm(&ring_watch);
    ring_usable = true;
    return;
fail:
    if (ring_efd >= 0)
        close(ring_efd);
    ring_efd = -1;
    io_uring_queue_exit(&ring);
}

bool
ntp__uring_available(void)
{
    pthread_once(&ring_once, ring_setup);
    return ring_usable;
}

/* A free submission entry, flushing the queue once if it is full. */
static struct io_uring_sqe *
get_sqe_locked(void)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    if (sqe == NULL) {
        (void)io_uring_submit(&ring);
        sqe = io_uring_get_sqe(&ring);
    }
    return sqe;
}

ntp_status
ntp__uring_submit(void *op, int fd, bool write, void *buf, size_t len,
                  uint64_t offset)
{
    pthread_mutex_lock(&sq_lock);
    struct io_uring_sqe *sqe = get_sqe_locked();
    if (sqe == NULL) {
        pthread_mutex_unlock(&sq_lock);
        return NTP_EAGAIN;
    }
    unsigned n = len > 0x7ffff000u ? 0x7ffff000u : (unsigned)len;
    if (write)
        io_uring_prep_write(sqe, fd, buf, n, offset);
    else
        io_uring_prep_read(sqe, fd, buf, n, offset);
    io_uring_sqe_set_data(sqe, op);
    int rc = io_uring_submit(&ring);
    if (rc < 0) {
        /* Not taken by the kernel: make sure a later submit does not run
         * an operation we report as failed. */
        io_uring_prep_nop(sqe);
        io_uring_sqe_set_data(sqe, NULL);
    }
    pthread_mutex_unlock(&sq_lock);
    if (rc < 0)
        return rc == -ENOMEM ? NTP_ENOMEM : NTP_EAGAIN;
    return 0;
}

void
ntp__uring_cancel(void *op)
{
    pthread_mutex_lock(&sq_lock);
    struct io_uring_sqe *sqe = get_sqe_locked();
    if (sqe != NULL) {
        io_uring_prep_cancel(sqe, op, 0);
        io_uring_sqe_set_data(sqe, NULL);
        (void)io_uring_submit(&ring);
    }
    pthread_mutex_unlock(&sq_lock);
}

#else /* !NTP_HAVE_LIBURING */

bool
ntp__uring_available(void)
{
    return false;
}

ntp_status
ntp__uring_submit(void *op, int fd, bool write, void *buf, size_t len,
                  uint64_t offset)
{
    (void)op, (void)fd, (void)write, (void)buf, (void)len, (void)offset;
    return NTP_ENOSYS;
}

void
ntp__uring_cancel(void *op)
{
    (void)op;
}

#endif
