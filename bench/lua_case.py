"""The Lua case of bench/run.py (issue 7).

Trivial Lua callbacks per second through ntpool's work API and through
try_submit, every callback sharing the script's Lua state (an upvalue
increment), against luv's work queue (Debian's lua-luv: libuv's pool, a
separate Lua state per worker, no shared upvalues), in the same run and
interleaved; and the handoff cost per callback: the work API's time minus
a plain Lua loop calling the same function, divided by the count.

The scripts are bench/lua_bench.lua and bench/lua_luv_bench.lua; the
module is <build>/lua/ntpool/raw.so. The case is skipped, with a note in
the table, when lua5.4, the module or luv is missing.
"""

import os
import shutil
import statistics
import subprocess

IMPLS = ["ntpool-work", "ntpool-try", "luv", "plain-loop"]


def _env(root, build):
    env = dict(os.environ)
    env["LUA_PATH"] = os.path.join(root, "lua", "?.lua") + ";;"
    env["LUA_CPATH"] = os.path.join(build, "lua", "?.so") + ";;"
    return env


def _seconds(cmd, env):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                         env=env, timeout=600)
    return float(out.stdout.split()[0])


def missing(root, build):
    """Why the case cannot run here, or None."""
    lua = shutil.which("lua5.4")
    if not lua:
        return "lua5.4 not found"
    if not os.path.exists(os.path.join(build, "lua", "ntpool", "raw.so")):
        return "%s/lua/ntpool/raw.so not built" % build
    probe = subprocess.run([lua, "-e", "require 'luv'"],
                           capture_output=True, env=_env(root, build))
    if probe.returncode != 0:
        return "luv (Debian's lua-luv) not installed"
    return None


def measure(root, build, runs, n):
    """{impl: [seconds per run]}, the implementations interleaved."""
    env = _env(root, build)
    bench = os.path.join(root, "bench", "lua_bench.lua")
    luv = os.path.join(root, "bench", "lua_luv_bench.lua")
    cmds = {
        "ntpool-work": ["lua5.4", bench, "work", str(n)],
        "ntpool-try": ["lua5.4", bench, "try", str(n)],
        "luv": ["lua5.4", luv, str(n)],
        "plain-loop": ["lua5.4", bench, "loop", str(n)],
    }
    samples = {impl: [] for impl in IMPLS}
    for _ in range(runs):
        for impl in IMPLS:
            samples[impl].append(_seconds(cmds[impl], env))
    return samples


def table(samples, n, runs):
    """The markdown section for bench/results/latest.md."""
    med = {impl: statistics.median(v) for impl, v in samples.items()}
    lines = ["### Lua: %d trivial callbacks (an upvalue increment), "
             "median of %d runs" % (n, runs), "",
             "| implementation | seconds | callbacks/s | vs luv |",
             "|---|---|---|---|"]
    for impl in IMPLS:
        s = med[impl]
        lines.append("| %s | %.3f | %.0fk | %.2fx |"
                     % (impl, s, n / s / 1e3, med["luv"] / s))
    handoff = (med["ntpool-work"] - med["plain-loop"]) / n * 1e9
    lines += ["",
              "ntpool-* and plain-loop share the script's Lua state; luv "
              "runs each task in a worker's own state. Handoff cost per "
              "callback (work API minus the plain loop): %.0f ns." % handoff,
              ""]
    return "\n".join(lines) + "\n"


def run(root, build, runs, n=200000):
    """Measure and return the markdown section (or a note why not)."""
    why = missing(root, build)
    if why:
        return "### Lua\n\nskipped: %s\n" % why
    return table(measure(root, build, runs, n), n, runs)
