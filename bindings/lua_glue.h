/*
 * lua_glue.h -- the hand-written half of the Lua module ntpool.raw.
 *
 * SWIG wraps; this code owns threads and lifetimes (STYLE.md 4.5): the Lua
 * lock of each state, the callback trampolines and the release of Lua
 * values after the final callback. The SWIG module's init code calls
 * ntpool_lua_glue_open(), which pushes the table of hand-written functions
 * (stored as ntpool.raw.glue); without SWIG the same file provides
 * luaopen_ntpool_raw itself.
 */
#ifndef NTPOOL_LUA_GLUE_H
#define NTPOOL_LUA_GLUE_H

#include <lua.h>

/* Sets up the Lua lock of L's state (taking it for the calling thread the
 * first time) and pushes the glue table. */
int ntpool_lua_glue_open(lua_State *L);

#endif
