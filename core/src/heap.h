/*
 * heap.h -- an intrusive, pointer-based binary min-heap of reactor timers
 * (libuv's heap-inl.h in spirit).
 *
 * Each timer carries its own left/right/parent links, so inserting and
 * removing never allocate and cost O(log n). The tree is kept complete:
 * node k (1-based, in breadth-first order) has its children at 2k and
 * 2k + 1, so the path from the root to node k is spelled by the bits of k
 * below its highest set bit (0: go left, 1: go right). Insertion appends
 * at node count + 1; removal moves the node at position count into the
 * hole. Order is restored by swapping whole nodes (their links), never
 * their contents, because the nodes are embedded in their owners.
 *
 * Timers are ordered by (due_ns, seq): the earliest due time first, and
 * among equal due times the one armed first (seq is unique), so the order
 * is total and timers due together fire in the order they were armed.
 *
 * Not thread-safe: the reactor guards each heap with its lock.
 */
#ifndef NTP_HEAP_H
#define NTP_HEAP_H

#include "reactor.h"

#include <stddef.h>

typedef struct ntp__heap {
    ntp__rtimer *min; /* the root, NULL when empty */
    size_t count;
} ntp__heap;

static inline void
ntp__heap_init(ntp__heap *h)
{
    h->min = NULL;
    h->count = 0;
}

static inline bool
ntp__heap_less(const ntp__rtimer *a, const ntp__rtimer *b)
{
    if (a->due_ns != b->due_ns) {
        return a->due_ns < b->due_ns;
    }
    return a->seq < b->seq;
}

/*
 * The link that holds (or will hold) node number k, 1 <= k <= count + 1,
 * and that node's parent in *parent (NULL for the root).
 */
static inline ntp__rtimer **
ntp__heap_link(ntp__heap *h, size_t k, ntp__rtimer **parent)
{
    ntp__rtimer **link = &h->min;
    *parent = NULL;
    int bit = (int)(sizeof(size_t) * 8) - 1;
    while (bit >= 0 && !((k >> bit) & 1)) {
        bit--;
    }
    /* Skip the highest set bit: it stands for the root itself. */
    for (bit--; bit >= 0; bit--) {
        *parent = *link;
        link = ((k >> bit) & 1) ? &(*link)->right : &(*link)->left;
    }
    return link;
}

/*
 * Swap child c with its parent p in the tree: c takes p's place and p
 * becomes c's child on the same side c was. Every neighbour's link is
 * rewritten, so the owners' memory never moves.
 */
static inline void
ntp__heap_swap(ntp__heap *h, ntp__rtimer *p, ntp__rtimer *c)
{
    ntp__rtimer *grand = p->parent;
    ntp__rtimer *c_left = c->left, *c_right = c->right;
    ntp__rtimer *sibling;

    if (p->left == c) {
        sibling = p->right;
        c->left = p;
        c->right = sibling;
    } else {
        sibling = p->left;
        c->left = sibling;
        c->right = p;
    }
    if (sibling != NULL) {
        sibling->parent = c;
    }
    p->left = c_left;
    p->right = c_right;
    if (c_left != NULL) {
        c_left->parent = p;
    }
    if (c_right != NULL) {
        c_right->parent = p;
    }
    p->parent = c;
    c->parent = grand;
    if (grand == NULL) {
        h->min = c;
    } else if (grand->left == p) {
        grand->left = c;
    } else {
        grand->right = c;
    }
}

static inline void
ntp__heap_sift_up(ntp__heap *h, ntp__rtimer *n)
{
    while (n->parent != NULL && ntp__heap_less(n, n->parent)) {
        ntp__heap_swap(h, n->parent, n);
    }
}

static inline void
ntp__heap_sift_down(ntp__heap *h, ntp__rtimer *n)
{
    for (;;) {
        ntp__rtimer *smallest = n;
        if (n->left != NULL && ntp__heap_less(n->left, smallest)) {
            smallest = n->left;
        }
        if (n->right != NULL && ntp__heap_less(n->right, smallest)) {
            smallest = n->right;
        }
        if (smallest == n) {
            return;
        }
        ntp__heap_swap(h, n, smallest);
    }
}

static inline void
ntp__heap_insert(ntp__heap *h, ntp__rtimer *n)
{
    ntp__rtimer *parent;
    ntp__rtimer **link = ntp__heap_link(h, h->count + 1, &parent);
    n->left = n->right = NULL;
    n->parent = parent;
    *link = n;
    h->count++;
    ntp__heap_sift_up(h, n);
}

/* Remove n, which must be in h. */
static inline void
ntp__heap_remove(ntp__heap *h, ntp__rtimer *n)
{
    ntp__rtimer *parent;
    ntp__rtimer **link = ntp__heap_link(h, h->count, &parent);
    ntp__rtimer *last = *link;
    /* Detach the last node first: if it is a child of n, n's link to it
     * is cleared here, which is what the hole must inherit. */
    *link = NULL;
    h->count--;
    if (last != n) {
        last->left = n->left;
        last->right = n->right;
        last->parent = n->parent;
        if (last->left != NULL) {
            last->left->parent = last;
        }
        if (last->right != NULL) {
            last->right->parent = last;
        }
        if (n->parent == NULL) {
            h->min = last;
        } else if (n->parent->left == n) {
            n->parent->left = last;
        } else {
            n->parent->right = last;
        }
        /* The moved node may belong above or below the hole: at most one
         * of these moves it. */
        ntp__heap_sift_down(h, last);
        ntp__heap_sift_up(h, last);
    }
    n->left = n->right = n->parent = NULL;
}

#endif /* NTP_HEAP_H */
