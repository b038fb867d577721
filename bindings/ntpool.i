/*
 * ntpool.i -- the one SWIG interface of ntpool, shared by Python and Lua.
 *
 * SWIG mirrors core/include/ntpool.h one to one: the Python module
 * ntpool._raw (C part ntpool._ntpool) and the Lua module ntpool.raw. What
 * SWIG cannot do by itself -- turn a script function into a C callback,
 * hand the interpreter lock between threads, release script values after
 * the final callback, know that an object was closed -- lives in the
 * hand-written glue of each language, reached through the typemaps of
 * python_typemaps.i and lua_typemaps.i (STYLE.md 4.5: SWIG wraps;
 * hand-written code owns threads and lifetimes).
 *
 * Python: the module releases the GIL around every wrapped call
 * (threads="1"), except around the calls listed %nothread below, which
 * never block: dropping and retaking the GIL there would cost a GIL
 * handoff per submit when a worker is waiting for it.
 */
#if defined(SWIGPYTHON)
%module(threads="1") _raw
#else
%module ntpool_raw
#endif

%{
#include "ntpool.h"
%}

/* The fixed-width integers of the C API as the integers they are. */
%include "stdint.i"

/* The calls bindings must not see: allocator and diagnostic handler are
 * process-wide C plumbing, the thread hooks belong to the glue, the
 * release hooks are set by the glue on every object it creates, and the
 * context accessors hand back the glue's own structs. */
%ignore ntp_set_allocator;
%ignore ntp_set_diagnostic_handler;
%ignore ntp_thread_hooks_register;
%ignore ntp_thread_hooks;
%ignore ntp_work_set_release;
%ignore ntp_timer_set_release;
%ignore ntp_wait_set_release;
%ignore ntp_io_set_release;
%ignore ntp_work_context;
%ignore ntp_timer_context;
%ignore ntp_wait_context;
%ignore ntp_instance_current;
%ignore ntp_try_submit_ex;
%ignore ntp_env_set_finalization;
%ignore ntp_cs;
%ignore ntp_overlapped;
%ignore ntp_due;
/* The C varargs/FILE plumbing: the glue offers the dump as a string. */
%ignore ntp_pool_dump;

#if defined(SWIGPYTHON)
%include "python_typemaps.i"
#elif defined(SWIGLUA)
%include "lua_typemaps.i"
#endif

/* What SWIG's C parser does not read: the export attribute and C11
 * atomics (only in ntpool-private fields). */
#define NTP_EXTERN
#define _Atomic

%include "ntpool.h"
