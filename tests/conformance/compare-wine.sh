#!/usr/bin/env bash
# compare-wine.sh -- run the conformance suite and the Windows-style examples
# twice, on Linux against ntpool and under Wine as Windows programs built by
# mingw-w64 from the same sources, and compare what they print.
#
#   tests/conformance/compare-wine.sh BUILD_DIR OUT_DIR
#
# BUILD_DIR holds the Linux build (ntpool-conformance, examples/,
# fixtures/testmod.so); OUT_DIR receives the .exe files, both outputs of
# each program and the diffs. A line that differs is either one of the
# known Wine differences below (CONFORMANCE.md lists them as Wine quirks
# not to copy) or a real difference; the script exits 1 if there is any of
# the latter. Lines saying "(ntpool only)" are checks Windows cannot run
# and are left out of the comparison.
set -u
build=${1:?usage: compare-wine.sh BUILD_DIR OUT_DIR}
out=${2:?usage: compare-wine.sh BUILD_DIR OUT_DIR}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cc=${MINGW_CC:-x86_64-w64-mingw32-gcc}
mkdir -p "$out"
export WINEPREFIX=${WINEPREFIX:-$(cd "$out" && pwd)/wineprefix}
export WINEDEBUG=-all

# Known differences: a pattern matching the check's line, and why.
quirks=(
  'CONFORMANCE A11)|Wine accepts a TP_CALLBACK_ENVIRON Version other than 1 or 3; Windows 7 and later refuse it (CONFORMANCE A11, N14)'
  'CONFORMANCE K116)|Wine 8.0 leaves a registered wait dead after its first timeout; Windows re-arms it (CONFORMANCE K116, N11)'
  'CONFORMANCE K125)|Wine 8.0 returns FALSE with ERROR_IO_PENDING for UnregisterWait from the wait'"'"'s own callback; Windows TRUE (CONFORMANCE K125, N11)'
  'CONFORMANCE K135)|Wine does not guarantee that a timer due at once runs when deleted straight away (CONFORMANCE K135, a todo_wine test)'
  'ReleaseSemaphore(sem, 0)|Wine accepts a release count of 0; the documentation requires more than 0 and Windows refuses it'
  'negative period|Wine accepts a negative lPeriod in SetWaitableTimer, which the documentation says fails'
  'CONFORMANCE I91|Wine checks a zero timeout before it polls the handle, so a signalled handle still reports WAIT_TIMEOUT (CONFORMANCE I91, N13)'
  'CONFORMANCE K126)|Wine keeps the XP result: DeleteTimerQueueEx(q, NULL) returns FALSE with ERROR_IO_PENDING (CONFORMANCE K126, N12)'
  'a duplicate handle|Wine accepts the same handle twice in WaitForMultipleObjects; Windows refuses it with ERROR_INVALID_PARAMETER'
  'fResume|Wine does not set ERROR_NOT_SUPPORTED when SetWaitableTimer is asked to resume a suspended machine'
  'SetThreadpoolTimerEx|Wine 8.0 does not export SetThreadpoolTimerEx (CONFORMANCE H82, N16)'
  'SetThreadpoolWaitEx|Wine 8.0 does not export SetThreadpoolWaitEx (CONFORMANCE H82, N16)'
)

normalize() {
    tr -d '\r' | grep -v '(ntpool only)' | grep -v ' passed, .* failed' |
        sed -e 's/: skipped (.*)$/: skipped/'
}

known() {
    local line=$1 q
    for q in "${quirks[@]}"; do
        if [[ $line == *"${q%%|*}"* ]]; then
            echo "${q#*|}"
            return 0
        fi
    done
    return 1
}

echo "compare-wine: building the Windows programs with $cc"
"$cc" -O1 -Wall -o "$out/conformance.exe" "$src"/tests/conformance/*.c || exit 2
"$cc" -O1 -shared -o "$out/testmod.dll" "$src/tests/c/fixtures/testmod.c" || exit 2
"$cc" -O1 -Wall -o "$out/win32-tour.exe" "$src/examples/win32-tour.c" || exit 2
"$cc" -O1 -Wall -o "$out/win32-legacy.exe" "$src/examples/win32-legacy.c" || exit 2

status=0
for prog in conformance win32-tour win32-legacy; do
    if [ "$prog" = conformance ]; then
        linux=("$build/ntpool-conformance" "$build/fixtures/testmod.so")
        win=(conformance.exe testmod.dll)
    else
        linux=("$build/examples/$prog")
        win=("$prog.exe")
    fi
    "${linux[@]}" > "$out/$prog.linux.txt" 2> "$out/$prog.linux.stderr"
    (cd "$out" && timeout 600 wine "${win[@]}") \
        > "$out/$prog.wine.txt" 2> "$out/$prog.wine.stderr"
    normalize < "$out/$prog.linux.txt" > "$out/$prog.linux.norm"
    normalize < "$out/$prog.wine.txt" > "$out/$prog.wine.norm"
    echo "== $prog: Linux $(grep -c . "$out/$prog.linux.norm") lines," \
         "Wine $(grep -c . "$out/$prog.wine.norm") lines"
    diff -u "$out/$prog.linux.norm" "$out/$prog.wine.norm" > "$out/$prog.diff"
    if [ ! -s "$out/$prog.diff" ]; then
        echo "   identical"
        continue
    fi
    unknown=0
    # Walk the Wine side of every differing line.
    while IFS= read -r line; do
        why=$(known "$line") && {
            echo "   known Wine difference: ${line#+}"
            echo "      -> $why"
            continue
        }
        echo "   DIFFERENT: $line"
        unknown=$((unknown + 1))
    done < <(grep '^[+-][^+-]' "$out/$prog.diff" | grep '^+')
    # Checks printed on the Linux side only (a Wine crash cuts the output
    # short): their names have no counterpart among the Wine lines.
    grep '^+[^+]' "$out/$prog.diff" | sed -e 's/^+//' -e 's/: [^:]*$//' \
        > "$out/$prog.wine-names"
    while IFS= read -r line; do
        name=${line#-}
        name=${name%: *}
        grep -qxF -- "$name" "$out/$prog.wine-names" && continue
        echo "   ONLY ON LINUX: ${line#-}"
        unknown=$((unknown + 1))
    done < <(grep '^-[^-]' "$out/$prog.diff")
    [ "$unknown" -eq 0 ] || status=1
done
if [ "$status" -eq 0 ]; then
    echo "compare-wine: no differences beyond the known Wine ones"
else
    echo "compare-wine: real differences; see $out/*.diff"
fi
exit "$status"
