#!/bin/sh
# run-sanitized.sh BUILD_DIR -- the busted suite against the Lua module of
# a sanitizer build (build-asan/ or build-tsan/). lua5.4 itself is not
# instrumented, so the sanitizer runtimes the module links (read from
# ldd) are preloaded into it. Leak checking is off: LeakSanitizer would
# report the uninstrumented interpreter's allocations, and dies under a
# ptrace-based sandbox; tests/lua/test-misuse.lua checks releases instead.
# The suite skips its subprocess tests under TSan (helper.lua says why).
set -eu
build=${1:?usage: run-sanitized.sh BUILD_DIR}
mod="$build/lua/ntpool/raw.so"
test -f "$mod" || { echo "run-sanitized: $mod was not built" >&2; exit 1; }
runtimes=$(ldd "$mod" | awk '/lib(asan|ubsan|tsan)\.so/ { print $3 }' \
           | tr '\n' ' ')
test -n "$runtimes" || { echo "run-sanitized: $mod has no sanitizer" >&2
                         exit 1; }
wrap=""
case "$runtimes" in
*tsan*)
    # As make test-c-tsan: TSan needs its fixed shadow mapping.
    if setarch "$(uname -m)" -R true >/dev/null 2>&1; then
        wrap="setarch $(uname -m) -R"
    fi ;;
esac
echo "run-sanitized: $mod with $runtimes"
exec $wrap env LD_PRELOAD="$runtimes" \
    ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    NTP_TEST_TIMEOUT_MULTIPLIER="${NTP_TEST_TIMEOUT_MULTIPLIER:-3}" \
    LUA_PATH='lua/?.lua;lua/?/init.lua;tests/lua/?.lua;;' \
    LUA_CPATH="$build/lua/?.so;;" \
    lua5.4 "$(command -v busted)" --pattern='^test%-' tests/lua
