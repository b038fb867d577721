"""Record a timeline of every callback and draw it.

Recording (in a program)::

    with ntpool.trace("run.json"):
        ...                      # everything the pools do is recorded

``ntpool.trace(path)`` is a context manager around the C core's
``ntp_trace_start``/``ntp_trace_stop``; the file is Chrome Trace Event JSON,
which https://ui.perfetto.dev and chrome://tracing open.

Drawing, without a browser::

    python3 -m ntpool.trace run.json -o run.svg

draws one lane per pool thread with each callback as a bar coloured by its
object, and the pools' thread counts over time underneath. The drawing part
is plain Python (``json`` and string formatting) and needs no compiled
module, so it also runs where ntpool is not installed.
"""

import argparse
import colorsys
import contextlib
import hashlib
import html
import json
import sys
import types

__all__ = ["start", "stop", "tracing", "load", "render_svg", "main"]


# --------------------------------------------------------------------------
# Recording
# --------------------------------------------------------------------------

def _raw():
    from . import _raw as raw  # the SWIG module; imported only when needed
    return raw


def start(path):
    """Start recording to `path` (a str or os.PathLike)."""
    import os
    _raw().ntp_trace_start(os.fspath(path))  # raises OSError on failure


def stop():
    """Stop recording and write the file."""
    _raw().ntp_trace_stop()  # raises OSError on failure


@contextlib.contextmanager
def tracing(path):
    """Record everything the pools do inside the ``with`` block."""
    start(path)
    try:
        yield path
    finally:
        stop()


# --------------------------------------------------------------------------
# Reading a trace
# --------------------------------------------------------------------------

class Timeline:
    """What a trace file says, in the shape the drawing needs."""

    def __init__(self):
        self.lanes = {}         # tid -> name
        self.bars = []          # (tid, start_us, end_us, object, kind)
        self.marks = []         # (tid, ts_us, name)
        self.threads = {}       # pool -> [(ts_us, count)]
        self.end_us = 0.0


def load(path):
    """Read a Chrome Trace Event file written by ntpool."""
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    events = doc["traceEvents"] if isinstance(doc, dict) else doc
    tl = Timeline()
    open_bars = {}  # tid -> stack of (start, object, kind)
    for e in events:
        ph = e.get("ph")
        tid = e.get("tid")
        ts = float(e.get("ts", 0.0))
        tl.end_us = max(tl.end_us, ts)
        if ph == "M" and e.get("name") == "thread_name":
            tl.lanes[tid] = e.get("args", {}).get("name", str(tid))
        elif ph == "B":
            tl.lanes.setdefault(tid, str(tid))
            args = e.get("args", {})
            open_bars.setdefault(tid, []).append(
                (ts, args.get("object", e.get("name")), e.get("cat", "")))
        elif ph == "E":
            stack = open_bars.get(tid)
            if stack:
                begin, obj, kind = stack.pop()
                tl.bars.append((tid, begin, ts, obj, kind))
        elif ph == "i":
            tl.marks.append((tid, ts, e.get("name", "")))
        elif ph == "C" and "threads" in e.get("args", {}):
            pool = e.get("name", "threads")
            tl.threads.setdefault(pool, []).append(
                (ts, e["args"]["threads"]))
    for tid, stack in open_bars.items():  # still running at the end
        for begin, obj, kind in stack:
            tl.bars.append((tid, begin, tl.end_us, obj, kind))
    return tl


# --------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------

def _colour(key):
    """A stable, distinct-enough colour per object."""
    digest = hashlib.sha1(str(key).encode()).digest()
    hue = digest[0] / 255.0
    r, g, b = colorsys.hls_to_rgb(hue, 0.55, 0.65)
    return "#%02x%02x%02x" % (int(r * 255), int(g * 255), int(b * 255))


def render_svg(tl, out, width=1200, title=None):
    """Write the timeline `tl` (from load()) to `out` as SVG."""
    lanes = sorted(tl.lanes)
    label_w, lane_h, top = 170, 22, 40
    chart_h = 90 if tl.threads else 0
    plot_w = width - label_w - 20
    height = top + lane_h * max(len(lanes), 1) + 50 + chart_h
    span = tl.end_us or 1.0

    def x(us):
        return label_w + plot_w * us / span

    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
        'font-family="sans-serif" font-size="11">' % (width, height),
        '<rect width="100%" height="100%" fill="white"/>',
        '<text x="10" y="20" font-size="14">%s</text>'
        % html.escape(title or "ntpool timeline: one lane per thread, one "
                      "bar per callback, coloured by object"),
    ]
    row = {tid: i for i, tid in enumerate(lanes)}
    for tid in lanes:
        y = top + row[tid] * lane_h
        parts.append('<text x="10" y="%d">%s</text>'
                     % (y + 15, html.escape(str(tl.lanes[tid]))))
        parts.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#ddd"/>'
                     % (label_w, y + lane_h, width - 20, y + lane_h))
    for tid, begin, end, obj, kind in tl.bars:
        y = top + row[tid] * lane_h + 3
        w = max(x(end) - x(begin), 0.8)
        parts.append(
            '<rect x="%.2f" y="%d" width="%.2f" height="%d" fill="%s">'
            '<title>%s %s: %.1f us</title></rect>'
            % (x(begin), y, w, lane_h - 6, _colour(obj), html.escape(kind),
               html.escape(str(obj)), end - begin))
    for tid, ts, name in tl.marks:
        if tid in row:
            y = top + row[tid] * lane_h
            parts.append('<line x1="%.2f" y1="%d" x2="%.2f" y2="%d" '
                         'stroke="#333" stroke-width="0.6"><title>%s</title>'
                         '</line>' % (x(ts), y + 1, x(ts), y + 5,
                                      html.escape(name)))
    axis_y = top + lane_h * max(len(lanes), 1) + 14
    for i in range(6):
        us = span * i / 5
        parts.append('<text x="%.1f" y="%d" text-anchor="middle">%.1f ms'
                     '</text>' % (x(us), axis_y, us / 1000.0))
    if tl.threads:
        base = axis_y + 20 + chart_h - 10
        peak = max(c for pts in tl.threads.values() for _, c in pts) or 1
        parts.append('<text x="10" y="%d">threads per pool (peak %d)</text>'
                     % (base - chart_h + 20, peak))
        for pool, pts in sorted(tl.threads.items()):
            pts = sorted(pts)
            path, prev = [], None
            for ts, count in pts:
                yy = base - (chart_h - 30) * count / peak
                if prev is not None:
                    path.append("L%.2f,%.2f" % (x(ts), prev))
                path.append(("M" if not path else "L")
                            + "%.2f,%.2f" % (x(ts), yy))
                prev = yy
            path.append("L%.2f,%.2f" % (x(span), prev))
            parts.append('<path d="%s" fill="none" stroke="%s" '
                         'stroke-width="1.5"><title>%s</title></path>'
                         % (" ".join(path), _colour(pool),
                            html.escape(pool)))
    parts.append("</svg>")
    out.write("\n".join(parts) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python3 -m ntpool.trace",
        description="Draw an ntpool trace (Chrome Trace Event JSON) as SVG.")
    parser.add_argument("trace", help="the JSON file ntpool.trace() wrote")
    parser.add_argument("-o", "--output", required=True,
                        help="the SVG file to write")
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--title")
    args = parser.parse_args(argv)
    tl = load(args.trace)
    with open(args.output, "w", encoding="utf-8") as out:
        render_svg(tl, out, width=args.width, title=args.title)
    print("%s: %d threads, %d callbacks, %.1f ms"
          % (args.output, len(tl.lanes), len(tl.bars), tl.end_us / 1000.0))
    return 0


class _CallableModule(types.ModuleType):
    """Lets ``ntpool.trace("run.json")`` be the context manager while
    ``python3 -m ntpool.trace`` and ``from ntpool.trace import load`` use
    the module."""

    def __call__(self, path):
        return tracing(path)


sys.modules[__name__].__class__ = _CallableModule

if __name__ == "__main__":
    sys.exit(main())
