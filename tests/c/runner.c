/*
 * runner.c -- main() of ntpool-tests (libuv's test/runner.c in spirit).
 *
 *   ntpool-tests NAME...   run these tests in this process, one after the
 *                          other; a failed assertion aborts the process.
 *                          CTest runs every test this way, each in its own
 *                          process with its own timeout.
 *   ntpool-tests --list    print every test name, sorted, one per line.
 *   ntpool-tests [--all]   run every test in a forked child with a timeout
 *                          and print TAP; the last line is "N passed, N
 *                          failed". For a quick run without CTest.
 *
 * Exit status: 0 if every test run passed (or was skipped), 1 if one
 * failed, 2 for a usage error such as an unknown test name.
 */
/* CMake defines this for every target; the guard lets the file also build
 * by hand. strsignal() and prctl() need it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "task.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The exit status of a skipped test; CTest's SKIP_RETURN_CODE matches. */
#define SKIP_STATUS 77

/* Seconds a test may run in --all mode, before the multiplier. */
#define DEFAULT_TIMEOUT_S 60

typedef struct test_entry {
    const char *name;
    void (*fn)(void);
} test_entry;

/* Filled by constructors before main() runs, so only one thread touches
 * it and it needs no lock. */
static test_entry *tests;
static size_t ntests;
static size_t tests_capacity;

/* The test running in this process, for failure messages. */
static const char *current_test = "(no test)";

void
ntp_test_register(const char *name, void (*fn)(void))
{
    if (ntests == tests_capacity) {
        size_t capacity = tests_capacity ? 2 * tests_capacity : 64;
        test_entry *grown = realloc(tests, capacity * sizeof *grown);
        if (grown == NULL) {
            fputs("ntpool-tests: out of memory registering tests\n", stderr);
            abort();
        }
        tests = grown;
        tests_capacity = capacity;
    }
    tests[ntests].name = name;
    tests[ntests].fn = fn;
    ntests++;
}

/* ------------------------------------------------------------------------ */
/* Failure reporting                                                         */
/* ------------------------------------------------------------------------ */

void
ntp_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    /* Flush what the test printed first, so the failure comes last. */
    fflush(stdout);
    fprintf(stderr, "%s:%d: %s: ", file, line, current_test);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    /* abort() rather than exit(): it works from any thread, cannot be
     * blocked by a stuck atexit handler, and leaves a core to look at. */
    abort();
}

void
ntp_test_skip(const char *file, int line, const char *reason)
{
    fflush(stdout);
    printf("skip %s: %s (%s:%d)\n", current_test, reason, file, line);
    fflush(stdout);
    exit(SKIP_STATUS);
}

const char *
ntp_test_status_name(int status, char *buf, size_t size)
{
    /* Wait results are small non-negative numbers; statuses are 0 or a
     * negative errno. Name the wait results here, the rest by ntpool. */
    if (status == NTP_WAIT_TIMEOUT) {
        snprintf(buf, size, "WAIT_TIMEOUT");
    } else if (status == NTP_WAIT_IO_COMPLETION) {
        snprintf(buf, size, "WAIT_IO_COMPLETION");
    } else if (status > NTP_WAIT_OBJECT_0
               && status < NTP_WAIT_OBJECT_0 + NTP_MAXIMUM_WAIT_OBJECTS) {
        snprintf(buf, size, "WAIT_OBJECT_0+%d", status - NTP_WAIT_OBJECT_0);
    } else if (status >= NTP_WAIT_ABANDONED_0
               && status < NTP_WAIT_ABANDONED_0 + NTP_MAXIMUM_WAIT_OBJECTS) {
        snprintf(buf, size, "WAIT_ABANDONED_0+%d",
                 status - NTP_WAIT_ABANDONED_0);
    } else {
        snprintf(buf, size, "%s: %s", ntp_err_name(status),
                 ntp_strerror(status));
    }
    return buf;
}

void
ntp_test_fail_status(const char *file, int line, const char *expr,
                     const char *expected_expr, int got, int expected)
{
    char got_name[128];
    char expected_name[128];

    ntp_test_fail(file, line,
                  "assertion failed: %s == %s (got %d %s, expected %d %s)",
                  expr, expected_expr, got,
                  ntp_test_status_name(got, got_name, sizeof got_name),
                  expected,
                  ntp_test_status_name(expected, expected_name,
                                       sizeof expected_name));
}

void
ntp_test_assert_no_live_objects(const char *file, int line)
{
    uint64_t limit = 5000 * (uint64_t)test_timeout_multiplier();
    uint64_t end = test_now_ms() + limit;
    long live;

    while ((live = ntp_debug_live_objects()) != 0) {
        if (test_now_ms() > end) {
            ntp_test_fail(file, line,
                          "%ld ntpool object(s) still alive after %llu ms",
                          live, (unsigned long long)limit);
        }
        test_sleep_ms(1);
    }
}

/* ------------------------------------------------------------------------ */
/* Time                                                                      */
/* ------------------------------------------------------------------------ */

void
test_sleep_ms(unsigned ms)
{
    struct timespec left;

    left.tv_sec = ms / 1000;
    left.tv_nsec = (long)(ms % 1000) * 1000000L;
    /* nanosleep reports the time left when a signal interrupts it; keep
     * sleeping so callers get at least what they asked for. */
    while (nanosleep(&left, &left) != 0 && errno == EINTR) {
    }
}

uint64_t
test_now_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
}

unsigned
test_timeout_multiplier(void)
{
    const char *value = getenv("NTP_TEST_TIMEOUT_MULTIPLIER");
    char *end;
    unsigned long n;

    if (value == NULL || *value == '\0') {
        return 1;
    }
    errno = 0;
    n = strtoul(value, &end, 10);
    /* A malformed or zero value falls back to 1 rather than disabling
     * every timeout. */
    if (errno != 0 || *end != '\0' || n == 0 || n > 1000) {
        return 1;
    }
    return (unsigned)n;
}

/* ------------------------------------------------------------------------ */
/* Running                                                                   */
/* ------------------------------------------------------------------------ */

static int
compare_entries(const void *a, const void *b)
{
    const test_entry *x = a;
    const test_entry *y = b;

    return strcmp(x->name, y->name);
}

static const test_entry *
find_test(const char *name)
{
    test_entry key;

    key.name = name;
    key.fn = NULL;
    return bsearch(&key, tests, ntests, sizeof *tests, compare_entries);
}

/* Run one test in this process: the mode CTest uses. */
static void
run_in_process(const test_entry *t)
{
    uint64_t start = test_now_ms();

    current_test = t->name;
    t->fn();
    printf("ok %s (%llu ms)\n", t->name,
           (unsigned long long)(test_now_ms() - start));
    fflush(stdout);
}

/* Copy a failed child's captured output to stdout as TAP comments. */
static void
print_captured(FILE *captured)
{
    char line[1024];
    bool at_line_start = true;

    rewind(captured);
    while (fgets(line, sizeof line, captured) != NULL) {
        if (at_line_start) {
            fputs("# ", stdout);
        }
        fputs(line, stdout);
        at_line_start = strchr(line, '\n') != NULL;
    }
    if (!at_line_start) {
        fputc('\n', stdout);
    }
}

enum outcome { PASSED, FAILED, SKIPPED };

/*
 * Run one test in a forked child whose stdout and stderr go to a temporary
 * file, shown only if the test fails. The parent never calls into ntpool,
 * so it has no threads and forking it is safe.
 */
static enum outcome
run_in_child(const test_entry *t, size_t number, unsigned timeout_s)
{
    uint64_t start = test_now_ms();
    uint64_t limit_ms = (uint64_t)timeout_s * 1000;
    FILE *captured = tmpfile();
    unsigned poll_ms = 1;
    enum outcome result;
    char reason[64];
    int status = 0;
    pid_t pid;
    pid_t done;

    if (captured == NULL) {
        perror("ntpool-tests: tmpfile");
        exit(2);
    }
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        perror("ntpool-tests: fork");
        exit(2);
    }
    if (pid == 0) {
        /* Die with the runner, so an interrupted run leaves no hung test
         * behind. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(fileno(captured), STDOUT_FILENO);
        dup2(fileno(captured), STDERR_FILENO);
        current_test = t->name;
        t->fn();
        fflush(stdout);
        /* exit(), not _exit(): LeakSanitizer checks at exit. */
        exit(0);
    }

    /* Poll rather than block, to enforce the timeout; start fast so short
     * tests are not slowed down, then back off. */
    while ((done = waitpid(pid, &status, WNOHANG)) == 0) {
        if (test_now_ms() - start > limit_ms) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        test_sleep_ms(poll_ms);
        if (poll_ms < 20) {
            poll_ms *= 2;
        }
    }
    if (done < 0) {
        perror("ntpool-tests: waitpid");
        exit(2);
    }

    if (done == 0) {
        result = FAILED;
        snprintf(reason, sizeof reason, "timed out after %u s", timeout_s);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        result = PASSED;
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == SKIP_STATUS) {
        result = SKIPPED;
    } else if (WIFEXITED(status)) {
        result = FAILED;
        snprintf(reason, sizeof reason, "exit status %d",
                 WEXITSTATUS(status));
    } else {
        result = FAILED;
        snprintf(reason, sizeof reason, "killed by signal %d (%s)",
                 WTERMSIG(status), strsignal(WTERMSIG(status)));
    }

    if (result == PASSED) {
        printf("ok %zu - %s (%llu ms)\n", number, t->name,
               (unsigned long long)(test_now_ms() - start));
    } else if (result == SKIPPED) {
        printf("ok %zu - %s # SKIP\n", number, t->name);
    } else {
        printf("not ok %zu - %s # %s\n", number, t->name, reason);
        print_captured(captured);
    }
    fflush(stdout);
    fclose(captured);
    return result;
}

static int
run_all(void)
{
    unsigned timeout_s = DEFAULT_TIMEOUT_S * test_timeout_multiplier();
    size_t passed = 0;
    size_t failed = 0;
    size_t skipped = 0;
    size_t i;

    printf("1..%zu\n", ntests);
    for (i = 0; i < ntests; i++) {
        switch (run_in_child(&tests[i], i + 1, timeout_s)) {
        case PASSED:
            passed++;
            break;
        case SKIPPED:
            skipped++;
            break;
        case FAILED:
            failed++;
            break;
        }
    }
    if (skipped > 0) {
        printf("# %zu skipped\n", skipped);
    }
    printf("%zu passed, %zu failed\n", passed, failed);
    return failed > 0 ? 1 : 0;
}

static void
usage(FILE *out)
{
    fputs("usage: ntpool-tests [--all]     run every test, each in a child\n"
          "       ntpool-tests --list      list the tests\n"
          "       ntpool-tests NAME...     run these tests in this process\n"
          "environment: NTP_TEST_TIMEOUT_MULTIPLIER scales every timeout\n",
          out);
}

int
main(int argc, char **argv)
{
    size_t i;
    int a;

    /* Sort once, so --list is ordered, lookups can bisect and duplicates
     * sit next to each other. */
    qsort(tests, ntests, sizeof *tests, compare_entries);
    for (i = 1; i < ntests; i++) {
        if (strcmp(tests[i - 1].name, tests[i].name) == 0) {
            fprintf(stderr, "ntpool-tests: test %s is defined twice\n",
                    tests[i].name);
            return 2;
        }
    }

    if (argc < 2 || strcmp(argv[1], "--all") == 0) {
        if (argc > 2) {
            usage(stderr);
            return 2;
        }
        return run_all();
    }
    if (strcmp(argv[1], "--list") == 0) {
        for (i = 0; i < ntests; i++) {
            printf("%s\n", tests[i].name);
        }
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }

    /* Check every name before running any, so a typo fails at once. */
    for (a = 1; a < argc; a++) {
        if (find_test(argv[a]) == NULL) {
            fprintf(stderr,
                    "ntpool-tests: no test named \"%s\" "
                    "(--list shows them)\n",
                    argv[a]);
            return 2;
        }
    }
    for (a = 1; a < argc; a++) {
        run_in_process(find_test(argv[a]));
    }
    return 0;
}
