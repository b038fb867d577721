-- The `!tp`-style dump and tracing from Lua (issue 9).
local ntpool = require "ntpool"
local H = require "helper"

local function read_all(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

describe("pool:dump", function()
  after_each(function() collectgarbage() end)

  it("shows threads, objects and the queue by mode", function()
    local pool <close> = assert(ntpool.pool{min = 1, max = 1})
    local started, gate = ntpool.event{}, ntpool.event{manual = true}
    local w <close> = pool:work(function()
      started:set()
      gate:wait(10 * H.scale)
    end)
    for _ = 1, 3 do w:submit() end
    assert.is_true(started:wait(10 * H.scale))
    -- One callback runs (blocked on the gate), two posts wait behind it.

    local line = pool:dump("one-line")
    assert.are.equal("string", type(line))
    assert.are.equal(1, select(2, line:gsub("\n", "")))
    assert.truthy(line:find("threads 1 %(idle 0, running 1"))
    assert.truthy(line:find("queued high 0 normal 2 low 0", 1, true))

    local threads = pool:dump()
    assert.truthy(threads:find("running work 0x%x+ %(ctx 0x%x+%) for"))
    assert.falsy(threads:find("objects:", 1, true))

    local members = pool:dump("members")
    assert.truthy(members:find("objects:", 1, true))
    assert.truthy(members:find("work 0x%x+ ctx 0x%x+, priority normal: "
                               .. "pending 2, running 1"))
    assert.falsy(members:find("queue normal", 1, true))

    local queue = pool:dump("queue")
    assert.truthy(queue:find("queue normal: work 0x%x+ x2"))
    assert.truthy(queue:find("queue high: (empty)", 1, true))

    -- "all" and the seeds' integer flags give the same sections.
    local all = pool:dump("all")
    assert.truthy(all:find("objects:", 1, true))
    assert.truthy(all:find("queue normal:", 1, true))
    assert.truthy(pool:dump(ntpool.DUMP_ONE_LINE):find("^pool 0x%x+: "))

    gate:set()
    w:wait()
    assert.truthy(pool:dump("one-line"):find("queued high 0 normal 0 low 0",
                                             1, true))
    assert.truthy(pool:dump():find("idle"))
  end)

  it("shows an armed timer's due time and period, and a wait's handle",
     function()
    local pool <close> = assert(ntpool.pool{max = 1})
    local t <close> = pool:timer(function() end)
    t:set(100, 0.5)
    local e = ntpool.event{}
    local w <close> = pool:wait(function() end)
    w:set(e, 50)
    local text = pool:dump("members")
    assert.truthy(text:find("timer 0x%x+ ctx 0x%x+, priority normal: .*"
                            .. "set: due in %d+%.%d+ ms, period 500 ms"),
                  text)
    assert.truthy(text:find("wait 0x%x+ ctx 0x%x+, priority normal: .*"
                            .. "armed on handle 0x%x+"), text)
    t:set(nil)
    w:set(nil)
  end)

  it("the default pool, and misuse", function()
    local text = ntpool.default_pool():dump("one-line")
    assert.truthy(text:find("(default)", 1, true))
    local pool = assert(ntpool.pool{})
    assert.has_error(function() pool:dump("everything") end,
                     "bad argument #1 to 'dump' (unknown mode 'everything')")
    assert.has_error(function() pool:dump(8) end)
    pool:close()
    assert.has_error(function() pool:dump() end,
                     "operation on closed ntpool.pool")
  end)
end)

describe("tracing", function()
  after_each(function() collectgarbage() end)

  it("records callbacks as Chrome Trace Event JSON", function()
    local path = os.tmpname()
    local pool <close> = assert(ntpool.pool{max = 2})
    local n = 0
    local w <close> = pool:work(function() n = n + 1 end)
    assert.is_true(ntpool.trace_start(path))
    -- One trace at a time.
    local ok, msg, name = ntpool.trace_start(path .. ".2")
    assert.is_nil(ok)
    assert.are.equal("EBUSY", name)
    for _ = 1, 5 do w:submit() end
    w:wait()
    assert.is_true(ntpool.trace_stop())
    assert.are.equal(5, n)
    local json = read_all(path)
    -- dkjson (Debian's lua-dkjson, in make deps) parses it.
    local dkjson = require "dkjson"
    local doc, _, err = dkjson.decode(json)
    assert.is_nil(err)
    local events = doc.traceEvents or doc
    local begins = 0
    for _, e in ipairs(events) do
      if e.ph == "B" or e.ph == "X" then begins = begins + 1 end
    end
    assert.is_true(begins >= 5, "callback spans in the trace: " .. begins)
    local _, _, stopped = ntpool.trace_stop()
    assert.are.equal("ENOENT", stopped)
    os.remove(path)
    os.remove(path .. ".2")
  end)

  it("scoped: a function, and a to-be-closed value", function()
    local path = os.tmpname()
    local ran = 0
    local w <close> = ntpool.work(function() ran = ran + 1 end)
    local a, b = ntpool.trace(path, function()
      w:submit(); w:wait()
      return "a", "b"
    end)
    assert.are.same({"a", "b"}, {a, b})
    assert.truthy(read_all(path):find("traceEvents", 1, true))
    -- Stopped: a new trace can start.
    assert.has_error(function()
      ntpool.trace(path, function() error("inside the trace") end)
    end, "inside the trace")
    do
      local t <close> = ntpool.trace(path)
      assert.truthy(tostring(t):find("^ntpool.trace %("))
      w:submit(); w:wait()
    end
    -- The scope ended: the trace was written and stopped.
    assert.is_true(ntpool.trace_start(path))
    assert.is_true(ntpool.trace_stop())
    assert.are.equal(2, ran)
    os.remove(path)
  end)
end)
