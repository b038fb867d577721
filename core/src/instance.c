/*
 * instance.c -- callback instances (SPEC 10): the completion actions,
 * may-run-long and disassociation.
 *
 * An instance lives on the stack of the worker running the callback and is
 * valid only during that callback, on that thread. Every entry point first
 * compares the pointer with this thread's current instance, without
 * dereferencing it, so an instance used late or from another thread is
 * refused instead of read.
 */
#include "object.h"

#include <dlfcn.h>
#include <string.h>

_Thread_local ntp_instance *ntp__current_instance;

/*
 * The trace points of a callback run, out of line, taking only the
 * instance: inlined, or given obj and pool, they made the compiler keep
 * those in callee-saved registers across the thread-local access on every
 * run even with tracing off (callgrind: 18 of the 41 instructions of
 * ntp__instance_begin and _end were there).
 */
static NTP__COLD void
trace_begin(const ntp_instance *inst)
{
    ntp__trace_record(NTP__TRACE_CALLBACK_BEGIN, inst->obj, inst->pool,
                      inst->obj->ops->kind, 0);
}

void
ntp__instance_begin(ntp_instance *inst, ntp__object *obj, ntp_pool *p,
                    bool on_persistent, bool counted_long, bool again)
{
    /* A binding that keeps its interpreter lock between its own callbacks
     * must hear of a callback that is not its own first (ntpool.h). */
    if (!again && ntp__thread_hooks_any())
        ntp__thread_hooks_before_callback(obj->release);
    memset(inst, 0, sizeof *inst);
    inst->obj = obj;
    inst->pool = p;
    inst->associated = true;
    inst->on_persistent = on_persistent;
    /* Runs-long objects behave as if CallbackMayRunLong had been called
     * (SPEC 5); the worker already counted them as long-running. */
    inst->marked_long = obj->runs_long;
    inst->counted_long = counted_long;
    ntp__current_instance = inst;
    if (NTP__TRACING())
        trace_begin(inst);
}

static void
trace_action(const ntp_instance *inst, int action)
{
    ntp__trace_record(NTP__TRACE_ACTION, inst->obj, inst->pool, 0, action);
}

static NTP__COLD void
trace_end(const ntp_instance *inst)
{
    ntp__object *obj = inst->obj;
    ntp__trace_record(NTP__TRACE_CALLBACK_END, obj, inst->pool,
                      obj->ops->kind, 0);
    static const struct {
        unsigned flag;
        int action;
    } order[] = {{NTP__ACTION_CS, NTP__TRACE_ACTION_CS},
                 {NTP__ACTION_MUTEX, NTP__TRACE_ACTION_MUTEX},
                 {NTP__ACTION_SEMAPHORE, NTP__TRACE_ACTION_SEMAPHORE},
                 {NTP__ACTION_EVENT, NTP__TRACE_ACTION_EVENT},
                 {NTP__ACTION_LIBRARY, NTP__TRACE_ACTION_LIBRARY}};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (inst->actions & order[i].flag)
            trace_action(inst, order[i].action);
}

/*
 * After the callback returns: the finalization callback (same thread, same
 * instance), then the actions in Wine's order, which SPEC 10 adopts: leave
 * critical section, release mutex, release semaphore, set event, free
 * library last (it may unmap the callback's code). All of them run even if
 * one fails, and their failures are not reported (SPEC 10).
 */
void
ntp__instance_end(ntp_instance *inst)
{
    ntp__object *obj = inst->obj;
    if (obj->finalization_cb)
        obj->finalization_cb(inst, obj->ctx);
    ntp__current_instance = NULL;
    if (NTP__TRACING())
        trace_end(inst);
    if (inst->actions & NTP__ACTION_CS)
        (void)ntp_cs_leave(inst->cs);
    if (inst->actions & NTP__ACTION_MUTEX)
        (void)ntp_mutex_release(inst->mutex);
    if (inst->actions & NTP__ACTION_SEMAPHORE)
        (void)ntp_semaphore_release(inst->semaphore,
                                    (int32_t)inst->semaphore_count, NULL);
    if (inst->actions & NTP__ACTION_EVENT)
        (void)ntp_event_set(inst->event);
    if (inst->actions & NTP__ACTION_LIBRARY)
        (void)dlclose(inst->library);
}

static bool
check_instance(ntp_instance *inst)
{
    return inst && inst == ntp__current_instance;
}

/* Record one action; a second of the same kind keeps the first. */
static ntp_status
add_action(ntp_instance *inst, unsigned kind, const char *what)
{
    if (!check_instance(inst))
        return NTP_EINVAL;
    if (inst->actions & kind) {
        ntp__diag("%s requested twice for one callback; the first is kept",
                  what);
        return NTP_EEXIST;
    }
    inst->actions |= kind;
    return 0;
}

ntp_status
ntp_instance_set_event_on_return(ntp_instance *inst, ntp_handle *event)
{
    if (!event)
        return NTP_EINVAL;
    ntp_status st = add_action(inst, NTP__ACTION_EVENT, "set-event");
    if (st == 0)
        inst->event = event;
    return st;
}

ntp_status
ntp_instance_release_semaphore_on_return(ntp_instance *inst,
                                         ntp_handle *sem, uint32_t count)
{
    if (!sem || count == 0 || count > INT32_MAX)
        return NTP_EINVAL;
    ntp_status st =
        add_action(inst, NTP__ACTION_SEMAPHORE, "release-semaphore");
    if (st == 0) {
        inst->semaphore = sem;
        inst->semaphore_count = count;
    }
    return st;
}

ntp_status
ntp_instance_release_mutex_on_return(ntp_instance *inst, ntp_handle *mutex)
{
    if (!mutex)
        return NTP_EINVAL;
    ntp_status st = add_action(inst, NTP__ACTION_MUTEX, "release-mutex");
    if (st == 0)
        inst->mutex = mutex;
    return st;
}

ntp_status
ntp_instance_leave_cs_on_return(ntp_instance *inst, ntp_cs *cs)
{
    if (!cs)
        return NTP_EINVAL;
    ntp_status st =
        add_action(inst, NTP__ACTION_CS, "leave-critical-section");
    if (st == 0)
        inst->cs = cs;
    return st;
}

ntp_status
ntp_instance_free_library_on_return(ntp_instance *inst, void *library)
{
    if (!library)
        return NTP_EINVAL;
    ntp_status st = add_action(inst, NTP__ACTION_LIBRARY, "free-library");
    if (st == 0)
        inst->library = library;
    return st;
}

bool
ntp_instance_may_run_long(ntp_instance *inst)
{
    if (!check_instance(inst)) {
        ntp__diag("ntp_instance_may_run_long: not this thread's running "
                  "callback");
        return false;
    }
    /* Marked once, whatever the answer (SPEC 10); later calls and
     * runs-long objects answer true at once (CONFORMANCE E49, E50). */
    if (inst->marked_long)
        return true;
    inst->marked_long = true;

    ntp_pool *p = inst->pool;
    ntp__kick k = {0};
    bool spawn = false, available = false;
    pthread_mutex_lock(&p->lock);
    if (!inst->on_persistent) {
        p->long_running++;
        inst->counted_long = true;
        ntp__pool_unquiet_locked(p);
    }
    if (p->idle > p->wakes_pending) {
        available = true;
        if (!ntp__runq_empty(&p->runq))
            ntp__pool_decide_locked(p, &k);
    } else if (p->threads < p->max_threads) {
        /* Provide the thread now (CONFORMANCE E48). */
        p->threads++;
        p->refs++;
        p->threads_created++;
        spawn = true;
    }
    pthread_mutex_unlock(&p->lock);
    ntp__pool_kick(p, &k);
    if (spawn) {
        ntp_status st = ntp__worker_spawn(p);
        if (st == 0)
            return true;
        pthread_mutex_lock(&p->lock);
        p->threads--;
        p->threads_created--;
        p->refs--; /* our pool reference (running) keeps it above zero */
        ntp__pool_unquiet_locked(p);
        pthread_mutex_unlock(&p->lock);
        return false;
    }
    return available;
}

void
ntp_instance_disassociate(ntp_instance *inst)
{
    if (!check_instance(inst)) {
        ntp__diag("ntp_instance_disassociate: not this thread's running "
                  "callback");
        return;
    }
    if (!inst->associated)
        return; /* twice is harmless (CONFORMANCE F55) */
    ntp__object *obj = inst->obj;
    pthread_mutex_lock(&inst->pool->lock);
    inst->associated = false;
    obj->associated--;
    if (obj->waiters)
        pthread_cond_broadcast(&obj->settled);
    pthread_mutex_unlock(&inst->pool->lock);
}

ntp_instance *
ntp_instance_current(void)
{
    return ntp__current_instance;
}
