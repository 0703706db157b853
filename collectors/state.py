"""What the collector knows between polls: the last result and the state of every target.

Soft and hard states (as Nagios and Icinga name them): a target that fails once is ``soft_down``;
after ``failures_before_down`` consecutive failed polls it is ``hard_down``, and one good poll makes
it ``up`` again. Alerts page on ``hard_down`` (``fellesdrift_collector_target_state``), so one
lost packet pages nobody, while ``probe_success`` still shows every single poll as blackbox does.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from collectors.metrics import PROBE_DURATION, PROBE_SUCCESS, Result
from collectors.probes.base import Reason
from collectors.sharding import Shard
from collectors.targets import ConfigError, Target

log = logging.getLogger(__name__)

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0)


class State(StrEnum):
    UNKNOWN = "unknown"
    UP = "up"
    SOFT_DOWN = "soft_down"
    HARD_DOWN = "hard_down"


class Histogram:
    """Cumulative buckets, sum and count; guarded by the store's lock."""

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * len(buckets)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.sum += value
        self.count += 1
        for index, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[index] += 1


@dataclass
class TargetState:
    target: Target
    result: Result | None = None
    success: bool | None = None
    last_poll: float | None = None
    last_success: float | None = None
    consecutive_failures: int = 0
    state: State = State.UNKNOWN
    polls: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    last_reason: str = ""
    last_detail: str = ""
    running: int | None = None  # sequence number of the poll in flight
    started: float = 0.0  # monotonic start of the poll in flight
    deadline: float = 0.0  # monotonic deadline of the poll in flight


@dataclass(frozen=True)
class SourceStatus:
    ok: bool
    last_success: float | None
    message: str = ""


class Store:
    """Thread-safe state of all targets plus the collector's own counters."""

    def __init__(self, shard: Shard | None = None) -> None:
        self.lock = threading.Lock()
        self.shard = shard or Shard()
        self.targets: dict[str, TargetState] = {}
        self.poll_duration: dict[str, Histogram] = {}
        self.lag = Histogram(LAG_BUCKETS)
        self.skipped: Counter[str] = Counter()
        self.abandoned = 0
        self.config_errors: list[ConfigError] = []
        self.sources: dict[str, SourceStatus] = {}
        self._sequence = 0
        self.pool_stats: Callable[[], Any] | None = None  # the poll pool's PoolStats, if any
        self.worker: str | None = None  # the `worker` label of the collector's own series

    # -- targets -----------------------------------------------------------------------------
    def put(self, target: Target) -> None:
        with self.lock:
            entry = self.targets.get(target.key)
            if entry is None:
                self.targets[target.key] = TargetState(target)
            else:
                entry.target = target

    def remove(self, key: str) -> None:
        with self.lock:
            self.targets.pop(key, None)

    def get(self, key: str) -> TargetState | None:
        with self.lock:
            return self.targets.get(key)

    def snapshot(self) -> list[TargetState]:
        """Copies of every target's state (results themselves are never changed once stored).

        Only shallow copies of the fields are taken under the lock (a scrape of thousands of
        targets must not hold up the polls waiting for it); ``errors`` is copied on write by
        :meth:`_failed`, so sharing it is safe."""
        with self.lock:
            fields = [vars(entry).copy() for entry in self.targets.values()]
        return [TargetState(**entry) for entry in fields]

    # -- polls -------------------------------------------------------------------------------
    def begin(self, key: str, timeout: float) -> int | None:
        """Mark a poll of ``key`` as running; None if the target is gone or already running."""
        with self.lock:
            entry = self.targets.get(key)
            if entry is None or entry.running is not None:
                if entry is not None:
                    self.skipped["overlap"] += 1
                return None
            self._sequence += 1
            entry.running = self._sequence
            entry.started = time.monotonic()
            entry.deadline = entry.started + timeout
            return self._sequence

    def finish(
        self,
        key: str,
        sequence: int,
        out: Result,
        reason: Reason | None,
        detail: str,
        duration: float,
    ) -> bool:
        """Store the outcome of poll ``sequence``; False if it was already settled (abandoned)."""
        with self.lock:
            entry = self.targets.get(key)
            if entry is None or entry.running != sequence:
                return False
            entry.running = None
            out.set(PROBE_SUCCESS, 1 if reason is None else 0)
            exchange = out.exchange_seconds
            out.set(PROBE_DURATION, duration if exchange is None else min(exchange, duration))
            entry.result = out
            now = time.time()
            entry.last_poll, entry.polls = now, entry.polls + 1
            kind = entry.target.probe
            self.poll_duration.setdefault(kind, Histogram(DURATION_BUCKETS)).observe(duration)
            before = entry.state
            if reason is None:
                self._succeeded(entry, now)
            else:
                self._failed(entry, reason, detail)
            after = entry.state
        if before != after:
            _log_transition(entry.target, before, after, reason, detail)
        return True

    def _succeeded(self, entry: TargetState, now: float) -> None:
        entry.success, entry.last_success = True, now
        entry.consecutive_failures = 0
        entry.state = State.UP
        entry.last_reason, entry.last_detail = "", ""

    def _failed(self, entry: TargetState, reason: Reason, detail: str) -> None:
        entry.success = False
        entry.consecutive_failures += 1
        errors = Counter(entry.errors)  # a new Counter: snapshots share the old one
        errors[reason.value] += 1
        entry.errors = errors
        entry.last_reason, entry.last_detail = reason.value, detail
        hard = entry.consecutive_failures >= entry.target.failures_before_down
        entry.state = State.HARD_DOWN if hard else State.SOFT_DOWN

    def overdue(self, grace: float) -> list[tuple[str, int, float]]:
        """Polls still running ``grace`` seconds past their deadline: (key, sequence, runtime)."""
        now = time.monotonic()
        with self.lock:
            return [
                (key, e.running, now - e.started)
                for key, e in self.targets.items()
                if e.running is not None and now > e.deadline + grace
            ]

    def in_flight(self) -> int:
        with self.lock:
            return sum(1 for e in self.targets.values() if e.running is not None)

    def observe_lag(self, seconds: float) -> None:
        with self.lock:
            self.lag.observe(seconds)

    def count_skip(self, reason: str) -> None:
        with self.lock:
            self.skipped[reason] += 1

    def count_abandoned(self) -> None:
        with self.lock:
            self.abandoned += 1

    # -- configuration -----------------------------------------------------------------------
    def set_config(self, errors: list[ConfigError], sources: dict[str, SourceStatus]) -> None:
        with self.lock:
            self.config_errors = list(errors)
            self.sources = dict(sources)


def _log_transition(
    target: Target, before: State, after: State, reason: Reason | None, detail: str
) -> None:
    if after == State.UP:
        if before != State.UNKNOWN:
            log.info("%s is up again (was %s)", target.key, before.value)
    elif after == State.HARD_DOWN:
        log.warning("%s is down: %s (%s)", target.key, reason, detail)
    else:
        log.info("%s failed a poll: %s (%s)", target.key, reason, detail)
