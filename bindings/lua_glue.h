/*
 * lua_glue.h -- the hand-written half of the Lua module ntpool.raw.
 *
 * SWIG wraps; this code owns threads and lifetimes (STYLE.md 4.5): the Lua
 * lock of each state, the callback trampolines and the release of Lua
 * values after the final callback. The SWIG module's init code calls
 * ntpool_lua_glue_open(), which pushes the table of hand-written functions
 * (stored as ntpool.raw.glue); without SWIG the same file provides
 * luaopen_ntpool_raw itself. The functions after it serve the typemaps.
 */
#ifndef NTPOOL_LUA_GLUE_H
#define NTPOOL_LUA_GLUE_H

#include <lua.h>

#include "ntpool.h"

/* Sets up the Lua lock of L's state (taking it for the calling thread the
 * first time) and pushes the glue table. */
int ntpool_lua_glue_open(lua_State *L);

/* For the SWIG half (lua_typemaps.i): the kinds of userdata it unwraps. */
enum ntpool_lua_kind {
    NTPL_POOL,
    NTPL_GROUP,
    NTPL_TIMER,
    NTPL_IO,
    NTPL_HANDLE,   /* any waitable handle */
    NTPL_INSTANCE, /* valid only during its callback */
    NTPL_CS
};

/* The core object behind the glue userdata at idx, which must be of the
 * kind and open; raises otherwise. */
void *ntpool_lua_check(lua_State *L, int idx, int kind);
/* Pushes a new glue userdata owning `core`, a pool, a cleanup group or a
 * handle just created by the core. */
void ntpool_lua_push_new(lua_State *L, int kind, void *core);
/* Pushes a pool's statistics as pool:stats() shows them. */
void ntpool_lua_push_stats(lua_State *L, const ntp_pool_stats *s);
/* Around a call that can block: drop the Lua lock, then take it back. */
void ntpool_lua_blocking_begin(lua_State *L);
void ntpool_lua_blocking_end(lua_State *L);

#endif
