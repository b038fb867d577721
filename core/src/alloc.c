/*
 * alloc.c -- the allocation hook.
 *
 * Every allocation in ntpool goes through ntp__malloc/ntp__free so tests can
 * count allocations (submit must make none) and fail the Nth one (fault
 * injection). The hook is read with relaxed atomics: it is meant to be set
 * once, before objects exist.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static void *
default_malloc(size_t size, void *data)
{
    (void)data;
    return malloc(size);
}

static void
default_free(void *p, void *data)
{
    (void)data;
    free(p);
}

static _Atomic(ntp_malloc_fn) hook_malloc = default_malloc;
static _Atomic(ntp_free_fn) hook_free = default_free;
static _Atomic(void *) hook_data;

void
ntp_set_allocator(ntp_malloc_fn m, ntp_free_fn f, void *data)
{
    atomic_store(&hook_data, data);
    atomic_store(&hook_malloc, m ? m : default_malloc);
    atomic_store(&hook_free, f ? f : default_free);
}

void *
ntp__malloc(size_t size)
{
    return atomic_load_explicit(&hook_malloc, memory_order_acquire)(
        size, atomic_load_explicit(&hook_data, memory_order_relaxed));
}

void *
ntp__calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *p = ntp__malloc(n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void
ntp__free(void *p)
{
    if (p)
        atomic_load_explicit(&hook_free, memory_order_acquire)(
            p, atomic_load_explicit(&hook_data, memory_order_relaxed));
}
