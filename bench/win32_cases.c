/*
 * win32_cases.c -- the throughput, timer and wait cases written against
 * the Windows thread-pool API only. The same source is built twice:
 * with gcc against ntpool's <ntpool/win32.h> (ntpool-bench-win32), and
 * with x86_64-w64-mingw32-gcc against <windows.h> (ntpool-bench-wine.exe),
 * which runs under Wine: the same program measures ntpool's Windows
 * surface and Wine's thread pool side by side. Each run is timed inside
 * the program (QueryPerformanceCounter), so Wine's start-up is excluded.
 *
 *   PROG work N THREADS           one work object submitted N times
 *   PROG try N THREADS            N TrySubmitThreadpoolCallback calls
 *   PROG timers N SPAN_MS THREADS N one-shot timers due at random times
 *                                 within SPAN_MS (the seed of timers.c)
 *   PROG waits N THREADS          N waits, each on its own auto-reset
 *                                 event, all signalled from one thread
 *   PROG latency N THREADS        wake latency on an idle pool: a work
 *                                 object submitted N times, each after a
 *                                 1 ms pause, from the submit to the
 *                                 first instruction of the callback
 *
 * Every case runs on a private pool of THREADS threads, started up front.
 * Output as
 * common.h: work/try print seconds, ns_per_task; latency prints median_us,
 * p99_us; timers print median_ms,
 * p99_ms, max_ms, early, threads; waits print seconds, ns_per_wait,
 * threads. `threads` is the process's threads besides the main one, which
 * for Wine includes its waiter threads (one per 63 waits or timers).
 */
#ifdef _WIN32
#include <windows.h>
#include <tlhelp32.h>
#else
#include <ntpool/win32.h>

#include <dirent.h>
#endif

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static LARGE_INTEGER qpc_freq;

static int64_t
now_ns(void)
{
    LARGE_INTEGER t;
    QueryPerformanceCounter(&t);
    return (int64_t)((double)t.QuadPart * 1e9 / (double)qpc_freq.QuadPart);
}

/* The threads of this process besides the calling one. */
static unsigned
other_threads(void)
{
    unsigned n = 0;
#ifdef _WIN32
    HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
    THREADENTRY32 te;
    te.dwSize = sizeof te;
    DWORD pid = GetCurrentProcessId();
    if (snap != INVALID_HANDLE_VALUE && Thread32First(snap, &te)) {
        do {
            if (te.th32OwnerProcessID == pid)
                n++;
        } while (Thread32Next(snap, &te));
    }
    if (snap != INVALID_HANDLE_VALUE)
        CloseHandle(snap);
#else
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    if (d)
        closedir(d);
#endif
    return n > 0 ? n - 1 : 0;
}

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- what every case shares ---- */

static LONG volatile remaining; /* callbacks still to run */
static HANDLE all_done;         /* set by the last callback */
static LONG volatile threads_seen;
static LONG half; /* when to count threads */

static void
one_done(void)
{
    LONG left = InterlockedDecrement(&remaining);
    if (left == half)
        InterlockedExchange(&threads_seen, (LONG)other_threads());
    if (left == 0)
        SetEvent(all_done);
}

static PTP_POOL pool;
static TP_CALLBACK_ENVIRON env;

static void
start_pool(DWORD threads)
{
    pool = CreateThreadpool(NULL);
    if (!pool)
        exit(1);
    SetThreadpoolThreadMaximum(pool, threads);
    /* Started up front: thread start-up is not what is measured. */
    if (!SetThreadpoolThreadMinimum(pool, threads))
        exit(1);
    InitializeThreadpoolEnvironment(&env);
    SetThreadpoolCallbackPool(&env, pool);
    all_done = CreateEvent(NULL, FALSE, FALSE, NULL);
}

static void
stop_pool(void)
{
    DestroyThreadpoolEnvironment(&env);
    CloseThreadpool(pool);
    CloseHandle(all_done);
}

/* ---- throughput ---- */

static VOID CALLBACK
on_work(PTP_CALLBACK_INSTANCE inst, PVOID ctx, PTP_WORK work)
{
    (void)inst, (void)ctx, (void)work;
    one_done();
}

static VOID CALLBACK
on_simple(PTP_CALLBACK_INSTANCE inst, PVOID ctx)
{
    (void)inst, (void)ctx;
    one_done();
}

static int
throughput(int try_submit, long n)
{
    remaining = n;
    half = -1;
    PTP_WORK work = NULL;
    if (!try_submit)
        work = CreateThreadpoolWork(on_work, NULL, &env);
    int64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        if (!try_submit)
            SubmitThreadpoolWork(work);
        else if (!TrySubmitThreadpoolCallback(on_simple, NULL, &env))
            return 1;
    }
    WaitForSingleObject(all_done, INFINITE);
    int64_t dt = now_ns() - t0;
    if (work) {
        WaitForThreadpoolWorkCallbacks(work, FALSE);
        CloseThreadpoolWork(work);
    }
    printf("seconds=%.6g ns_per_task=%.6g\n", (double)dt / 1e9,
           (double)dt / (double)n);
    return 0;
}

/* ---- timers ---- */

static int64_t *due_at, *late_ns;

static VOID CALLBACK
on_timer(PTP_CALLBACK_INSTANCE inst, PVOID ctx, PTP_TIMER timer)
{
    (void)inst, (void)timer;
    intptr_t i = (intptr_t)ctx;
    late_ns[i] = now_ns() - due_at[i];
    one_done();
}

static uint64_t
xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int
timers(long n, unsigned span_ms)
{
    remaining = n;
    half = (LONG)(n / 2);
    due_at = calloc((size_t)n, sizeof *due_at);
    late_ns = calloc((size_t)n, sizeof *late_ns);
    PTP_TIMER *t = calloc((size_t)n, sizeof *t);
    uint64_t seed = 0x9e3779b97f4a7c15u;
    int64_t base = now_ns() + 300 * 1000000;
    for (long i = 0; i < n; i++) {
        due_at[i] =
            base + (int64_t)(xorshift(&seed) % ((uint64_t)span_ms * 1000000u));
        t[i] = CreateThreadpoolTimer(on_timer, (PVOID)(intptr_t)i, &env);
        if (!t[i])
            return 1;
    }
    for (long i = 0; i < n; i++) {
        /* A relative due time: negative, in 100 ns units, rounded up. */
        int64_t rel = due_at[i] - now_ns();
        int64_t ticks = rel > 0 ? (rel + 99) / 100 : 0;
        uint64_t u = (uint64_t)(-ticks);
        FILETIME ft;
        ft.dwLowDateTime = (DWORD)(u & 0xffffffffu);
        ft.dwHighDateTime = (DWORD)(u >> 32);
        SetThreadpoolTimer(t[i], &ft, 0, 0);
    }
    WaitForSingleObject(all_done, INFINITE);
    long early = 0;
    for (long i = 0; i < n; i++) {
        if (late_ns[i] < 0) {
            early++;
            late_ns[i] = 0;
        }
    }
    for (long i = 0; i < n; i++) {
        WaitForThreadpoolTimerCallbacks(t[i], FALSE);
        CloseThreadpoolTimer(t[i]);
    }
    qsort(late_ns, (size_t)n, sizeof *late_ns, cmp_i64);
    printf("median_ms=%.6g p99_ms=%.6g max_ms=%.6g early=%ld threads=%ld\n",
           (double)late_ns[n / 2] / 1e6, (double)late_ns[n * 99 / 100] / 1e6,
           (double)late_ns[n - 1] / 1e6, early, (long)threads_seen);
    free(t);
    return 0;
}

/* ---- waits ---- */

static VOID CALLBACK
on_wait(PTP_CALLBACK_INSTANCE inst, PVOID ctx, PTP_WAIT wait,
        TP_WAIT_RESULT result)
{
    (void)inst, (void)ctx, (void)wait, (void)result;
    one_done();
}

static int
waits(long n)
{
    remaining = n;
    half = (LONG)(n / 2);
    HANDLE *events = calloc((size_t)n, sizeof *events);
    PTP_WAIT *w = calloc((size_t)n, sizeof *w);
    for (long i = 0; i < n; i++) {
        events[i] = CreateEvent(NULL, FALSE, FALSE, NULL);
        w[i] = CreateThreadpoolWait(on_wait, NULL, &env);
        if (!events[i] || !w[i])
            return 1;
        SetThreadpoolWait(w[i], events[i], NULL);
    }
    int64_t t0 = now_ns();
    for (long i = 0; i < n; i++)
        SetEvent(events[i]);
    WaitForSingleObject(all_done, INFINITE);
    int64_t dt = now_ns() - t0;
    for (long i = 0; i < n; i++) {
        WaitForThreadpoolWaitCallbacks(w[i], FALSE);
        CloseThreadpoolWait(w[i]);
        CloseHandle(events[i]);
    }
    printf("seconds=%.6g ns_per_wait=%.6g threads=%ld n_measured=%ld\n",
           (double)dt / 1e9, (double)dt / (double)n, (long)threads_seen, n);
    free(w);
    free(events);
    return 0;
}

static int
usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s work|try|waits|latency N THREADS | "
            "timers N SPAN_MS THREADS\n",
            prog);
    return 2;
}

/* ---- wake latency ---- */

static int64_t volatile started_at;

static VOID CALLBACK
on_stamp(PTP_CALLBACK_INSTANCE inst, PVOID ctx, PTP_WORK work)
{
    (void)ctx, (void)work;
    started_at = now_ns();
    SetEventWhenCallbackReturns(inst, all_done);
}

static int
latency(long n)
{
    PTP_WORK work = CreateThreadpoolWork(on_stamp, NULL, &env);
    int64_t *lat = calloc((size_t)n, sizeof *lat);
    if (!work || !lat)
        return 1;
    /* Warm up: let the pool start its threads first. */
    for (int i = 0; i < 100; i++) {
        SubmitThreadpoolWork(work);
        WaitForSingleObject(all_done, INFINITE);
    }
    for (long i = 0; i < n; i++) {
        /* Long enough for the pool to park (latency.c pauses 300 us;
         * the Windows API sleeps in milliseconds). */
        Sleep(1);
        int64_t t0 = now_ns();
        SubmitThreadpoolWork(work);
        WaitForSingleObject(all_done, INFINITE);
        lat[i] = started_at - t0;
    }
    WaitForThreadpoolWorkCallbacks(work, FALSE);
    CloseThreadpoolWork(work);
    qsort(lat, (size_t)n, sizeof *lat, cmp_i64);
    printf("median_us=%.6g p99_us=%.6g\n", (double)lat[n / 2] / 1e3,
           (double)lat[n * 99 / 100] / 1e3);
    free(lat);
    return 0;
}

int
main(int argc, char **argv)
{
    QueryPerformanceFrequency(&qpc_freq);
    if (argc < 4)
        return usage(argv[0]);
    long n = atol(argv[2]);
    int is_timers = !strcmp(argv[1], "timers");
    if (n <= 0 || (is_timers && argc < 5))
        return usage(argv[0]);
    start_pool((DWORD)atol(argv[is_timers ? 4 : 3]));
    int rc = 2;
    if (!strcmp(argv[1], "work") || !strcmp(argv[1], "try"))
        rc = throughput(argv[1][0] == 't', n);
    else if (is_timers)
        rc = timers(n, (unsigned)atoi(argv[3]));
    else if (!strcmp(argv[1], "waits"))
        rc = waits(n);
    else if (!strcmp(argv[1], "latency"))
        rc = latency(n);
    else
        rc = usage(argv[0]);
    stop_pool();
    fflush(stdout);
    return rc;
}
