# ntpool -- entry points. Works from a fresh clone with nothing built.
#
#   make deps         install the missing build dependencies (apt)
#   make build        build/ : libntpool.a, libntpool.so, tests, examples
#   make test         the C suite plain, under ASan+UBSan, under TSan, under
#                     valgrind; the fuzzer; the Lua and Python suites
#   make demo         run the tours in examples/
#   make conformance  the Win32 conformance suite, one line per check
#   make conformance-wine  the same suite and the Windows-style examples
#                     built with mingw-w64 and run under Wine, compared
#   make clean        remove every build directory
#
# Variables: WERROR=ON turns warnings into errors; CMAKE_ARGS adds options
# to every configure step; CTEST_JOBS sets test parallelism (default 2).

CMAKE ?= cmake
CTEST ?= ctest
NPROC := $(shell nproc 2>/dev/null || echo 2)
CTEST_JOBS ?= 2
WERROR ?= OFF
CMAKE_ARGS ?=

# Debian packages the build needs. Later suites append theirs here (swig,
# liblua5.4-dev, lua5.4, ...). cmake is handled apart: any cmake >= 3.18
# already on PATH (a pip-installed one, say) is fine.
APT_PACKAGES := build-essential clang libclang-rt-14-dev liburing-dev
# The Lua module and its tests (issue 6).
APT_PACKAGES += swig liblua5.4-dev lua5.4 lua-busted lua-dkjson
# The benchmark programs' peers: the plain build compiles bench/ (issue 7)
# so that the programs cannot rot; `make bench` runs them.
APT_PACKAGES += pkg-config libglib2.0-dev libuv1-dev
# Memory checks (issue 8): make test-valgrind.
APT_PACKAGES += valgrind
CMAKE_MIN_VERSION := 3.18

# Sanitizers slow code down several times; the runner stretches every
# timeout of a test by this factor.
SANITIZER_TIMEOUT_MULTIPLIER := 3

# The steps of `make test` must run in order, even under make -j: each
# step already uses every core through cmake --build and ctest -j.
.NOTPARALLEL:

.PHONY: all help deps build test test-c test-c-asan test-c-tsan demo clean
.PHONY: test-fuzz test-lua test-python test-lua-sanitized python-venv
.PHONY: test-valgrind bench bench-python conformance conformance-wine

all: build

help:
	@sed -n '1,14s/^# \{0,1\}//p' $(firstword $(MAKEFILE_LIST))

# Quiet when everything is present; installs only what is missing.
deps:
	@missing=""; \
	if command -v dpkg-query >/dev/null 2>&1; then \
	    for p in $(APT_PACKAGES); do \
	        dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null \
	            | grep -q 'install ok installed' \
	            || missing="$$missing $$p"; \
	    done; \
	fi; \
	have=$$($(CMAKE) --version 2>/dev/null \
	        | sed -n '1s/[^0-9]*\([0-9.]*\).*/\1/p'); \
	if [ -z "$$have" ] || ! command -v $(CTEST) >/dev/null 2>&1 || \
	   [ "$$(printf '%s\n' $(CMAKE_MIN_VERSION) "$$have" | sort -V | head -n1)" \
	     != "$(CMAKE_MIN_VERSION)" ]; then \
	    missing="$$missing cmake"; \
	fi; \
	if [ -n "$$missing" ]; then \
	    if ! command -v apt-get >/dev/null 2>&1; then \
	        echo "make deps: please install:$$missing" >&2; exit 1; \
	    fi; \
	    sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	    echo "make deps: installing$$missing"; \
	    $$sudo apt-get update && \
	    $$sudo env DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y --no-install-recommends $$missing; \
	fi

# $(call cmake_build,DIR,EXTRA CMAKE OPTIONS): configure (cheap when
# nothing changed) and build with every core.
define cmake_build
$(CMAKE) -S . -B $(1) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DNTPOOL_WERROR=$(WERROR) $(2) $(CMAKE_ARGS)
$(CMAKE) --build $(1) -j $(NPROC)
endef

build:
	$(call cmake_build,build,)

test: test-c test-c-asan test-c-tsan test-fuzz test-lua test-python test-lua-sanitized \
    test-valgrind

test-c: deps build
	cd build && $(CTEST) --output-on-failure -j $(CTEST_JOBS)

test-c-asan: deps
	$(call cmake_build,build-asan,-DNTPOOL_SANITIZE=address)
	cd build-asan && \
	NTP_TEST_TIMEOUT_MULTIPLIER=$(SANITIZER_TIMEOUT_MULTIPLIER) \
	    $(CTEST) --output-on-failure -j $(CTEST_JOBS)

# TSan maps its shadow memory at fixed addresses. Kernels that randomise
# mmap with more entropy (vm.mmap_rnd_bits above 28, the default on some
# recent kernels) can put a library where the shadow must go, and TSan
# then dies at start-up with "unexpected memory mapping" -- at random, in
# some processes only. Running the tests with address randomisation off
# for them alone (setarch -R, inherited by ctest's children) avoids that
# and changes nothing else. Where a sandbox forbids setarch, lowering
# vm.mmap_rnd_bits to 28 (if writable) is the system-wide fallback.
test-c-tsan: deps
	$(call cmake_build,build-tsan,-DNTPOOL_SANITIZE=thread)
	@wrap=""; \
	if setarch "$$(uname -m)" -R true >/dev/null 2>&1; then \
	    wrap="setarch $$(uname -m) -R"; \
	else \
	    bits=$$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 0); \
	    if [ "$$bits" -gt 28 ] && [ -w /proc/sys/vm/mmap_rnd_bits ]; then \
	        echo "test-c-tsan: setarch -R is not allowed here;" \
	             "lowering vm.mmap_rnd_bits from $$bits to 28 for TSan"; \
	        echo 28 > /proc/sys/vm/mmap_rnd_bits; \
	    fi; \
	fi; \
	cd build-tsan && \
	echo "NTP_TEST_TIMEOUT_MULTIPLIER=$(SANITIZER_TIMEOUT_MULTIPLIER)" \
	    "$$wrap $(CTEST) --output-on-failure -j $(CTEST_JOBS)" && \
	NTP_TEST_TIMEOUT_MULTIPLIER=$(SANITIZER_TIMEOUT_MULTIPLIER) \
	    $$wrap $(CTEST) --output-on-failure -j $(CTEST_JOBS)

demo: deps build python-venv
	@test -x build/examples/tour || \
	    { echo "demo: build/examples/tour was not built" \
	           "(is examples/tour.c there?)" >&2; exit 1; }
	./build/examples/tour build/tour-c.json
	$(DEMO_PYTHON) -m ntpool.trace build/tour-c.json \
	    -o build/tour-c.svg --title "make demo: the C tour, one lane per thread"
	./build/examples/win32-tour
	./build/examples/win32-legacy
	$(LUA_TEST_ENV) lua5.4 examples/tour.lua build/tour-lua.json
	$(DEMO_PYTHON) -m ntpool.trace build/tour-lua.json \
	    -o build/tour-lua.svg --title "make demo: the Lua tour, one lane per thread"
	$(DEMO_PYTHON) examples/tour.py build/tour-py.json

# One venv with the package installed (pip install .), for the demo and
# the Python benchmark: build-python/venv-demo, from python3 on PATH.
DEMO_VENV = build-python/venv-demo
DEMO_PYTHON = $(DEMO_VENV)/bin/python
python-venv:
	@test -x $(DEMO_PYTHON) || python3 -m venv $(DEMO_VENV)
	$(DEMO_PYTHON) -m pip install -q --disable-pip-version-check .

# A short libFuzzer run (clang, ASan+UBSan) of tests/fuzz/fuzz_ops.c over
# the committed corpus; new inputs go to build-fuzz/corpus, crashes to
# build-fuzz/ (crash-*), and fail the run. FUZZ_SECONDS=600 for longer.
FUZZ_SECONDS ?= 60
test-fuzz: deps
	CC=clang $(CMAKE) -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DNTPOOL_FUZZ=ON -DNTPOOL_SANITIZE=address -DNTPOOL_BUILD_TESTS=OFF \
	    -DNTPOOL_BUILD_EXAMPLES=OFF $(CMAKE_ARGS)
	$(CMAKE) --build build-fuzz -j $(NPROC) --target fuzz-ops
	mkdir -p build-fuzz/corpus
	cd build-fuzz && ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 \
	    ./fuzz-ops -max_total_time=$(FUZZ_SECONDS) -timeout=30 \
	    -print_final_stats=1 corpus ../tests/fuzz/corpus

# valgrind memcheck over the whole C suite, one process per test, with the
# plain build's runner (tests/valgrind/memcheck.sh); about 4 minutes on 2
# cores. VALGRIND_TESTS=REGEX runs a subset.
VALGRIND_TESTS ?= .
test-valgrind: deps build
	JOBS=$(CTEST_JOBS) sh tests/valgrind/memcheck.sh build/ntpool-tests \
	    '$(VALGRIND_TESTS)'

# The Lua suite: busted on lua5.4 over build/lua/ntpool/raw.so and lua/.
LUA_TEST_ENV = LUA_PATH='lua/?.lua;lua/?/init.lua;tests/lua/?.lua;;' \
    LUA_CPATH='build/lua/?.so;;'
test-lua: deps build
	@test -f build/lua/ntpool/raw.so || \
	    { echo "test-lua: build/lua/ntpool/raw.so was not built" \
	           "(liblua5.4-dev missing?)" >&2; exit 1; }
	$(LUA_TEST_ENV) lua5.4 "$$(command -v busted)" --pattern='^test%-' tests/lua
	sh tests/lua/install-check.sh build

# The Lua suite again against the module of each sanitizer tree (which
# test-c-asan and test-c-tsan have built by then; cheap if up to date).
test-lua-sanitized: deps
	$(call cmake_build,build-asan,-DNTPOOL_SANITIZE=address)
	sh tests/lua/run-sanitized.sh build-asan
	$(call cmake_build,build-tsan,-DNTPOOL_SANITIZE=thread)
	sh tests/lua/run-sanitized.sh build-tsan

# The Python suite under every CPython 3.9-3.13 that pyenv has here, each
# in its own venv with `pip install .`, then the packaging check (see the
# script). PYTHONS="/path/python3.X ..." picks the interpreters.
test-python: deps
	tests/python/run-all-pythons.sh

# Benchmarks side by side with the peers (bench/, bench/run.py): installs
# GLib, libuv, gnuplot, mingw-w64 and Wine if missing, builds build-bench/
# (Release), runs every case BENCH_RUNS times and writes
# bench/results/latest.md, latest.csv and a chart per case.
BENCH_APT_PACKAGES := gnuplot-nox gcc-mingw-w64-x86-64 wine wine64
# The Lua case: luv's work queue is the peer (bench/lua_case.py).
BENCH_APT_PACKAGES += lua-luv
BENCH_RUNS ?= 5
bench: python-venv
	@$(MAKE) --no-print-directory deps \
	    APT_PACKAGES="$(APT_PACKAGES) $(BENCH_APT_PACKAGES)"
	$(CMAKE) -S . -B build-bench -DCMAKE_BUILD_TYPE=Release \
	    -DNTPOOL_BUILD_BENCH=ON -DNTPOOL_BUILD_TESTS=OFF \
	    -DNTPOOL_BUILD_EXAMPLES=OFF $(CMAKE_ARGS)
	$(CMAKE) --build build-bench -j $(NPROC) --target ntpool-bench ntpool_lua
	python3 bench/run.py --build build-bench --runs $(BENCH_RUNS)

# Python callbacks against ThreadPoolExecutor and a SimpleQueue pool
# (bench/python_bench.py), written to bench/results/python.md.
bench-python: python-venv
	$(DEMO_PYTHON) bench/python_bench.py --out bench/results/python.md

# The Win32 conformance suite (tests/conformance/) alone; `make test` runs
# it too, as the CTest test win32_conformance, plain and under the
# sanitizers.
conformance: deps build
	./build/ntpool-conformance build/fixtures/testmod.so

# The Windows comparison, a tool and not part of `make test`: the suite and
# the Windows-style examples built unchanged by mingw-w64, run under Wine
# and on Linux, their printed results compared; the known Wine quirks are
# named as such (README, "Windows code, unchanged"). Installs Wine and
# mingw-w64 if missing (large: kept out of `make deps`).
WINE_APT_PACKAGES := wine wine64 gcc-mingw-w64-x86-64
conformance-wine:
	@$(MAKE) --no-print-directory deps \
	    APT_PACKAGES="$(APT_PACKAGES) $(WINE_APT_PACKAGES)"
	$(call cmake_build,build,)
	tests/conformance/compare-wine.sh build build-wine

clean:
	rm -rf build build-asan build-tsan build-fuzz build-bench build-python \
	    build-wine
