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


def test_a_catch_up_rests_while_the_worker_is_busy_and_runs_when_it_is_quiet() -> None:
    """Decision 0118: the pacer gives the GIL back to the worker's requests for REST after
    every SLICE of scoring while commits keep coming, and never sleeps on a quiet worker."""
    busy = threading.Event()
    pacer = queue._Pacer(busy.is_set)

    def work_for(seconds: float) -> tuple[float, int]:
        """Pause as a scoring loop does for `seconds` of work: (wall time, pauses that slept)."""
        started = time.perf_counter()
        slept = 0
        worked = 0.0
        while worked < seconds:
            spin = time.perf_counter()
            while time.perf_counter() - spin < 0.001:
                pass
            worked += time.perf_counter() - spin
            before = time.perf_counter()
            pacer()
            slept += time.perf_counter() - before >= queue._Pacer.REST * 0.9
        return time.perf_counter() - started, slept

    wall, slept = work_for(0.1)
    assert slept == 0 and wall < 0.1 + 0.05  # quiet: full speed

    busy.set()
    wall, slept = work_for(0.1)
    # About one rest per slice: ~ 0.1 s of work and 10 rests of 30 ms.
    assert 7 <= slept <= 11, slept
    assert wall >= 0.1 + 7 * queue._Pacer.REST
