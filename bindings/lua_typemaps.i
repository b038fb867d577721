/*
 * lua_typemaps.i -- the Lua half of bindings/ntpool.i (included there
 * under #if defined(SWIGLUA)). SWIG mirrors the C API one to one as the
 * module ntpool.raw; what SWIG cannot do (turn a Lua function into a C
 * callback, hold the Lua lock, release Lua values after the final
 * callback) lives in lua_glue.c, whose table this init code stores as
 * ntpool.raw.glue. lua/ntpool.lua builds the public API on both.
 */

%{
#include "lua_glue.h"
%}

/* Integers stay integers: SWIG's stock Lua typemaps push C integers with
 * lua_pushnumber, which Lua 5.4 shows as floats (3.0). */
%typemap(out) int, short, long, long long, signed char,
              unsigned int, unsigned short, unsigned long,
              unsigned long long, unsigned char, size_t,
              int32_t, uint32_t, int64_t, uint64_t
%{ lua_pushinteger(L, (lua_Integer)$1); SWIG_arg++; %}

/* ntp_status: true on success; fail, "EINVAL: invalid argument", "EINVAL"
 * on failure (luv's convention, STYLE.md 4.7). */
%typemap(out) ntp_status
%{
    if ($1 < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: %s", ntp_err_name($1), ntp_strerror($1));
        lua_pushstring(L, ntp_err_name($1));
        SWIG_arg += 3;
    } else {
        lua_pushboolean(L, 1);
        SWIG_arg++;
    }
%}

%init %{
    /* The module table is on top of the stack here. */
    ntpool_lua_glue_open(L);
    lua_setfield(L, -2, "glue");
%}
