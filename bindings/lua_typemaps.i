/*
 * lua_typemaps.i -- the Lua half of bindings/ntpool.i (included there
 * under SWIGLUA). SWIG mirrors the C API one to one as the module
 * ntpool.raw: raw.ntp_semaphore_release(sem, 2) is ntp_semaphore_release.
 * The objects are the glue's userdata (lua_glue.c), so an object made by
 * either layer works with both: the typemaps below only unwrap and wrap
 * them through ntpool_lua_check / ntpool_lua_push_new.
 *
 * What SWIG cannot do lives in lua_glue.c and is %ignored here: calls
 * that take a callback (turning a Lua function into a C one, holding the
 * Lua lock, releasing Lua values after the final callback), that close an
 * object (its userdata must learn it), or whose pending posts, armed
 * timers and I/O buffers the glue keeps alive (submit, set, wait, read,
 * write). The glue's table is ntpool.raw.glue; lua/ntpool.lua builds the
 * public API on both.
 *
 * Conventions (STYLE.md 4.7): integers stay integers (lua_pushinteger;
 * SWIG's stock typemaps push C integers as floats, 3.0); an ntp_status is
 * true on success, or fail, "EINVAL: invalid argument", "EINVAL"; a
 * function with out-parameters returns them instead of true; calls that
 * can block drop the Lua lock meanwhile.
 */

%{
#include "lua_glue.h"
%}

/* ---- hand-written in lua_glue.c (ntpool.raw.glue) ----------------------- */
%ignore ntp_work_create;
%ignore ntp_timer_create;
%ignore ntp_wait_create;
%ignore ntp_io_create;
%ignore ntp_try_submit;
%ignore ntp_queue_apc;
%ignore ntp_waitable_timer_set_apc;
%ignore ntp_queue_user_work_item;
%ignore ntp_register_wait;
%ignore ntp_unregister_wait;
%ignore ntp_unregister_wait_ex;
%ignore ntp_timer_queue_create;
%ignore ntp_timer_queue_timer_create;
%ignore ntp_timer_queue_timer_change;
%ignore ntp_timer_queue_timer_delete;
%ignore ntp_timer_queue_delete;
%ignore ntp_timer_queue_delete_ex;
%ignore ntp_bind_io_completion_callback;
%ignore ntp_cleanup_group_close_members;
%ignore ntp_pool_close;
%ignore ntp_pool_default;
%ignore ntp_cleanup_group_close;
%ignore ntp_work_close;
%ignore ntp_timer_close;
%ignore ntp_wait_close;
%ignore ntp_io_close;
%ignore ntp_handle_close;
%ignore ntp_work_submit;
%ignore ntp_work_wait;
%ignore ntp_timer_set;
%ignore ntp_timer_set_ex;
%ignore ntp_timer_wait;
%ignore ntp_wait_set;
%ignore ntp_wait_set_due;
%ignore ntp_wait_set_ex;
%ignore ntp_wait_wait;
%ignore ntp_io_start;
%ignore ntp_io_cancel;
%ignore ntp_io_read;
%ignore ntp_io_write;
%ignore ntp_io_cancel_ops;
%ignore ntp_overlapped_result;
%ignore ntp_io_wait;
%ignore ntp_wait_for_multiple;
%ignore ntp_env;
%ignore ntp_env_init;
%ignore ntp_env_destroy;
%ignore ntp_env_set_pool;
%ignore ntp_env_set_cleanup_group;
%ignore ntp_env_set_library;
%ignore ntp_env_set_priority;
%ignore ntp_env_set_runs_long;
%ignore ntp_env_set_persistent;
%ignore ntp_cs_init;
%ignore ntp_cs_destroy;
/* Takes a dlopen() handle: the glue's inst:free_library_on_return(path). */
%ignore ntp_instance_free_library_on_return;
%ignore ntp_pool_stats;
%ignore ntp_registered_wait;
%ignore ntp_timer_queue;
%ignore ntp_timer_queue_timer;

/* ---- integers ----------------------------------------------------------- */
%typemap(out) int, short, long, long long, signed char,
              unsigned int, unsigned short, unsigned long,
              unsigned long long, unsigned char, size_t,
              int32_t, uint32_t, int64_t, uint64_t
%{ lua_pushinteger(L, (lua_Integer)$1); SWIG_arg++; %}

/* An integer argument must be one (3.5 raises, as luaL_checkinteger does)
 * and fit its C type. */
%define NTPL_INTEGER_IN(TYPE, MIN, MAX)
%typemap(in, checkfn="lua_isnumber") TYPE
%{
    {
        lua_Integer v = luaL_checkinteger(L, $input);
        luaL_argcheck(L, v >= (lua_Integer)(MIN) && v <= (lua_Integer)(MAX),
                      $input, "out of range");
        $1 = ($1_ltype)v;
    }
%}
%enddef
NTPL_INTEGER_IN(int, INT_MIN, INT_MAX)
NTPL_INTEGER_IN(int32_t, INT32_MIN, INT32_MAX)
NTPL_INTEGER_IN(uint32_t, 0, UINT32_MAX)
NTPL_INTEGER_IN(unsigned, 0, UINT32_MAX)
NTPL_INTEGER_IN(unsigned int, 0, UINT32_MAX)
NTPL_INTEGER_IN(size_t, 0, LUA_MAXINTEGER)
NTPL_INTEGER_IN(uint64_t, 0, LUA_MAXINTEGER)

/* Booleans as Lua truth: nil and false are false. */
%typemap(in) bool %{ $1 = lua_toboolean(L, $input); %}

/* ---- statuses ------------------------------------------------------------
 * Failure: fail, "EINVAL: invalid argument", "EINVAL" (luv's convention);
 * the out-parameters are not returned. Success: the out-parameters, or
 * true when there are none (the ret typemap runs after the argouts). */
%typemap(out) ntp_status
%{
    if ($1 < 0) {
        luaL_pushfail(L);
        lua_pushfstring(L, "%s: %s", ntp_err_name($1), ntp_strerror($1));
        lua_pushstring(L, ntp_err_name($1));
        SWIG_arg += 3;
    }
%}
%typemap(ret) ntp_status
%{
    if ($1 >= 0 && SWIG_arg == 0) {
        lua_pushboolean(L, 1);
        SWIG_arg++;
    }
%}

/* ---- objects -------------------------------------------------------------
 * An argument is the glue's userdata, open and of the right kind (else it
 * raises, as the idiomatic layer does); a created object comes back as a
 * new userdata of the glue, which owns it from then on. */
%define NTPL_OBJECT(TYPE, KIND)
%typemap(in) TYPE *, const TYPE *
%{ $1 = ($1_ltype)ntpool_lua_check(L, $input, KIND); %}
%typemap(in, numinputs=0) TYPE **out (TYPE *tmp = NULL)
%{ $1 = &tmp; %}
%typemap(argout) TYPE **out
%{
    if (result >= 0) {
        ntpool_lua_push_new(L, KIND, (void *)*$1);
        SWIG_arg++;
    }
%}
%enddef

NTPL_OBJECT(ntp_pool, NTPL_POOL)
NTPL_OBJECT(ntp_cleanup_group, NTPL_GROUP)
NTPL_OBJECT(ntp_timer, NTPL_TIMER)
NTPL_OBJECT(ntp_io, NTPL_IO)
NTPL_OBJECT(ntp_handle, NTPL_HANDLE)
NTPL_OBJECT(ntp_instance, NTPL_INSTANCE)
NTPL_OBJECT(ntp_cs, NTPL_CS)

/* ---- out-parameters ----------------------------------------------------- */
%define NTPL_INTEGER_OUT(DECL, CTYPE, INIT)
%typemap(in, numinputs=0) DECL (CTYPE tmp = INIT) %{ $1 = &tmp; %}
%typemap(argout) DECL
%{
    if (result >= 0) {
        lua_pushinteger(L, (lua_Integer)*$1);
        SWIG_arg++;
    }
%}
%enddef
NTPL_INTEGER_OUT(int32_t *previous, int32_t, 0)
NTPL_INTEGER_OUT(size_t *reserve, size_t, 0)
NTPL_INTEGER_OUT(size_t *commit, size_t, 0)
NTPL_INTEGER_OUT(int *fd, int, -1)

%typemap(in, numinputs=0) ntp_pool_stats *out (ntp_pool_stats tmp)
%{ $1 = &tmp; %}
%typemap(argout) ntp_pool_stats *out
%{
    if (result >= 0) {
        ntpool_lua_push_stats(L, $1);
        SWIG_arg++;
    }
%}

/* ---- blocking calls: the Lua lock is dropped while they block ----------- */
%define NTPL_BLOCKING(NAME)
%exception NAME
%{
    ntpool_lua_blocking_begin(L);
    $action
    ntpool_lua_blocking_end(L);
%}
%enddef
NTPL_BLOCKING(ntp_wait_for_single)
NTPL_BLOCKING(ntp_sleep_ex)
NTPL_BLOCKING(ntp_cs_enter)
NTPL_BLOCKING(ntp_trace_stop)

%init %{
    /* The module table is on top of the stack here. */
    ntpool_lua_glue_open(L);
    lua_setfield(L, -2, "glue");
%}
