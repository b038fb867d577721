-- ntpool.win32: the Windows thread-pool API under its Windows names, with
-- Windows argument order and callback signatures (context included), so
-- the seed examples translate line by line:
--   nil where Windows takes NULL; FILETIME due times as integers, negative
--   = relative in 100 ns units, positive = absolute (100 ns since 1601);
--   milliseconds where Windows takes a DWORD; handles are userdata.
-- The same names and order as the Python ntpool.win32.

local ntpool = require "ntpool"
local raw = ntpool.raw
local glue = raw.glue

local M = {}

M.INFINITE = 0xFFFFFFFF
M.WAIT_OBJECT_0 = glue.WAIT_OBJECT_0
M.WAIT_ABANDONED_0 = glue.WAIT_ABANDONED_0
M.WAIT_ABANDONED = glue.WAIT_ABANDONED_0
M.WAIT_IO_COMPLETION = glue.WAIT_IO_COMPLETION
M.WAIT_TIMEOUT = glue.WAIT_TIMEOUT
M.WAIT_FAILED = 0xFFFFFFFF
M.TP_CALLBACK_PRIORITY_HIGH = 0
M.TP_CALLBACK_PRIORITY_NORMAL = 1
M.TP_CALLBACK_PRIORITY_LOW = 2
M.TP_CALLBACK_PRIORITY_INVALID = 3
M.MAXIMUM_WAIT_OBJECTS = 64
M.INVALID_HANDLE_VALUE = -1
M.WT_EXECUTEDEFAULT = 0x00
M.WT_EXECUTEINIOTHREAD = 0x01
M.WT_EXECUTEINUITHREAD = 0x02
M.WT_EXECUTEINWAITTHREAD = 0x04
M.WT_EXECUTEONLYONCE = 0x08
M.WT_EXECUTELONGFUNCTION = 0x10
M.WT_EXECUTEINTIMERTHREAD = 0x20
M.WT_EXECUTEINPERSISTENTIOTHREAD = 0x40
M.WT_EXECUTEINPERSISTENTTHREAD = 0x80
M.WT_TRANSFER_IMPERSONATION = 0x100

function M.WT_SET_MAX_THREADPOOL_THREADS(flags, limit)
  return flags | ((limit & 0xFFFF) << 16)
end

-- GetLastError/SetLastError: per OS thread (callbacks run on pool
-- threads); set by the calls below that report a failure as false.
local last_error = {}
function M.GetLastError() return last_error[glue.thread_id()] or 0 end
function M.SetLastError(code) last_error[glue.thread_id()] = code end

local function ms_to_s(ms)
  if ms == nil or ms == M.INFINITE then return nil end
  if type(ms) ~= "number" then
    error(("bad timeout (milliseconds or nil expected, got %s)")
          :format(type(ms)), 3)
  end
  return ms / 1000
end

-- FILETIME due time -> seconds from now (nil: none).
local EPOCH_DIFF_100NS = 116444736000000000
local function filetime_to_s(ft)
  if ft == nil then return nil end
  if ft <= 0 then return -ft / 1e7 end
  local unix_s = (ft - EPOCH_DIFF_100NS) / 1e7
  local d = unix_s - os.time()
  return d > 0 and d or 0
end

-- Pools and environments ------------------------------------------------

function M.CreateThreadpool(reserved) return glue.pool(0, 500) end
function M.CloseThreadpool(pool) pool:close() end
function M.SetThreadpoolThreadMaximum(pool, n) pool:set_max_threads(n) end
function M.SetThreadpoolThreadMinimum(pool, n)
  return pool:set_min_threads(n) ~= nil
end
-- TP_POOL_STACK_INFORMATION as {StackReserve=, StackCommit=}.
function M.TP_POOL_STACK_INFORMATION(reserve, commit)
  return { StackReserve = reserve, StackCommit = commit }
end
function M.SetThreadpoolStackInformation(pool, info)
  return raw.ntp_pool_set_stack(pool, info.StackReserve,
                                info.StackCommit) == true
end
function M.QueryThreadpoolStackInformation(pool)
  local reserve, commit = raw.ntp_pool_get_stack(pool)
  if reserve == nil then return nil end
  return { StackReserve = reserve, StackCommit = commit }
end

-- A TP_CALLBACK_ENVIRON: a plain table, turned into an environment when an
-- object is created (objects copy it, as on Windows).
function M.InitializeThreadpoolEnvironment()
  return { pool = nil, priority = 1, runs_long = false, persistent = false }
end
function M.DestroyThreadpoolEnvironment(env) end
function M.SetThreadpoolCallbackPool(env, pool) env.pool = pool end
function M.SetThreadpoolCallbackPriority(env, p) env.priority = p end
function M.SetThreadpoolCallbackRunsLong(env) env.runs_long = true end
function M.SetThreadpoolCallbackPersistent(env) env.persistent = true end
-- library: the path of a shared library already loaded (an HMODULE).
function M.SetThreadpoolCallbackLibrary(env, library) env.library = library end

-- The context each object was created with, for cancel callbacks.
local contexts = setmetatable({}, { __mode = "k" })

local function make_env(env)
  if env == nil then return nil end
  if type(env) ~= "table" then
    error("bad environment (expected InitializeThreadpoolEnvironment())", 3)
  end
  local cancel
  if env.cancel then
    local cb = env.cancel
    cancel = function(obj, cleanup_ctx) cb(contexts[obj], cleanup_ctx) end
  end
  return assert(glue.environment(env.pool, env.priority, env.runs_long,
                                 env.persistent, env.cleanup_group, cancel,
                                 nil, env.library))
end

local function remember(obj, context)
  if obj ~= nil and context ~= nil then contexts[obj] = context end
  return obj
end

-- Cleanup groups ----------------------------------------------------------

function M.CreateThreadpoolCleanupGroup() return glue.cleanup_group() end
-- cancel_callback(object_context, cleanup_context), or nil.
function M.SetThreadpoolCallbackCleanupGroup(env, group, cancel_callback)
  env.cleanup_group, env.cancel = group, cancel_callback
end
function M.CloseThreadpoolCleanupGroupMembers(group, cancel, cleanup_context)
  assert(group:close_members(cancel, cleanup_context))
end
function M.CloseThreadpoolCleanupGroup(group) group:close() end

-- Work --------------------------------------------------------------------

function M.CreateThreadpoolWork(callback, context, env)
  assert(type(callback) == "function", "callback must be a function")
  return remember(glue.work(function(inst, work)
    callback(inst, context, work)
  end, make_env(env)), context)
end
function M.SubmitThreadpoolWork(work) work:submit() end
function M.WaitForThreadpoolWorkCallbacks(work, cancel) work:wait(cancel) end
function M.CloseThreadpoolWork(work) work:close() end
function M.TrySubmitThreadpoolCallback(callback, context, env)
  assert(type(callback) == "function", "callback must be a function")
  return glue.try_submit(function(inst) callback(inst, context) end,
                         make_env(env)) == true
end

-- Timers ------------------------------------------------------------------

function M.CreateThreadpoolTimer(callback, context, env)
  assert(type(callback) == "function", "callback must be a function")
  return remember(glue.timer(function(inst, t)
    callback(inst, context, t)
  end, make_env(env)), context)
end
function M.SetThreadpoolTimer(timer, due, period_ms, window_ms)
  timer:set(filetime_to_s(due), (period_ms or 0) / 1000,
            (window_ms or 0) / 1000)
end
function M.SetThreadpoolTimerEx(timer, due, period_ms, window_ms)
  return timer:set(filetime_to_s(due), (period_ms or 0) / 1000,
                   (window_ms or 0) / 1000)
end
function M.IsThreadpoolTimerSet(timer) return timer:is_set() end
function M.WaitForThreadpoolTimerCallbacks(t, cancel) t:wait(cancel) end
function M.CloseThreadpoolTimer(timer) timer:close() end

-- Waits -------------------------------------------------------------------

function M.CreateThreadpoolWait(callback, context, env)
  assert(type(callback) == "function", "callback must be a function")
  return remember(glue.wait(function(inst, w, result)
    callback(inst, context, w, result)
  end, make_env(env)), context)
end
-- timeout: a FILETIME (nil: infinite).
function M.SetThreadpoolWait(wait, handle, timeout)
  wait:set(handle, filetime_to_s(timeout))
end
-- -> true if this cancelled a wait that was still pending.
function M.SetThreadpoolWaitEx(wait, handle, timeout, reserved)
  return wait:set(handle, filetime_to_s(timeout))
end
function M.WaitForThreadpoolWaitCallbacks(w, cancel) w:wait(cancel) end
function M.CloseThreadpoolWait(wait) wait:close() end

-- I/O ------------------------------------------------------------------------
-- As the Python ntpool.win32 (and Windows): CreateThreadpoolIo binds a file
-- or descriptor to an I/O object; ReadFile/WriteFile on that same file or
-- descriptor (or on the I/O object) start operations described by an
-- OVERLAPPED; the callback gets (inst, context, overlapped, io_result,
-- nbytes, io), io_result a Windows error code (NO_ERROR,
-- ERROR_OPERATION_ABORTED...), and a read's bytes in overlapped.data.
-- ntpool does the reads and writes and announces each operation itself,
-- so StartThreadpoolIo and CancelThreadpoolIo have nothing left to do.

M.NO_ERROR, M.ERROR_SUCCESS = 0, 0
M.ERROR_FILE_NOT_FOUND = 2
M.ERROR_INVALID_HANDLE = 6
M.ERROR_NOT_ENOUGH_MEMORY = 8
M.ERROR_GEN_FAILURE = 31
M.ERROR_HANDLE_EOF = 38
M.ERROR_NOT_SUPPORTED = 50
M.ERROR_INVALID_PARAMETER = 87
M.ERROR_ALREADY_EXISTS = 183
M.ERROR_NOT_OWNER = 288
M.ERROR_TOO_MANY_POSTS = 298
M.ERROR_OPERATION_ABORTED = 995
M.ERROR_IO_INCOMPLETE = 996
M.ERROR_IO_PENDING = 997
M.ERROR_NOT_FOUND = 1168
M.ERROR_TIMEOUT = 1460

-- The core's errno names as Windows error codes (as <ntpool/win32.h>).
local winerror_of = {
  EINVAL = M.ERROR_INVALID_PARAMETER, ENOMEM = M.ERROR_NOT_ENOUGH_MEMORY,
  EAGAIN = M.ERROR_NOT_ENOUGH_MEMORY, EBADF = M.ERROR_INVALID_HANDLE,
  EPERM = M.ERROR_NOT_OWNER, EOVERFLOW = M.ERROR_TOO_MANY_POSTS,
  ECANCELED = M.ERROR_OPERATION_ABORTED, EEXIST = M.ERROR_ALREADY_EXISTS,
  ENOTSUP = M.ERROR_NOT_SUPPORTED, ENOSYS = M.ERROR_NOT_SUPPORTED,
  EINPROGRESS = M.ERROR_IO_PENDING, ETIMEDOUT = M.ERROR_TIMEOUT,
  ENOENT = M.ERROR_NOT_FOUND, EBUSY = M.ERROR_IO_INCOMPLETE,
}
local function winerror(errname)
  if errname == nil then return M.NO_ERROR end
  return winerror_of[errname] or M.ERROR_GEN_FAILURE
end

local overlapped_mt = { __name = "OVERLAPPED" }
overlapped_mt.__index = overlapped_mt
--- OVERLAPPED(offset, event): offset nil = the current position (pipes,
-- sockets); event, if any, is set when the operation completes.
function M.OVERLAPPED(offset, event)
  return setmetatable({ offset = offset, event = event }, overlapped_mt)
end

-- The I/O object bound to each file or descriptor (as long as the file
-- lives: BindIoCompletionCallback's object has no other owner), and the
-- OVERLAPPED of each operation in flight (keyed by the glue's
-- ntpool.overlapped).
local io_by_handle = setmetatable({}, { __mode = "k" })
local overlapped_of = setmetatable({}, { __mode = "k" })

function M.CreateThreadpoolIo(file, callback, context, env)
  assert(type(callback) == "function", "callback must be a function")
  local obj = glue.io(file, function(inst, io, result, msg, errname, op)
    local ov = overlapped_of[op]
    local nbytes = 0
    if type(result) == "string" then
      nbytes = #result
      if ov then ov.data = result end
    elseif result ~= nil then
      nbytes = result
    end
    if ov and ov.event then ov.event:set() end
    callback(inst, context, ov, winerror(errname), nbytes, io)
  end, make_env(env))
  if obj ~= nil then io_by_handle[file] = obj end
  return remember(obj, context)
end
function M.StartThreadpoolIo(io) end
function M.CancelThreadpoolIo(io) end
-- BindIoCompletionCallback(fd_or_file, callback, flags) -> true:
-- callback(error_code, nbytes, overlapped) for every completion of
-- ReadFile/WriteFile on it, on the default pool.
function M.BindIoCompletionCallback(file, callback, flags)
  assert(type(callback) == "function", "callback must be a function")
  local io = M.CreateThreadpoolIo(file, function(inst, ctx, ov, res, n)
    callback(res, n, ov)
  end, nil, nil)
  return io ~= nil
end

local function io_for(handle, funcname)
  local mt = getmetatable(handle)
  if mt and mt.__name == "ntpool.io" then return handle end
  local io = io_by_handle[handle]
  if io == nil then
    error(funcname .. ": no thread-pool I/O object is bound to this handle",
          3)
  end
  return io
end

local function start(funcname, op, overlapped)
  if getmetatable(overlapped) ~= overlapped_mt then
    error(("bad argument #3 to '%s' (OVERLAPPED expected)"):format(funcname),
          3)
  end
  local ov, msg, errname = op()
  if ov == nil then
    error(("%s: %s (%d)"):format(funcname, msg, winerror(errname)), 3)
  end
  overlapped.data, overlapped._op = nil, ov
  overlapped_of[ov] = overlapped
end

-- ReadFile(handle, size, overlapped) -> ERROR_IO_PENDING, nil: the bytes
-- come in overlapped.data when the completion callback runs.
function M.ReadFile(handle, size, overlapped)
  local io = io_for(handle, "ReadFile")
  start("ReadFile", function() return io:read(size, overlapped.offset) end,
        overlapped)
  return M.ERROR_IO_PENDING, nil
end
-- WriteFile(handle, data, overlapped) -> ERROR_IO_PENDING, 0.
function M.WriteFile(handle, data, overlapped)
  local io = io_for(handle, "WriteFile")
  start("WriteFile", function() return io:write(data, overlapped.offset) end,
        overlapped)
  return M.ERROR_IO_PENDING, 0
end
-- CancelIoEx(handle, overlapped) -> true, or false and ERROR_NOT_FOUND if
-- nothing was waiting. Without overlapped (and CancelIo): every operation.
function M.CancelIoEx(handle, overlapped)
  local io = io_for(handle, "CancelIoEx")
  local ok, _, errname = io:cancel(overlapped and overlapped._op)
  if ok then return true end
  M.SetLastError(winerror(errname))
  return false, winerror(errname)
end
function M.CancelIo(handle) return M.CancelIoEx(handle, nil) end
-- GetOverlappedResult(handle, overlapped, wait) -> bytes transferred, or
-- false and ERROR_IO_INCOMPLETE while under way and wait is false (or the
-- operation's error). A read's bytes go to overlapped.data.
function M.GetOverlappedResult(handle, overlapped, wait)
  local op = overlapped._op
  if op == nil then
    error("GetOverlappedResult: no operation was started with this "
          .. "OVERLAPPED", 2)
  end
  local n, data, errname = op:result(wait)
  if n == nil then
    M.SetLastError(winerror(errname))
    return false, winerror(errname)
  end
  if data ~= nil then overlapped.data = data end
  return n
end
function M.WaitForThreadpoolIoCallbacks(io, cancel) io:wait(cancel) end
function M.CloseThreadpoolIo(io) io:close() end

-- Instances -----------------------------------------------------------------

function M.CallbackMayRunLong(inst) return inst:may_run_long() end
function M.DisassociateCurrentThreadFromCallback(inst) inst:disassociate() end
function M.SetEventWhenCallbackReturns(inst, e) inst:set_event_on_return(e) end
function M.ReleaseSemaphoreWhenCallbackReturns(inst, s, n)
  inst:release_semaphore_on_return(s, n)
end
function M.ReleaseMutexWhenCallbackReturns(inst, m)
  inst:release_mutex_on_return(m)
end
function M.LeaveCriticalSectionWhenCallbackReturns(inst, cs)
  inst:leave_critical_section_on_return(cs)
end
function M.FreeLibraryWhenCallbackReturns(inst, lib)
  inst:free_library_on_return(lib)
end

-- The original thread-pool API -----------------------------------------------
-- A thin layer over work, wait and timer objects on the default pool, as
-- the C core's own (SPEC 11): WT_EXECUTELONGFUNCTION marks callbacks
-- long-running, WT_EXECUTEINPERSISTENTTHREAD (and the wait/timer-thread
-- flags) run them on the default pool's persistent thread.

local function legacy_env(flags)
  flags = flags or 0
  local persistent = (flags & (M.WT_EXECUTEINPERSISTENTTHREAD |
                               M.WT_EXECUTEINWAITTHREAD |
                               M.WT_EXECUTEINTIMERTHREAD)) ~= 0
  local long = (flags & M.WT_EXECUTELONGFUNCTION) ~= 0
  if not persistent and not long then return nil end
  return glue.environment(nil, 1, long, persistent)
end

-- QueueUserWorkItem(func, context, flags) -> true / false
function M.QueueUserWorkItem(func, context, flags)
  assert(type(func) == "function", "func must be a function")
  return glue.try_submit(function() func(context) end,
                         legacy_env(flags)) == true
end

-- Tells the script when every callback of `obj` has returned, as the
-- completion argument of the unregister/delete calls says: nil returns at
-- once, INVALID_HANDLE_VALUE waits, an event is set (by a pool thread).
local function complete(objs, completion)
  if completion == nil then
    for _, o in ipairs(objs) do o:close() end
  elseif completion == M.INVALID_HANDLE_VALUE then
    for _, o in ipairs(objs) do o:wait(); o:close() end
  else
    glue.try_submit(function()
      for _, o in ipairs(objs) do o:wait(); o:close() end
      completion:set()
    end)
  end
  return true
end

-- RegisterWaitForSingleObject(h, callback, context, ms, flags) -> wait;
-- callback(context, timer_or_wait_fired).
function M.RegisterWaitForSingleObject(h, callback, context, ms, flags)
  assert(type(callback) == "function", "callback must be a function")
  flags = flags or 0
  local once = (flags & M.WT_EXECUTEONLYONCE) ~= 0
  local timeout = ms_to_s(ms)
  local w
  w = glue.wait(function(inst, wait, result)
    if not once then wait:set(h, timeout) end -- re-arm, as Windows does
    callback(context, result == M.WAIT_TIMEOUT)
  end, legacy_env(flags))
  w:set(h, timeout)
  return w
end
function M.UnregisterWait(w) w:set(nil); return complete({w}, nil) end
function M.UnregisterWaitEx(w, completion)
  w:set(nil)
  return complete({w}, completion)
end

-- Timer queues: a table of its timers; nil is the default queue.
function M.CreateTimerQueue() return { timers = {} } end
-- CreateTimerQueueTimer(queue, callback, context, due_ms, period_ms, flags)
-- -> timer; callback(context, true).
function M.CreateTimerQueueTimer(queue, callback, context, due, period, flags)
  assert(type(callback) == "function", "callback must be a function")
  local t = glue.timer(function() callback(context, true) end,
                       legacy_env(flags))
  t:set((due or 0) / 1000, (period or 0) / 1000)
  if queue then queue.timers[t] = true end
  return t
end
function M.ChangeTimerQueueTimer(queue, t, due, period)
  t:set((due or 0) / 1000, (period or 0) / 1000)
  return true
end
function M.DeleteTimerQueueTimer(queue, t, completion)
  t:set(nil)
  if queue then queue.timers[t] = nil end
  return complete({t}, completion)
end
function M.DeleteTimerQueueEx(queue, completion)
  local all = {}
  for t in pairs(queue.timers) do t:set(nil); all[#all + 1] = t end
  queue.timers = {}
  return complete(all, completion)
end
function M.DeleteTimerQueue(queue) return M.DeleteTimerQueueEx(queue, nil) end

-- Synchronization -------------------------------------------------------------

function M.CreateEvent(sa, manual, initial, name)
  return assert(glue.event(manual, initial))
end
function M.SetEvent(h) return h:set() == true end
function M.ResetEvent(h) return h:reset() == true end
function M.PulseEvent(h) return h:pulse() == true end
function M.CreateSemaphore(sa, initial, max, name)
  return assert(glue.semaphore(initial, max))
end
-- ReleaseSemaphore(h, n) -> previous count (an integer); raises on
-- ERROR_TOO_MANY_POSTS, as pywin32 does.
function M.ReleaseSemaphore(h, n)
  return assert(h:release(n))
end
function M.CreateMutex(sa, initial_owner, name)
  return assert(glue.mutex(initial_owner))
end
function M.ReleaseMutex(h) return assert(h:release()) end
function M.CreateWaitableTimer(sa, manual, name)
  return assert(glue.waitable_timer(manual))
end
-- SetWaitableTimer(h, due, period_ms, completion_routine, arg, resume):
-- completion_routine(arg, time_low, time_high) runs on the calling thread
-- at its alertable waits (SleepEx(ms, true), ...), once per expiry; resume
-- is ignored (no power management here).
function M.SetWaitableTimer(h, due, period_ms, routine, arg, resume)
  local fn
  if routine ~= nil then
    assert(type(routine) == "function",
           "completion routine must be a function")
    fn = function(ft) routine(arg, ft & 0xFFFFFFFF, ft >> 32) end
  end
  return assert(h:set(filetime_to_s(due) or 0, (period_ms or 0) / 1000, fn))
end
function M.CancelWaitableTimer(h) return assert(h:cancel()) end
function M.CloseHandle(h) h:close() end

function M.InitializeCriticalSection() return glue.critical_section() end
function M.DeleteCriticalSection(cs) cs:close() end
function M.EnterCriticalSection(cs) cs:enter() end
function M.TryEnterCriticalSection(cs) return cs:try_enter() end
function M.LeaveCriticalSection(cs) cs:leave() end

function M.WaitForSingleObject(h, ms)
  return assert(h:wait_raw(ms_to_s(ms), false))
end
function M.WaitForSingleObjectEx(h, ms, alertable)
  return assert(h:wait_raw(ms_to_s(ms), alertable))
end
function M.WaitForMultipleObjects(handles, wait_all, ms)
  return assert(glue.wait_for_multiple(handles, wait_all, ms_to_s(ms), false))
end
function M.WaitForMultipleObjectsEx(handles, wait_all, ms, alertable)
  return assert(glue.wait_for_multiple(handles, wait_all, ms_to_s(ms),
                                       alertable))
end
-- SignalObjectAndWait(to_signal, to_wait, ms, alertable): signals an event,
-- semaphore (by 1) or mutex, then waits. The core has no atomic version,
-- so another thread can run between the two steps (Windows also documents
-- no atomicity guarantee for the pair as seen by other waiters).
function M.SignalObjectAndWait(to_signal, to_wait, ms, alertable)
  local name = getmetatable(to_signal) and getmetatable(to_signal).__name
  if name == "ntpool.event" then
    assert(to_signal:set())
  elseif name == "ntpool.semaphore" then
    assert(to_signal:release(1))
  elseif name == "ntpool.mutex" then
    assert(to_signal:release())
  else
    error("bad argument #1 to 'SignalObjectAndWait' (event, semaphore or mutex expected)", 2)
  end
  return assert(to_wait:wait_raw(ms_to_s(ms), alertable))
end
function M.Sleep(ms) glue.sleep_ex(ms_to_s(ms), false) end
function M.SleepEx(ms, alertable) return glue.sleep_ex(ms_to_s(ms), alertable) end
-- QueueUserAPC(func, thread, data) -> true, or false on failure.
function M.QueueUserAPC(func, thread, data)
  return glue.queue_apc(func, thread, data) == true
end
function M.GetCurrentThreadId() return glue.thread_id() end
function M.GetCurrentThread() return glue.current_thread() end
function M.GetCurrentProcessId()
  local f = assert(io.open("/proc/self/stat", "r"))
  local pid = f:read("n")
  f:close()
  return pid
end
function M.GetTickCount64() return math.floor(ntpool.clock() * 1000) end
function M.GetTickCount() return M.GetTickCount64() & 0xFFFFFFFF end
-- FILETIME: 100 ns units since 1601-01-01 UTC (to the second here).
function M.GetSystemTimeAsFileTime()
  return os.time() * 10000000 + EPOCH_DIFF_100NS
end

-- Argument checks ------------------------------------------------------------
-- The functions above call a method of the object they are given; called
-- with nil, a number or another kind of object they would fail inside,
-- with Lua's "attempt to index a nil value". Each is wrapped here to raise
-- "bad argument #n to 'Name' (ntpool.event expected, got nil)" instead.

local HANDLES = {"ntpool.event", "ntpool.semaphore", "ntpool.mutex",
                 "ntpool.waitable_timer", "ntpool.thread", "ntpool.fd_handle"}
local TIMER_QUEUE = "timer queue" -- a table from CreateTimerQueue
local ENVIRON = "environment"     -- from InitializeThreadpoolEnvironment

-- name = list of {argument number, accepted kinds}; a kind is a
-- metatable __name, TIMER_QUEUE, ENVIRON or a Lua type name.
local expected = {}
local function expect(argn, kinds, names)
  for _, name in ipairs(names) do
    expected[name] = expected[name] or {}
    table.insert(expected[name], {argn, kinds})
  end
end
expect(1, {"ntpool.pool"}, {"CloseThreadpool", "SetThreadpoolThreadMaximum",
                            "SetThreadpoolThreadMinimum",
                            "SetThreadpoolStackInformation"})
expect(2, {"table"}, {"SetThreadpoolStackInformation"})
expect(1, {"number"}, {"WT_SET_MAX_THREADPOOL_THREADS"})
expect(2, {"number"}, {"WT_SET_MAX_THREADPOOL_THREADS"})
expect(1, {ENVIRON}, {"SetThreadpoolCallbackPool",
                      "SetThreadpoolCallbackPriority",
                      "SetThreadpoolCallbackRunsLong",
                      "SetThreadpoolCallbackPersistent",
                      "SetThreadpoolCallbackCleanupGroup",
                      "SetThreadpoolCallbackLibrary"})
expect(1, {"ntpool.cleanup_group"}, {"CloseThreadpoolCleanupGroupMembers",
                                     "CloseThreadpoolCleanupGroup"})
expect(1, {"ntpool.work"}, {"SubmitThreadpoolWork",
                            "WaitForThreadpoolWorkCallbacks",
                            "CloseThreadpoolWork"})
expect(1, {"ntpool.timer"}, {"SetThreadpoolTimer", "SetThreadpoolTimerEx",
                             "IsThreadpoolTimerSet",
                             "WaitForThreadpoolTimerCallbacks",
                             "CloseThreadpoolTimer"})
expect(1, {"ntpool.wait"}, {"SetThreadpoolWait", "SetThreadpoolWaitEx",
                            "WaitForThreadpoolWaitCallbacks",
                            "CloseThreadpoolWait", "UnregisterWait",
                            "UnregisterWaitEx"})
expect(1, {"ntpool.io"}, {"WaitForThreadpoolIoCallbacks", "CloseThreadpoolIo"})
expect(2, {"OVERLAPPED"}, {"GetOverlappedResult"})
expect(1, {"ntpool.instance"}, {"CallbackMayRunLong",
                                "DisassociateCurrentThreadFromCallback",
                                "SetEventWhenCallbackReturns",
                                "ReleaseSemaphoreWhenCallbackReturns",
                                "ReleaseMutexWhenCallbackReturns",
                                "LeaveCriticalSectionWhenCallbackReturns",
                                "FreeLibraryWhenCallbackReturns"})
expect(1, {"ntpool.event"}, {"SetEvent", "ResetEvent", "PulseEvent"})
expect(1, {"ntpool.semaphore"}, {"ReleaseSemaphore"})
expect(1, {"ntpool.mutex"}, {"ReleaseMutex"})
expect(1, {"ntpool.waitable_timer"}, {"SetWaitableTimer",
                                      "CancelWaitableTimer"})
expect(1, HANDLES, {"CloseHandle", "WaitForSingleObject",
                    "WaitForSingleObjectEx"})
expect(2, HANDLES, {"SignalObjectAndWait"})
expect(1, {"ntpool.critical_section"}, {"DeleteCriticalSection",
                                        "EnterCriticalSection",
                                        "TryEnterCriticalSection",
                                        "LeaveCriticalSection"})
expect(2, {"ntpool.timer"}, {"ChangeTimerQueueTimer",
                             "DeleteTimerQueueTimer"})
expect(1, {TIMER_QUEUE}, {"DeleteTimerQueueEx", "DeleteTimerQueue"})

local function kind_of(v)
  if type(v) == "table" then
    if type(v.timers) == "table" then return TIMER_QUEUE end
    if v.priority ~= nil then return ENVIRON end
  end
  local mt = getmetatable(v)
  return type(mt) == "table" and mt.__name or type(v)
end

local function accepted(kind, kinds)
  for _, k in ipairs(kinds) do
    if k == kind then return true end
  end
  return false
end

for name, specs in pairs(expected) do
  local fn = M[name]
  M[name] = function(...)
    for _, spec in ipairs(specs) do
      local argn, kinds = spec[1], spec[2]
      local kind = kind_of((select(argn, ...)))
      if not accepted(kind, kinds) then
        error(("bad argument #%d to '%s' (%s expected, got %s)"):format(
            argn, name, #kinds > 1 and "ntpool handle" or kinds[1], kind), 2)
      end
    end
    return fn(...)
  end
end

return M
