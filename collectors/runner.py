"""Runs one poll of one target, whatever the probe does, and records the outcome.

The runner owns the contract's promises to the rest of the collector:

* ``probe_success`` and ``probe_duration_seconds`` are recorded here, never by probes;
* every poll ends by its deadline: probes get a :class:`Deadline`, and a watchdog settles a poll
  still running ``grace`` seconds after it as a ``timeout`` (the thread cannot be killed, so it is
  abandoned; its late result is dropped and counted in ``fellesdrift_collector_polls_abandoned``);
* a probe that raises anything is recorded as reason ``error`` with its traceback in the log, and
  the scheduler carries on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping

from collectors.metrics import Result
from collectors.probes.base import Deadline, Probe, ProbeError, Reason
from collectors.sharding import lag
from collectors.state import Store

log = logging.getLogger(__name__)


class Runner:
    def __init__(self, store: Store, probes: Mapping[str, Probe], grace: float = 1.0) -> None:
        self.store = store
        self.probes = probes
        self.grace = grace
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None

    def poll(self, key: str) -> None:
        """One poll of target ``key`` (the scheduler's job function). Never raises."""
        entry = self.store.get(key)
        if entry is None:
            return  # removed by a reload since this run was planned
        target = entry.target
        self.store.observe_lag(lag(key, target.interval, time.time()))
        sequence = self.store.begin(key, target.timeout)
        if sequence is None:
            return
        out, reason, detail = Result(), None, ""
        started = time.perf_counter()
        try:
            self.probes[target.probe].run(
                target.address, target.options, Deadline(target.timeout), out
            )
        except ProbeError as error:
            reason, detail = error.reason, error.detail
        except Exception as exc:  # a bug in a probe must not stop the others
            log.exception("probe %s raised on %s", target.probe, target.address)
            reason, detail = Reason.ERROR, f"{type(exc).__name__}: {exc}"
        duration = time.perf_counter() - started
        if reason is None and duration > target.timeout:
            reason, detail = (
                Reason.TIMEOUT,
                f"answered after {duration:.2f}s (timeout {target.timeout:g}s)",
            )
        if not self.store.finish(key, sequence, out, reason, detail, duration):
            log.info("late result of an abandoned poll of %s dropped", key)

    def settle_overdue(self) -> int:
        """Record polls stuck past their deadline as timeouts; returns how many."""
        settled = 0
        for key, sequence, runtime in self.store.overdue(self.grace):
            detail = f"probe still running after {runtime:.1f}s; abandoned by the runner"
            if self.store.finish(key, sequence, Result(), Reason.TIMEOUT, detail, runtime):
                self.store.count_abandoned()
                log.warning("%s: %s", key, detail)
                settled += 1
        return settled

    def start_watchdog(self, period: float = 0.2) -> None:
        def loop() -> None:
            while not self._stop.wait(period):
                try:
                    self.settle_overdue()
                except Exception:  # the watchdog must outlive any surprise
                    log.exception("watchdog pass failed")

        self._watchdog = threading.Thread(target=loop, name="collector-watchdog", daemon=True)
        self._watchdog.start()

    def stop(self) -> None:
        self._stop.set()
        if self._watchdog is not None:
            self._watchdog.join(timeout=5)
