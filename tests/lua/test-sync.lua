local ntpool = require "ntpool"
local H = require "helper"

describe("sync objects", function()
  after_each(function() collectgarbage() end)

  it("event set reset pulse wait", function()
    local e <close> = ntpool.event{manual = true}
    assert.is_false(e:wait(0))
    assert.is_true(e:set())
    assert.is_true(e:wait(0))
    assert.is_true(e:wait(0))      -- manual: stays set
    e:reset()
    assert.is_false(e:wait(0))
    local a <close> = ntpool.event{initial = true}
    assert.is_true(a:wait(0))
    assert.is_false(a:wait(0))     -- auto-reset
    assert.is_true(a:pulse())
    assert.is_false(a:wait(0))
  end)

  it("semaphore release returns integers", function()
    local s <close> = ntpool.semaphore(1, 3)
    local prev = s:release(1)
    assert.are.equal(1, prev)
    assert.are.equal("integer", math.type(prev))
    local ok, msg, name = s:release(5)
    assert.is_nil(ok)
    assert.are.equal("EOVERFLOW", name)
    assert.truthy(msg:match("^EOVERFLOW: "))
    assert.is_true(s:wait(0)); assert.is_true(s:wait(0))
    assert.is_false(s:wait(0.01))
    assert.has_error(function() ntpool.semaphore(5, 2) end)
  end)

  it("mutex ownership", function()
    local m <close> = ntpool.mutex{owned = true}
    assert.is_true(m:release())
    local ok, _, name = m:release()
    assert.is_nil(ok)
    assert.are.equal("EPERM", name)
    assert.is_true(m:wait(0))
    assert.is_true(m:release())
  end)

  it("critical section", function()
    local cs <close> = ntpool.critical_section()
    cs:enter(); cs:enter()
    assert.is_true(cs:try_enter())
    cs:leave(); cs:leave(); cs:leave()
    local ok, _, name = cs:leave()
    assert.is_nil(ok)
    assert.are.equal("EPERM", name)
  end)

  it("waitable timer", function()
    local t <close> = ntpool.waitable_timer{manual = true}
    assert.is_false(t:wait(0))
    assert.is_true(t:set(0.02))
    assert.is_true(t:wait(10 * H.scale))
    assert.is_true(t:wait(0))
    assert.is_true(t:cancel())
  end)

  it("wait_for_multiple", function()
    local a, b = ntpool.event{}, ntpool.event{manual = true}
    assert.are.equal(false, (ntpool.wait_for_multiple({a, b}, {timeout = 0})))
    b:set()
    assert.are.equal(2, ntpool.wait_for_multiple({a, b}, {timeout = 1}))
    assert.are.equal(false, (ntpool.wait_for_multiple({a, b}, {all = true, timeout = 0})))
    a:set()
    assert.are.equal(1, ntpool.wait_for_multiple({a, b}, {all = true, timeout = 1}))
    assert.has_error(function() ntpool.wait_for_multiple({}, {}) end)
    assert.has_error(function() ntpool.wait_for_multiple({a, 3}) end)
  end)

  it("sleep_ex returns", function()
    assert.are.equal(0, ntpool.sleep_ex(0.001))
  end)
end)

describe("instance", function()
  after_each(function() collectgarbage() end)

  it("completion actions run after the callback", function()
    local e = ntpool.event{}
    local s = ntpool.semaphore(0, 5)
    local m = ntpool.mutex{}
    local cs = ntpool.critical_section()
    local saved, long
    local w <close> = ntpool.work(function(inst)
      saved = inst
      assert(inst:set_event_on_return(e))
      assert(inst:release_semaphore_on_return(s, 2))
      assert(m:wait(0))
      assert(inst:release_mutex_on_return(m))
      cs:enter()
      assert(inst:leave_critical_section_on_return(cs))
      long = inst:may_run_long()
      assert(not e:wait(0))     -- not yet: the callback still runs
    end)
    w:submit()
    assert.is_true(e:wait(10 * H.scale))
    w:wait()
    assert.are.equal(0, s:release(1) - 2)
    assert.is_true(m:wait(0))     -- released by the pool thread
    m:release()
    assert.is_true(cs:try_enter())
    cs:leave()
    assert.is_boolean(long)
    assert.has_error(function() saved:may_run_long() end,
                     "instance used after its callback returned")
    assert.truthy(tostring(saved):find("expired"))
  end)

  it("instance survives a collection inside its callback", function()
    -- The binding marks the instance expired after the callback: the
    -- instance must still be alive then (ASan catches a use after free).
    local ran = 0
    local w <close> = ntpool.work(function(inst)
      inst = nil
      collectgarbage(); collectgarbage()
      ran = ran + 1
    end)
    for _ = 1, 20 do w:submit() end
    w:wait()
    assert.are.equal(20, ran)
  end)

  it("disassociate", function()
    local e = ntpool.event{manual = true}
    local done = ntpool.event{}
    local w <close> = ntpool.work(function(inst)
      inst:disassociate()
      e:wait(10 * H.scale)
      done:set()
    end)
    w:submit()
    assert.truthy(H.wait_until(function() return ntpool.default_pool():stats().running >= 1 end))
    w:wait()             -- does not wait for the disassociated callback
    e:set()
    assert.is_true(done:wait(10 * H.scale))
  end)
end)
