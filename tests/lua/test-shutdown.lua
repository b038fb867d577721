-- Ending a script while the pool is busy, in subprocesses, many times:
-- work queued and running, a callback blocked outside the Lua lock,
-- timers armed, waits pending, I/O pending on a FIFO nobody writes. The
-- script ends by returning, by os.exit(0, true) (the state is closed
-- first), by os.exit(0, false) (the process exits with the state open and
-- callbacks possibly inside it) and by an uncaught error. Each run must
-- end with the expected status, in bounded time, without a signal.
--
-- Also here, because a failure would hang the runner: waits on an
-- object's callbacks from inside one of those callbacks (the documented
-- behaviour: the wait leaves the caller's own callback out, so it returns
-- once the others are done, instead of deadlocking; the core prints a
-- diagnostic). Two callbacks of one object that each wait for the other
-- still deadlock, as on Windows.
local H = require "helper"

local RUNS = tonumber(os.getenv("NTP_SHUTDOWN_RUNS") or "20")

-- Runs `body` (a Lua chunk, given `arg[1]` = mode) `runs` times in fresh
-- lua5.4 processes; returns the combined output, one "rc=N" per run.
local function run_many(body, mode, runs)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(body)
  f:close()
  local cmd = ("for i in $(seq %d); do timeout -s KILL %d lua5.4 %s %s " ..
               "2>&1; echo \"rc=$?\"; done"):format(
      runs, math.ceil(30 * H.scale), path, mode)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  os.remove(path)
  return out
end

local function count(s, pattern)
  local n = 0
  for _ in s:gmatch(pattern) do n = n + 1 end
  return n
end

local BUSY = [[
local ntpool = require "ntpool"
local mode = arg[1]
ntpool.on_error(function() end)
local pool = ntpool.pool{min = 2, max = 3}
local n = 0
-- Work queued and running, under the Lua lock and outside it.
local w = pool:work(function() n = n + 1; ntpool.sleep_ex(0.001) end)
for _ = 1, 300 do w:submit() end
ntpool.try_submit(function() ntpool.sleep_ex(0.3) end)
ntpool.try_submit(function() error("raised while the script ends") end)
-- Timers armed: periodic now, and an hour away.
local t = ntpool.timer(function() n = n + 1 end)
t:set(0, 0.001)
local t_far = ntpool.timer(function() end)
t_far:set(3600)
-- Waits pending: on an event nobody sets, and one timing out again and
-- again.
local never = ntpool.event{}
local wt = ntpool.wait(function() end)
wt:set(never)
local wt2 = ntpool.wait(function(inst, self) n = n + 1; self:set(never, 0.001) end)
wt2:set(never, 0.001)
-- I/O pending: a read on a FIFO nobody writes (opened read-write, so it
-- never sees end of file), and file reads completing.
local fifo = os.tmpname()
os.remove(fifo)
assert(os.execute("mkfifo " .. fifo))
local ff = assert(io.open(fifo, "r+"))
os.remove(fifo)
local pending = ntpool.io(ff, function() n = n + 1 end)
assert(pending:read(16))
local file = assert(io.open(arg[0], "r"))
local reads = ntpool.io(file, function() n = n + 1 end)
for i = 1, 8 do assert(reads:read(64, i * 64)) end
-- The legacy API too.
local w32 = require "ntpool.win32"
w32.QueueUserWorkItem(function() ntpool.sleep_ex(0.05) end, nil, 0)
w32.CreateTimerQueueTimer(nil, function() n = n + 1 end, nil, 0, 1, 0)
ntpool.sleep_ex(0.01)
print("exiting", n > 0)
io.stdout:flush()
if mode == "exit-close" then
  os.exit(0, true)
elseif mode == "exit-noclose" then
  os.exit(0, false)
elseif mode == "error" then
  error("the script fails while the pool is busy")
end
]]

local endings = {
  {"return", 0}, {"exit-close", 0}, {"exit-noclose", 0}, {"error", 1},
}

describe("ending a busy script, in subprocesses", function()
  for _, e in ipairs(endings) do
    local mode, status = e[1], e[2]
    ;(H.no_subprocess and pending or it)(
        ("%s, %d times: status %d"):format(mode, RUNS, status), function()
      local out = run_many(BUSY, mode, RUNS)
      assert.are.equal(RUNS, count(out, "exiting\ttrue"), out)
      assert.are.equal(RUNS, count(out, "rc=" .. status .. "\n"), out)
    end)
  end
end)

local REENTRANT = [[
local ntpool = require "ntpool"
local w32 = require "ntpool.win32"
local done = ntpool.semaphore(0, 100)

-- work:wait() from its own callback, with another post of it queued or
-- running. (Two callbacks each waiting for the other would deadlock, as
-- on Windows: only the first one waits.)
local w
local runs = 0
w = ntpool.work(function(inst)
  runs = runs + 1
  if runs == 1 then w:wait() end
  inst:release_semaphore_on_return(done, 1)
end)
w:submit(); w:submit()
assert(done:wait(10) and done:wait(10))
w:wait(); w:close()
print("work ok")

-- timer:wait() and wait:wait() from their own callbacks.
local t = ntpool.timer(function(inst, self)
  self:wait()
  inst:release_semaphore_on_return(done, 1)
end)
t:set(0)
assert(done:wait(10))
t:wait(); t:close()
local ev = ntpool.event{manual = true, initial = true}
local wt = ntpool.wait(function(inst, self)
  self:wait()
  inst:release_semaphore_on_return(done, 1)
end)
wt:set(ev)
assert(done:wait(10))
wt:wait(); wt:close()
print("timer and wait ok")

-- io:wait() from its own completion.
local file = assert(io.open(arg[0], "r"))
local io_obj
io_obj = ntpool.io(file, function(inst)
  io_obj:wait()
  inst:release_semaphore_on_return(done, 1)
end)
assert(io_obj:read(8, 0))
assert(done:wait(10))
io_obj:wait(); io_obj:close()
print("io ok")

-- The original API: unregistering and deleting with
-- INVALID_HANDLE_VALUE (wait for every callback) from inside.
local rw
rw = w32.RegisterWaitForSingleObject(ev, function()
  w32.UnregisterWaitEx(rw, w32.INVALID_HANDLE_VALUE)
  done:release(1)
end, nil, w32.INFINITE, w32.WT_EXECUTEONLYONCE)
assert(done:wait(10))
local qt
qt = w32.CreateTimerQueueTimer(nil, function()
  w32.DeleteTimerQueueTimer(nil, qt, w32.INVALID_HANDLE_VALUE)
  done:release(1)
end, nil, 1, 0, 0)
assert(done:wait(10))
print("legacy ok")
]]

describe("waiting for an object's callbacks from one of them", function()
  ;(H.no_subprocess and pending or it)("returns once the others are done",
                                       function()
    local out = run_many(REENTRANT, "", 1)
    for _, what in ipairs{"work", "timer and wait", "io", "legacy"} do
      assert.truthy(out:find(what .. " ok\n", 1, true), out)
    end
    assert.truthy(out:find("rc=0\n", 1, true), out)
  end)
end)
