/*
 * list.h -- intrusive circular doubly-linked lists.
 *
 * A node is embedded in the object it links; an empty list (or an unlinked
 * node) points at itself, so "is this node linked?" is !ntp__list_empty(n)
 * once the node has been initialised. Nothing here allocates, which is what
 * lets submit, set and close stay allocation-free.
 */
#ifndef NTP_LIST_H
#define NTP_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ntp__list {
    struct ntp__list *next, *prev;
} ntp__list;

#define ntp__container_of(ptr, type, member)                                 \
    ((type *)((char *)(ptr)-offsetof(type, member)))

static inline void
ntp__list_init(ntp__list *l)
{
    l->next = l->prev = l;
}

static inline bool
ntp__list_empty(const ntp__list *l)
{
    return l->next == l;
}

/* Insert n before `at` (at the tail when `at` is the list head). */
static inline void
ntp__list_insert_before(ntp__list *at, ntp__list *n)
{
    n->prev = at->prev;
    n->next = at;
    at->prev->next = n;
    at->prev = n;
}

static inline void
ntp__list_push_back(ntp__list *head, ntp__list *n)
{
    ntp__list_insert_before(head, n);
}

static inline void
ntp__list_push_front(ntp__list *head, ntp__list *n)
{
    ntp__list_insert_before(head->next, n);
}

/* Unlink n and leave it pointing at itself (so it reads as unlinked). */
static inline void
ntp__list_remove(ntp__list *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = n;
}

static inline ntp__list *
ntp__list_pop_front(ntp__list *head)
{
    ntp__list *n = head->next;
    if (n == head)
        return NULL;
    ntp__list_remove(n);
    return n;
}

/* Move every node of `from` to the tail of `to`; `from` ends empty. */
static inline void
ntp__list_splice(ntp__list *to, ntp__list *from)
{
    if (ntp__list_empty(from))
        return;
    from->next->prev = to->prev;
    to->prev->next = from->next;
    from->prev->next = to;
    to->prev = from->prev;
    ntp__list_init(from);
}

#define ntp__list_foreach(it, head)                                          \
    for (ntp__list *it = (head)->next; it != (head); it = it->next)

#endif /* NTP_LIST_H */
