/*
 * common.h -- what every benchmark program shares: the clock, the CPU
 * count, sorting samples into a median and percentiles, counting the
 * process's threads, and the one-line output bench/run.py parses.
 *
 * Everything is static inline: each program is one translation unit plus
 * this header, so a case stays readable on its own.
 */
#ifndef NTP_BENCH_COMMON_H
#define NTP_BENCH_COMMON_H

#include <dirent.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline uint64_t
bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The CPUs this process may run on: every pool gets that many threads. */
static inline unsigned
bench_ncpu(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        return (unsigned)CPU_COUNT(&set);
    return 2;
}

/* The threads of this process now, from /proc/self/task. */
static inline unsigned
bench_thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return 0;
    unsigned n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static inline int
bench_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Sort v[0..n) in place; then bench_pct(v, n, 50) is the median. */
static inline void
bench_sort(uint64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, bench_cmp_u64);
}

static inline uint64_t
bench_pct(const uint64_t *sorted, size_t n, unsigned pct)
{
    if (n == 0)
        return 0;
    size_t i = (n * pct) / 100;
    return sorted[i < n ? i : n - 1];
}

/*
 * The output every program prints: one line of `key=value` pairs, which
 * bench/run.py turns into a dict. Keys name their unit (_s, _us, _ns).
 */
static inline void
bench_kv(const char *key, double value)
{
    printf("%s=%.6g ", key, value);
}

static inline void
bench_kv_end(void)
{
    printf("\n");
    fflush(stdout);
}

static inline void
bench_usage(const char *prog, const char *usage)
{
    fprintf(stderr, "usage: %s %s\n", prog, usage);
    exit(2);
}

#endif /* NTP_BENCH_COMMON_H */
