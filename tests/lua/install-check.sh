#!/bin/sh
# install-check.sh BUILD_DIR -- `cmake --install` the Lua module into a
# temporary prefix and check that lua5.4 finds ntpool there alone: run from
# / (no relative path can reach the checkout) with LUA_PATH/LUA_CPATH
# naming only the prefix and the default paths. `make test-lua` runs it.
set -eu
build=$(cd "${1:?usage: install-check.sh BUILD_DIR}" && pwd)
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
cd /
LUA_PATH="$prefix/share/lua/5.4/?.lua;;" \
LUA_CPATH="$prefix/lib/lua/5.4/?.so;;" \
PREFIX="$prefix" lua5.4 - <<'LUA'
local prefix = os.getenv("PREFIX")
local ntpool = require "ntpool"
local win32 = require "ntpool.win32"
for _, name in ipairs{"ntpool", "ntpool.win32", "ntpool.raw"} do
  local where = package.searchpath(name, package.path)
                or package.searchpath(name, package.cpath)
  assert(where and where:sub(1, #prefix) == prefix,
         name .. " found outside the prefix: " .. tostring(where))
end
local n = 0
local w <close> = ntpool.work(function() n = n + 1 end)
for _ = 1, 10 do w:submit() end
w:wait()
assert(n == 10, "ran " .. n .. " of 10 callbacks")
assert(win32.INFINITE == 0xFFFFFFFF)
print("install-check: ntpool installed under a prefix loads and runs")
LUA
