/*
 * test-trace.c -- ntp_trace_start/stop: a Chrome Trace Event file with the
 * callbacks, firings and completion actions of what ran meanwhile.
 */
#include "task.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *
read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    ASSERT_NOT_NULL(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ASSERT_NOT_NULL(buf);
    ASSERT_EQ(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int
count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static void
work_cb(ntp_instance *inst, void *ctx, ntp_work *w)
{
    (void)w;
    ntp_instance_set_event_on_return(inst, ctx);
}

static void
timer_cb(ntp_instance *inst, void *ctx, ntp_timer *t)
{
    (void)inst, (void)t;
    atomic_fetch_add((atomic_int *)ctx, 1);
}

static void
wait_cb(ntp_instance *inst, void *ctx, ntp_wait *w, uint32_t r)
{
    (void)inst, (void)w, (void)r;
    atomic_fetch_add((atomic_int *)ctx, 1);
}

TEST_IMPL(trace_records_callbacks_firings_and_actions)
{
    char path[] = "/tmp/ntpool-trace-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    close(fd);

    ASSERT_OK(ntp_trace_start(path));
    ASSERT_STATUS(ntp_trace_start(path), NTP_EBUSY);

    ntp_handle *ev = NULL;
    ASSERT_OK(ntp_event_create(&ev, true, false));
    ntp_work *w = NULL;
    ASSERT_OK(ntp_work_create(&w, work_cb, ev, NULL));
    for (int i = 0; i < 5; i++)
        ntp_work_submit(w);
    ntp_work_wait(w, false);

    atomic_int fired = 0;
    ntp_timer *t = NULL;
    ASSERT_OK(ntp_timer_create(&t, timer_cb, &fired, NULL));
    ntp_timer_set(t, ntp_due_in_ms(1), 0, 0);
    ntp_wait *wt = NULL;
    ASSERT_OK(ntp_wait_create(&wt, wait_cb, &fired, NULL));
    ntp_wait_set(wt, ev, NTP_INFINITE); /* ev is set: fires at once */
    TEST_WAIT_UNTIL(atomic_load(&fired) == 2, 5000);
    ntp_timer_wait(t, false);
    ntp_wait_wait(wt, false);
    ASSERT_OK(ntp_trace_stop());
    ASSERT_STATUS(ntp_trace_stop(), NTP_ENOENT);

    char *json = read_all(path);
    ASSERT(strncmp(json, "{\"displayTimeUnit\"", 18) == 0);
    ASSERT_EQ(count(json, "\"ph\":\"B\""), 7); /* 5 works, timer, wait */
    ASSERT_EQ(count(json, "\"ph\":\"E\""), 7);
    ASSERT_EQ(count(json, "\"cat\":\"work\""), 5);
    ASSERT_EQ(count(json, "SetEventWhenCallbackReturns"), 5);
    ASSERT_EQ(count(json, "\"name\":\"timer fired"), 1);
    ASSERT_EQ(count(json, "\"name\":\"wait fired"), 1);
    ASSERT_GE(count(json, "\"thread_name\""), 1);
    /* The process had no worker before: the first ones show starting,
     * with the thread count, and every post and dequeue the queue. */
    ASSERT_GE(count(json, "\"name\":\"worker started\""), 1);
    ASSERT_GE(count(json, "\"args\":{\"threads\":"), 1);
    ASSERT_GE(count(json, "\"name\":\"queue "), 2 * 7);
    free(json);

    /* Valid JSON, as Perfetto needs: checked by Python's parser. */
    if (access("/usr/bin/python3", X_OK) == 0) {
        char cmd[256];
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 -c 'import json,sys; "
                 "json.load(open(sys.argv[1]))' %s",
                 path);
        ASSERT_EQ(system(cmd), 0);
    }
    unlink(path);

    /* Nothing is recorded once stopped, and a new trace starts empty. */
    ASSERT_OK(ntp_trace_start(path));
    ASSERT_OK(ntp_trace_stop());
    json = read_all(path);
    ASSERT_EQ(count(json, "\"ph\":\"B\""), 0);
    free(json);
    unlink(path);

    ntp_work_close(w);
    ntp_timer_close(t);
    ntp_wait_close(wt);
    ASSERT_OK(ntp_handle_close(ev));
    ASSERT_NO_LIVE_OBJECTS();
}

TEST_IMPL(trace_bad_arguments)
{
    ASSERT_STATUS(ntp_trace_start(NULL), NTP_EINVAL);
    ASSERT_STATUS(ntp_trace_start("/nonexistent-dir/x.json"), NTP_ENOENT);
    ASSERT_STATUS(ntp_trace_stop(), NTP_ENOENT);
}
