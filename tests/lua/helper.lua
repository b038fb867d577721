-- Shared helpers for the busted suite (tests/lua/test-*.lua).
local ntpool = require "ntpool"
local H = {}

H.scale = tonumber(os.getenv("NTP_TEST_TIMEOUT_MULTIPLIER") or "1") or 1

-- Waits (with the Lua lock dropped) until pred() is true; false on timeout.
function H.wait_until(pred, seconds)
  local deadline = os.time() + math.ceil((seconds or 10) * H.scale)
  while not pred() do
    if os.time() > deadline then return false end
    ntpool.sleep_ex(0.005)
  end
  return true
end

-- Collects callback errors instead of warning; returns the list.
function H.capture_errors()
  local errs = {}
  ntpool.on_error(function(msg) errs[#errs + 1] = msg end)
  return errs
end

-- Under a preloaded TSan runtime /bin/sh itself crashes, so the tests
-- that start subprocesses are skipped there (make test-lua runs them
-- plain; the sanitizer runs check those scripts directly).
H.no_subprocess = (os.getenv("LD_PRELOAD") or ""):find("tsan") ~= nil

return H
