#!/usr/bin/env python3
"""Run the benchmark cases side by side and print medians and ratios.

    python3 bench/run.py [--build build-bench] [--runs 5] [--out DIR]
                         [--cases throughput,timers,...]

A case is a list of implementations, each a command that prints one line
of key=value pairs (bench/common.h), and the keys to show. Every case is
run --runs times, the implementations interleaved round by round so that a
noisy moment of the shared machine hits all of them alike. The result is
the table of medians and of ratios against each peer measured in the same
run: absolute times on these machines are not comparable from one run to
the next; ratios are. The tables go to stdout and <out>/latest.md, the raw
samples to <out>/latest.csv, and one chart per case to <out>/<case>.png
when gnuplot is there. Standard library only.

To add a case (a binding's benchmark, say), append a Case to CASES in
cases(): a program that prints key=value pairs is all it needs.
"""

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

import lua_case

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


@dataclass
class Impl:
    label: str           # the row's name in the table
    argv: list           # the command; prints key=value pairs
    ours: bool = False   # an ntpool row (ratios are taken against peers)
    floor: bool = False  # what the hardware allows, not a competitor
    timeout: int = 600


@dataclass
class Case:
    name: str            # short id: file names, --cases
    title: str           # the table's heading
    impls: list
    columns: list        # [(key, header, format)]
    primary: str         # the key the ratios and the chart compare
    lower_is_better: bool = True
    note: str = ""
    chart_title: str = ""
    rows: list = field(default_factory=list)


def ncpu():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 2


def wine_command(build):
    """The command that runs the Windows build under Wine, or None (and
    why) when Wine or the program is missing or Wine cannot run here."""
    exe = os.path.join(build, "bench", "ntpool-bench-wine.exe")
    wine = shutil.which("wine")
    if not wine or not os.path.exists(exe):
        return None, "wine or %s missing" % exe
    cmd = [wine, exe]
    WINE_ENV["WINEPREFIX"] = os.path.abspath(os.path.join(build,
                                                          "wine-prefix"))
    try:
        # The first run creates the Wine prefix, which takes a while.
        probe = subprocess.run(cmd + ["work", "1000", "2"], timeout=300,
                               capture_output=True, text=True,
                               env=wine_env())
    except subprocess.TimeoutExpired:
        return None, "wine did not answer within 300 s"
    if probe.returncode != 0 or "ns_per_task=" not in probe.stdout:
        return None, "wine could not run it: %s" % probe.stderr.strip()[-200:]
    return cmd, None


# Wine's settings: quiet, and a prefix of its own inside the build
# directory rather than the user's ~/.wine.
WINE_ENV = {"WINEDEBUG": "-all"}


def wine_env():
    env = dict(os.environ)
    env.update(WINE_ENV)
    return env


def cases(build, sizes, wine):
    b = os.path.join(build, "bench")

    def prog(name, *args):
        return [os.path.join(b, "ntpool-bench-" + name)] + [str(a) for a in
                                                            args]

    threads = ncpu()
    n = sizes["throughput"]
    throughput = [
        Impl("ntpool work", prog("throughput", "ntpool-work", n), ours=True),
        Impl("ntpool try_submit", prog("throughput", "ntpool-try", n),
             ours=True),
        Impl("ntpool win32.h Submit", prog("win32", "work", n, threads),
             ours=True),
        Impl("ntpool win32.h TrySubmit", prog("win32", "try", n, threads),
             ours=True),
        Impl("glib", prog("throughput", "glib", n)),
        Impl("libuv", prog("throughput", "libuv", n)),
        Impl("plain", prog("throughput", "plain", n)),
    ]
    if wine:
        throughput += [
            Impl("wine Submit", wine + ["work", n, threads]),
            Impl("wine TrySubmit", wine + ["try", n, threads]),
        ]
    n_lat = sizes["latency"]
    latency = [
        Impl("ntpool work", prog("latency", "ntpool-work", n_lat), ours=True),
        Impl("glib", prog("latency", "glib", n_lat)),
        Impl("libuv", prog("latency", "libuv", n_lat)),
        Impl("plain", prog("latency", "plain", n_lat)),
        Impl("ntpool win32.h (1 ms pauses)",
             prog("win32", "latency", n_lat, threads), ours=True),
        Impl("futex floor", prog("floor", "wake", n_lat), floor=True),
    ]
    if wine:
        latency.append(Impl("wine (1 ms pauses)",
                            wine + ["latency", n_lat, threads]))
    n_tim, span = sizes["timers"], 1000
    timers = [
        Impl("ntpool", prog("timers", "oneshot", "ntpool", n_tim, span, 0),
             ours=True),
        Impl("ntpool window 1 ms",
             prog("timers", "oneshot", "ntpool", n_tim, span, 1), ours=True),
        Impl("ntpool win32.h", prog("win32", "timers", n_tim, span, threads),
             ours=True),
        Impl("libuv", prog("timers", "oneshot", "libuv", n_tim, span)),
        Impl("timerfd+heap floor", prog("timers", "oneshot", "floor", n_tim,
                                        span), floor=True),
    ]
    if wine:
        timers.append(Impl("wine", wine + ["timers", n_tim, span, threads]))
    ticks = sizes["periodic"]
    periodic = [
        Impl("ntpool", prog("timers", "periodic", "ntpool", ticks),
             ours=True),
        Impl("libuv", prog("timers", "periodic", "libuv", ticks)),
        Impl("glib", prog("timers", "periodic", "glib", ticks)),
        Impl("timerfd floor", prog("timers", "periodic", "floor", ticks),
             floor=True),
    ]
    waits = {}
    for nw in sizes["waits"]:
        waits[nw] = [
            Impl("ntpool", prog("waits", "ntpool", nw), ours=True),
            Impl("ntpool win32.h", prog("win32", "waits", nw, threads),
                 ours=True),
            Impl("libuv", prog("waits", "libuv", nw)),
            Impl("glib", prog("waits", "glib", nw)),
            Impl("eventfd+epoll floor", prog("waits", "floor", nw),
                 floor=True),
        ]
        if wine:
            waits[nw].append(Impl("wine", wine + ["waits", nw, threads]))

    out = [
        Case("throughput",
             "Throughput: %s trivial callbacks posted from one thread, "
             "until all ran" % format(n, ","),
             throughput,
             [("ns_per_task", "ns per task", "%.0f"),
              ("ctx_switches", "context switches", "%.0f")],
             "ns_per_task",
             note="ntpool work: one work object submitted N times; "
                  "try_submit: ntp_try_submit per callback; win32.h rows: "
                  "bench/win32_cases.c built against <ntpool/win32.h>; "
                  "wine rows: the same source built with mingw-w64, run "
                  "under Wine, timed inside the program. Every pool has "
                  "%d threads." % threads,
             chart_title="ns per trivial callback (lower is better)"),
        Case("latency",
             "Wake latency on an idle pool: post to the first instruction "
             "of the callback (%s samples)" % format(n_lat, ","),
             latency,
             [("median_us", "median us", "%.2f"), ("p99_us", "p99 us",
                                                    "%.1f")],
             "median_us",
             note="The floor: a thread parked in futex_wait woken by "
                  "FUTEX_WAKE, measured the same way.",
             chart_title="idle wake latency, median us (lower is better)"),
        Case("timers",
             "Timers at scale: %s one-shot timers due at random times "
             "within %d ms" % (format(n_tim, ","), span),
             timers,
             [("median_ms", "lateness median ms", "%.3f"),
              ("p99_ms", "lateness p99 ms", "%.3f"),
              ("max_ms", "max ms", "%.2f"),
              ("threads", "threads", "%.0f"),
              ("arm_ms", "arming all ms", "%.1f")],
             "p99_ms",
             note="Lateness: callback start - due time. threads: the "
                  "process's threads besides the main one (ntpool: its "
                  "workers, the reactor and the starvation monitor). The "
                  "floor is one thread with a binary heap and one timerfd "
                  "armed in ns for the earliest due time, running the "
                  "callbacks itself (a timerfd per timer needs 100,000 "
                  "descriptors, above this machine's limit, and measures "
                  "the same kernel wake-up). libuv counts whole "
                  "milliseconds.",
             chart_title="timer lateness p99, ms (lower is better)"),
        Case("periodic",
             "A periodic 1 ms timer: jitter of the interval between two "
             "callbacks (%s ticks)" % format(ticks, ","),
             periodic,
             [("median_ms", "jitter median ms", "%.3f"),
              ("p99_ms", "jitter p99 ms", "%.3f")],
             "p99_ms",
             chart_title="periodic 1 ms timer jitter p99, ms (lower is "
                         "better)"),
    ]
    for nw, impls in waits.items():
        out.append(Case(
            "waits-%d" % nw,
            "Waits at scale: %s waits, each on its own event; signal "
            "all, until every callback ran" % format(nw, ","),
            impls,
            [("ns_per_wait", "ns per wait", "%.0f"),
             ("threads", "threads", "%.0f"),
             ("n_measured", "waits measured", "%.0f")],
            "ns_per_wait",
            note="The floor: an eventfd per wait in one epoll set "
                 "(EPOLLONESHOT), one thread taking the events and running "
                 "the callbacks. fd-based rows are measured at the largest "
                 "N this process may open when that is below N (column "
                 "'waits measured'). Wine needs a waiter thread per 63 "
                 "handles.",
            chart_title="ns per wait, %s waits (lower is better)"
                        % format(nw, ",")))
    return out


def parse(stdout):
    vals = {}
    for tok in stdout.split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            vals[k] = float(v)
    return vals


def run_one(impl):
    env = wine_env() if "wine" in impl.label else None
    try:
        out = subprocess.run([str(a) for a in impl.argv], check=True,
                             capture_output=True, text=True,
                             timeout=impl.timeout, env=env)
    except subprocess.TimeoutExpired:
        print("%s: timed out after %d s" % (impl.label, impl.timeout),
              file=sys.stderr)
        return {"skipped": 1}
    except subprocess.CalledProcessError as e:
        print("%s failed (%d): %s" % (impl.label, e.returncode,
                                       e.stderr.strip()[-300:]),
              file=sys.stderr)
        return {"skipped": 1}
    return parse(out.stdout)


def load_samples(path):
    """The samples of a previous run, from its latest.csv."""
    samples = {}
    runs = 0
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            values = row["samples"].split()
            runs = max(runs, len(values))
            per_run = samples.setdefault(
                (row["case"], row["implementation"]),
                [{} for _ in values])
            for d, v in zip(per_run, values):
                if v != "-":
                    d[row["key"]] = float(v)
    return samples, runs


def measure(all_cases, runs):
    samples = {}  # (case, impl label) -> [dict]
    for r in range(runs):
        for case in all_cases:
            for impl in case.impls:
                samples.setdefault((case.name, impl.label), []).append(
                    run_one(impl))
        print("round %d of %d done" % (r + 1, runs), file=sys.stderr)
    return samples


def medians(runs_of_one):
    ok = [s for s in runs_of_one if not s.get("skipped")]
    if not ok:
        return None
    keys = set().union(*ok)
    return {k: statistics.median([s[k] for s in ok if k in s])
            for k in keys}


def table(case, samples):
    lines = ["### " + case.title, ""]
    peers = [i for i in case.impls if not i.ours]
    med = {i.label: medians(samples[(case.name, i.label)])
           for i in case.impls}
    head = ["implementation"] + [h for _, h, _ in case.columns]
    head += ["vs " + p.label for p in peers]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for impl in case.impls:
        m = med[impl.label]
        if m is None:
            lines.append("| %s | %s |" % (impl.label, " | ".join(
                ["n/a"] * (len(head) - 1))))
            continue
        cells = [impl.label]
        for key, _, fmt in case.columns:
            cells.append(fmt % m[key] if key in m else "")
        for p in peers:
            pm = med[p.label]
            mine = m.get(case.primary)
            theirs = pm.get(case.primary) if pm else None
            if not mine or not theirs:
                cells.append("")
                continue
            ratio = theirs / mine if case.lower_is_better else mine / theirs
            cells.append("%.2fx" % ratio)
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    ratio_text = ("peer's %s / this one's" if case.lower_is_better
                  else "this one's %s / peer's") % case.primary
    lines.append("Ratios: %s; above 1, this row beats that peer. %s"
                 % (ratio_text, case.note))
    lines.append("")
    return lines, med


def chart(case, med, out_dir):
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        return None
    rows = [(i, med[i.label][case.primary]) for i in case.impls
            if med[i.label] and case.primary in med[i.label]]
    if not rows:
        return None
    data = os.path.join(out_dir, case.name + ".dat")
    with open(data, "w") as f:
        for impl, v in rows:
            # ntpool blue, peers grey, floors green.
            colour = (0x3a7bd5 if impl.ours else
                      0x5aa469 if impl.floor else 0x9a9a9a)
            f.write('"%s" %g %d\n' % (impl.label, v, colour))
    png = os.path.join(out_dir, case.name + ".png")
    values = [v for _, v in rows if v > 0]
    title = case.chart_title or case.title
    # One slow peer (Wine, say) would flatten every other bar.
    if values and max(values) / min(values) > 50:
        scale = "set logscale y\nset yrange [%g:*]" % (min(values) / 2)
        title += ", log scale"
    else:
        scale = "set yrange [0:*]"
    script = """
set terminal pngcairo size 900,420 font ",10" noenhanced
set output '%s'
set title '%s'
set style fill solid 0.8
set boxwidth 0.6
%s
set grid ytics
set xtics rotate by -20
unset key
plot '%s' using 0:2:3:xtic(1) with boxes lc rgb variable, \\
     '' using 0:2:($2 >= 100 ? sprintf('%%.0f', $2) : \\
                   sprintf('%%.3g', $2)) with labels offset 0,1
""" % (png, title, scale, data)
    subprocess.run([gnuplot], input=script, text=True, check=True)
    os.remove(data)
    return png


def python_case(python, runs):
    """The Python case (bench/python_bench.py, issue 7): its Markdown
    section, or a note why it did not run."""
    if not os.path.exists(python):
        return "### Python\n\nskipped: %s missing (make python-venv)\n" \
            % python
    out = subprocess.run([python, os.path.join(HERE, "python_bench.py"),
                          "--runs", str(runs),
                          "--out", os.path.join(HERE, "results",
                                                "python.md")],
                         capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        return "### Python\n\nfailed: %s\n" % out.stderr.strip()[-300:]
    return "### Python callbacks\n\n" + out.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument("--cases", default="",
                        help="comma-separated case names (default: all)")
    parser.add_argument("--no-wine", action="store_true")
    parser.add_argument("--replot", action="store_true",
                        help="measure nothing: redo the tables and charts "
                             "from <out>/latest.csv")
    parser.add_argument("--throughput-n", type=int, default=1000000)
    parser.add_argument("--latency-n", type=int, default=10000)
    parser.add_argument("--timers-n", type=int, default=100000)
    parser.add_argument("--periodic-ticks", type=int, default=2000)
    parser.add_argument("--waits-n", default="1000,100000")
    parser.add_argument("--python",
                        default=os.path.join(ROOT, "build-python",
                                             "venv-demo", "bin", "python"),
                        help="an interpreter with ntpool installed, for the "
                             "Python case (make python-venv makes it)")
    args = parser.parse_args()
    sizes = {"throughput": args.throughput_n, "latency": args.latency_n,
             "timers": args.timers_n, "periodic": args.periodic_ticks,
             "waits": [int(x) for x in args.waits_n.split(",")]}
    if args.replot:
        wine, why = ["wine"], None  # only the labels matter
    else:
        wine, why = (None, "--no-wine") if args.no_wine else \
            wine_command(args.build)
    if not wine:
        print("no Wine rows: %s" % why, file=sys.stderr)
    all_cases = cases(args.build, sizes, wine)
    if args.cases:
        wanted = args.cases.split(",")
        all_cases = [c for c in all_cases
                     if c.name in wanted or c.name.split("-")[0] in wanted]
    os.makedirs(args.out, exist_ok=True)
    if args.replot:
        samples, args.runs = load_samples(os.path.join(args.out,
                                                       "latest.csv"))
        all_cases = [c for c in all_cases
                     if any(k[0] == c.name for k in samples)]
    else:
        samples = measure(all_cases, args.runs)
    lines = ["Measured %s on %s (%d CPUs), median of %d runs, "
             "implementations interleaved. Command: `make bench`."
             % (time.strftime("%Y-%m-%d"), os.uname().nodename, ncpu(),
                args.runs), ""]
    if not wine:
        lines += ["No Wine rows: %s." % why, ""]
    charts = []
    for case in all_cases:
        case_lines, med = table(case, samples)
        lines += case_lines
        png = chart(case, med, args.out)
        if png:
            charts.append(png)
    text = "\n".join(lines)
    wanted = args.cases.split(",") if args.cases else None
    if not args.replot and (wanted is None or "lua" in wanted):
        text += "\n" + lua_case.run(ROOT, args.build, args.runs)
    if not args.replot and (wanted is None or "python" in wanted):
        text += "\n" + python_case(args.python, args.runs)
    print(text)
    with open(os.path.join(args.out, "latest.md"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "latest.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case", "implementation", "key", "samples"])
        for (case, label), runs in sorted(samples.items()):
            keys = sorted(set().union(*runs))
            for k in keys:
                w.writerow([case, label, k, " ".join(
                    "%g" % s[k] if k in s else "-" for s in runs)])
    for png in charts:
        print("chart: %s" % os.path.relpath(png, ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
