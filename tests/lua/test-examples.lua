-- The examples must keep running: the tour (make demo) and the README's
-- Lua example, taken from README.md itself so the two cannot drift apart.
local H = require "helper"

-- Runs a Lua chunk in a fresh lua5.4 (same LUA_PATH/LUA_CPATH); returns
-- its output and whether it exited with status 0.
local function run_lua(args)
  local p = assert(io.popen("lua5.4 " .. args .. " 2>&1", "r"))
  local out = p:read("a")
  local ok = p:close()
  return out, ok
end

local function readme_lua_example()
  local f = assert(io.open("README.md", "r"))
  local text = f:read("a")
  f:close()
  local section = assert(text:match("\n## Lua\n(.-)\n## "),
                         "README.md has no '## Lua' section")
  local code = section:match("```lua\n(.-)```")
  assert(code, "the Lua section of README.md has no ```lua block")
  return code
end

describe("examples", function()
  ;(H.no_subprocess and pending or it)("the README's Lua example runs",
                                       function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write(readme_lua_example())
    f:close()
    local out, ok = run_lua(path)
    os.remove(path)
    assert.is_true(ok, out)
    -- The comments of the example say what it prints.
    assert.are.equal("100\n", out)
  end)

  ;(H.no_subprocess and pending or it)("the tour runs to its end", function()
    local trace = os.tmpname()
    local out, ok = run_lua("examples/tour.lua " .. trace)
    assert.is_true(ok, out)
    assert.truthy(out:find("100 posts ran 100 callbacks", 1, true), out)
    assert.truthy(out:find("wait callback: WAIT_TIMEOUT", 1, true), out)
    assert.truthy(out:find('io callback: read "hello"', 1, true), out)
    assert.truthy(out:find("may_run_long answers false", 1, true), out)
    assert.truthy(out:find("queue normal: work 0x%x+ x2"), out)
    assert.truthy(out:find("End of the Lua tour.", 1, true), out)
    local f = assert(io.open(trace, "r"))
    assert.truthy(f:read("a"):find("traceEvents", 1, true))
    f:close()
    os.remove(trace)
  end)
end)
