#!/usr/bin/env bash
# The Python half of `make test`: for every CPython from 3.9 to 3.13 that
# pyenv keeps on this machine (~/.pyenv/versions), make a venv under
# build-python/, `pip install .` into it (build isolation: setuptools and
# SWIG come from PyPI) and run the pytest suite there. Then check the
# packaging once: `python -m build` makes an sdist and a wheel, the wheel
# carries the SWIG-generated module, and the sdist installs with
# --no-build-isolation from the wrapper it carries. Last, the suite once
# more with the extension built under ASan+UBSan (PYTHON_ASAN=0 skips it).
#
# PYTHONS="/path/to/python3.12 ..." overrides the search.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

find_pythons() {
    local v p
    for v in 3.9 3.10 3.11 3.12 3.13; do
        for p in "$HOME"/.pyenv/versions/"$v".*/bin/python"$v"; do
            if [ -x "$p" ]; then echo "$p"; break; fi
        done
    done
}

if [ -n "${PYTHONS:-}" ]; then
    read -r -a pythons <<<"$PYTHONS"
else
    mapfile -t pythons < <(find_pythons)
fi
if [ "${#pythons[@]}" -eq 0 ]; then
    pythons=("$(command -v python3)")
fi

pip_quiet=(-q --disable-pip-version-check)
failed=()
for py in "${pythons[@]}"; do
    ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    venv="build-python/venv-$ver"
    echo "== Python $ver ($py): pip install . into $venv, then pytest"
    [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install "${pip_quiet[@]}" pytest pytest-timeout
    "$venv/bin/python" -m pip install "${pip_quiet[@]}" --force-reinstall \
        --no-deps .
    if ! "$venv/bin/python" -m pytest -p no:cacheprovider --timeout 300 \
            -q tests/python; then
        failed+=("$ver")
    fi
done

# Packaging, with the first interpreter.
py="${pythons[0]}"
ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
venv="build-python/venv-$ver"
dist="build-python/dist"
echo "== packaging (Python $ver): python -m build, then the sdist without" \
     "build isolation"
rm -rf "$dist"
"$venv/bin/python" -m pip install "${pip_quiet[@]}" --upgrade build setuptools wheel
"$venv/bin/python" -m build -q --outdir "$dist" . >/dev/null
"$venv/bin/python" - "$dist" <<'PY'
import glob, sys, tarfile, zipfile
dist = sys.argv[1]
wheel, = glob.glob(dist + "/ntpool-*.whl")
sdist, = glob.glob(dist + "/ntpool-*.tar.gz")
names = zipfile.ZipFile(wheel).namelist()
assert "ntpool/_raw.py" in names, names
assert any(n.startswith("ntpool/_ntpool.") and n.endswith(".so")
           for n in names), names
snames = tarfile.open(sdist).getnames()
for need in ("bindings/generated/ntpool_python_wrap.c",
             "python/ntpool/_raw.py", "core/src/pool.c"):
    assert any(n.endswith(need) for n in snames), need
print("wheel and sdist: ok (%s, %s)" % (wheel, sdist))
PY
check="build-python/venv-sdist-check"
rm -rf "$check"
"$py" -m venv "$check"
"$check/bin/python" -m pip install "${pip_quiet[@]}" --upgrade setuptools wheel
"$check/bin/python" -m pip install "${pip_quiet[@]}" --no-build-isolation \
    "$dist"/ntpool-*.tar.gz
(cd /tmp && "$OLDPWD/$check/bin/python" -c \
    'import ntpool, ntpool.win32; print("sdist install: ok", ntpool.__file__)')

# The glue under AddressSanitizer + UBSan: the extension built with them,
# the interpreter given the runtime by LD_PRELOAD (CPython itself is not
# instrumented; leak checking is off, as CPython keeps memory at exit).
if [ "${PYTHON_ASAN:-1}" = 1 ] && command -v gcc >/dev/null; then
    echo "== the suite under ASan+UBSan (Python $ver)"
    asan="build-python/asan"
    rm -rf "$asan/lib"
    CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -O1" \
    LDFLAGS="-fsanitize=address,undefined" \
        "$venv/bin/python" setup.py -q build_ext --build-lib "$asan/lib" \
        --build-temp "$asan/tmp" >/dev/null
    cp python/ntpool/*.py "$asan/lib/ntpool/"
    if ! LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc \
            -print-file-name=libubsan.so)" \
         ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 \
         UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
         PYTHONPATH="$PWD/$asan/lib" \
         "$venv/bin/python" -m pytest -p no:cacheprovider --timeout 600 -q \
            tests/python; then
        failed+=("$ver+asan")
    fi
fi

if [ "${#failed[@]}" -ne 0 ]; then
    echo "Python suite failed under: ${failed[*]}" >&2
    exit 1
fi
