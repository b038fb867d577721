#!/bin/sh
# memcheck.sh -- the C suite under valgrind memcheck, one process per test
# (as CTest runs it), JOBS at a time.
#
#   tests/valgrind/memcheck.sh RUNNER [REGEX]
#
# RUNNER is a plain (not sanitized) build of ntpool-tests; REGEX (grep -E)
# picks tests by name, all of them by default. A test fails if memcheck
# reports an error (exit status 99: invalid accesses, uses of uninitialised
# values, bad frees, definite or indirect leaks), if the test itself fails,
# or if it outlives its timeout. "Possibly lost" blocks are not errors:
# pool threads still blocked at exit point into the middle of their blocks.
# memcheck.supp, next to this script, holds the suppressions.
#
# Environment: JOBS (default 2); NTP_TEST_TIMEOUT_MULTIPLIER (default 20:
# code runs 20-50 times slower under memcheck, and every wait of a test is
# scaled by it); VALGRIND_LOGS, a directory for one log per test (default
# a temporary one, removed unless something failed).
set -u

here=$(cd "$(dirname "$0")" && pwd)

# One test (the script calls itself this way through xargs): its log and
# a status file, "ok", "skip" or "FAIL <exit status>".
if [ "${1:-}" = --one ]; then
    runner=$2 name=$3 logs=$4
    timeout --kill-after=10 $((60 * NTP_TEST_TIMEOUT_MULTIPLIER)) \
        valgrind --tool=memcheck --quiet --error-exitcode=99 \
            --leak-check=full --show-leak-kinds=definite,indirect \
            --errors-for-leak-kinds=definite,indirect \
            --track-origins=yes --fair-sched=yes --num-callers=30 \
            --suppressions="$here/memcheck.supp" \
            "$runner" "$name" >"$logs/$name.log" 2>&1
    st=$?
    case $st in
    0) echo ok ;;
    77) echo skip ;;
    *) echo "FAIL $st" ;;
    esac >"$logs/$name.status"
    exit 0
fi

runner=${1:?usage: memcheck.sh RUNNER [REGEX]}
regex=${2:-.}
jobs=${JOBS:-2}
NTP_TEST_TIMEOUT_MULTIPLIER=${NTP_TEST_TIMEOUT_MULTIPLIER:-20}
export NTP_TEST_TIMEOUT_MULTIPLIER
logs=${VALGRIND_LOGS:-$(mktemp -d "${TMPDIR:-/tmp}/ntpool-memcheck.XXXXXX")}
mkdir -p "$logs"

command -v valgrind >/dev/null 2>&1 || {
    echo "memcheck.sh: valgrind is not installed (make deps)" >&2
    exit 2
}
tests=$("$runner" --list | grep -E "$regex") || {
    echo "memcheck.sh: no test matches '$regex'" >&2
    exit 2
}

start=$(date +%s)
echo "$tests" | xargs -P "$jobs" -I{} sh "$here/memcheck.sh" --one \
    "$runner" {} "$logs"

passed=0 skipped=0 failed=0
for name in $tests; do
    status=$(cat "$logs/$name.status" 2>/dev/null || echo "FAIL no status")
    case $status in
    ok) passed=$((passed + 1)) ;;
    skip) skipped=$((skipped + 1)) ;;
    *)
        failed=$((failed + 1))
        echo "---- $name: $status (valgrind log: $logs/$name.log)"
        tail -n 40 "$logs/$name.log"
        ;;
    esac
done
echo "memcheck: $passed passed, $skipped skipped, $failed failed" \
     "in $(($(date +%s) - start)) s"
if [ "$failed" -eq 0 ] && [ -z "${VALGRIND_LOGS:-}" ]; then
    rm -rf "$logs"
fi
[ "$failed" -eq 0 ]
