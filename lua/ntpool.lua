-- ntpool: the Windows thread pool for Lua 5.4 scripts.
--
--   local ntpool = require "ntpool"
--   local pool <close> = ntpool.pool{min = 1, max = 4}
--   local w <close> = pool:work(function(inst, work) print("hi") end)
--   w:submit(); w:wait()
--
-- This file is sugar (option tables, seconds, booleans) over the C module
-- ntpool.raw; the objects are its userdata, whose metatables get the extra
-- methods below. Callbacks run on pool threads, one at a time per Lua
-- state: they share upvalues and globals with the script. The Lua lock
-- that makes this safe is dropped by every blocking ntpool call and handed
-- over by a count hook when a callback waits for it; a C function of
-- another library that blocks while holding it (io.read, os.execute, a
-- socket select) stops the callbacks until it returns.

local raw = require "ntpool.raw"
local glue = assert(raw.glue, "ntpool.raw has no glue table")

local ntpool = {}
local reg = debug.getregistry()
local function meta(name) return assert(reg[name], name) end

local WAIT_OBJECT_0 = glue.WAIT_OBJECT_0
local WAIT_ABANDONED_0 = glue.WAIT_ABANDONED_0
ntpool.WAIT_OBJECT_0 = WAIT_OBJECT_0
ntpool.WAIT_ABANDONED_0 = WAIT_ABANDONED_0
ntpool.WAIT_TIMEOUT = glue.WAIT_TIMEOUT
ntpool.WAIT_IO_COMPLETION = glue.WAIT_IO_COMPLETION
ntpool.PRIORITY_HIGH, ntpool.PRIORITY_NORMAL, ntpool.PRIORITY_LOW = 0, 1, 2
ntpool.raw = raw

local function opts(t, argn, fname)
  if t == nil then return {} end
  if type(t) ~= "table" then
    error(("bad argument #%d to '%s' (table expected, got %s)")
          :format(argn, fname, type(t)), 3)
  end
  return t
end

-- Pools -------------------------------------------------------------------

--- ntpool.pool{min=0, max=500} -> pool (or fail, message, errname)
function ntpool.pool(o)
  o = opts(o, 1, "pool")
  return glue.pool(o.min or 0, o.max or 500)
end
ntpool.default_pool = glue.default_pool

local priorities = { high = 0, normal = 1, low = 2 }

--- ntpool.environment{pool=, cleanup_group=, cancel=, priority=,
--                     runs_long=, persistent=, finalize=, library=}
-- priority: "high", "normal", "low" or 0, 1, 2. cancel(object, value) is
-- called by cleanup_group:close_members(true, value) for each member the
-- script did not close itself. finalize(inst, object) runs after each
-- callback of the objects made with the environment, on the same thread
-- with the same instance, before its completion actions (object is nil
-- for try_submit callbacks). library: the path of a shared library
-- already loaded, kept mapped while the objects' callbacks can run
-- (SetThreadpoolCallbackLibrary).
function ntpool.environment(o)
  o = opts(o, 1, "environment")
  local prio = o.priority
  if type(prio) == "string" then
    prio = priorities[prio] or error("unknown priority '" .. prio .. "'", 2)
  end
  return glue.environment(o.pool, prio, o.runs_long, o.persistent,
                          o.cleanup_group, o.cancel, o.finalize, o.library)
end

--- ntpool.cleanup_group() -> group; group:close_members(cancel_pending,
-- value) releases every member (waiting for their callbacks, with the Lua
-- lock dropped), group:close().
ntpool.cleanup_group = glue.cleanup_group

local pool_mt = meta("ntpool.pool")

-- The modes of pool:dump, as the flags of the seeds' `!tp pool`.
local DUMP_ONE_LINE, DUMP_MEMBERS, DUMP_QUEUE = 0x1, 0x2, 0x4
local dump_modes = {
  threads = 0, ["one-line"] = DUMP_ONE_LINE, members = DUMP_MEMBERS,
  queue = DUMP_QUEUE, all = DUMP_MEMBERS | DUMP_QUEUE,
}
ntpool.DUMP_ONE_LINE, ntpool.DUMP_MEMBERS, ntpool.DUMP_QUEUE =
  DUMP_ONE_LINE, DUMP_MEMBERS, DUMP_QUEUE

--- pool:dump([mode]) -> text: what the debugger's `!tp pool` shows. mode
-- "threads" (the default): the pool's line and each thread, idle or
-- running which callback for how long; "one-line": the pool's line only;
-- "members": the threads and the pool's objects (pending posts, running
-- callbacks); "queue": the threads and the queue per priority; "all":
-- members and queue. An integer is taken as the seeds' flags (0x1, 0x2,
-- 0x4).
local raw_dump = pool_mt.dump
function pool_mt.dump(pool, mode)
  local flags = mode
  if mode == nil then
    flags = 0
  elseif type(mode) == "string" then
    flags = dump_modes[mode]
    if flags == nil then
      error(("bad argument #1 to 'dump' (unknown mode '%s')"):format(mode), 2)
    end
  end
  return raw_dump(pool, flags)
end
function pool_mt.work(pool, fn) return glue.work(fn, pool) end
function pool_mt.timer(pool, fn) return glue.timer(fn, pool) end
function pool_mt.wait(pool, fn) return glue.wait(fn, pool) end
function pool_mt.try_submit(pool, fn) return glue.try_submit(fn, pool) end
--- pool:io(fd_or_file, fn): an I/O object over a file descriptor or a Lua
-- file (made non-blocking if it is a pipe or socket). io:read(size[,
-- offset]) and io:write(data[, offset]) start operations and return each
-- an ntpool.overlapped; each completion calls fn(inst, io, result, nil,
-- nil, ov) with result the data read (a string, "" at end of file) or the
-- number of bytes written, or fn(inst, io, nil, message, errname, ov) on
-- failure (ECANCELED after io:cancel([ov])). ov:result(wait) -> bytes
-- (and the data, for a read), or fail with EBUSY while it is under way,
-- as GetOverlappedResult; it also reports operations whose callback
-- io:wait(true) dropped.
function pool_mt.io(pool, file, fn) return glue.io(file, fn, pool) end

-- Callback objects; env is nil (default pool), a pool or an environment.
ntpool.work = glue.work
ntpool.timer = glue.timer
ntpool.wait = glue.wait
ntpool.try_submit = glue.try_submit
--- ntpool.io(fd_or_file, fn[, env]): see pool:io.
ntpool.io = glue.io

-- wait:set(handle | fd | io file | nil, timeout_seconds) -> true if this
-- cancelled a wait that was still pending (SetThreadpoolWaitEx)
local wait_mt = meta("ntpool.wait")
local raw_wait_set = wait_mt.set
function wait_mt.set(w, h, timeout)
  local t = type(h)
  if t == "number" or io.type(h) == "file" then
    h = assert(glue.fd_handle(h))
  end
  return raw_wait_set(w, h, timeout)
end

-- Synchronization objects ---------------------------------------------------

--- ntpool.event{manual=false, initial=false}
function ntpool.event(o)
  o = opts(o, 1, "event")
  return glue.event(o.manual, o.initial)
end
--- ntpool.semaphore(initial, max)
ntpool.semaphore = glue.semaphore
--- ntpool.mutex{owned=false}
function ntpool.mutex(o)
  o = opts(o, 1, "mutex")
  return glue.mutex(o.owned)
end
ntpool.critical_section = glue.critical_section
--- ntpool.waitable_timer{manual=false}
function ntpool.waitable_timer(o)
  o = opts(o, 1, "waitable_timer")
  return glue.waitable_timer(o.manual)
end
ntpool.fd_handle = glue.fd_handle
ntpool.current_thread = glue.current_thread

-- h:wait(timeout_seconds, alertable) -> true (taken), false (timed out or
-- APCs ran), or fail, message, errname.
local function check_handle(h, fname)
  local mt = getmetatable(h)
  if type(h) ~= "userdata" or type(mt) ~= "table" or not mt.wait_raw then
    error(("bad argument #1 to '%s' (ntpool handle expected, got %s)")
          :format(fname, type(mt) == "table" and mt.__name or type(h)), 3)
  end
end
local function handle_wait(h, timeout, alertable)
  check_handle(h, "wait")
  local r, msg, name = h:wait_raw(timeout, alertable)
  if r == nil then return r, msg, name end
  return r == WAIT_OBJECT_0 or r == WAIT_ABANDONED_0, r
end
for _, name in ipairs{"ntpool.event", "ntpool.semaphore", "ntpool.mutex",
                      "ntpool.waitable_timer", "ntpool.thread",
                      "ntpool.fd_handle"} do
  meta(name).wait = handle_wait
end

--- ntpool.wait_for_multiple(handles, {all=, timeout=, alertable=})
-- -> index (1-based: the signalled handle, 1 when all were taken),
--    or false, code on timeout / APCs; fail, message, errname on errors.
function ntpool.wait_for_multiple(handles, o)
  o = opts(o, 2, "wait_for_multiple")
  local r, msg, name = glue.wait_for_multiple(handles, o.all, o.timeout,
                                              o.alertable)
  if r == nil then return r, msg, name end
  if r >= WAIT_OBJECT_0 and r < WAIT_OBJECT_0 + #handles then
    return r - WAIT_OBJECT_0 + 1
  elseif r >= WAIT_ABANDONED_0 and r < WAIT_ABANDONED_0 + #handles then
    return r - WAIT_ABANDONED_0 + 1, "abandoned"
  end
  return false, r
end

--- ntpool.await(handle[, timeout]) -> true (signalled) or false (timed
-- out), and the raw wait result. Inside a coroutine it yields, and a wait
-- object resumes the coroutine from a pool thread when the handle is
-- signalled (the coroutine then goes on running there, under the Lua lock;
-- errors it raises go to ntpool.on_error). Outside a coroutine, and for
-- mutexes (which a pool thread cannot take for the script), it blocks like
-- handle:wait(timeout).
function ntpool.await(h, timeout)
  check_handle(h, "await")
  local co, is_main = coroutine.running()
  if is_main or getmetatable(h) == meta("ntpool.mutex") then
    return h:wait(timeout)
  end
  local w = ntpool.wait(function(inst, wait, result)
    wait:close()
    local ok, err = coroutine.resume(co, result == WAIT_OBJECT_0, result)
    if not ok then error(err, 0) end
  end)
  w:set(h, timeout)
  return coroutine.yield()
end

--- ntpool.sleep_ex(seconds, alertable) -> 0, or WAIT_IO_COMPLETION
ntpool.sleep_ex = glue.sleep_ex
function ntpool.sleep(seconds) glue.sleep_ex(seconds, false) end

--- ntpool.queue_user_apc(fn, thread, data): fn(data) runs on `thread` (a
-- handle from ntpool.current_thread(); nil: the calling thread) at its next
-- alertable wait (sleep_ex(s, true), h:wait(s, true), wait_for_multiple
-- with alertable=true), which then returns WAIT_IO_COMPLETION.
ntpool.queue_user_apc = glue.queue_apc

-- Tracing -------------------------------------------------------------------

--- ntpool.trace_start(path) -> true, or fail, message, errname (EBUSY if a
-- trace runs already): from now on every pool records each callback's
-- start and end on its thread, worker creation and exit, queue depths,
-- timer and wait firings and completion actions. ntpool.trace_stop()
-- writes them to path as Chrome Trace Event JSON (Perfetto,
-- chrome://tracing; `python3 -m ntpool.trace path -o run.svg` draws it).
ntpool.trace_start = glue.trace_start
ntpool.trace_stop = glue.trace_stop

local trace_mt = {
  __name = "ntpool.trace",
  __close = function(t)
    if t.running then
      t.running = false
      assert(glue.trace_stop())
    end
  end,
  __tostring = function(t)
    return ("ntpool.trace (%s%s)"):format(t.path,
                                          t.running and "" or ", stopped")
  end,
}
trace_mt.__index = { stop = trace_mt.__close }
trace_mt.__gc = trace_mt.__close

--- ntpool.trace(path[, fn]): a scoped trace. With fn: records while fn
-- runs, writes the file (even if fn raises) and returns fn's results.
-- Without: returns a to-be-closed value that stops the trace when it goes
-- out of scope:  local t <close> = ntpool.trace("run.json")
function ntpool.trace(path, fn)
  assert(glue.trace_start(path))
  local t = setmetatable({ path = path, running = true }, trace_mt)
  if fn == nil then return t end
  local res = table.pack(pcall(fn))
  trace_mt.__close(t)
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

--- ntpool.on_error(fn): fn(message_with_traceback) gets the errors raised
-- by callbacks (default: Lua's warn, which the script turns on with
-- warn "@on"). nil restores the default.
ntpool.on_error = glue.on_error

--- ntpool.clock() -> seconds on the monotonic clock (a float), for timing.
ntpool.clock = glue.clock

-- For tests: live core objects (the default pool excepted).
ntpool.live_objects = glue.live_objects

return ntpool
