-- Bad input, property style: every function of require "ntpool" and of
-- require "ntpool.win32", and every method of every kind of object, is
-- called with each value of a table of bad arguments (wrong types, nil,
-- out-of-range numbers, closed objects, objects of another kind, a
-- callback that raises) in each position. The property, for every call:
-- it returns (a runtime failure as fail, message, errname) or raises an
-- error that says what was wrong -- never Lua's own "attempt to index a
-- nil value" from inside the library, never a crash -- and the state
-- stays usable. The whole sweep is repeated; live core objects return to
-- their count and Lua memory stays flat across the rounds.
--
-- The calls are generated from the module tables and the metatables, so a
-- function added to the API is swept without editing this file.
local ntpool = require "ntpool"
local win32 = require "ntpool.win32"
local H = require "helper"

local reg = debug.getregistry()

-- Fresh bad values for one call: the objects are new each time, since a
-- call may close or consume them.
local function bad_values()
  local closed_event = ntpool.event{}
  closed_event:close()
  local closed_work = ntpool.work(function() end)
  closed_work:close()
  return {
    {"nil", nil}, {"true", true}, {"0", 0}, {"-1", -1}, {"0.5", 0.5},
    {"2^53", 2^53}, {"maxinteger", math.maxinteger},
    {"mininteger", math.mininteger}, {"1e308", 1e308}, {"-1e308", -1e308},
    {"nan", 0 / 0}, {"huge", math.huge}, {"-huge", -math.huge},
    {"string", "x"}, {"empty table", {}},
    {"raising function", function() error("raised by a bad callback") end},
    {"coroutine", coroutine.create(function() end)},
    {"Lua file", io.stderr},
    {"closed event", closed_event}, {"closed work", closed_work},
    {"a semaphore", ntpool.semaphore(1000, 1000)},
    {"a cleanup group", ntpool.cleanup_group()},
  }
end

-- Wait for as long as a number argument says, nil meaning for ever: a huge
-- or infinite timeout is valid and blocks, so these get only the values
-- that are neither numbers nor nil.
local BLOCKS_ON_NUMBER = {
  ["ntpool.sleep"] = true, ["ntpool.sleep_ex"] = true,
  ["win32.Sleep"] = true, ["win32.SleepEx"] = true,
}

-- Take a file path: a string or a number is a valid path there (the
-- trace would be written into the current directory), so these get only
-- the other values.
local TAKES_PATH = {["ntpool.trace_start"] = true, ["ntpool.trace"] = true}

-- Internal errors a caller cannot act on: a library function indexing or
-- doing arithmetic on the bad value instead of checking it.
local function unclear(msg)
  if type(msg) ~= "string" or msg == "" then return "not a message" end
  for _, p in ipairs{"attempt to ", "a nil value", "index is nil",
                     "(null)"} do
    if msg:find(p, 1, true) then return p end
  end
end

local function close_results(...)
  for i = 1, select("#", ...) do
    local r = select(i, ...)
    local mt = getmetatable(r)
    if type(r) == "userdata" and type(mt) == "table" and mt.__close then
      pcall(r.close, r)
    end
  end
end

-- NTP_PROBE_TRACE=1 in the environment prints each call before making
-- it, to find the one that hangs or crashes.
local trace = os.getenv("NTP_PROBE_TRACE") ~= nil

-- Call fn(args...) and record what breaks the property in `bad`.
local function probe(bad, label, fn, ...)
  if trace then
    io.stderr:write(label, "\n")
    io.stderr:flush()
  end
  local res = table.pack(pcall(fn, ...))
  if not res[1] then
    local why = unclear(res[2])
    if why then
      bad[#bad + 1] = ("%s: unclear error (%s): %s"):format(
          label, why, tostring(res[2]))
    end
    return
  end
  -- fail, message, errname: a message string (and a name) with the fail.
  if res[2] == nil and res.n >= 3 and type(res[3]) ~= "string" then
    bad[#bad + 1] = ("%s: failure without a message (%s)"):format(
        label, tostring(res[3]))
  end
  close_results(table.unpack(res, 2, res.n))
end

local function sorted_functions(t)
  local names = {}
  for k, v in pairs(t) do
    if type(v) == "function" then names[#names + 1] = k end
  end
  table.sort(names)
  return names
end

-- Every module function, each bad value in positions 1 to 3 (the others
-- nil, but for the timeout of a sleep).
local function sweep_functions(bad)
  local calls = 0
  for _, m in ipairs{{"ntpool", ntpool}, {"win32", win32}} do
    for _, fname in ipairs(sorted_functions(m[2])) do
      local qname = m[1] .. "." .. fname
      for pos = 1, 3 do
        for _, v in ipairs(bad_values()) do
          local t = type(v[2])
          local skip =
              (BLOCKS_ON_NUMBER[qname] and (t == "number" or t == "nil")) or
              (TAKES_PATH[qname] and pos == 1 and
               (t == "number" or t == "string"))
          if not skip then
            -- The timeout of a sleep is 0 unless it is the probed one.
            local args = BLOCKS_ON_NUMBER[qname] and {0} or {}
            args[pos] = v[2]
            probe(bad, ("%s(arg %d = %s)"):format(qname, pos, v[1]),
                  m[2][fname], table.unpack(args, 1, 3))
            calls = calls + 1
          end
        end
      end
    end
  end
  return calls
end

-- One live object of each kind, in a state where no method blocks for
-- long whatever its arguments (handles signalled, nothing pending), and
-- the fds to close afterwards.
local function fresh_objects()
  -- A pipe with data in it (readable, so its handle is signalled) and a
  -- device for the I/O object.
  local pipe_r = assert(io.popen("printf x", "r"))
  local dev = assert(io.open("/dev/null", "r+b"))
  local fds = {pipe_r, dev}
  local wt = ntpool.waitable_timer{manual = true}
  wt:set(0)
  assert(wt:wait(5 * H.scale))
  local objects = {
    ["ntpool.pool"] = ntpool.pool{max = 2},
    ["ntpool.work"] = ntpool.work(function() end),
    ["ntpool.timer"] = ntpool.timer(function() end),
    ["ntpool.wait"] = ntpool.wait(function() end),
    ["ntpool.event"] = ntpool.event{manual = true, initial = true},
    ["ntpool.semaphore"] = ntpool.semaphore(1000, 2000),
    ["ntpool.mutex"] = ntpool.mutex{},
    ["ntpool.critical_section"] = ntpool.critical_section(),
    ["ntpool.waitable_timer"] = wt,
    ["ntpool.cleanup_group"] = ntpool.cleanup_group(),
    ["ntpool.environment"] = ntpool.environment{},
    ["ntpool.fd_handle"] = ntpool.fd_handle(pipe_r),
    ["ntpool.io"] = ntpool.io(dev, function() end),
  }
  return objects, fds
end

-- Methods that wait on the object itself: on a thread handle (our own
-- thread) they would wait for ever, so the thread kind is swept apart.
local function sweep_methods(bad, instance)
  local calls = 0
  local objects, fds = fresh_objects()
  objects["ntpool.instance"] = instance -- returned: every call must raise
  local kinds = {}
  for k in pairs(objects) do kinds[#kinds + 1] = k end
  table.sort(kinds)
  for _, kind in ipairs(kinds) do
    local obj = objects[kind]
    local mt = reg[kind]
    for _, mname in ipairs(sorted_functions(mt)) do
      local method = mt[mname]
      if mname == "__gc" or mname == "__close" then
        -- A script can call these on anything: never on our object here
        -- (that is close's job), on each bad value.
        for _, v in ipairs(bad_values()) do
          probe(bad, ("%s.%s(%s)"):format(kind, mname, v[1]), method, v[2])
          calls = calls + 1
        end
      elseif mname ~= "close" then
        -- The object with a bad argument in position 2 or 3, and a bad
        -- value as the object itself.
        for pos = 2, 3 do
          for _, v in ipairs(bad_values()) do
            local args = {obj}
            args[pos] = v[2]
            probe(bad, ("%s:%s(arg %d = %s)"):format(kind, mname, pos, v[1]),
                  method, table.unpack(args, 1, 3))
            calls = calls + 1
          end
        end
        for _, v in ipairs(bad_values()) do
          probe(bad, ("%s.%s(self = %s)"):format(kind, mname, v[1]),
                method, v[2])
          calls = calls + 1
        end
      end
    end
  end
  -- Each method again on the closed object: a clear error (or, for
  -- close, nothing worse than the same).
  for _, kind in ipairs(kinds) do
    local obj = objects[kind]
    if kind ~= "ntpool.instance" then
      -- An environment has no close method, only __close; a call of the
      -- sweep may have closed the object already.
      pcall(reg[kind].close or reg[kind].__close, obj)
      for _, mname in ipairs(sorted_functions(reg[kind])) do
        if mname ~= "__gc" then
          probe(bad, ("closed %s:%s()"):format(kind, mname), reg[kind][mname],
                obj, 1)
          calls = calls + 1
        end
      end
    end
  end
  for _, f in ipairs(fds) do f:close() end
  return calls
end

-- An instance kept after its callback returned.
local function stale_instance()
  local kept
  local w <close> = ntpool.work(function(inst) kept = inst end)
  w:submit()
  w:wait()
  return kept
end

local function settle(base)
  return H.wait_until(function()
    collectgarbage()
    return ntpool.live_objects() <= base
  end)
end

describe("bad input, property style", function()
  local errors
  before_each(function() errors = H.capture_errors() end)
  after_each(function()
    ntpool.on_error(nil)
    -- APCs the sweep queued to this thread (QueueUserAPC with a function).
    while ntpool.sleep_ex(0, true) == ntpool.WAIT_IO_COMPLETION do end
    collectgarbage()
  end)

  it("every function and method: a clear error or a result, and no leak",
     function()
    collectgarbage(); collectgarbage()
    local base = ntpool.live_objects()
    local memory = {}
    local calls = 0
    for round = 1, 3 do
      local bad = {}
      calls = calls + sweep_functions(bad)
      calls = calls + sweep_methods(bad, stale_instance())
      while ntpool.sleep_ex(0, true) == ntpool.WAIT_IO_COMPLETION do end
      assert.are.same({}, bad)
      assert.truthy(settle(base), "core objects left after round " .. round
                    .. ": " .. ntpool.live_objects() - base)
      collectgarbage(); collectgarbage()
      memory[round] = collectgarbage("count")
    end
    -- Round 1 warms up caches (metatables, strings); later rounds must
    -- not grow.
    assert.truthy(memory[3] < memory[2] + 256,
                  ("Lua memory grew: %.0f KB, then %.0f KB"):format(
                      memory[2], memory[3]))
    assert.truthy(calls > 10000, "only " .. calls .. " calls generated")
  end)

  it("callbacks that raise report the error and the state goes on", function()
    collectgarbage(); collectgarbage()
    local base = ntpool.live_objects()
    for _ = 1, 50 do
      local w <close> = ntpool.work(function() error("in work") end)
      w:submit(); w:submit()
      w:wait()
      local t <close> = ntpool.timer(function() error({"a table"}) end)
      t:set(0)
      t:wait()
      assert(ntpool.try_submit(function() error() end))
    end
    assert.truthy(H.wait_until(function() return #errors >= 150 end))
    for _, msg in ipairs(errors) do assert.are.equal("string", type(msg)) end
    assert.truthy(settle(base))
  end)

  it("callbacks that close their own object", function()
    collectgarbage(); collectgarbage()
    local base = ntpool.live_objects()
    local done = ntpool.semaphore(0, 1000)
    for _ = 1, 100 do
      ntpool.work(function(inst, w) w:close(); inst:release_semaphore_on_return(done, 1) end):submit()
      ntpool.timer(function(inst, t) t:close(); done:release(1) end):set(0)
      local ev = ntpool.event{manual = true, initial = true}
      ntpool.wait(function(inst, w) w:close(); done:release(1) end):set(ev)
      ev:close()
    end
    for _ = 1, 300 do assert.is_true(done:wait(10 * H.scale)) end
    -- Closing again, from outside, after the callback did: a clear error.
    local w = ntpool.work(function(inst, self) self:close() end)
    w:submit()
    assert.truthy(H.wait_until(function()
      return tostring(w):find("closed", 1, true) ~= nil
    end))
    assert.has_error(function() w:close() end,
                     "operation on closed ntpool.work")
    done:close()
    assert.truthy(settle(base))
  end)

  it("an instance used after its callback returned raises", function()
    local inst = stale_instance()
    for _, mname in ipairs(sorted_functions(reg["ntpool.instance"])) do
      if mname ~= "__tostring" then
        local ok, msg = pcall(reg["ntpool.instance"][mname], inst)
        assert.is_false(ok, mname)
        assert.is_nil(unclear(msg), msg)
      end
    end
  end)
end)
