local ntpool = require "ntpool"
local win32 = require "ntpool.win32"
local H = require "helper"

describe("work", function()
  after_each(function() collectgarbage() collectgarbage() end)

  it("work submit wait", function()
    local pool <close> = assert(ntpool.pool{min = 1, max = 4})
    local n, seen_inst, seen_work = 0, nil, nil
    local w
    w = pool:work(function(inst, work)
      n = n + 1                       -- an upvalue shared with the script
      seen_inst, seen_work = tostring(inst), work
    end)
    for _ = 1, 200 do w:submit() end
    w:wait()
    assert.are.equal(200, n)
    assert.are.equal(w, seen_work)
    assert.truthy(seen_inst:match("^ntpool.instance"))
    w:close()
  end)

  it("runs callbacks on pool threads", function()
    local main = ntpool.raw.glue.thread_id()
    local tid
    local w <close> = ntpool.work(function() tid = ntpool.raw.glue.thread_id() end)
    w:submit(); w:wait()
    assert.is_number(tid)
    assert.are_not.equal(main, tid)
  end)

  it("wait with cancel_pending drops queued posts", function()
    local pool <close> = assert(ntpool.pool{min = 1, max = 1})
    local gate = ntpool.event{manual = true}
    local n = 0
    local w <close> = pool:work(function()
      gate:wait(10 * H.scale)
      n = n + 1
      -- Slow enough that the cancel surely comes before most of them run,
      -- even if the script's thread is descheduled for a while.
      ntpool.sleep_ex(0.05)
    end)
    for _ = 1, 50 do w:submit() end
    assert.truthy(H.wait_until(function() return pool:stats().running == 1 end))
    gate:set()
    w:wait(true)
    assert.truthy(n >= 1 and n < 40, "ran " .. n)
  end)

  it("posts queued before close still run, even if the object is dropped", function()
    local pool <close> = assert(ntpool.pool{min = 1, max = 1})
    local gate = ntpool.event{manual = true}
    local n = 0
    do
      local w = pool:work(function() gate:wait(10 * H.scale); n = n + 1 end)
      for _ = 1, 10 do w:submit() end
      w:close()
    end
    collectgarbage(); collectgarbage()
    gate:set()
    assert.truthy(H.wait_until(function() return n == 10 end))
  end)

  it("try_submit runs once", function()
    local e = ntpool.event{}
    local got
    assert.is_true(ntpool.try_submit(function(inst)
      got = inst ~= nil
      e:set()
    end))
    assert.is_true(e:wait(10 * H.scale))
    assert.is_true(got)
    local pool <close> = ntpool.pool{max = 2}
    assert.is_true(pool:try_submit(function() e:set() end))
    assert.is_true(e:wait(10 * H.scale))
  end)

  it("environment with a pool and a priority", function()
    local pool <close> = ntpool.pool{max = 2}
    local env = ntpool.environment{pool = pool, priority = "high", runs_long = true}
    local n = 0
    local w <close> = ntpool.work(function() n = n + 1 end, env)
    w:submit(); w:wait()
    assert.are.equal(1, n)
    assert.has_error(function() ntpool.environment{priority = "urgent"} end)
  end)

  it("pool stats and limits", function()
    local pool <close> = ntpool.pool{min = 1, max = 3}
    local s = pool:stats()
    assert.are.equal(1, s.min_threads)
    assert.are.equal(3, s.max_threads)
    assert.are.equal("integer", math.type(s.threads))
    assert.has_error(function() ntpool.pool{min = 5, max = 2} end)
  end)

  it("an environment's finalizer runs after each callback", function()
    local order = {}
    local done = ntpool.event{}
    local env = ntpool.environment{
      pool = ntpool.default_pool(),
      finalize = function(inst, obj)
        order[#order + 1] = {"finalize", obj, tostring(inst)}
        -- The instance is still valid: completion actions can be set.
        inst:set_event_on_return(done)
      end,
    }
    local seen_inst
    local w <close> = ntpool.work(function(inst, obj)
      seen_inst = tostring(inst)
      order[#order + 1] = {"callback", obj}
    end, env)
    w:submit()
    assert.is_true(done:wait(10 * H.scale))
    w:wait()
    assert.are.same({{"callback", w}, {"finalize", w, seen_inst}}, order)
    -- try_submit callbacks have no object.
    local fin_obj = "unset"
    local env2 = ntpool.environment{finalize = function(inst, obj)
      fin_obj = obj
      inst:set_event_on_return(done)
    end}
    assert.is_true(ntpool.try_submit(function() end, env2))
    assert.is_true(done:wait(10 * H.scale))
    assert.is_nil(fin_obj)
    assert.has_error(function() ntpool.environment{finalize = 1} end)
  end)

  it("errors in a finalizer are reported; the pool goes on", function()
    local errs = H.capture_errors()
    local n = 0
    local env = ntpool.environment{finalize = function() error("fin boom") end}
    local w <close> = ntpool.work(function() n = n + 1 end, env)
    w:submit(); w:submit()
    w:wait()
    ntpool.on_error(nil)
    assert.are.equal(2, n)
    assert.are.equal(2, #errs)
    assert.truthy(errs[1]:find("fin boom", 1, true))
  end)

  it("an environment's library, and free_library_on_return", function()
    -- libc is always loaded, and holds many references: one more taken
    -- and dropped changes nothing.
    local env = assert(ntpool.environment{library = "libc.so.6"})
    local got
    local w <close> = ntpool.work(function(inst)
      got = {inst:free_library_on_return("libc.so.6")}
      got[#got + 1] = select(3, inst:free_library_on_return("nope.so"))
    end, env)
    w:submit(); w:wait()
    assert.are.same({true, "ENOENT"}, got)
    local ok, _, errname = ntpool.environment{library = "not-loaded.so"}
    assert.is_nil(ok)
    assert.are.equal("ENOENT", errname)
    local e = win32.InitializeThreadpoolEnvironment()
    win32.SetThreadpoolCallbackLibrary(e, "libc.so.6")
    local ran = false
    local w2 = win32.CreateThreadpoolWork(function() ran = true end, nil, e)
    win32.SubmitThreadpoolWork(w2)
    win32.WaitForThreadpoolWorkCallbacks(w2, false)
    win32.CloseThreadpoolWork(w2)
    assert.is_true(ran)
  end)
end)
