/*
 * queue.c -- the ready queue of a pool: one FIFO of objects per priority.
 *
 * An object sits in the queue at most once, carrying its pending count, so
 * a post costs no allocation and N posts of one object cost one node.
 * Taking a post puts the object back at the tail when more remain: objects
 * take turns within a priority (CONFORMANCE B23), and a free worker always
 * takes from the highest non-empty priority (SPEC 5, priorities).
 * Everything here runs under the owning pool's lock, except
 * ntp__runq_post_fast, which only adds to an object's pending count
 * (object.h says how that stays consistent), and ntp__runq_alone, a hint.
 */
#include "object.h"

/* `objects` changes only under the pool lock, so a plain read and write
 * suffice; the atomic type is for the readers without the lock. */
static void
count_objects(ntp__runq *q, int prio, int delta)
{
    uint32_t n = atomic_load_explicit(&q->objects[prio], memory_order_relaxed);
    atomic_store_explicit(&q->objects[prio], n + (uint32_t)delta,
                          memory_order_relaxed);
}

void
ntp__runq_init(ntp__runq *q)
{
    for (int i = 0; i < NTP_PRIORITY_COUNT; i++) {
        ntp__list_init(&q->fifo[i]);
        atomic_init(&q->objects[i], 0);
    }
}

bool
ntp__runq_empty(const ntp__runq *q)
{
    /* An object is in a list exactly while its pending count is above 0
     * (object.h), so no objects means no posts. */
    uint32_t n = 0;
    for (int i = 0; i < NTP_PRIORITY_COUNT; i++)
        n += atomic_load_explicit(&q->objects[i], memory_order_relaxed);
    return n == 0;
}

static void
set_queued(ntp__object *obj, bool queued)
{
    atomic_store_explicit(&obj->queued, queued, memory_order_relaxed);
}

bool
ntp__runq_link(ntp__runq *q, ntp__object *obj)
{
    if (atomic_load_explicit(&obj->queued, memory_order_relaxed) ||
        atomic_load(&obj->pending) == 0)
        return false;
    set_queued(obj, true);
    ntp__list_push_back(&q->fifo[obj->priority], &obj->queue_node);
    count_objects(q, obj->priority, 1);
    return true;
}

void
ntp__runq_post(ntp__runq *q, ntp__object *obj)
{
    atomic_fetch_add(&obj->pending, 1);
    (void)ntp__runq_link(q, obj);
}

ntp__object *
ntp__runq_take(ntp__runq *q)
{
    for (int prio = 0; prio < NTP_PRIORITY_COUNT; prio++) {
        ntp__list *n = ntp__list_pop_front(&q->fifo[prio]);
        if (!n)
            continue;
        ntp__object *obj = ntp__container_of(n, ntp__object, queue_node);
        /* A post that finds the count at 0 after this takes the last one
         * links the object again once it has the lock. */
        if (atomic_fetch_sub(&obj->pending, 1) > 1) {
            ntp__list_push_back(&q->fifo[prio], n); /* its turn is over */
        } else {
            set_queued(obj, false);
            count_objects(q, prio, -1);
        }
        return obj;
    }
    return NULL;
}

bool
ntp__runq_post_fast(ntp__object *obj)
{
    /* Release: the callback that runs this post sees what the poster wrote
     * before it (every take reads the count with acquire or stronger). */
    return atomic_fetch_add_explicit(&obj->pending, 1,
                                     memory_order_release) > 0;
}

bool
ntp__runq_alone(const ntp__runq *q, const ntp__object *obj)
{
    int prio = obj->priority;
    for (int higher = 0; higher < prio; higher++)
        if (atomic_load_explicit(&q->objects[higher], memory_order_relaxed))
            return false;
    uint32_t self =
        atomic_load_explicit(&obj->queued, memory_order_relaxed) ? 1 : 0;
    return atomic_load_explicit(&q->objects[prio], memory_order_relaxed) ==
           self;
}

uint32_t
ntp__runq_cancel(ntp__runq *q, ntp__object *obj)
{
    /* Every post not taken: a lock-free take or post fails from here on,
     * and the object leaves the queue. */
    uint32_t dropped = atomic_exchange(&obj->pending, 0);
    if (atomic_load_explicit(&obj->queued, memory_order_relaxed)) {
        ntp__list_remove(&obj->queue_node);
        set_queued(obj, false);
        count_objects(q, obj->priority, -1);
    }
    return dropped;
}

uint64_t
ntp__runq_posts(const ntp__runq *q, int prio, uint32_t max_objects)
{
    uint64_t posts = 0;
    uint32_t seen = 0;
    ntp__list_foreach(n, &q->fifo[prio])
    {
        if (seen++ == max_objects) {
            posts += atomic_load_explicit(&q->objects[prio],
                                          memory_order_relaxed) -
                     max_objects;
            break;
        }
        const ntp__object *obj =
            ntp__container_of(n, const ntp__object, queue_node);
        posts += atomic_load(&obj->pending);
    }
    return posts;
}
