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
--                     runs_long=, persistent=}
-- priority: "high", "normal", "low" or 0, 1, 2. cancel(object, value) is
-- called by cleanup_group:close_members(true, value) for each member the
-- script did not close itself.
function ntpool.environment(o)
  o = opts(o, 1, "environment")
  local prio = o.priority
  if type(prio) == "string" then
    prio = priorities[prio] or error("unknown priority '" .. prio .. "'", 2)
  end
  return glue.environment(o.pool, prio, o.runs_long, o.persistent,
                          o.cleanup_group, o.cancel)
end

--- ntpool.cleanup_group() -> group; group:close_members(cancel_pending,
-- value) releases every member (waiting for their callbacks, with the Lua
-- lock dropped), group:close().
ntpool.cleanup_group = glue.cleanup_group

local pool_mt = meta("ntpool.pool")
function pool_mt.work(pool, fn) return glue.work(fn, pool) end
function pool_mt.timer(pool, fn) return glue.timer(fn, pool) end
function pool_mt.wait(pool, fn) return glue.wait(fn, pool) end
function pool_mt.try_submit(pool, fn) return glue.try_submit(fn, pool) end
--- pool:io(fd_or_file, fn): an I/O object over a file descriptor or a Lua
-- file (made non-blocking if it is a pipe or socket). io:read(size[,
-- offset]) and io:write(data[, offset]) start operations; each completion
-- calls fn(inst, io, result) with result the data read (a string, "" at
-- end of file) or the number of bytes written, or fn(inst, io, nil,
-- message, errname) on failure (ECANCELED after io:cancel()).
function pool_mt.io(pool, file, fn) return glue.io(file, fn, pool) end

-- Callback objects; env is nil (default pool), a pool or an environment.
ntpool.work = glue.work
ntpool.timer = glue.timer
ntpool.wait = glue.wait
ntpool.try_submit = glue.try_submit
--- ntpool.io(fd_or_file, fn[, env]): see pool:io.
ntpool.io = glue.io

-- wait:set(handle | fd | io file | nil, timeout_seconds)
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

--- ntpool.on_error(fn): fn(message_with_traceback) gets the errors raised
-- by callbacks (default: Lua's warn, which the script turns on with
-- warn "@on"). nil restores the default.
ntpool.on_error = glue.on_error

-- For tests: live core objects (the default pool excepted).
ntpool.live_objects = glue.live_objects

return ntpool
