/*
 * task.h -- what every C test includes: TEST_IMPL, the assertions and the
 * timing helpers (libuv's test/task.h in spirit).
 *
 * A test file is tests/c/test-<object>.c and holds tests like this:
 *
 *     #include "task.h"
 *
 *     TEST_IMPL(work_submit_wait)
 *     {
 *         ...
 *         ASSERT_EQ(calls, 3);
 *         ASSERT_NO_LIVE_OBJECTS();
 *     }
 *
 * TEST_IMPL registers the test with the runner (runner.c) before main()
 * runs, and CMake finds the same line to register it with CTest, so write
 * TEST_IMPL(name) at the start of a line. Names are unique across all
 * files; the same behaviour keeps the same name in the Python and Lua
 * suites.
 *
 * Every assertion that fails prints where and what, then calls abort(),
 * which fails the test's process however deep in a worker thread it is.
 */
#ifndef NTP_TEST_TASK_H
#define NTP_TEST_TASK_H

#include "ntpool.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where the fixture modules (tests/c/fixtures/<name>.c) are built. */
#ifndef NTP_TEST_MODULE_DIR
#define NTP_TEST_MODULE_DIR "."
#endif
/* The path of fixture module `name`, for dlopen(): TEST_MODULE("testmod"). */
#define TEST_MODULE(name) NTP_TEST_MODULE_DIR "/" name ".so"

/* ------------------------------------------------------------------------ */
/* Defining tests                                                            */
/* ------------------------------------------------------------------------ */

/* Called by TEST_IMPL's constructor; the runner keeps the list. */
void ntp_test_register(const char *name, void (*fn)(void));

/*
 * The test function has external linkage so that two tests of the same
 * name in different files fail the link instead of running twice.
 */
#define TEST_IMPL(name)                                                      \
    void ntp_test_impl_##name(void);                                         \
    __attribute__((constructor)) static void ntp_test_ctor_##name(void)     \
    {                                                                        \
        ntp_test_register(#name, ntp_test_impl_##name);                      \
    }                                                                        \
    void ntp_test_impl_##name(void)

/* Stop the test, counting it as skipped (exit status 77, which CTest
 * reports as "Not Run"): for tests that need something this machine
 * lacks. Not a way to silence a failure. */
#define TEST_SKIP(reason) ntp_test_skip(__FILE__, __LINE__, (reason))

/* ------------------------------------------------------------------------ */
/* Assertions                                                                */
/* ------------------------------------------------------------------------ */

/* Print "file:line: test: message" to stderr and abort(). */
_Noreturn void ntp_test_fail(const char *file, int line, const char *fmt,
                             ...) __attribute__((format(printf, 3, 4)));
_Noreturn void ntp_test_skip(const char *file, int line, const char *reason);
/* A readable name for a status or wait result, written into buf. */
const char *ntp_test_status_name(int status, char *buf, size_t size);
void ntp_test_fail_status(const char *file, int line, const char *expr,
                          const char *expected_expr, int got, int expected);
void ntp_test_assert_no_live_objects(const char *file, int line);

#define ASSERT(cond)                                                         \
    do {                                                                     \
        if (!(cond)) {                                                       \
            ntp_test_fail(__FILE__, __LINE__, "assertion failed: %s",        \
                          #cond);                                            \
        }                                                                    \
    } while (0)

/* Integers: each operand is evaluated once, as intmax_t. The ASSERT_*
 * macros stringify their operands themselves, before macro expansion, so a
 * failure shows the source text (atomic_load(&x), not its expansion). */
#define NTP_ASSERT_INT(a, op, b, sa, sb)                                     \
    do {                                                                     \
        intmax_t ntp_assert_a_ = (intmax_t)(a);                              \
        intmax_t ntp_assert_b_ = (intmax_t)(b);                              \
        if (!(ntp_assert_a_ op ntp_assert_b_)) {                             \
            ntp_test_fail(__FILE__, __LINE__,                                \
                          "assertion failed: %s %s %s (%jd %s %jd)", sa,     \
                          #op, sb, ntp_assert_a_, #op, ntp_assert_b_);       \
        }                                                                    \
    } while (0)

#define ASSERT_EQ(a, b) NTP_ASSERT_INT(a, ==, b, #a, #b)
#define ASSERT_NE(a, b) NTP_ASSERT_INT(a, !=, b, #a, #b)
#define ASSERT_LT(a, b) NTP_ASSERT_INT(a, <, b, #a, #b)
#define ASSERT_LE(a, b) NTP_ASSERT_INT(a, <=, b, #a, #b)
#define ASSERT_GT(a, b) NTP_ASSERT_INT(a, >, b, #a, #b)
#define ASSERT_GE(a, b) NTP_ASSERT_INT(a, >=, b, #a, #b)

#define NTP_ASSERT_PTR(a, op, b, sa, sb)                                         \
    do {                                                                     \
        const void *ntp_assert_a_ = (const void *)(a);                       \
        const void *ntp_assert_b_ = (const void *)(b);                       \
        if (!(ntp_assert_a_ op ntp_assert_b_)) {                             \
            ntp_test_fail(__FILE__, __LINE__,                                \
                          "assertion failed: %s %s %s (%p %s %p)", sa, #op,  \
                          sb, ntp_assert_a_, #op, ntp_assert_b_);            \
        }                                                                    \
    } while (0)

#define ASSERT_PTR_EQ(a, b) NTP_ASSERT_PTR(a, ==, b, #a, #b)
#define ASSERT_PTR_NE(a, b) NTP_ASSERT_PTR(a, !=, b, #a, #b)
#define ASSERT_NULL(p) NTP_ASSERT_PTR(p, ==, NULL, #p, "NULL")
#define ASSERT_NOT_NULL(p) NTP_ASSERT_PTR(p, !=, NULL, #p, "NULL")

/* A status or wait result that must be `expected` (NTP_EINVAL,
 * NTP_WAIT_TIMEOUT, ...); a mismatch prints both names. ASSERT_OK: a
 * status call that must succeed. */
#define ASSERT_STATUS(expr, expected)                                        \
    NTP_ASSERT_STATUS(expr, expected, #expr, #expected)
#define ASSERT_OK(expr) NTP_ASSERT_STATUS(expr, 0, #expr, "0")
#define NTP_ASSERT_STATUS(expr, expected, sexpr, sexpected)                  \
    do {                                                                     \
        int ntp_assert_got_ = (int)(expr);                                   \
        int ntp_assert_want_ = (int)(expected);                              \
        if (ntp_assert_got_ != ntp_assert_want_) {                           \
            ntp_test_fail_status(__FILE__, __LINE__, sexpr, sexpected,       \
                                 ntp_assert_got_, ntp_assert_want_);         \
        }                                                                    \
    } while (0)

/* Strings; NULL is allowed and equal only to NULL. */
#define ASSERT_STR_EQ(a, b)                                                  \
    do {                                                                     \
        const char *ntp_assert_a_ = (a);                                     \
        const char *ntp_assert_b_ = (b);                                     \
        if (ntp_assert_a_ == NULL || ntp_assert_b_ == NULL                   \
                ? ntp_assert_a_ != ntp_assert_b_                             \
                : strcmp(ntp_assert_a_, ntp_assert_b_) != 0) {               \
            ntp_test_fail(__FILE__, __LINE__,                                \
                          "assertion failed: %s == %s (\"%s\" == \"%s\")",   \
                          #a, #b, ntp_assert_a_ ? ntp_assert_a_ : "(null)",  \
                          ntp_assert_b_ ? ntp_assert_b_ : "(null)");         \
        }                                                                    \
    } while (0)

/*
 * Every test ends with this. Workers free closed objects shortly after
 * their last callback, so it polls ntp_debug_live_objects() for up to 5 s
 * (times the multiplier) before it calls the remainder a leak.
 */
#define ASSERT_NO_LIVE_OBJECTS()                                             \
    ntp_test_assert_no_live_objects(__FILE__, __LINE__)

/* ------------------------------------------------------------------------ */
/* Time                                                                      */
/* ------------------------------------------------------------------------ */

/* Sleep at least ms milliseconds (signals do not cut it short). */
void test_sleep_ms(unsigned ms);
/* CLOCK_MONOTONIC in milliseconds. */
uint64_t test_now_ms(void);
/* NTP_TEST_TIMEOUT_MULTIPLIER from the environment (default 1): sanitizer
 * runs raise it, and every timeout in a test should be scaled by it. */
unsigned test_timeout_multiplier(void);

/*
 * Poll `cond` every millisecond until it holds; fail the test if it still
 * does not after timeout_ms (times the multiplier). The condition is read
 * once more after the deadline passes, so a slow wakeup is not a failure.
 */
#define TEST_WAIT_UNTIL(cond, timeout_ms)                                    \
    do {                                                                     \
        uint64_t ntp_wait_limit_ =                                           \
            (uint64_t)(timeout_ms) * test_timeout_multiplier();              \
        uint64_t ntp_wait_end_ = test_now_ms() + ntp_wait_limit_;            \
        while (!(cond)) {                                                    \
            if (test_now_ms() > ntp_wait_end_) {                             \
                if (cond) {                                                  \
                    break;                                                   \
                }                                                            \
                ntp_test_fail(__FILE__, __LINE__,                            \
                              "TEST_WAIT_UNTIL(%s) still false after %"      \
                              PRIu64 " ms", #cond, ntp_wait_limit_);         \
            }                                                                \
            test_sleep_ms(1);                                                \
        }                                                                    \
    } while (0)

#endif /* NTP_TEST_TASK_H */
