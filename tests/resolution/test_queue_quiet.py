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


class _Clock:
    """The pacer's view of time, moved by the test: work advances it, a rest too (recorded). A
    clock of its own, as a loaded machine's preemptions made the wall-clock version of this
    test count too few slices of work (what the pacer does is the point here; what it costs
    the hot letter is measured in bench/hot_letter.py)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.rests: list[float] = []

    def perf_counter(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.rests.append(seconds)
        self.now += seconds


def test_a_catch_up_rests_while_the_worker_is_busy_and_runs_when_it_is_quiet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Decision 0118: the pacer gives the GIL back to the worker's requests for REST after
    every SLICE of scoring while commits keep coming, and never sleeps on a quiet worker."""
    clock = _Clock()
    monkeypatch.setattr(queue, "time", clock)
    busy = threading.Event()
    pacer = queue._Pacer(busy.is_set)

    def work_for(seconds: float) -> tuple[float, int]:
        """Pause as a scoring loop does, every millisecond of `seconds` of work: (time taken,
        rests)."""
        started, rested = clock.now, len(clock.rests)
        for _ in range(round(seconds / 0.001)):
            clock.now += 0.001
            pacer()
        return clock.now - started, len(clock.rests) - rested

    taken, rests = work_for(0.1)
    assert rests == 0 and taken == pytest.approx(0.1)  # quiet: full speed

    busy.set()
    taken, rests = work_for(0.1)
    # One rest per slice of work: 0.1 s of work, 10 rests of 30 ms.
    slices = round(0.1 / queue._Pacer.SLICE)
    assert rests == slices
    assert clock.rests == [queue._Pacer.REST] * slices
    assert taken == pytest.approx(0.1 + slices * queue._Pacer.REST)

    # Quiet again: no more rests.
    busy.clear()
    taken, rests = work_for(0.05)
    assert rests == 0 and taken == pytest.approx(0.05)
