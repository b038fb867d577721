-- The surfaces pinned by issue 6, name by name: a rename or a gap fails
-- here before it reaches a user.
local ntpool = require "ntpool"
local win32 = require "ntpool.win32"

local function missing_in(t, names)
  local out = {}
  for _, name in ipairs(names) do
    if t[name] == nil then out[#out + 1] = name end
  end
  return out
end

local function methods(tname)
  return assert(debug.getregistry()[tname], tname)
end

describe("the pinned surfaces", function()
  it("require 'ntpool'", function()
    assert.are.same({}, missing_in(ntpool, {
      "pool", "default_pool", "environment", "cleanup_group", "work",
      "timer", "wait", "io", "try_submit", "event", "semaphore", "mutex",
      "critical_section", "waitable_timer", "wait_for_multiple", "sleep_ex",
      "await", "on_error", "queue_user_apc", "current_thread",
      "trace_start", "trace_stop", "trace", "WAIT_OBJECT_0",
      "WAIT_TIMEOUT", "WAIT_IO_COMPLETION", "WAIT_ABANDONED_0",
    }))
    assert.are.same({}, missing_in(methods("ntpool.pool"), {
      "work", "timer", "wait", "io", "try_submit", "stats", "dump", "close",
    }))
    for _, t in ipairs{"ntpool.work", "ntpool.timer", "ntpool.wait",
                       "ntpool.io"} do
      local need = {"wait", "close", "__gc", "__close", "__name",
                    "__tostring"}
      need[#need + 1] = t == "ntpool.work" and "submit"
                        or t == "ntpool.io" and "read" or "set"
      assert.are.same({}, missing_in(methods(t), need), t)
    end
    assert.are.same({}, missing_in(methods("ntpool.event"), {
      "set", "reset", "pulse", "wait", "close", "__gc", "__close",
    }))
    assert.are.same({}, missing_in(methods("ntpool.instance"), {
      "may_run_long", "disassociate", "set_event_on_return",
      "release_semaphore_on_return", "release_mutex_on_return",
      "leave_critical_section_on_return", "free_library_on_return",
    }))
    for _, t in ipairs{"ntpool.environment", "ntpool.cleanup_group",
                       "ntpool.semaphore", "ntpool.mutex",
                       "ntpool.waitable_timer", "ntpool.critical_section",
                       "ntpool.overlapped"} do
      assert.are.same({}, missing_in(methods(t),
                                     {"__gc", "__close", "__name",
                                      "__tostring"}), t)
    end
  end)

  it("require 'ntpool.win32'", function()
    assert.are.same({}, missing_in(win32, {
      "CreateThreadpool", "CloseThreadpool", "SetThreadpoolThreadMaximum",
      "SetThreadpoolThreadMinimum", "CreateThreadpoolCleanupGroup",
      "CloseThreadpoolCleanupGroupMembers", "CloseThreadpoolCleanupGroup",
      "InitializeThreadpoolEnvironment", "DestroyThreadpoolEnvironment",
      "SetThreadpoolCallbackPool", "SetThreadpoolCallbackPriority",
      "SetThreadpoolCallbackRunsLong", "SetThreadpoolCallbackPersistent",
      "SetThreadpoolCallbackCleanupGroup", "SetThreadpoolCallbackLibrary",
      "CreateThreadpoolWork", "SubmitThreadpoolWork",
      "WaitForThreadpoolWorkCallbacks", "CloseThreadpoolWork",
      "TrySubmitThreadpoolCallback", "CreateThreadpoolTimer",
      "SetThreadpoolTimer", "SetThreadpoolTimerEx", "IsThreadpoolTimerSet",
      "WaitForThreadpoolTimerCallbacks", "CloseThreadpoolTimer",
      "CreateThreadpoolWait", "SetThreadpoolWait", "SetThreadpoolWaitEx",
      "WaitForThreadpoolWaitCallbacks", "CloseThreadpoolWait",
      "CreateThreadpoolIo", "StartThreadpoolIo", "CancelThreadpoolIo",
      "WaitForThreadpoolIoCallbacks", "CloseThreadpoolIo", "ReadFile",
      "WriteFile", "CancelIoEx", "CancelIo", "GetOverlappedResult",
      "OVERLAPPED", "BindIoCompletionCallback", "CallbackMayRunLong",
      "DisassociateCurrentThreadFromCallback",
      "SetEventWhenCallbackReturns", "ReleaseSemaphoreWhenCallbackReturns",
      "ReleaseMutexWhenCallbackReturns",
      "LeaveCriticalSectionWhenCallbackReturns",
      "FreeLibraryWhenCallbackReturns", "CreateEvent", "SetEvent",
      "ResetEvent", "PulseEvent", "CreateSemaphore", "ReleaseSemaphore",
      "CreateMutex", "ReleaseMutex", "CreateWaitableTimer",
      "SetWaitableTimer", "CancelWaitableTimer",
      "InitializeCriticalSection", "EnterCriticalSection",
      "TryEnterCriticalSection", "LeaveCriticalSection",
      "DeleteCriticalSection", "WaitForSingleObject",
      "WaitForSingleObjectEx", "WaitForMultipleObjects",
      "WaitForMultipleObjectsEx", "SignalObjectAndWait", "Sleep", "SleepEx",
      "QueueUserAPC", "GetCurrentThread", "GetCurrentThreadId",
      "CloseHandle", "QueueUserWorkItem", "RegisterWaitForSingleObject",
      "UnregisterWait", "UnregisterWaitEx", "CreateTimerQueue",
      "CreateTimerQueueTimer", "ChangeTimerQueueTimer",
      "DeleteTimerQueueTimer", "DeleteTimerQueueEx", "DeleteTimerQueue",
      "INFINITE", "WAIT_OBJECT_0", "WAIT_ABANDONED_0", "WAIT_TIMEOUT",
      "WAIT_IO_COMPLETION", "WAIT_FAILED", "WT_EXECUTEDEFAULT",
      "WT_EXECUTEONLYONCE", "WT_EXECUTELONGFUNCTION",
      "WT_EXECUTEINPERSISTENTTHREAD", "TP_CALLBACK_PRIORITY_HIGH",
      "TP_CALLBACK_PRIORITY_NORMAL", "TP_CALLBACK_PRIORITY_LOW",
      "INVALID_HANDLE_VALUE",
    }))
  end)
end)
