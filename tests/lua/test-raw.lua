-- ntpool.raw, the SWIG mirror of the C API, against the idiomatic layer:
-- the same objects, the same results, the same failures (STYLE.md 4.5).
local ntpool = require "ntpool"
local win32 = require "ntpool.win32"
local raw = require "ntpool.raw"
local H = require "helper"

-- Every NTP_EXTERN function of ntpool.h, read from the header itself.
local function c_functions()
  local f = assert(io.open("core/include/ntpool.h", "r"))
  local text = f:read("a")
  f:close()
  local names = {}
  for name in text:gmatch("NTP_EXTERN[^;(]-(ntp_[%w_]+)%s*%(") do
    names[#names + 1] = name
  end
  return names
end

-- Where the glue offers what SWIG does not wrap (lua_typemaps.i says why):
-- a function of raw.glue, or a method of a glue metatable ("meta.method").
-- false: C plumbing that a script has no use for.
local by_glue = {
  ntp_set_diagnostic_handler = false, ntp_set_allocator = false,
  ntp_thread_hooks_register = false, ntp_instance_current = false,
  ntp_work_set_release = false, ntp_timer_set_release = false,
  ntp_wait_set_release = false, ntp_io_set_release = false,
  ntp_work_context = false, ntp_timer_context = false,
  ntp_wait_context = false, ntp_try_submit_ex = "try_submit",
  ntp_env_init = "environment", ntp_env_destroy = "environment",
  ntp_env_set_pool = "environment", ntp_env_set_cleanup_group = "environment",
  ntp_env_set_library = "environment", ntp_env_set_priority = "environment",
  ntp_env_set_runs_long = "environment",
  ntp_env_set_persistent = "environment",
  ntp_env_set_finalization = "environment",
  ntp_pool_close = "ntpool.pool.close", ntp_pool_default = "default_pool",
  ntp_pool_dump = "ntpool.pool.dump",
  ntp_cleanup_group_close_members = "ntpool.cleanup_group.close_members",
  ntp_cleanup_group_close = "ntpool.cleanup_group.close",
  ntp_work_create = "work", ntp_work_submit = "ntpool.work.submit",
  ntp_work_wait = "ntpool.work.wait", ntp_work_close = "ntpool.work.close",
  ntp_try_submit = "try_submit",
  ntp_instance_free_library_on_return =
    "ntpool.instance.free_library_on_return",
  ntp_timer_create = "timer", ntp_timer_set = "ntpool.timer.set",
  ntp_timer_set_ex = "ntpool.timer.set", ntp_timer_wait = "ntpool.timer.wait",
  ntp_timer_close = "ntpool.timer.close",
  ntp_wait_create = "wait", ntp_wait_set = "ntpool.wait.set",
  ntp_wait_set_due = "ntpool.wait.set", ntp_wait_set_ex = "ntpool.wait.set",
  ntp_wait_wait = "ntpool.wait.wait", ntp_wait_close = "ntpool.wait.close",
  ntp_io_create = "io", ntp_io_start = "ntpool.io.read",
  ntp_io_cancel = "ntpool.io.read", ntp_io_read = "ntpool.io.read",
  ntp_io_write = "ntpool.io.write", ntp_io_cancel_ops = "ntpool.io.cancel",
  ntp_overlapped_result = "ntpool.overlapped.result",
  ntp_io_wait = "ntpool.io.wait", ntp_io_close = "ntpool.io.close",
  ntp_handle_close = "ntpool.event.close",
  ntp_wait_for_multiple = "wait_for_multiple",
  ntp_cs_init = "critical_section", ntp_cs_destroy = "critical_section",
  ntp_queue_apc = "queue_apc",
  ntp_waitable_timer_set_apc = "ntpool.waitable_timer.set",
  -- The original API is Lua code over work, wait and timer objects
  -- (lua/ntpool/win32.lua), as the C core's is over its objects.
  ntp_queue_user_work_item = "try_submit", ntp_register_wait = "wait",
  ntp_unregister_wait = "ntpool.wait.set",
  ntp_unregister_wait_ex = "ntpool.wait.set",
  ntp_timer_queue_create = "timer", ntp_timer_queue_timer_create = "timer",
  ntp_timer_queue_timer_change = "ntpool.timer.set",
  ntp_timer_queue_timer_delete = "ntpool.timer.close",
  ntp_timer_queue_delete = "ntpool.timer.close",
  ntp_timer_queue_delete_ex = "ntpool.timer.close",
  ntp_bind_io_completion_callback = "io",
}

local function glue_has(where)
  local meta, method = where:match("^(ntpool%.[%w_]+)%.([%w_]+)$")
  if meta then
    local mt = debug.getregistry()[meta]
    return mt ~= nil and type(mt[method]) == "function"
  end
  return type(raw.glue[where]) == "function"
end

describe("ntpool.raw", function()
  after_each(function() collectgarbage() end)

  it("covers ntpool.h name by name, with the glue", function()
    local names = c_functions()
    assert.is_true(#names > 100, "read " .. #names .. " names")
    local missing = {}
    for _, name in ipairs(names) do
      local glue = by_glue[name]
      if glue == nil then
        if type(raw[name]) ~= "function" then
          missing[#missing + 1] = name .. " (not in ntpool.raw)"
        end
      elseif glue and not glue_has(glue) then
        missing[#missing + 1] = name .. " (glue " .. glue .. " missing)"
      elseif raw[name] ~= nil then
        missing[#missing + 1] = name .. " (wrapped twice)"
      end
    end
    assert.are.same({}, missing)
  end)

  it("constants match the idiomatic layers", function()
    assert.are.equal(ntpool.WAIT_OBJECT_0, raw.NTP_WAIT_OBJECT_0)
    assert.are.equal(ntpool.WAIT_TIMEOUT, raw.NTP_WAIT_TIMEOUT)
    assert.are.equal(ntpool.WAIT_IO_COMPLETION, raw.NTP_WAIT_IO_COMPLETION)
    assert.are.equal(win32.INFINITE, raw.NTP_INFINITE)
    assert.are.equal(ntpool.DUMP_MEMBERS, raw.NTP_DUMP_MEMBERS)
    assert.are.equal(ntpool.PRIORITY_LOW, raw.NTP_PRIORITY_LOW)
    assert.are.equal("integer", math.type(raw.NTP_EINVAL))
    assert.are.equal("EINVAL", raw.ntp_err_name(raw.NTP_EINVAL))
    assert.are.equal("invalid argument", raw.ntp_strerror(raw.NTP_EINVAL))
  end)

  it("integers stay integers, as in the idiomatic layer", function()
    local a <close> = assert(raw.ntp_semaphore_create(1, 10))
    local b <close> = ntpool.semaphore(1, 10)
    for _, n in ipairs{2, 3} do
      local pa, pb = raw.ntp_semaphore_release(a, n), b:release(n)
      assert.are.equal(pb, pa)
      assert.are.equal("integer", math.type(pa))
    end
    assert.are.equal(6, raw.ntp_semaphore_release(a, 1))  -- not 6.0
    assert.are.equal(6, win32.ReleaseSemaphore(b, 1))
    assert.are.equal("integer", math.type(raw.ntp_wait_for_single(a, 0,
                                                                  false)))
    assert.are.equal("integer", math.type(raw.ntp_debug_live_objects()))
    assert.has_error(function() raw.ntp_semaphore_release(a, 1.5) end)
  end)

  it("statuses: true, or the same fail, message, errname", function()
    local e = assert(raw.ntp_event_create(true, false))
    assert.are.equal("ntpool.event", getmetatable(e).__name)
    assert.is_true(raw.ntp_event_set(e))
    assert.is_true(e:wait(0))                -- the glue's method on it
    assert.is_true(raw.ntp_event_reset(e))
    assert.are.equal(ntpool.WAIT_TIMEOUT,
                     raw.ntp_wait_for_single(e, 0, false))
    local m <close> = ntpool.mutex{}
    local r = {raw.ntp_mutex_release(m)}
    local i = {m:release()}
    assert.are.same(i, r)
    assert.is_nil(r[1])
    assert.are.equal("EPERM", r[3])
    assert.truthy(r[2]:match("^EPERM: "))
    local s = ntpool.semaphore(1, 1)
    assert.are.same({s:release(1)}, {raw.ntp_semaphore_release(s, 1)})
    e:close()
    s:close()
  end)

  it("objects of either layer work with both", function()
    local pool <close> = assert(raw.ntp_pool_create())
    assert.is_true(raw.ntp_pool_set_min_threads(pool, 1))
    raw.ntp_pool_set_max_threads(pool, 2)
    local ev = assert(raw.ntp_event_create(false, false))
    local got
    local w <close> = pool:wait(function(inst, obj, result)
      got = {result, type(raw.ntp_instance_may_run_long(inst))}
      raw.ntp_instance_disassociate(inst)
    end)
    w:set(ev)
    assert.is_true(raw.ntp_event_set(ev))
    assert.truthy(H.wait_until(function() return got ~= nil end))
    w:wait()
    assert.are.same({ntpool.WAIT_OBJECT_0, "boolean"}, got)
    local st, rs = pool:stats(), raw.ntp_pool_stats_get(pool)
    assert.are.equal(st.min_threads, rs.min_threads)
    assert.are.equal(st.max_threads, rs.max_threads)
    assert.are.equal(2, rs.max_threads)
    assert.are.equal(st.callbacks_run, rs.callbacks_run)
    local reserve, commit = raw.ntp_pool_get_stack(pool)
    assert.are.equal("integer", math.type(reserve))
    assert.are.equal("integer", math.type(commit))
    local group = assert(raw.ntp_cleanup_group_create())
    assert.are.equal("ntpool.cleanup_group", getmetatable(group).__name)
    assert.is_true(group:close_members(false))
    group:close()
    local cs = ntpool.critical_section()
    raw.ntp_cs_enter(cs)
    assert.is_true(raw.ntp_cs_leave(cs))
    assert.is_true(cs:try_enter())
    cs:leave()
  end)

  it("due times, timers, handles and I/O objects of the glue", function()
    local wt <close> = assert(raw.ntp_waitable_timer_create(false))
    assert.are.equal("ntpool.waitable_timer", getmetatable(wt).__name)
    assert.are.equal(raw.NTP_HANDLE_WAITABLE_TIMER,
                     raw.ntp_handle_kind_of(wt))
    assert.is_true(raw.ntp_waitable_timer_set(wt, raw.ntp_due_in_ms(5), 0))
    assert.are.equal(ntpool.WAIT_OBJECT_0,
                     raw.ntp_wait_for_single(wt, 10000 * H.scale, false))
    assert.is_true(wt:set(0.001))            -- the glue's method, same handle
    assert.is_true(wt:wait(10 * H.scale))
    local fd = raw.ntp_handle_get_fd(wt)
    assert.are.equal("integer", math.type(fd))
    assert.are.same({wt:fileno()}, {fd})
    local t <close> = ntpool.timer(function() end)
    assert.is_false(raw.ntp_timer_is_set(t))
    t:set(100)
    assert.is_true(raw.ntp_timer_is_set(t))
    assert.are.equal(t:is_set(), raw.ntp_timer_is_set(t))
    t:set(nil)
    local f = assert(io.tmpfile())
    do
      local o <close> = ntpool.io(f, function() end)
      assert.truthy(({io_uring = true, threads = true})
                    [raw.ntp_io_backend(o)])
    end
    f:close()
  end)

  it("instance calls from a callback, as the methods", function()
    local e = ntpool.event{}
    local s = ntpool.semaphore(0, 4)
    local w <close> = ntpool.work(function(inst)
      assert(raw.ntp_instance_set_event_on_return(inst, e))
      assert(raw.ntp_instance_release_semaphore_on_return(inst, s, 2))
    end)
    w:submit()
    assert.is_true(e:wait(10 * H.scale))
    w:wait()
    assert.are.equal(2, s:release(1))
    local kept
    local w2 <close> = ntpool.work(function(inst) kept = inst end)
    w2:submit(); w2:wait()
    assert.has_error(function() raw.ntp_instance_may_run_long(kept) end,
                     "instance used after its callback returned")
  end)

  it("misuse raises as in the idiomatic layer", function()
    local e = ntpool.event{}
    e:close()
    assert.has_error(function() raw.ntp_event_set(e) end,
                     "operation on closed ntpool.event")
    assert.has_error(function() e:set() end,
                     "operation on closed ntpool.event")
    assert.has_error(function() raw.ntp_event_set({}) end)
    assert.has_error(function() raw.ntp_pool_stats_get(ntpool.event{}) end)
  end)

  it("blocking calls drop the Lua lock", function()
    local e = assert(raw.ntp_event_create(false, false))
    local w <close> = ntpool.work(function()
      ntpool.sleep(0.02)
      raw.ntp_event_set(e)
    end)
    w:submit()
    -- The callback needs the lock to set the event: were it kept here,
    -- this would time out (or, with INFINITE, never return).
    assert.are.equal(ntpool.WAIT_OBJECT_0,
                     raw.ntp_wait_for_single(e, 10000 * H.scale, false))
    assert.are.equal(0, raw.ntp_sleep_ex(1, false))
    w:wait()
  end)
end)
