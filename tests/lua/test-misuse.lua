local ntpool = require "ntpool"
local H = require "helper"

describe("misuse", function()
  after_each(function() collectgarbage() end)

  it("wrong types raise clear errors", function()
    local pool <close> = ntpool.pool{}
    assert.has_error(function() pool:work(42) end)
    local ok, msg = pcall(pool.work, pool, 42)
    assert.truthy(msg:find("function expected", 1, true))
    ok, msg = pcall(ntpool.semaphore, "x", 1)
    assert.truthy(msg:find("number expected", 1, true))
    local s = ntpool.semaphore(0, 1)
    ok, msg = pcall(ntpool.event{}.set, s)
    assert.truthy(msg:find("ntpool.event expected", 1, true))
    ok, msg = pcall(ntpool.pool, 5)
    assert.truthy(msg:find("table expected", 1, true))
    ok, msg = pcall(ntpool.work, function() end, "env")
    assert.truthy(msg:find("ntpool.pool or ntpool.environment expected", 1, true))
    local w <close> = ntpool.wait(function() end)
    ok, msg = pcall(w.set, w, {})
    assert.truthy(msg:find("ntpool handle expected", 1, true))
  end)

  it("closed objects raise", function()
    local w = ntpool.work(function() end)
    assert.truthy(tostring(w):match("^ntpool.work %("))
    w:close()
    assert.are.equal("ntpool.work (closed)", tostring(w))
    assert.has_error(function() w:submit() end, "operation on closed ntpool.work")
    assert.has_error(function() w:close() end, "operation on closed ntpool.work")
    local e = ntpool.event{}
    e:close()
    assert.has_error(function() e:set() end, "operation on closed ntpool.event")
    local p = ntpool.pool{}
    p:close()
    assert.has_error(function() p:work(function() end) end,
                     "operation on closed ntpool.pool")
    local cs = ntpool.critical_section()
    cs:close()
    assert.has_error(function() cs:enter() end)
  end)

  it("close variables, also on error", function()
    local escaped
    local ok = pcall(function()
      local w <close> = ntpool.work(function() end)
      escaped = w
      error("leaving")
    end)
    assert.is_false(ok)
    assert.are.equal("ntpool.work (closed)", tostring(escaped))
    do
      local e <close> = ntpool.event{}
      escaped = e
    end
    assert.are.equal("ntpool.event (closed)", tostring(escaped))
  end)

  it("__name on every metatable", function()
    for _, obj in ipairs{ntpool.pool{}, ntpool.work(function() end),
                         ntpool.timer(function() end), ntpool.wait(function() end),
                         ntpool.event{}, ntpool.semaphore(0, 1), ntpool.mutex{},
                         ntpool.critical_section(), ntpool.waitable_timer{}} do
      local name = getmetatable(obj).__name
      assert.truthy(name:match("^ntpool%."))
      assert.truthy(tostring(obj):find(name, 1, true))
      obj:close()
    end
  end)

  it("Lua values are released after close (no leak)", function()
    collectgarbage(); collectgarbage()
    local base_live = ntpool.live_objects()
    local before = collectgarbage("count")
    for _ = 1, 2000 do
      local big = {}
      local w = ntpool.work(function() return big end)
      w:submit()
      w:wait()
      w:close()
      local t = ntpool.timer(function() return big end)
      t:set(0, 0.001)
      t:close()
    end
    collectgarbage(); collectgarbage()
    assert.truthy(H.wait_until(function()
      collectgarbage()
      return ntpool.live_objects() <= base_live
    end))
    collectgarbage(); collectgarbage()
    assert.truthy(collectgarbage("count") < before + 200)
  end)

  it("finalizers, completion routines and operations are released too",
     function()
    collectgarbage(); collectgarbage()
    local base_live = ntpool.live_objects()
    local before = collectgarbage("count")
    local f = assert(io.tmpfile())
    for _ = 1, 500 do
      local big = {}
      local env = ntpool.environment{finalize = function() return big end}
      local w = ntpool.work(function() end, env)
      w:submit(); w:wait(); w:close()
      local wt = ntpool.waitable_timer{}
      wt:set(0, 0, function() return big end)
      ntpool.sleep_ex(0, true)
      wt:close()
      local o = ntpool.io(f, function() return big end)
      local ov = assert(o:write("x", 0))
      o:wait()
      assert.are.equal(1, ov:result(false))
      o:close()
    end
    collectgarbage(); collectgarbage()
    assert.truthy(H.wait_until(function()
      collectgarbage()
      return ntpool.live_objects() <= base_live
    end))
    collectgarbage(); collectgarbage()
    assert.truthy(collectgarbage("count") < before + 200)
    f:close()
  end)

  it("an unreachable object whose callback captures it is collected", function()
    collectgarbage(); collectgarbage()
    local base_live = ntpool.live_objects()
    for _ = 1, 100 do
      local w
      w = ntpool.work(function() return w end)
    end
    assert.truthy(H.wait_until(function()
      collectgarbage()
      return ntpool.live_objects() <= base_live
    end))
  end)
end)
