#!/usr/bin/env python3
"""Run the benchmark cases side by side and print medians and ratios.

    python3 bench/run.py [--bench build-bench/ntpool-bench] [--runs 5]
                         [--out bench/results]

Each case is run --runs times, the implementations interleaved round by
round so that a noisy moment of the shared machine hits all of them alike.
The result is the table of medians and of ratios against each peer measured
in the same run (absolute times on these machines are not comparable from
one run to the next; ratios are). The table goes to stdout and to
<out>/latest.md, the raw samples to <out>/latest.csv, and a chart to
<out>/throughput.png when gnuplot is there. Standard library only.
"""

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import time

import lua_case

THROUGHPUT = ["ntpool-work", "ntpool-try", "glib", "libuv", "plain"]
LATENCY = ["ntpool-work", "glib", "libuv", "plain"]
NTPOOL = ("ntpool-work", "ntpool-try")


def run(bench, *args):
    out = subprocess.run([bench, *map(str, args)], check=True,
                         capture_output=True, text=True, timeout=600)
    return [float(x) for x in out.stdout.split()]


def measure(bench, runs, n_throughput, n_latency):
    samples = {}  # (case, impl) -> [values]
    for r in range(runs):
        for impl in THROUGHPUT:
            samples.setdefault(("throughput", impl), []).append(
                run(bench, "throughput", impl, n_throughput)[0])
        for impl in LATENCY:
            med, p99 = run(bench, "latency", impl, n_latency)
            samples.setdefault(("latency-median", impl), []).append(med)
            samples.setdefault(("latency-p99", impl), []).append(p99)
        samples.setdefault(("floor", "pingpong-one-way-us"), []).append(
            run(bench, "floor", "pingpong", 100000)[0])
        samples.setdefault(("floor", "queue-push-pop-ns"), []).append(
            run(bench, "floor", "queue", 1000000)[0])
        print("round %d of %d done" % (r + 1, runs), file=sys.stderr)
    return samples


def table(samples, n_throughput, n_latency, runs):
    med = {k: statistics.median(v) for k, v in samples.items()}
    lines = []
    lines.append("Measured %s on %s (%d CPUs), median of %d runs, "
                 "implementations interleaved."
                 % (time.strftime("%Y-%m-%d"), os.uname().nodename,
                    os.cpu_count(), runs))
    lines.append("")
    lines.append("### Throughput: %d trivial callbacks posted from one "
                 "thread, until all ran" % n_throughput)
    lines.append("")
    peers = [i for i in THROUGHPUT if i not in NTPOOL]
    lines.append("| implementation | seconds | callbacks/s | "
                 + " | ".join("vs %s" % p for p in peers) + " |")
    lines.append("|---|---|---|" + "---|" * len(peers))
    for impl in THROUGHPUT:
        s = med[("throughput", impl)]
        ratios = []
        for p in peers:
            # > 1: this implementation is faster than the peer.
            ratios.append("%.2fx" % (med[("throughput", p)] / s))
        lines.append("| %s | %.3f | %.2fM | %s |"
                     % (impl, s, n_throughput / s / 1e6, " | ".join(ratios)))
    lines.append("")
    lines.append("Ratios are peer time / this time: above 1, faster than "
                 "the peer.")
    lines.append("")
    lines.append("### Wake latency on an idle pool: submit to the first "
                 "instruction of the callback (%d samples)" % n_latency)
    lines.append("")
    lines.append("| implementation | median us | p99 us |")
    lines.append("|---|---|---|")
    for impl in LATENCY:
        lines.append("| %s | %.1f | %.1f |"
                     % (impl, med[("latency-median", impl)],
                        med[("latency-p99", impl)]))
    lines.append("")
    lines.append("### The floor")
    lines.append("")
    lines.append("| what | value |")
    lines.append("|---|---|")
    lines.append("| condvar ping-pong between two threads, one way | %.1f us |"
                 % med[("floor", "pingpong-one-way-us")])
    lines.append("| uncontended mutex queue push + pop | %.1f ns |"
                 % med[("floor", "queue-push-pop-ns")])
    return "\n".join(lines) + "\n", med


def chart(med, out_dir, n_throughput):
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        print("gnuplot not found: no chart", file=sys.stderr)
        return None
    data = os.path.join(out_dir, "throughput.dat")
    with open(data, "w") as f:
        for impl in THROUGHPUT:
            f.write('"%s" %.3f\n' % (impl, n_throughput
                                     / med[("throughput", impl)] / 1e6))
    png = os.path.join(out_dir, "throughput.png")
    script = """
set terminal pngcairo size 800,400 font ",10"
set output '%s'
set title 'Trivial callbacks per second, millions (higher is better)'
set style fill solid 0.8
set boxwidth 0.6
set yrange [0:*]
set grid ytics
unset key
plot '%s' using 0:2:xtic(1) with boxes lc rgb '#3a7bd5', \\
     '' using 0:2:(sprintf('%%.2f', $2)) with labels offset 0,1
""" % (png, data)
    subprocess.run([gnuplot], input=script, text=True, check=True)
    os.remove(data)
    return png


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bench", default=os.path.join(
        here, "..", "build-bench", "ntpool-bench"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--throughput-n", type=int, default=1000000)
    parser.add_argument("--latency-n", type=int, default=10000)
    parser.add_argument("--out", default=os.path.join(here, "results"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    samples = measure(args.bench, args.runs, args.throughput_n,
                      args.latency_n)
    text, med = table(samples, args.throughput_n, args.latency_n, args.runs)
    text += "\n" + lua_case.run(os.path.dirname(here),
                                 os.path.dirname(os.path.abspath(args.bench)),
                                 args.runs)
    print(text)
    with open(os.path.join(args.out, "latest.md"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "latest.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case", "implementation", "samples"])
        for (case, impl), v in sorted(samples.items()):
            w.writerow([case, impl, " ".join("%g" % x for x in v)])
    png = chart(med, args.out, args.throughput_n)
    if png:
        print("chart: %s" % png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
