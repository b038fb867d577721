/*
 * test-shutdown.c -- a C program that returns from main (or calls exit)
 * while the default pool is busy: callbacks running and queued, timers
 * armed, waits armed. It must exit with its own status, promptly, without
 * a crash. Each case runs in a child process, many times.
 */
#include "task.h"

#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Fewer rounds under the sanitizers, where each child's exit is slow
 * (about a second under TSan). */
#define ROUNDS (test_timeout_multiplier() > 1 ? 5 : 20)

static atomic_int started;

static void
busy_work(ntp_instance *inst, void *ctx, ntp_work *w)
{
    (void)inst, (void)ctx, (void)w;
    atomic_fetch_add(&started, 1);
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL); /* keeps a worker busy across exit */
}

static void
tick(ntp_instance *inst, void *ctx, ntp_timer *t)
{
    (void)inst, (void)ctx, (void)t;
}

static void
waited(ntp_instance *inst, void *ctx, ntp_wait *w, uint32_t r)
{
    (void)inst, (void)ctx, (void)w, (void)r;
}

/* The child: make the default pool busy in every way, then leave. */
static void
child_main(int how)
{
    ntp_work *w = NULL;
    ASSERT_OK(ntp_work_create(&w, busy_work, NULL, NULL));
    for (int i = 0; i < 200; i++)
        ntp_work_submit(w);
    ntp_timer *t = NULL;
    ASSERT_OK(ntp_timer_create(&t, tick, NULL, NULL));
    ntp_timer_set(t, ntp_due_in_ms(0), 1, 0); /* periodic, 1 ms */
    ntp_handle *ev = NULL;
    ASSERT_OK(ntp_event_create(&ev, false, false));
    ntp_wait *wt = NULL;
    ASSERT_OK(ntp_wait_create(&wt, waited, NULL, NULL));
    ntp_wait_set(wt, ev, 5); /* times out while we exit */
    while (atomic_load(&started) == 0)
        sched_yield();
    /* Nothing is closed: what a program that simply ends does. */
    if (how == 0)
        exit(7); /* atexit handlers and stdio flush run, workers live */
    _exit(7);
}

static void
run_rounds(int how)
{
    for (int round = 0; round < ROUNDS; round++) {
        fflush(NULL);
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0)
            child_main(how);
        int status = 0;
        unsigned waited_ms = 0;
        pid_t got;
        while ((got = waitpid(pid, &status, WNOHANG)) == 0) {
            if (waited_ms > 10000 * test_timeout_multiplier()) {
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                ntp_test_fail(__FILE__, __LINE__,
                              "round %d: the child hung at exit", round);
            }
            usleep(1000);
            waited_ms++;
        }
        ASSERT_EQ(got, pid);
        if (!WIFEXITED(status))
            ntp_test_fail(__FILE__, __LINE__,
                          "round %d: the child died of signal %d", round,
                          WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        ASSERT_EQ(WEXITSTATUS(status), 7);
    }
}

TEST_IMPL(shutdown_exit_with_busy_default_pool)
{
    run_rounds(0);
}

TEST_IMPL(shutdown__exit_with_busy_default_pool)
{
    run_rounds(1);
}
