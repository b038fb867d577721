-- tour.lua -- the thread pool from Lua 5.4, through the scenarios of the
-- seeds: a simple callback, a work object, a periodic timer, a wait on a
-- handle, an I/O completion, completion actions, a cleanup group,
-- CallbackMayRunLong on a full pool, and the `!tp` dump. Each step says
-- what it does, does it, and reports what happened. Run from the repo
-- root (`make demo` does):
--   LUA_PATH='lua/?.lua;;' LUA_CPATH='build/lua/?.so;;' \
--     lua5.4 examples/tour.lua [trace.json]
-- With a path, the tour is traced into it (Chrome Trace Event JSON; draw
-- it with `PYTHONPATH=python python3 -m ntpool.trace trace.json -o t.svg`).
--
-- Callbacks run on pool threads, one at a time per Lua state (they take
-- the state's Lua lock in turn), so they share the script's upvalues. Every
-- step waits for its callbacks before the next one prints.
local ntpool = require "ntpool"

local function step(n, title) print(("\n%d. %s"):format(n, title)) end
local function say(who, fmt, ...)
  print(("   %s: " .. fmt):format(who, ...))
end

local main_thread = ntpool.raw.glue.thread_id()
local function where()
  return ntpool.raw.glue.thread_id() == main_thread and "the main thread"
         or "a pool thread"
end

local trace
if arg[1] then trace = ntpool.trace(arg[1]) end

print("A tour of ntpool from Lua 5.4: the Windows thread pool on Linux.")

step(1, "A simple callback (try_submit: TrySubmitThreadpoolCallback)")
local pool <close> = assert(ntpool.pool{min = 1, max = 4})
local said = ntpool.event{}
assert(pool:try_submit(function(inst)
  say("callback", "hello from %s", where())
  inst:set_event_on_return(said)
end))
assert(said:wait(10))
say("main", "the callback has returned (its event is set); its one-shot "
    .. "object freed itself")

step(2, "A work object (pool:work: CreateThreadpoolWork), posted 100 times")
local total = 0
local work <close> = pool:work(function(inst, w) total = total + 1 end)
for _ = 1, 100 do work:submit() end
work:wait() -- drops the Lua lock while it waits
say("main", "100 posts ran %d callbacks; they share `total` with the "
    .. "script, and never interrupt one another", total)

step(3, "A periodic timer (pool:timer): first after 10 ms, then every 20 ms")
local ticks, t0 = 0, ntpool.clock()
local stopped = ntpool.event{}
local timer <close> = pool:timer(function(inst, t)
  ticks = ticks + 1
  say("timer", "tick %d at %3.0f ms, on %s", ticks,
      (ntpool.clock() - t0) * 1000, where())
  if ticks == 4 then
    t:set(nil) -- no further ticks
    inst:set_event_on_return(stopped)
  end
end)
timer:set(0.010, 0.020)
assert(stopped:wait(10))
timer:wait()
say("main", "%d ticks; the timer is no longer set: %s", ticks,
    tostring(timer:is_set()))

step(4, "A wait on a handle (pool:wait: CreateThreadpoolWait)")
local names = { [ntpool.WAIT_OBJECT_0] = "WAIT_OBJECT_0",
                [ntpool.WAIT_TIMEOUT] = "WAIT_TIMEOUT" }
local ev = ntpool.event{manual = true}
local waited = ntpool.event{}
local wait <close> = pool:wait(function(inst, w, result)
  say("wait callback", "%s", names[result])
  inst:set_event_on_return(waited)
end)
wait:set(ev)
say("main", "setting the event; no thread was parked on it")
ev:set()
assert(waited:wait(10))
ev:reset()
wait:set(ev, 0.030)
say("main", "waiting again with a 30 ms timeout, and nobody sets it")
assert(waited:wait(10))
wait:wait()

step(5, "An I/O completion (pool:io: CreateThreadpoolIo)")
local file = assert(io.tmpfile())
local io_done = ntpool.event{}
local iob <close> = pool:io(file, function(inst, o, result, msg)
  if type(result) == "string" then
    say("io callback", "read %q", result)
  else
    say("io callback", "wrote %s bytes", tostring(result or msg))
  end
  inst:set_event_on_return(io_done)
end)
assert(iob:write("hello, completion port", 0))
assert(io_done:wait(10))
local ov = assert(iob:read(5, 0))
assert(io_done:wait(10))
say("main", "GetOverlappedResult of the read: %d bytes", ov:result(true))
iob:wait()

step(6, "Completion actions (...WhenCallbackReturns)")
local flag = ntpool.event{manual = true}
local w1 <close> = pool:work(function(inst)
  inst:set_event_on_return(flag)
  say("callback", "asked for the event; while I run it is set: %s",
      tostring(flag:wait(0)))
end)
w1:submit()
w1:wait()
say("main", "after the callback returned the event is set: %s",
    tostring(flag:wait(0)))
local sem = ntpool.semaphore(0, 5)
local w2 <close> = pool:work(function(inst)
  inst:release_semaphore_on_return(sem, 2)
end)
w2:submit()
w2:wait()
say("main", "the semaphore was released by 2: taken %s, %s; a third "
    .. "time: %s", tostring(sem:wait(0)), tostring(sem:wait(0)),
    tostring(sem:wait(0)))

step(7, "A cleanup group closes its members, cancelling what is queued")
local group = ntpool.cleanup_group()
local cancelled = 0
local one = assert(ntpool.pool{max = 1})
local env = ntpool.environment{pool = one, cleanup_group = group,
  cancel = function(obj, value)
    cancelled = cancelled + 1
    say("cancel", "a member closed by the group (context %q)", value)
  end}
local started = ntpool.event{}
local ran = 0
local busy = ntpool.work(function()
  started:set()
  ntpool.sleep(0.05) -- busy for 50 ms (the Lua lock is free meanwhile)
  ran = ran + 1
end, env)
for _ = 1, 5 do busy:submit() end
started:wait(10) -- the first post runs; four wait behind it (max 1 thread)
group:close_members(true, "tour") -- cancels the four, waits for the one
group:close()
one:close()
say("main", "%d of 5 posts ran; the cancel function ran %d time(s), "
    .. "once per member", ran,
    cancelled)

step(8, "CallbackMayRunLong on a full pool, and on one with room")
for _, max in ipairs{1, 2} do
  local p <close> = assert(ntpool.pool{max = max})
  local answer
  local long <close> = p:work(function(inst)
    answer = inst:may_run_long()
  end)
  long:submit()
  long:wait()
  say("main", "on a pool of at most %d thread(s) may_run_long answers %s",
      max, tostring(answer))
end
say("main", "false means: no other thread can take new callbacks while "
    .. "this one runs long")

step(9, "What a pool is doing: pool:dump (the !tp debugger extension)")
local gate = ntpool.event{manual = true}
local blocked = ntpool.event{}
local two <close> = assert(ntpool.pool{min = 1, max = 1})
local stuck <close> = two:work(function()
  blocked:set()
  gate:wait(10)
end)
for _ = 1, 3 do stuck:submit() end
blocked:wait(10)
say("main", "one callback blocked, two posts queued behind it:")
for line in two:dump("all"):gmatch("[^\n]+") do print("      " .. line) end
gate:set()
stuck:wait()

if trace then
  trace:stop()
  print(("\nThe timeline of the tour is in %s."):format(arg[1]))
end
print("\nEnd of the Lua tour.")
