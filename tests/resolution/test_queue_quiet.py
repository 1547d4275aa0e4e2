"""The duplicate queue's background catch-up waits for a quiet moment (decision 0109): it
scores after a burst of new organisations, not in the middle of it, and never later than its
bound."""

import threading
import time

import pytest

from app.resolution import queue


def test_the_catch_up_waits_for_a_quiet_moment_but_not_forever(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(queue, "_GATHER_SECONDS", 0.2)
    monkeypatch.setattr(queue, "_DEFER_AT_MOST_SECONDS", 1.0)

    # Quiet: one gathering period.
    started = time.monotonic()
    queue._quiet_moment()
    assert 0.2 <= time.monotonic() - started < 0.6

    # Commits keep waking it (a hot letter): it waits, until its bound.
    stop = threading.Event()

    def commits() -> None:
        while not stop.is_set():
            queue._wake.set()
            time.sleep(0.05)

    burst = threading.Thread(target=commits)
    burst.start()
    try:
        started = time.monotonic()
        queue._quiet_moment()
        waited = time.monotonic() - started
    finally:
        stop.set()
        burst.join()
    assert 1.0 <= waited < 1.6

    # The burst ends: it goes as soon as one period passes without a commit.
    def short_burst() -> None:
        for _ in range(6):
            queue._wake.set()
            time.sleep(0.05)

    burst = threading.Thread(target=short_burst)
    started = time.monotonic()
    burst.start()
    queue._quiet_moment()
    burst.join()
    waited = time.monotonic() - started
    assert 0.4 <= waited < 1.0
    queue._wake.clear()
