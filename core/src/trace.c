/*
 * trace.c -- ntp_trace_start/ntp_trace_stop: a record of what the pools
 * did (callbacks per worker thread, worker creation and exit, queue depth,
 * timer and wait firings, completion actions), written as Chrome Trace
 * Event JSON, which Perfetto and chrome://tracing open.
 *
 * COST WHEN OFF: every trace point is `if (NTP__TRACING()) ...`, one
 * relaxed load of a flag that is almost always false and a predictable
 * branch (internal.h).
 *
 * RECORDING. Each thread appends to a buffer of its own, under that
 * buffer's mutex, which only ntp_trace_stop ever contends for. Events are
 * small fixed records; their memory comes from malloc, not from the
 * allocator hook, so tracing does not disturb allocation counts.
 *
 * LIFETIME of a thread's buffer: the header (lock, thread id and name, the
 * event array) is allocated the first time a thread records and is never
 * freed: a thread that passed the "tracing on" check may still be about to
 * lock it while ntp_trace_stop runs, so it must stay valid. When its
 * thread exits (a pthread key destructor) the header is marked free and
 * the next new thread that records takes it over; so there are at most as
 * many headers as threads ever recorded at once. The event arrays are
 * freed by ntp_trace_stop, which also bumps the session number: an
 * appender finding its buffer from an older session starts it afresh.
 */
#include "object.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_EVENTS_PER_THREAD (1u << 20) /* 1M events, about 40 MB */

typedef struct trace_event {
    uint64_t t_ns; /* since the session started */
    const void *obj;
    const void *pool;
    int64_t value;
    uint8_t type; /* ntp__trace_type */
    uint8_t kind; /* ntp__object_kind or 0 */
} trace_event;

typedef struct trace_buf {
    pthread_mutex_t lock;
    struct trace_buf *next; /* global list, append-only */
    bool in_use;            /* owned by a live thread */
    unsigned long tid;
    char name[16];
    uint64_t session; /* the session events[] belongs to */
    trace_event *events;
    size_t n, cap;
    uint64_t dropped;
} trace_buf;

atomic_bool ntp__trace_on;

static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;
static trace_buf *buffers;           /* guarded by trace_lock */
static _Atomic uint64_t session;     /* bumped by start and stop */
static uint64_t session_start_ns;    /* written before trace_on is set */
static FILE *trace_out;              /* guarded by trace_lock */
static pthread_key_t buf_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static _Thread_local trace_buf *my_buf;

static void
release_buf(void *p)
{
    trace_buf *b = p;
    pthread_mutex_lock(&b->lock);
    b->in_use = false; /* events stay until stop collects them */
    pthread_mutex_unlock(&b->lock);
}

static void
make_key(void)
{
    (void)pthread_key_create(&buf_key, release_buf);
}

static trace_buf *
claim_buf(void)
{
    pthread_once(&key_once, make_key);
    trace_buf *b;
    pthread_mutex_lock(&trace_lock);
    for (b = buffers; b; b = b->next) {
        pthread_mutex_lock(&b->lock);
        bool taken = !b->in_use && b->n == 0;
        if (taken)
            b->in_use = true;
        pthread_mutex_unlock(&b->lock);
        if (taken)
            break;
    }
    if (b == NULL) {
        b = calloc(1, sizeof *b);
        if (b == NULL) {
            pthread_mutex_unlock(&trace_lock);
            return NULL;
        }
        pthread_mutex_init(&b->lock, NULL);
        b->in_use = true;
        b->next = buffers;
        buffers = b;
    }
    pthread_mutex_unlock(&trace_lock);
    pthread_mutex_lock(&b->lock);
    b->tid = ntp__thread_id();
    b->dropped = 0;
    if (pthread_getname_np(pthread_self(), b->name, sizeof b->name) != 0)
        b->name[0] = '\0';
    pthread_mutex_unlock(&b->lock);
    (void)pthread_setspecific(buf_key, b);
    return b;
}

void
ntp__trace_record(ntp__trace_type type, const void *obj, const void *pool,
                  unsigned kind, int64_t value)
{
    trace_buf *b = my_buf;
    if (b == NULL && (b = my_buf = claim_buf()) == NULL)
        return;
    uint64_t now = ntp__now_ns();
    pthread_mutex_lock(&b->lock);
    uint64_t s = atomic_load(&session);
    if (!atomic_load_explicit(&ntp__trace_on, memory_order_relaxed)) {
        pthread_mutex_unlock(&b->lock); /* stopped meanwhile */
        return;
    }
    if (b->session != s) { /* left over from an earlier session */
        free(b->events);
        b->events = NULL;
        b->n = b->cap = 0;
        b->dropped = 0;
        b->session = s;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        trace_event *ev = NULL;
        if (cap <= MAX_EVENTS_PER_THREAD)
            ev = realloc(b->events, cap * sizeof *ev);
        if (ev == NULL) {
            b->dropped++;
            pthread_mutex_unlock(&b->lock);
            return;
        }
        b->events = ev;
        b->cap = cap;
    }
    b->events[b->n++] = (trace_event){
        .t_ns = now > session_start_ns ? now - session_start_ns : 0,
        .obj = obj,
        .pool = pool,
        .value = value,
        .type = (uint8_t)type,
        .kind = (uint8_t)kind,
    };
    pthread_mutex_unlock(&b->lock);
}

ntp_status
ntp_trace_start(const char *path)
{
    if (path == NULL)
        return NTP_EINVAL;
    pthread_mutex_lock(&trace_lock);
    if (trace_out != NULL) {
        pthread_mutex_unlock(&trace_lock);
        return NTP_EBUSY;
    }
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        int e = errno;
        pthread_mutex_unlock(&trace_lock);
        return e == ENOENT ? NTP_ENOENT : e == EACCES ? NTP_EPERM
                                                      : NTP_EINVAL;
    }
    trace_out = f;
    session_start_ns = ntp__now_ns();
    atomic_fetch_add(&session, 1);
    atomic_store(&ntp__trace_on, true);
    pthread_mutex_unlock(&trace_lock);
    return 0;
}

static const char *
kind_name(unsigned kind)
{
    switch (kind) {
    case NTP__KIND_WORK: return "work";
    case NTP__KIND_SIMPLE: return "simple";
    case NTP__KIND_TIMER: return "timer";
    case NTP__KIND_WAIT: return "wait";
    case NTP__KIND_IO: return "io";
    default: return "callback";
    }
}

static const char *const action_names[] = {
    [NTP__TRACE_ACTION_CS] = "LeaveCriticalSectionWhenCallbackReturns",
    [NTP__TRACE_ACTION_MUTEX] = "ReleaseMutexWhenCallbackReturns",
    [NTP__TRACE_ACTION_SEMAPHORE] = "ReleaseSemaphoreWhenCallbackReturns",
    [NTP__TRACE_ACTION_EVENT] = "SetEventWhenCallbackReturns",
    [NTP__TRACE_ACTION_LIBRARY] = "FreeLibraryWhenCallbackReturns",
};

/* One event as a Trace Event object. `first` says whether a comma goes
 * before it. */
static void
write_event(FILE *f, const trace_buf *b, const trace_event *e, int pid)
{
    double ts = (double)e->t_ns / 1000.0; /* microseconds */
    switch (e->type) {
    case NTP__TRACE_CALLBACK_BEGIN:
        fprintf(f,
                ",\n{\"name\":\"%s %p\",\"cat\":\"%s\",\"ph\":\"B\","
                "\"ts\":%.3f,\"pid\":%d,\"tid\":%lu,"
                "\"args\":{\"object\":\"%p\",\"pool\":\"%p\"}}",
                kind_name(e->kind), e->obj, kind_name(e->kind), ts, pid,
                b->tid, e->obj, e->pool);
        break;
    case NTP__TRACE_CALLBACK_END:
        fprintf(f, ",\n{\"ph\":\"E\",\"ts\":%.3f,\"pid\":%d,\"tid\":%lu}",
                ts, pid, b->tid);
        break;
    case NTP__TRACE_ACTION:
        fprintf(f,
                ",\n{\"name\":\"%s\",\"cat\":\"action\",\"ph\":\"i\","
                "\"s\":\"t\",\"ts\":%.3f,\"pid\":%d,\"tid\":%lu,"
                "\"args\":{\"object\":\"%p\"}}",
                (e->value >= 0 && (size_t)e->value < sizeof action_names /
                                                          sizeof *action_names &&
                 action_names[e->value])
                    ? action_names[e->value]
                    : "action",
                ts, pid, b->tid, e->obj);
        break;
    case NTP__TRACE_TIMER_FIRED:
    case NTP__TRACE_WAIT_FIRED:
        fprintf(f,
                ",\n{\"name\":\"%s %p\",\"cat\":\"%s\",\"ph\":\"i\","
                "\"s\":\"t\",\"ts\":%.3f,\"pid\":%d,\"tid\":%lu,"
                "\"args\":{\"object\":\"%p\",\"pool\":\"%p\",\"result\":%"
                PRId64 "}}",
                e->type == NTP__TRACE_TIMER_FIRED ? "timer fired"
                                                  : "wait fired",
                e->obj,
                e->type == NTP__TRACE_TIMER_FIRED ? "timer" : "wait", ts,
                pid, b->tid, e->obj, e->pool, e->value);
        break;
    case NTP__TRACE_WORKER_START:
    case NTP__TRACE_WORKER_EXIT:
        fprintf(f,
                ",\n{\"name\":\"%s\",\"cat\":\"worker\",\"ph\":\"i\","
                "\"s\":\"t\",\"ts\":%.3f,\"pid\":%d,\"tid\":%lu,"
                "\"args\":{\"pool\":\"%p\"}}",
                e->type == NTP__TRACE_WORKER_START ? "worker started"
                                                   : "worker exited",
                ts, pid, b->tid, e->pool);
        fprintf(f,
                ",\n{\"name\":\"threads %p\",\"cat\":\"pool\",\"ph\":\"C\","
                "\"ts\":%.3f,\"pid\":%d,\"args\":{\"threads\":%" PRId64 "}}",
                e->pool, ts, pid, e->value);
        break;
    case NTP__TRACE_QUEUE_DEPTH: {
        /* value packs the three priorities, 21 bits each. */
        uint64_t v = (uint64_t)e->value;
        fprintf(f,
                ",\n{\"name\":\"queue %p\",\"cat\":\"pool\",\"ph\":\"C\","
                "\"ts\":%.3f,\"pid\":%d,\"args\":{\"high\":%" PRIu64
                ",\"normal\":%" PRIu64 ",\"low\":%" PRIu64 "}}",
                e->pool, ts, pid, v & 0x1fffff, (v >> 21) & 0x1fffff,
                (v >> 42) & 0x1fffff);
        break;
    }
    default:
        break;
    }
}

ntp_status
ntp_trace_stop(void)
{
    pthread_mutex_lock(&trace_lock);
    FILE *f = trace_out;
    if (f == NULL) {
        pthread_mutex_unlock(&trace_lock);
        return NTP_ENOENT;
    }
    atomic_store(&ntp__trace_on, false);
    uint64_t s = atomic_load(&session);
    int pid = (int)getpid();
    uint64_t dropped = 0;
    fprintf(f, "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n"
               "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,"
               "\"args\":{\"name\":\"ntpool\"}}",
            pid);
    for (trace_buf *b = buffers; b; b = b->next) {
        pthread_mutex_lock(&b->lock);
        if (b->session == s && b->n > 0) {
            fprintf(f,
                    ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,"
                    "\"tid\":%lu,\"args\":{\"name\":\"%s %lu\"}}",
                    pid, b->tid, b->name[0] ? b->name : "thread", b->tid);
            for (size_t i = 0; i < b->n; i++)
                write_event(f, b, &b->events[i], pid);
            dropped += b->dropped;
        }
        free(b->events);
        b->events = NULL;
        b->n = b->cap = 0;
        b->dropped = 0;
        pthread_mutex_unlock(&b->lock);
    }
    fprintf(f, "\n],\"otherData\":{\"dropped_events\":%" PRIu64 "}}\n",
            dropped);
    int rc = ferror(f);
    rc |= fclose(f);
    trace_out = NULL;
    atomic_fetch_add(&session, 1);
    pthread_mutex_unlock(&trace_lock);
    return rc ? NTP_EINVAL : 0;
}
