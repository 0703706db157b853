"""An adaptive pool for polls: a hung target cannot fill it, so it never starves the others.

A fixed thread pool is filled by hung targets: each holds a thread until its timeout, and 150 of
them at a 10 s timeout keep 100 threads busy on average. Polls wait on the network, not the CPU,
so the pool bounds what costs CPU instead:

* at most ``limit`` polls are *active* (started less than ``slow_after`` seconds ago). A poll still
  running after ``slow_after`` is waiting on a slow or hung peer: it leaves the count and the next
  poll starts, on a new thread if no idle one is left;
* ``max_threads`` caps the threads (a bound on memory and file descriptors), far above what
  hung targets can hold: every poll ends by its deadline, so at most targets x timeout / interval
  polls are slow at once;
* idle threads end after ``idle_seconds``.

Polls that find no slot wait in order; their wait shows as scheduler lag, and the pool's state
as ``fellesdrift_collector_polls_waiting``, ``..._polls_slow`` and ``..._poll_threads``.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)
Work = Callable[[], None]


@dataclass(frozen=True)
class PoolStats:
    active: int  # polls started less than slow_after ago
    slow: int  # polls running longer than slow_after (waiting on the network)
    waiting: int  # polls waiting for a slot
    threads: int
    limit: int


class _Worker:
    def __init__(self) -> None:
        self.inbox: queue.SimpleQueue[tuple[int, Work] | None] = queue.SimpleQueue()


class AdaptivePool:
    def __init__(
        self,
        limit: int = 64,
        slow_after: float = 0.25,
        max_threads: int = 1024,
        idle_seconds: float = 30.0,
    ) -> None:
        if limit < 1 or max_threads < limit:
            raise ValueError("need 1 <= limit <= max_threads")
        self.limit, self.slow_after = limit, slow_after
        self.max_threads, self.idle_seconds = max_threads, idle_seconds
        self._cond = threading.Condition()
        self._waiting: deque[Work] = deque()
        self._idle: list[_Worker] = []
        self._started: dict[int, float] = {}  # active polls: ticket -> monotonic start
        self._slow = 0
        self._threads = 0
        self._tickets = itertools.count()
        self._closed = False
        self._monitor = threading.Thread(target=self._watch, name="pool-monitor", daemon=True)
        self._monitor.start()

    def submit(self, work: Work) -> None:
        with self._cond:
            if self._closed:
                raise RuntimeError("pool is shut down")
            self._waiting.append(work)
            self._dispatch()
            if self._waiting:
                self._cond.notify_all()  # the monitor frees slots held by slow polls

    def stats(self) -> PoolStats:
        with self._cond:
            return PoolStats(
                len(self._started), self._slow, len(self._waiting), self._threads, self.limit
            )

    def shutdown(self) -> None:
        with self._cond:
            self._closed = True
            self._waiting.clear()
            for worker in self._idle:
                worker.inbox.put(None)
            self._idle.clear()
            self._cond.notify_all()

    # -- under the lock ----------------------------------------------------------------------
    def _dispatch(self) -> None:
        while self._waiting and len(self._started) < self.limit:
            if self._idle:
                worker = self._idle.pop()
            elif self._threads < self.max_threads:
                worker = _Worker()
                self._threads += 1
                threading.Thread(target=self._serve, args=(worker,), daemon=True).start()
            else:
                return
            ticket = next(self._tickets)
            self._started[ticket] = time.monotonic()
            worker.inbox.put((ticket, self._waiting.popleft()))

    def _release_slow(self) -> float | None:
        """Move polls past slow_after out of the active count; seconds until the next one is."""
        now, wake = time.monotonic(), None
        for ticket, started in list(self._started.items()):
            left = started + self.slow_after - now
            if left <= 0:
                del self._started[ticket]
                self._slow += 1
            elif wake is None or left < wake:
                wake = left
        return wake

    # -- threads -----------------------------------------------------------------------------
    def _watch(self) -> None:
        with self._cond:
            while not self._closed:
                if not self._waiting:
                    self._cond.wait()
                    continue
                wake = self._release_slow()
                self._dispatch()
                self._cond.wait(wake if wake is not None else self.slow_after)

    def _serve(self, worker: _Worker) -> None:
        while True:
            try:
                item = worker.inbox.get(timeout=self.idle_seconds)
            except queue.Empty:
                with self._cond:
                    if worker in self._idle:  # nobody handed it work meanwhile: end
                        self._idle.remove(worker)
                        self._threads -= 1
                        return
                item = worker.inbox.get()  # handed work under the lock: it is there
            if item is None:
                with self._cond:
                    self._threads -= 1
                return
            ticket, work = item
            try:
                work()
            except Exception:  # the runner never raises; this is a last line of defence
                log.exception("poll raised")
            with self._cond:
                if self._started.pop(ticket, None) is None:
                    self._slow -= 1
                if self._closed:
                    self._threads -= 1
                    return
                self._idle.append(worker)
                self._dispatch()
