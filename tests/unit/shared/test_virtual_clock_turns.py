"""VirtualClock turn-taking: executions sharing one virtual clock sleep as in a discrete-event simulation.

On AWS a Wait state takes its seconds in real time while other executions go on working; the virtual
clock may skip that time only when nothing else is working, or it would run ahead of them (a loop that
waits 30 s between looks at another execution would turn at full speed).
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from rsetl.clock import VirtualClock


def _in_thread(target: object) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)  # type: ignore[arg-type]
    thread.start()
    return thread


def test_a_sleep_waits_while_another_participant_runs_then_jumps_to_its_end() -> None:
    clock = VirtualClock()
    start = clock.now()
    woke_at: list[float] = []
    running = threading.Event()
    release = threading.Event()

    def busy() -> None:
        with clock.participant():
            running.set()
            release.wait(10)

    def sleeper() -> None:
        with clock.participant():
            clock.sleep_in_turn(30)
            woke_at.append((clock.now() - start).total_seconds())

    busy_thread = _in_thread(busy)
    running.wait(5)
    sleeper_thread = _in_thread(sleeper)
    time.sleep(0.3)
    assert woke_at == [] and clock.now() == start  # no jump while the other execution works

    release.set()
    busy_thread.join(5)
    sleeper_thread.join(5)
    assert woke_at == [30.0]


def test_the_earliest_sleeper_wakes_first_and_time_moves_to_each_end_in_order() -> None:
    clock = VirtualClock()
    start = clock.now()
    order: list[tuple[str, float]] = []
    lock = threading.Lock()
    gate = threading.Barrier(3)

    def sleeper(name: str, seconds: float) -> None:
        with clock.participant():
            gate.wait(5)
            clock.sleep_in_turn(seconds)
            with lock:
                order.append((name, (clock.now() - start).total_seconds()))

    sleeps = (("late", 50.0), ("early", 10.0), ("mid", 20.0))
    threads = [_in_thread(lambda n=n, s=s: sleeper(n, s)) for n, s in sleeps]
    for thread in threads:
        thread.join(5)
    assert order == [("early", 10.0), ("mid", 20.0), ("late", 50.0)]


def test_a_polling_loop_does_not_spin_while_the_execution_it_waits_for_works() -> None:
    clock = VirtualClock()
    start = clock.now()
    done = threading.Event()
    looks: list[int] = []

    def refresh() -> None:
        with clock.participant():
            time.sleep(0.5)  # a real REFRESH in PostgreSQL
            done.set()

    def poller() -> None:
        with clock.participant():
            while not done.is_set():
                looks.append(1)
                clock.sleep_in_turn(30)

    refresh_thread = _in_thread(refresh)
    poller_thread = _in_thread(poller)
    refresh_thread.join(5)
    poller_thread.join(5)
    # One look before the refresh ended and one after: not thousands, and virtual time moved 30 s.
    assert len(looks) <= 2
    assert clock.now() - start <= timedelta(seconds=30)


def test_a_parent_idle_on_its_child_lets_the_childs_sleep_jump() -> None:
    clock = VirtualClock()
    start = clock.now()

    def child() -> None:
        with clock.participant():
            clock.sleep_in_turn(3600)

    with clock.participant(), clock.idle():
        started = time.monotonic()
        thread = _in_thread(child)
        thread.join(5)
    assert time.monotonic() - started < 2
    assert (clock.now() - start).total_seconds() == 3600


def test_a_turn_is_waited_for_no_longer_than_the_sleep_itself_in_real_time() -> None:
    """A participant that looks busy may be waiting on the sleeper: the wait is bounded, no deadlock."""
    clock = VirtualClock()
    start = clock.now()
    with clock.participant():
        other = threading.Event()

        def stuck() -> None:
            with clock.participant():
                other.wait(10)

        thread = _in_thread(stuck)
        began = time.monotonic()
        _in_thread(lambda: clock.sleep_in_turn(0.4)).join(5)
        waited = time.monotonic() - began
        other.set()
        thread.join(5)
    assert 0.3 <= waited < 3
    assert (clock.now() - start).total_seconds() >= 0.4


def test_a_plain_sleep_still_jumps_at_once() -> None:
    clock = VirtualClock()
    start = clock.now()
    with clock.participant():
        began = time.monotonic()
        clock.sleep(3600)
    assert time.monotonic() - began < 0.5
    assert (clock.now() - start).total_seconds() == 3600
