/*
 * win32_thread.c -- CreateThread and GetExitCodeThread. The thread's
 * handle is one of ntpool's thread handles (apc.c): waitable, signalled
 * once the thread has exited, a target for QueueUserAPC; the start
 * routine's result is its exit code.
 *
 * The creator waits until the new thread has made its handle (a few
 * microseconds), so CreateThread can return it; the start record lives on
 * the creator's stack until then, and the thread copies out what it needs
 * before it says it is ready.
 */
#include "sync.h"
#include "win32_internal.h"

#include <errno.h>
#include <limits.h>
#include <semaphore.h>

typedef struct start {
    LPTHREAD_START_ROUTINE fn;
    void *arg;
    sem_t ready;
    ntp_status status; /* of ntp_thread_current */
    ntp_handle *handle;
    DWORD tid;
} start;

static void *
thread_main(void *p)
{
    start *s = p;
    LPTHREAD_START_ROUTINE fn = s->fn;
    void *arg = s->arg;
    s->status = ntp_thread_current(&s->handle);
    s->tid = GetCurrentThreadId();
    bool ok = s->status == 0;
    sem_post(&s->ready); /* s is gone from here on */
    if (!ok)
        return NULL;
    DWORD code = fn(arg);
    ntp__thread_set_exit_code(code);
    return NULL;
}

HANDLE
CreateThread(LPSECURITY_ATTRIBUTES sa, SIZE_T stack,
             LPTHREAD_START_ROUTINE fn, LPVOID arg, DWORD flags,
             LPDWORD tid)
{
    (void)sa;
    if (fn == NULL) {
        ntp__win32_set_error(ERROR_INVALID_PARAMETER);
        return NULL;
    }
    if (flags & CREATE_SUSPENDED) {
        ntp__win32_set_error(ERROR_NOT_SUPPORTED);
        return NULL;
    }
    start s = {.fn = fn, .arg = arg};
    sem_init(&s.ready, 0, 0);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (stack > 0) {
        if (stack < (SIZE_T)PTHREAD_STACK_MIN)
            stack = (SIZE_T)PTHREAD_STACK_MIN;
        (void)pthread_attr_setstacksize(&attr, stack);
    }
    pthread_t t;
    int e = pthread_create(&t, &attr, thread_main, &s);
    pthread_attr_destroy(&attr);
    if (e != 0) {
        sem_destroy(&s.ready);
        ntp__win32_set_error(e == EAGAIN ? ERROR_NOT_ENOUGH_MEMORY
                                         : ERROR_INVALID_PARAMETER);
        return NULL;
    }
    while (sem_wait(&s.ready) != 0 && errno == EINTR) {
    }
    sem_destroy(&s.ready);
    if (s.status < 0)
        return ntp__win32_object(s.status, NULL);
    if (tid)
        *tid = s.tid;
    return s.handle;
}

BOOL
GetExitCodeThread(HANDLE h, LPDWORD code)
{
    if (code == NULL) {
        ntp__win32_set_error(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    if (h == GetCurrentThread()) {
        *code = STILL_ACTIVE;
        return TRUE;
    }
    uint32_t c = 0;
    ntp_status st = ntp__thread_handle_exit_code(h, &c);
    if (st == NTP_EBUSY) {
        *code = STILL_ACTIVE;
        return TRUE;
    }
    if (st < 0) {
        ntp__win32_set_error(ERROR_INVALID_HANDLE);
        return FALSE;
    }
    *code = c;
    return TRUE;
}
