/*
 * io_uring.h -- the io_uring backend of I/O objects (io_uring.c), used by
 * io.c when liburing is built in and the kernel grants a ring.
 */
#ifndef NTP_IO_URING_H
#define NTP_IO_URING_H

#include "internal.h"

/* True once the process-wide ring is up (set up on first call). */
bool ntp__uring_available(void);
/* Queue a read or write of `len` bytes at `offset` (UINT64_MAX: the file
 * position) on fd; its completion comes to ntp__io_uring_done(op, res) on
 * the reactor thread. Fails (NTP_EAGAIN, ...) without queuing anything. */
ntp_status ntp__uring_submit(void *op, int fd, bool write, void *buf,
                             size_t len, uint64_t offset);
/* Ask the kernel to cancel the operation `op`; it then completes with
 * -ECANCELED, unless it completed already or cannot be interrupted. */
void ntp__uring_cancel(void *op);
/* io.c: an operation ended; res is the byte count or a negative errno. */
void ntp__io_uring_done(void *op, int res);

#endif /* NTP_IO_URING_H */
