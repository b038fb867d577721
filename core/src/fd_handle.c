/*
 * fd_handle.c -- handles over file descriptors (NTP_HANDLE_FD): signalled
 * while the fd is readable, so a thread-pool wait or ntp_wait_for_* can
 * wait for input on a pipe, a socket, an eventfd...
 *
 * The state is the fd's own: signalled() asks the kernel (poll with a zero
 * timeout, under the sync lock), and a satisfied wait consumes nothing,
 * like a manual-reset event; reading is the waiter's business.
 *
 * WAKE-UPS. Nobody signals an fd handle through ntpool, so the reactor
 * watches the fd (one-shot epoll, reactor.h) and its ready() does what a
 * signalling call does: ntp__handle_wake_locked under the sync lock. The
 * watch is re-armed from signalled() whenever that finds the fd not
 * readable. Every wait, thread or thread-pool, calls signalled() under the
 * sync lock just before it links its block, and every walk of a waiter
 * list calls it before it gives up, so no block is ever linked while the
 * fd is unreadable and unwatched. A readable fd is not watched: that would
 * report it again at once, forever, while nobody reads it. An armed watch
 * costs nothing until data arrives; then the reactor wakes once, perhaps
 * for nobody.
 *
 * LIFETIME (sync.h for the handle). The handle watches its own duplicate
 * of the caller's fd, so the caller may close its fd whenever it likes
 * without the number being reused under our epoll registration. The
 * duplicate and the epoll registration live in a separately allocated
 * watch record: the reactor keeps a pointer to it until ntp__rfd_remove
 * has returned, which is definitive and waits for a ready() that takes
 * the sync lock, so it cannot be called where the last reference goes
 * (retire, under the sync lock). Instead retire cuts the link from the
 * watch to the handle and arms the watch's reap timer; reap runs on the
 * reactor thread, removes the registration, closes the duplicate and
 * frees the record. ready() runs on the same thread, so it never sees the
 * record freed, and it finds the link cut if the handle went first.
 */
#include "reactor.h"
#include "sync.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

typedef struct fd_handle fd_handle;

typedef struct fd_watch {
    ntp__rfd rfd;      /* over our duplicate of the fd */
    ntp__rtimer reap;  /* armed once, when the handle is gone */
    bool in_epoll;     /* false for fds epoll refuses (regular files) */
    /* Guarded by the sync lock. */
    fd_handle *owner;  /* NULL once the handle is retired */
    bool armed;        /* a readiness report was asked for, not yet run */
} fd_watch;

/* Lifetime: see above; the handle owns its watch until retire. */
struct fd_handle {
    struct ntp_handle base;
    fd_watch *watch;
};

/* Readable (or at end of file, or in error: a read would not block). If
 * not, make sure the reactor will tell us when it becomes so (see
 * WAKE-UPS). Sync lock held. */
static bool
fd_signalled(ntp_handle *h, struct ntp__thread *t)
{
    fd_watch *watch = ((fd_handle *)h)->watch;
    struct pollfd pfd = {.fd = watch->rfd.fd, .events = POLLIN};
    int n;
    (void)t;
    do {
        n = poll(&pfd, 1, 0);
    } while (n < 0 && errno == EINTR);
    bool readable = n > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR));
    if (!readable && watch->in_epoll && !watch->armed) {
        watch->armed = true;
        /* Takes only the reactor lock, a leaf, and never waits. Re-arming
         * an fd that became readable meanwhile reports it at once. */
        ntp__rfd_rearm(&watch->rfd);
    }
    return readable;
}

static int
fd_acquire(ntp_handle *h, struct ntp__thread *t)
{
    (void)h;
    (void)t;
    return NTP_WAIT_OBJECT_0; /* nothing to take: the data stays */
}

/* The last reference is gone; sync lock held. */
static void
fd_retire(ntp_handle *h)
{
    fd_watch *watch = ((fd_handle *)h)->watch;
    watch->owner = NULL;
    /* Due at once. The reactor is running: creation started it. */
    ntp__rtimer_arm(&watch->reap, NTP__CLOCK_MONOTONIC, 0, 0);
}

static const struct ntp__handle_ops fd_ops = {
    .kind = NTP_HANDLE_FD,
    .name = "fd",
    .signalled = fd_signalled,
    .acquire = fd_acquire,
    .retire = fd_retire,
};

/* The fd became readable (or hung up): on the reactor thread, no lock
 * held. Do what a signalling call does. */
static void
fd_ready(ntp__rfd *rfd, uint32_t revents)
{
    fd_watch *watch = ntp__container_of(rfd, fd_watch, rfd);
    (void)revents;
    pthread_mutex_lock(&ntp__sync_lock);
    watch->armed = false;
    fd_handle *f = watch->owner;
    if (f != NULL) {
        ntp__handle_wake_locked(&f->base);
        ntp__handle_mirror_update_locked(&f->base);
        /* Someone read the data before we got here, or a wait-all block
         * is still missing its other handles: if the fd is not readable
         * now, watch it again for whoever is left. */
        if (!ntp__list_empty(&f->base.waiters)) {
            (void)fd_signalled(&f->base, NULL);
        }
    }
    pthread_mutex_unlock(&ntp__sync_lock);
}

/* On the reactor thread, after the handle is gone (see LIFETIME). */
static void
fd_reap(ntp__rtimer *rt)
{
    fd_watch *watch = ntp__container_of(rt, fd_watch, reap);
    if (watch->in_epoll) {
        ntp__rfd_remove(&watch->rfd);
    }
    close(watch->rfd.fd);
    /* The reactor uses only the timer's address after fire() returns
     * (reactor.c, FIRING), so freeing it here is safe. */
    ntp__free(watch);
}

static ntp_status
status_of_errno(int e)
{
    switch (e) {
    case EBADF:
        return NTP_EBADF;
    case EMFILE:
    case ENFILE:
        return NTP_EMFILE;
    case ENOMEM:
        return NTP_ENOMEM;
    default:
        return NTP_EINVAL;
    }
}

ntp_status
ntp_fd_handle_create(ntp_handle **out, int fd)
{
    if (out == NULL) {
        return NTP_EINVAL;
    }
    *out = NULL;
    if (fd < 0) {
        return NTP_EBADF;
    }
    /* The reactor watches the fd and reaps the handle: start it now, so
     * that nothing later can fail. */
    ntp_status st = ntp__reactor_start();
    if (st < 0) {
        return st;
    }
    int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) {
        return status_of_errno(errno);
    }
    fd_watch *watch = ntp__calloc(1, sizeof *watch);
    if (watch == NULL) {
        close(dup);
        return NTP_ENOMEM;
    }
    ntp__rfd_init(&watch->rfd, dup, EPOLLIN, fd_ready);
    ntp__rtimer_init(&watch->reap, fd_reap);
    st = ntp__rfd_add(&watch->rfd);
    if (st == NTP_ENOTSUP) {
        /* epoll refuses regular files and directories, which poll()
         * reports as always readable: no wake-up is ever needed. */
        st = 0;
    } else if (st == 0) {
        watch->in_epoll = true;
    }
    ntp_handle *h = NULL;
    if (st == 0) {
        st = ntp__handle_new(&h, sizeof(fd_handle), &fd_ops);
    }
    if (st < 0) {
        if (watch->in_epoll) {
            ntp__rfd_remove(&watch->rfd);
        }
        close(dup);
        ntp__free(watch);
        return st;
    }
    fd_handle *f = (fd_handle *)h;
    f->watch = watch;
    /* Published under the lock that ready() reads it under. */
    pthread_mutex_lock(&ntp__sync_lock);
    watch->owner = f;
    pthread_mutex_unlock(&ntp__sync_lock);
    *out = h;
    return 0;
}
