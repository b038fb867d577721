-- luarocks make ntpool-scm-1.rockspec   (from a checkout)
rockspec_format = "3.0"
package = "ntpool"
version = "scm-1"
source = {
   url = "git+file:///work/main",
}
description = {
   summary = "The Windows (Vista+) thread pool for Lua 5.4, on Linux",
   detailed = [[
      Pools, work, timers, waits, events, semaphores, mutexes, critical
      sections and waitable timers, with Lua callbacks running on pool
      threads under a per-state Lua lock. require "ntpool" for the Lua API,
      require "ntpool.win32" for the Windows names.
   ]],
   license = "MIT",
}
dependencies = {
   "lua >= 5.4, < 5.5",
}
build = {
   type = "cmake",
   variables = {
      CMAKE_BUILD_TYPE = "RelWithDebInfo",
      NTPOOL_BUILD_TESTS = "OFF",
      NTPOOL_BUILD_EXAMPLES = "OFF",
      NTPOOL_BUILD_LUA = "ON",
      NTPOOL_LUA_LIBDIR = "$(LIBDIR)",
      NTPOOL_LUA_DIR = "$(LUADIR)",
   },
}
test = {
   type = "busted",
   flags = { "--lua=lua5.4", "--pattern=^test%-", "tests/lua" },
}
