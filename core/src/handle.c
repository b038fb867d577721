/*
 * handle.c -- what every waitable handle shares: allocation, the type tag,
 * the reference count, CloseHandle, and the pollable fd mirror.
 *
 * The lifetime rules are written in sync.h ("LIFETIME OF A HANDLE"); the
 * kinds themselves (events, semaphores, mutexes) live in sync.c.
 */
#include "sync.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

pthread_mutex_t ntp__sync_lock = PTHREAD_MUTEX_INITIALIZER;

ntp_status
ntp__handle_new(ntp_handle **out, size_t size,
                const struct ntp__handle_ops *ops)
{
    ntp_handle *h = ntp__calloc(1, size);
    if (h == NULL) {
        return NTP_ENOMEM;
    }
    h->tag = NTP__TAG_HANDLE;
    h->ops = ops;
    h->refs = 1;
    h->closed = false;
    h->mirror_set = false;
    h->mirror_fd = -1;
    ntp__list_init(&h->waiters);
    ntp__live_inc();
    *out = h;
    return 0;
}

ntp_status
ntp__handle_check_locked(ntp_handle *h, int kind)
{
    if (h == NULL) {
        return NTP_EINVAL;
    }
    /* The tag is read under the sync lock, the same lock under which it
     * is changed to NTP__TAG_DEAD, so a handle that died while still
     * allocated is caught without a data race. */
    if (h->tag != NTP__TAG_HANDLE || h->closed) {
        return NTP_EBADF;
    }
    if (kind != 0 && (int)h->ops->kind != kind) {
        return NTP_EBADF;
    }
    return 0;
}

void
ntp__handle_ref_locked(ntp_handle *h)
{
    h->refs++;
}

ntp_status
ntp__handle_ref(ntp_handle *h)
{
    pthread_mutex_lock(&ntp__sync_lock);
    ntp_status st = ntp__handle_check_locked(h, 0);
    if (st == 0) {
        ntp__handle_ref_locked(h);
    }
    pthread_mutex_unlock(&ntp__sync_lock);
    return st;
}

bool
ntp__handle_unref_locked(ntp_handle *h)
{
    if (--h->refs > 0) {
        return false;
    }
    /* Nobody can reach the handle any more except through stale pointers:
     * every waiting thread and armed block holds a reference, so the
     * waiter list is empty. Mark it dead now, under the lock, so a stale
     * call made before the memory is freed is refused, and let the kind
     * cut its links (a mutex leaves its owner's list). */
    if (!ntp__list_empty(&h->waiters)) {
        abort(); /* an armed block without a reference: a bug of ours */
    }
    h->tag = NTP__TAG_DEAD;
    if (h->ops->retire != NULL) {
        h->ops->retire(h);
    }
    return true;
}

void
ntp__handle_unref(ntp_handle *h)
{
    pthread_mutex_lock(&ntp__sync_lock);
    bool last = ntp__handle_unref_locked(h);
    pthread_mutex_unlock(&ntp__sync_lock);
    if (last) {
        ntp__handle_destroy(h);
    }
}

void
ntp__handle_destroy(ntp_handle *h)
{
    if (h->ops->destroy != NULL) {
        h->ops->destroy(h);
    }
    if (h->mirror_fd >= 0) {
        close(h->mirror_fd);
    }
    ntp__free(h);
    ntp__live_dec();
}

ntp_status
ntp_handle_close(ntp_handle *h)
{
    pthread_mutex_lock(&ntp__sync_lock);
    ntp_status st = ntp__handle_check_locked(h, 0);
    bool last = false;
    if (st == 0) {
        /* From here on every call through this pointer fails with
         * NTP_EBADF, even while waiters keep the object alive. */
        h->closed = true;
        last = ntp__handle_unref_locked(h);
    }
    pthread_mutex_unlock(&ntp__sync_lock);
    if (last) {
        ntp__handle_destroy(h);
    }
    return st;
}

int
ntp_handle_kind_of(ntp_handle *h)
{
    pthread_mutex_lock(&ntp__sync_lock);
    int r = ntp__handle_check_locked(h, 0);
    if (r == 0) {
        r = (int)h->ops->kind;
    }
    pthread_mutex_unlock(&ntp__sync_lock);
    return r;
}

int
ntp__handle_waiter_count(ntp_handle *h)
{
    pthread_mutex_lock(&ntp__sync_lock);
    int r = ntp__handle_check_locked(h, 0);
    if (r == 0) {
        ntp__list_foreach(it, &h->waiters) {
            r++;
        }
    }
    pthread_mutex_unlock(&ntp__sync_lock);
    return r;
}

/*
 * The fd mirror. An eventfd holds a 64-bit counter and is readable while
 * it is non-zero, so "readable exactly while signalled" is kept by writing
 * 1 when the handle becomes signalled and reading the counter back to 0
 * when it stops. mirror_set remembers which of the two the fd is in, so
 * the common case (no change, or no fd at all) makes no system call.
 */
static void
mirror_write(int fd)
{
    uint64_t one = 1;
    while (write(fd, &one, sizeof one) < 0 && errno == EINTR) {
        continue;
    }
}

static void
mirror_drain(int fd)
{
    uint64_t count;
    /* Non-blocking: EAGAIN just means the counter was already 0 (the
     * application read it, which the header tells it not to do). */
    while (read(fd, &count, sizeof count) < 0 && errno == EINTR) {
        continue;
    }
}

void
ntp__handle_mirror_update_locked(ntp_handle *h)
{
    if (h->mirror_fd < 0) {
        return;
    }
    bool on = h->ops->signalled(h, NULL);
    if (on == h->mirror_set) {
        return;
    }
    h->mirror_set = on;
    if (on) {
        mirror_write(h->mirror_fd);
    } else {
        mirror_drain(h->mirror_fd);
    }
}

ntp_status
ntp_handle_get_fd(ntp_handle *h, int *fd)
{
    if (fd == NULL) {
        return NTP_EINVAL;
    }
    pthread_mutex_lock(&ntp__sync_lock);
    ntp_status st = ntp__handle_check_locked(h, 0);
    if (st == 0 && h->mirror_fd < 0) {
        /* Made under the lock so two first requests cannot race into two
         * fds; this happens once per handle, so the system call under the
         * lock costs nothing that matters. */
        int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (efd < 0) {
            st = (errno == EMFILE || errno == ENFILE) ? NTP_EMFILE
                 : (errno == ENOMEM)                  ? NTP_ENOMEM
                                                      : -errno;
        } else {
            h->mirror_fd = efd;
            h->mirror_set = false;
            ntp__handle_mirror_update_locked(h);
        }
    }
    if (st == 0) {
        *fd = h->mirror_fd;
    }
    pthread_mutex_unlock(&ntp__sync_lock);
    return st;
}
