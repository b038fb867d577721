"""Shared fixtures of the Python suite.

Every test runs under a deadline (pytest-timeout, set in the Makefile's
test command): a deadlock fails one test instead of hanging the suite.
"""

import gc
import sys
import threading

import pytest

import ntpool

# Generous: the machines are shared and slow, and sanitizer-free builds
# still run each callback on another thread.
WAIT = 10.0


@pytest.fixture
def pool():
    """A private pool, closed after the test."""
    p = ntpool.Pool(max_threads=4)
    yield p
    p.close()


class Unraisable:
    """Collects what reaches sys.unraisablehook."""

    def __init__(self):
        self.seen = []
        self.lock = threading.Lock()
        self.event = threading.Event()

    def __call__(self, info):
        with self.lock:
            self.seen.append(info)
        self.event.set()


@pytest.fixture
def unraisable(monkeypatch):
    hook = Unraisable()
    monkeypatch.setattr(sys, "unraisablehook", hook)
    yield hook


@pytest.fixture(autouse=True)
def collect_after():
    yield
    gc.collect()
