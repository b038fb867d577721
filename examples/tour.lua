-- tour.lua -- the thread pool from Lua 5.4: work, a periodic timer, a wait
-- on an event, completion actions, a cleanup group. Run from the repo root:
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/lua/?.so;;' \
--     lua5.4 examples/tour.lua
local ntpool = require "ntpool"

local function step(n, title) print(("\n%d. %s"):format(n, title)) end
local function say(fmt, ...) print("   " .. fmt:format(...)) end

print("A tour of ntpool from Lua: callbacks run on pool threads, taking "
      .. "the Lua lock in turn")

step(1, "A pool and a work object posted 100 times")
local pool <close> = assert(ntpool.pool{min = 1, max = 4})
local total = 0
local work <close> = pool:work(function(inst, w) total = total + 1 end)
for _ = 1, 100 do work:submit() end
work:wait() -- drops the Lua lock while it waits
say("100 posts ran %d callbacks; they share `total` with the script", total)

step(2, "A periodic timer: first after 10 ms, then every 20 ms")
local ticks = 0
local done = ntpool.event{}
local timer <close> = pool:timer(function(inst, t)
  ticks = ticks + 1
  say("tick %d", ticks)
  if ticks == 3 then
    t:set(nil) -- stop: no further ticks
    inst:set_event_on_return(done)
  end
end)
timer:set(0.010, 0.020)
assert(done:wait(10))
timer:wait()

step(3, "A wait on an event, and one that times out")
local ev = ntpool.event{manual = true}
local wait <close> = pool:wait(function(inst, w, result)
  say("wait callback: %s", result == ntpool.WAIT_OBJECT_0 and "WAIT_OBJECT_0"
                           or "WAIT_TIMEOUT")
  inst:set_event_on_return(done)
end)
wait:set(ev)
ev:set()
assert(done:wait(10))
ev:reset()
wait:set(ev, 0.030)
assert(done:wait(10))
wait:wait()

step(4, "Completion actions: release a semaphore by 2 after returning")
local sem = ntpool.semaphore(0, 5)
local w2 <close> = pool:work(function(inst)
  inst:release_semaphore_on_return(sem, 2)
end)
w2:submit()
w2:wait()
say("the semaphore can be taken twice: %s, %s; a third time: %s",
    tostring(sem:wait(0)), tostring(sem:wait(0)), tostring(sem:wait(0)))

step(5, "A cleanup group closes its members, cancelling what is queued")
local group = ntpool.cleanup_group()
local cancelled = 0
local one = ntpool.pool{max = 1}
local env = ntpool.environment{pool = one, cleanup_group = group,
  cancel = function() cancelled = cancelled + 1 end}
local started = ntpool.event{}
local ran = 0
local busy = ntpool.work(function()
  started:set()
  ntpool.sleep_ex(0.05) -- busy for 50 ms (the Lua lock is free meanwhile)
  ran = ran + 1
end, env)
for _ = 1, 5 do busy:submit() end
started:wait(10) -- the first post runs; four wait behind it (max 1 thread)
group:close_members(true, "tour") -- cancels the four, waits for the one
group:close()
one:close()
say("%d of 5 posts ran; the cancel function ran %d time(s)", ran, cancelled)

print("\nEnd of the Lua tour.")
