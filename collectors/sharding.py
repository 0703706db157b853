"""Stable hashes: which collector polls a target (``--shard i/N``) and when in its interval.

Sharding is Prometheus's ``hashmod`` on the target address: the MD5 digest of the address, its
last 8 bytes read as a big-endian unsigned integer, modulo N. Collector ``i`` of ``N`` polls
the targets whose value is ``i``. The same split in a Prometheus relabel rule::

    - source_labels: [__address__]
      modulus: N
      target_label: __tmp_shard
      action: hashmod

Every probe of one address lands on the same collector. Changing N moves most targets (as with
hashmod): change it in a quiet moment, all collectors together.

Spread: each target polls at a fixed offset within its interval, taken from a different hash of
its key, so N collectors restarted together never storm, and a restart keeps the rhythm.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass

_SHARD = re.compile(r"^(\d+)/(\d+)$")


def hashmod(value: str, modulus: int) -> int:
    """Prometheus ``hashmod``: md5, last 8 bytes big-endian, modulo ``modulus``."""
    digest = hashlib.md5(value.encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[8:], "big") % modulus


@dataclass(frozen=True)
class Shard:
    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index}/{self.count}: need 0 <= i < N")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"i/N"`` with 0 <= i < N, e.g. ``0/3``, ``1/3``, ``2/3``."""
        match = _SHARD.match(text.strip())
        if not match:
            raise ValueError(f"shard {text!r}: expected i/N, e.g. 0/2")
        return cls(int(match.group(1)), int(match.group(2)))

    def part(self, worker: Shard) -> Shard:
        """Worker ``j`` of ``W`` of this shard ``i/N``: the targets whose hashmod by N*W is
        i + N*j. hashmod(a, N*W) mod N == hashmod(a, N), so the W parts split this shard."""
        return Shard(self.index + self.count * worker.index, self.count * worker.count)

    def owns(self, address: str) -> bool:
        return self.count == 1 or hashmod(address, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def phase(key: str, interval: float) -> float:
    """The target's fixed offset in [0, interval): polls happen at k * interval + phase."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * interval


def first_run(key: str, interval: float, now: float) -> float:
    """The first poll time after ``now`` (Unix seconds) on the target's rhythm."""
    start = math.floor(now / interval) * interval + phase(key, interval)
    return start if start > now else start + interval


def lag(key: str, interval: float, now: float) -> float:
    """How long after its planned time a poll starting at ``now`` starts (modulo the interval).
    The scheduler keeps times in microseconds, so a poll a hair early counts as on time."""
    late = (now - phase(key, interval)) % interval
    return 0.0 if interval - late < 0.01 else late
