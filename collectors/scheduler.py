"""The collector service: loads targets, polls them on schedule, keeps results.

* Each target polls at a stable offset within its interval (``sharding.phase``), from one timer
  thread (``collectors.timer``): the first polls spread over the whole interval, and a restart
  keeps each target's rhythm. A target whose previous poll is still running skips a turn.
* Polls run in an adaptive pool (``collectors.pool``): at most ``concurrency`` polls are active,
  and a poll still running after ``slow_after`` seconds (waiting on a slow or hung peer) frees its
  slot, so hung targets never fill the pool nor delay anyone else. Every probe honours its
  deadline and the runner's watchdog settles any that does not.
* Reloads are APScheduler jobs in their own single-thread pool, so polling never waits for a
  slow feed.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path

from apscheduler.events import EVENT_JOB_ERROR, JobEvent, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from collectors.pool import AdaptivePool
from collectors.probes import ProbeEnv, build_probes
from collectors.probes.base import Probe
from collectors.runner import Runner
from collectors.sharding import Shard
from collectors.sources import InventoryClient, TargetLoader, errors_for
from collectors.state import Store
from collectors.targets import Target
from collectors.timer import Timer

log = logging.getLogger(__name__)
CONFIG_JOBS = ("config:file", "config:inventory")


@dataclass
class Settings:
    targets_file: Path | None = None
    inventory_url: str | None = None
    inventory_token_file: Path | None = None
    shard: Shard = field(default_factory=Shard)
    worker: Shard | None = None  # j/W: this process polls part j of W of the shard (--workers)
    concurrency: int = 64  # active polls at once; slow ones (past slow_after) do not count
    slow_after: float = 0.25
    max_threads: int = 1024
    file_check_seconds: float = 5.0
    inventory_refresh_seconds: float = 60.0
    grace: float = 1.0
    env: ProbeEnv = field(default_factory=ProbeEnv)


class CollectorService:
    def __init__(self, settings: Settings, probes: dict[str, Probe] | None = None) -> None:
        if not settings.targets_file and not settings.inventory_url:
            raise ValueError("give a targets file, an inventory URL, or both")
        self.settings = settings
        self.probes = probes if probes is not None else build_probes(settings.env)
        self.store = Store(settings.shard)
        self.owner = settings.shard.part(settings.worker) if settings.worker else settings.shard
        self.store.worker = str(settings.worker.index) if settings.worker else None
        self.pool = AdaptivePool(settings.concurrency, settings.slow_after, settings.max_threads)
        self.store.pool_stats = self.pool.stats
        self.runner = Runner(self.store, self.probes, settings.grace)
        inventory = (
            InventoryClient(settings.inventory_url, settings.inventory_token_file)
            if settings.inventory_url
            else None
        )
        self.loader = TargetLoader(self.probes, settings.targets_file, inventory)
        self._config_lock = threading.Lock()
        self.timer = Timer(self.pool.submit, self.runner.poll, self.store.count_skip)
        self.scheduler = BackgroundScheduler(  # the configuration jobs; polls run on the timer
            timezone=UTC,
            executors={"config": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1},
        )
        self.scheduler.add_listener(self._on_event, EVENT_JOB_ERROR)

    # -- life cycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Load the targets once (so /metrics knows them at once) and start polling."""
        with self._config_lock:
            self.loader.refresh_file()
            self.loader.refresh_inventory()
            self._apply()
        self.scheduler.start()
        self.timer.start()
        s = self.settings
        if s.targets_file:
            self.scheduler.add_job(
                self.check_file,
                "interval",
                seconds=s.file_check_seconds,
                id=CONFIG_JOBS[0],
                executor="config",
            )
        if s.inventory_url:
            self.scheduler.add_job(
                self.refresh_inventory,
                "interval",
                seconds=s.inventory_refresh_seconds,
                id=CONFIG_JOBS[1],
                executor="config",
            )
        self.runner.start_watchdog()
        log.info("collector shard %s started with %d targets", s.shard, len(self.store.targets))

    def stop(self) -> None:
        self.scheduler.shutdown(wait=False)
        self.timer.stop()
        self.pool.shutdown()
        self.runner.stop()
        for probe in self.probes.values():
            probe.close()
        self.loader.close()

    # -- configuration -----------------------------------------------------------------------
    def check_file(self) -> None:
        """Reload if the targets file changed (a scheduled job; also callable directly)."""
        with self._config_lock:
            if self.loader.file_changed():
                log.info("targets file changed, reloading")
                self.loader.refresh_file()
                self._apply()

    def refresh_inventory(self) -> None:
        with self._config_lock:
            if self.loader.refresh_inventory():
                self._apply()
            else:
                self._publish_status()

    def reload(self) -> None:
        """Re-read every source now (SIGHUP)."""
        with self._config_lock:
            self.loader.refresh_file()
            self.loader.refresh_inventory()
            self._apply()

    def _publish_status(self) -> None:
        with self.store.lock:
            errors = list(self.store.config_errors)
        self.store.set_config(errors, self.loader.status)

    def _apply(self) -> None:
        result = self.loader.build()
        shard = self.owner
        wanted = {k: t for k, t in result.targets.items() if shard.owns(t.address)}
        self.store.set_config(errors_for(result.errors, shard.owns), self.loader.status)
        current = {entry.target.key: entry.target for entry in self.store.snapshot()}
        for key in current.keys() - wanted.keys():
            self._remove(current[key])
        for key, target in wanted.items():
            old = current.get(key)
            if old is None:
                self.store.put(target)
                self._schedule(target)
            elif old != target:
                self.store.put(target)
                if old.interval != target.interval:
                    self._schedule(target)
                if old.options != target.options:
                    self.probes[old.probe].release(old.address, old.options)

    def pause(self, paused: bool = True) -> None:
        """Start no polls (or start again); polls running go on to their end."""
        self.timer.pause(paused)

    def _schedule(self, target: Target) -> None:
        self.timer.add(target.key, target.interval)

    def _remove(self, target: Target) -> None:
        self.timer.remove(target.key)
        self.store.remove(target.key)
        self.probes[target.probe].release(target.address, target.options)

    def _on_event(self, event: JobEvent) -> None:
        if isinstance(event, JobExecutionEvent) and event.exception is not None:
            log.error("%s failed: %r", event.job_id, event.exception)
