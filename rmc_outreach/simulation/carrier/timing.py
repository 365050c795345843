"""Simulated seconds to real seconds, interruptible waits, and a timer for delayed events.

Every duration in the simulator is in simulated seconds and is slept as ``simulated / rate`` real
seconds. The rate is the shared simulated clock's (``RMC_CLOCK=simulated``), 1.0 on the real
clock, or a fixed ``time_scale`` given at start (tests).

Delayed events (SMS delivery, replies) are due at a simulated moment, so when the demo's shared
clock jumps over a night the replies due in it happen at once, as they would have.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor

from rmc_outreach import clock

log = logging.getLogger(__name__)


class SimTime:
    """How fast simulated time runs, and waits measured in simulated seconds."""

    def __init__(self, time_scale: float | None = None) -> None:
        if time_scale is not None and time_scale <= 0:
            raise ValueError("time scale must be positive")
        self._time_scale = time_scale

    @property
    def rate(self) -> float:
        """Simulated seconds per real second."""
        if self._time_scale is not None:
            return self._time_scale
        shared = clock.simulated_clock()
        return shared.rate if shared is not None else 1.0

    def now_s(self) -> float:
        """Simulated time in seconds: the shared clock's, or (with a time scale) a private one."""
        if self._time_scale is not None:
            return time.monotonic() * self._time_scale
        return clock.now().timestamp()

    def real_seconds(self, simulated_s: float) -> float:
        """Real seconds that ``simulated_s`` simulated seconds take."""
        return max(0.0, simulated_s) / self.rate

    def wait(self, simulated_s: float, interrupt: threading.Event) -> float:
        """Wait up to ``simulated_s``; return the simulated seconds that passed (less if woken)."""
        rate = self.rate
        started = time.monotonic()
        interrupt.wait(max(0.0, simulated_s) / rate)
        if not interrupt.is_set():
            return max(0.0, simulated_s)
        return min(max(0.0, simulated_s), (time.monotonic() - started) * rate)


class Scheduler:
    """Runs callables after a simulated delay on an executor; one timer thread for all of them.

    The timer wakes at least every ``RECHECK_S`` real seconds to notice a jump of the clock.
    """

    RECHECK_S = 0.25

    def __init__(self, sim_time: SimTime, executor: Executor) -> None:
        self._sim_time = sim_time
        self._executor = executor
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._counter = itertools.count()
        self._condition = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="carrier-scheduler", daemon=True)
        self._thread.start()

    def call_later(self, simulated_s: float, action: Callable[[], None]) -> None:
        """Run ``action`` on the executor once ``simulated_s`` simulated seconds have passed."""
        due = self._sim_time.now_s() + max(0.0, simulated_s)
        with self._condition:
            if self._stopped:
                return
            heapq.heappush(self._heap, (due, next(self._counter), action))
            self._condition.notify()

    def pending(self) -> int:
        """How many actions are waiting for their time."""
        with self._condition:
            return len(self._heap)

    def stop(self) -> None:
        """Drop everything still waiting and end the timer thread."""
        with self._condition:
            self._stopped = True
            self._heap.clear()
            self._condition.notify()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._stopped and (
                    not self._heap or self._heap[0][0] > self._sim_time.now_s()
                ):
                    timeout = None
                    if self._heap:
                        to_go = self._heap[0][0] - self._sim_time.now_s()
                        timeout = min(self.RECHECK_S, self._sim_time.real_seconds(to_go))
                    self._condition.wait(timeout)
                if self._stopped:
                    return
                _, _, action = heapq.heappop(self._heap)
            try:
                self._executor.submit(action)
            except RuntimeError:  # the executor is shutting down
                log.debug("scheduler: executor closed, dropping a delayed action")
                return
