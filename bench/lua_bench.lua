-- lua_bench.lua -- the Lua case of the benchmarks (issue 7): trivial Lua
-- callbacks per second through ntpool's work API, all sharing the
-- script's Lua state, and a plain loop calling the same function, so that
-- the difference is the cost of handing each callback to a pool thread.
-- bench/run.py runs it next to bench/lua_luv_bench.lua (luv's work queue).
--
--   lua5.4 bench/lua_bench.lua work N   seconds for N posts of one work
--                                       object, until all callbacks ran
--   lua5.4 bench/lua_bench.lua try N    the same through try_submit
--   lua5.4 bench/lua_bench.lua loop N   seconds for N plain calls
--
-- Prints the seconds (wall clock, from the first post to the last callback).
-- Needs LUA_PATH/LUA_CPATH to find ntpool (run.py sets them).
local ntpool = require "ntpool"

local mode, n = arg[1], math.tointeger(tonumber(arg[2] or ""))
if not (mode and n and n > 0) then
  io.stderr:write("usage: lua5.4 lua_bench.lua work|try|loop N\n")
  os.exit(2)
end

-- The same trivial callback everywhere: an increment of an upvalue (which
-- luv's isolated states could not share).
local count = 0
local function callback() count = count + 1 end

local now = ntpool.clock

local t0, t1
if mode == "loop" then
  t0 = now()
  for _ = 1, n do callback() end
  t1 = now()
elseif mode == "work" then
  local pool <close> = assert(ntpool.pool{})
  local w <close> = pool:work(callback)
  t0 = now()
  for _ = 1, n do w:submit() end
  w:wait()
  t1 = now()
elseif mode == "try" then
  -- One-shot callbacks leave no object to wait on: the last one (the same
  -- increment, plus a comparison) sets an event.
  local pool <close> = assert(ntpool.pool{})
  local done = ntpool.event{}
  local function counted()
    count = count + 1
    if count == n then done:set() end
  end
  t0 = now()
  for _ = 1, n do assert(pool:try_submit(counted)) end
  assert(done:wait())
  t1 = now()
else
  io.stderr:write("unknown mode " .. mode .. "\n")
  os.exit(2)
end
assert(count == n, ("ran %d of %d callbacks"):format(count, n))
print(("%.6f"):format(t1 - t0))
