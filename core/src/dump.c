/*
 * dump.c -- ntp_pool_dump, the `!tp` debugger extension of the seeds: a
 * pool's threads, its objects and its queue. The text is built under the
 * pool lock into memory and written after the lock is dropped, so a slow
 * stream never stalls the pool.
 */
#include "object.h"

#include <stdlib.h>

static const char *const prio_names[NTP_PRIORITY_COUNT] = {"high", "normal",
                                                           "low"};

static void
dump_locked(ntp_pool *p, unsigned flags, FILE *f)
{
    uint64_t now = ntp__coarse_now_ns(); /* the clock of current_since_ns */
    fprintf(f,
            "pool %p%s: threads %u (idle %u, running %u, long %u, min %u, "
            "max %u)%s, objects %u, queued high %llu normal %llu low %llu, "
            "callbacks run %llu%s\n",
            (void *)p, p->is_default ? " (default)" : "", p->threads,
            p->idle, p->running, p->long_running, p->min_threads,
            p->max_threads,
            p->persistent_started ? " + persistent thread" : "",
            p->object_count,
            (unsigned long long)ntp__pool_queued_locked(p, 0),
            (unsigned long long)ntp__pool_queued_locked(p, 1),
            (unsigned long long)ntp__pool_queued_locked(p, 2),
            (unsigned long long)p->callbacks_run,
            p->closed ? ", closed" : "");
    if (flags == NTP_DUMP_ONE_LINE)
        return;

    fprintf(f, "  threads:\n");
    ntp__list_foreach(n, &p->workers)
    {
        ntp__worker *w = ntp__container_of(n, ntp__worker, node);
        if (w->current)
            fprintf(f, "    thread %lu%s: running %s %p (ctx %p) for %.3f ms\n",
                    w->tid, w->persistent ? " (persistent)" : "",
                    w->current->ops->name, (void *)w->current,
                    w->current->ctx,
                    (double)(now - w->current_since_ns) / 1e6);
        else
            fprintf(f, "    thread %lu%s: idle\n", w->tid,
                    w->persistent ? " (persistent)" : "");
    }

    if (flags & NTP_DUMP_MEMBERS) {
        fprintf(f, "  objects:\n");
        ntp__list_foreach(n, &p->objects)
        {
            ntp__object *o = ntp__container_of(n, ntp__object, pool_node);
            fprintf(f,
                    "    %s %p ctx %p, priority %s%s%s: pending %u, running "
                    "%u, runs %llu%s%s",
                    o->ops->name, (void *)o, o->ctx, prio_names[o->priority],
                    o->runs_long ? ", runs long" : "",
                    o->persistent ? ", persistent" : "",
                    o->pending + ntp__pool_batched_locked(p, o),
                    o->running, (unsigned long long)o->runs_total,
                    o->in_group ? ", in a cleanup group" : "",
                    atomic_load(&o->closed) ? ", closed" : "");
            if (o->ops->describe)
                o->ops->describe(o, f);
            fputc('\n', f);
        }
    }

    if (flags & NTP_DUMP_QUEUE) {
        const ntp__runq *queues[2] = {&p->runq, &p->persistent_runq};
        for (int prio = 0; prio < NTP_PRIORITY_COUNT; prio++) {
            fprintf(f, "  queue %s:", prio_names[prio]);
            bool any = false;
            for (int q = 0; q < 2; q++) {
                ntp__list_foreach(n, &queues[q]->fifo[prio])
                {
                    ntp__object *o =
                        ntp__container_of(n, ntp__object, queue_node);
                    fprintf(f, " %s %p x%u", o->ops->name, (void *)o,
                            o->pending);
                    any = true;
                }
            }
            fprintf(f, "%s\n", any ? "" : " (empty)");
        }
    }
}

ntp_status
ntp_pool_dump(ntp_pool *p, unsigned flags, FILE *out)
{
    if (!out || !ntp__pool_check(p))
        return NTP_EINVAL;
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem)
        return NTP_ENOMEM;
    pthread_mutex_lock(&p->lock);
    dump_locked(p, flags, mem);
    pthread_mutex_unlock(&p->lock);
    if (fclose(mem) != 0 || !text) {
        free(text);
        return NTP_ENOMEM;
    }
    fwrite(text, 1, len, out);
    free(text);
    return 0;
}
