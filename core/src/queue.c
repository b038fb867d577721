/*
 * queue.c -- the ready queue of a pool: one FIFO of objects per priority.
 *
 * An object sits in the queue at most once, carrying its pending count, so
 * a post costs no allocation and N posts of one object cost one node.
 * Taking a post puts the object back at the tail when more remain: objects
 * take turns within a priority (CONFORMANCE B23), and a free worker always
 * takes from the highest non-empty priority (SPEC 5, priorities).
 * Everything here runs under the owning pool's lock.
 */
#include "object.h"

void
ntp__runq_init(ntp__runq *q)
{
    for (int i = 0; i < NTP_PRIORITY_COUNT; i++) {
        ntp__list_init(&q->fifo[i]);
        q->queued[i] = 0;
    }
}

bool
ntp__runq_empty(const ntp__runq *q)
{
    return q->queued[0] + q->queued[1] + q->queued[2] == 0;
}

void
ntp__runq_post(ntp__runq *q, ntp__object *obj)
{
    obj->pending++;
    obj->posts_total++;
    q->queued[obj->priority]++;
    if (!obj->queued) {
        obj->queued = true;
        ntp__list_push_back(&q->fifo[obj->priority], &obj->queue_node);
    }
}

ntp__object *
ntp__runq_take(ntp__runq *q)
{
    for (int prio = 0; prio < NTP_PRIORITY_COUNT; prio++) {
        ntp__list *n = ntp__list_pop_front(&q->fifo[prio]);
        if (!n)
            continue;
        ntp__object *obj = ntp__container_of(n, ntp__object, queue_node);
        obj->pending--;
        q->queued[prio]--;
        if (obj->pending > 0)
            ntp__list_push_back(&q->fifo[prio], n); /* its turn is over */
        else
            obj->queued = false;
        return obj;
    }
    return NULL;
}

uint32_t
ntp__runq_cancel(ntp__runq *q, ntp__object *obj)
{
    uint32_t dropped = obj->pending;
    if (obj->queued) {
        ntp__list_remove(&obj->queue_node);
        obj->queued = false;
    }
    q->queued[obj->priority] -= dropped;
    obj->pending = 0;
    return dropped;
}
