"""Conversions between Python's times (float seconds, datetime) and the
core's (milliseconds as DWORDs, due times as (kind, ns) pairs)."""

import datetime
import math

INFINITE = 0xFFFFFFFF

DUE_RELATIVE = 1
DUE_ABSOLUTE = 2

# FILETIME counts 100 ns units from 1601-01-01; Unix time from 1970-01-01.
_FILETIME_UNIX_OFFSET = 116444736000000000


def timeout_ms(seconds):
    """None -> INFINITE; float seconds -> whole milliseconds, rounded up
    so that a wait never ends before the time asked (as threading does)."""
    if seconds is None:
        return INFINITE
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError("timeout must be a number of seconds or None, not %s"
                        % type(seconds).__name__)
    if seconds != seconds:
        raise ValueError("timeout must not be NaN")
    if seconds <= 0:
        return 0
    ms = math.ceil(seconds * 1000.0)
    return min(ms, INFINITE - 1)


def period_ms(seconds, what="period"):
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError("%s must be a number of seconds, not %s"
                        % (what, type(seconds).__name__))
    if seconds < 0:
        raise ValueError("%s must not be negative" % what)
    return min(int(round(seconds * 1000.0)), INFINITE - 1)


def due_from_seconds(due):
    """The idiomatic due time: seconds from now, a datetime (absolute; a
    naive one is local time), or None (stop)."""
    if due is None:
        return None
    if isinstance(due, datetime.datetime):
        if due.tzinfo is None:
            due = due.astimezone()
        ns = int(round(due.timestamp() * 1e9))
        return (DUE_ABSOLUTE, max(ns, 0))
    if isinstance(due, datetime.timedelta):
        due = due.total_seconds()
    if isinstance(due, bool) or not isinstance(due, (int, float)):
        raise TypeError("due must be seconds, a datetime or None, not %s"
                        % type(due).__name__)
    if due != due:
        raise ValueError("due must not be NaN")
    return (DUE_RELATIVE, max(int(round(due * 1e9)), 0))


def due_from_filetime(due):
    """The Windows encoding (SPEC 1.2): None stops; a negative int is
    relative, in 100 ns units; a positive one absolute (FILETIME); 0 is
    "now"."""
    if due is None:
        return None
    if isinstance(due, bool) or not isinstance(due, int):
        raise TypeError("due must be an int FILETIME or None, not %s"
                        % type(due).__name__)
    if due <= 0:
        return (DUE_RELATIVE, -due * 100)
    unix_100ns = due - _FILETIME_UNIX_OFFSET
    return (DUE_ABSOLUTE, max(unix_100ns, 0) * 100)


def filetime_now():
    """GetSystemTimeAsFileTime, as an int."""
    import time
    return time.time_ns() // 100 + _FILETIME_UNIX_OFFSET
