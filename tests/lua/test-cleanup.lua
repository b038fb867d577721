local ntpool = require "ntpool"
local win32 = require "ntpool.win32"
local H = require "helper"

describe("cleanup group", function()
  after_each(function() collectgarbage() end)

  it("close_members waits, then closes the members", function()
    local g <close> = ntpool.cleanup_group()
    local env = ntpool.environment{cleanup_group = g}
    local n = 0
    local w = ntpool.work(function() ntpool.sleep_ex(0.001); n = n + 1 end, env)
    for _ = 1, 20 do w:submit() end
    assert.is_true(g:close_members(false))
    assert.are.equal(20, n)
    assert.has_error(function() w:submit() end, "operation on closed ntpool.work")
  end)

  it("close_members with cancel calls the cancel function", function()
    local g = ntpool.cleanup_group()
    local cancelled = {}
    local pool <close> = ntpool.pool{max = 1}
    local env = ntpool.environment{pool = pool, cleanup_group = g,
      cancel = function(obj, value) cancelled[#cancelled + 1] = {obj, value} end}
    local gate = ntpool.event{manual = true}
    local w = ntpool.work(function() gate:wait(10 * H.scale) end, env)
    local t = ntpool.timer(function() end, env)
    for _ = 1, 10 do w:submit() end
    local closed = ntpool.work(function() end, env)
    closed:close()
    gate:set()
    assert.is_true(g:close_members(true, "ctx"))
    assert.are.equal(2, #cancelled)
    for _, c in ipairs(cancelled) do
      assert.are.equal("ctx", c[2])
      assert.truthy(c[1] == w or c[1] == t)
    end
    g:close()
    assert.has_error(function() g:close_members() end,
                     "operation on closed ntpool.cleanup_group")
  end)

  it("close with members raises", function()
    local g = ntpool.cleanup_group()
    local w = ntpool.work(function() end, ntpool.environment{cleanup_group = g})
    assert.has_error(function() g:close() end)
    w:close()
    g:close_members(false)
    g:close()
  end)

  it("win32 cleanup group with contexts", function()
    local g = win32.CreateThreadpoolCleanupGroup()
    local env = win32.InitializeThreadpoolEnvironment()
    local got = {}
    win32.SetThreadpoolCallbackCleanupGroup(env, g, function(octx, cctx)
      got[#got + 1] = octx .. "/" .. cctx
    end)
    local t = win32.CreateThreadpoolTimer(function() end, "timer-ctx", env)
    win32.SetThreadpoolTimer(t, -10000000 * 3600, 0, 0)
    win32.CloseThreadpoolCleanupGroupMembers(g, true, "group-ctx")
    win32.CloseThreadpoolCleanupGroup(g)
    assert.are.same({"timer-ctx/group-ctx"}, got)
  end)
end)
