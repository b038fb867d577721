local ntpool = require "ntpool"
local H = require "helper"

describe("timer", function()
  after_each(function() collectgarbage() end)

  it("timer one-shot fires once", function()
    local n = 0
    local t <close> = ntpool.timer(function(inst, timer) n = n + 1 end)
    assert.is_false(t:is_set())
    t:set(0.02)
    assert.is_true(t:is_set())
    assert.truthy(H.wait_until(function() return n == 1 end))
    ntpool.sleep_ex(0.05)
    t:wait()
    assert.are.equal(1, n)
  end)

  it("timer periodic, then stopped", function()
    local n = 0
    local t <close> = ntpool.timer(function() n = n + 1 end)
    t:set(0, 0.01)
    assert.truthy(H.wait_until(function() return n >= 3 end))
    t:set(nil)
    t:wait(true)
    local after = n
    ntpool.sleep_ex(0.05)
    assert.are.equal(after, n)
  end)

  it("timer closed from its own callback", function()
    local e = ntpool.event{}
    local t = ntpool.timer(function(inst, timer) timer:close(); e:set() end)
    t:set(0)
    assert.is_true(e:wait(10 * H.scale))
    assert.has_error(function() t:set(1) end, "operation on closed ntpool.timer")
  end)
end)

describe("wait", function()
  after_each(function() collectgarbage() end)

  it("wait signalled and timed out", function()
    local results = {}
    local e = ntpool.event{}
    local w <close> = ntpool.wait(function(inst, wait, result)
      results[#results + 1] = result
    end)
    w:set(e)
    e:set()
    assert.truthy(H.wait_until(function() return #results == 1 end))
    assert.are.equal(ntpool.WAIT_OBJECT_0, results[1])
    assert.are.equal("integer", math.type(results[1]))
    w:set(e, 0.01)
    assert.truthy(H.wait_until(function() return #results == 2 end))
    assert.are.equal(ntpool.WAIT_TIMEOUT, results[2])
    w:wait()
  end)

  ;(H.no_subprocess and pending or it)("wait on a file descriptor", function()
    local f = assert(io.popen("sleep 0.1; echo ready"))
    local got
    local w <close> = ntpool.wait(function(inst, wait, result) got = result end)
    w:set(f, 10 * H.scale)
    assert.truthy(H.wait_until(function() return got ~= nil end))
    assert.are.equal(ntpool.WAIT_OBJECT_0, got)
    assert.are.equal("ready", f:read("l"))
    w:wait()
    f:close()
  end)
end)

describe("await", function()
  after_each(function() collectgarbage() end)

  it("await resumes a coroutine when the handle is signalled", function()
    local e = ntpool.event{}
    local result
    local co = coroutine.wrap(function()
      local ok, code = ntpool.await(e, 10 * H.scale)
      result = {ok, code}
    end)
    co()
    assert.is_nil(result)            -- suspended
    e:set()
    assert.truthy(H.wait_until(function() return result ~= nil end))
    assert.is_true(result[1])
    assert.are.equal(ntpool.WAIT_OBJECT_0, result[2])
  end)

  it("await times out, and blocks outside coroutines", function()
    local e = ntpool.event{}
    local result
    coroutine.wrap(function() result = {ntpool.await(e, 0.01)} end)()
    assert.truthy(H.wait_until(function() return result ~= nil end))
    assert.is_false(result[1])
    assert.are.equal(ntpool.WAIT_TIMEOUT, result[2])
    assert.is_false((ntpool.await(e, 0.01)))
  end)
end)
