"""What to poll: targets from a YAML file and the inventory feed, validated one entry at a time.

A bad entry never stops the others: it becomes a :class:`ConfigError` naming the entry (its
target address, or its position), which the collector logs and exposes as
``fellesdrift_collector_config_errors``.

The YAML file (all keys optional)::

    defaults:                 # for every target, file and inventory alike
      interval_seconds: 60
      timeout_seconds: 10
      failures_before_down: 3 # consecutive failed polls before the target is "hard down"
      labels: {}
    modules:                  # named option sets, like blackbox_exporter's modules
      http:                   # a module named after a kind is that kind's default
        probe: http
        options: {valid_status_codes: [200, 204]}
      intranett:
        probe: http
        options: {fail_if_body_not_matches_regexp: ["Velkommen"]}
    targets:
      - target: https://intranett.example.kommune.no/
        module: intranett     # or `probe: http` for the kind's default module
        options: {}           # merged over the module's options
        interval_seconds: 30
        timeout_seconds: 5
        labels: {kommune: lillesand, ci: CI-0042, service: Intranett, criticality: high}

Inventory (Prometheus HTTP-SD) groups give ``probe`` and the other labels, and the hidden labels
``__interval_seconds``, ``__timeout_seconds`` and optionally ``__module``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from collectors.metrics import reserved_label_names, valid_label_name
from collectors.probes.base import Probe, ProbeOptions

FILE, INVENTORY = "file", "inventory"


@dataclass(frozen=True)
class Target:
    """One thing to poll. ``key`` identifies it across reloads (kind, module and address)."""

    address: str
    probe: str
    module: str
    options: ProbeOptions
    interval: float
    timeout: float
    failures_before_down: int
    labels: tuple[tuple[str, str], ...]
    source: str

    @property
    def key(self) -> str:
        return f"{self.probe}/{self.module}/{self.address}"

    @property
    def label_dict(self) -> dict[str, str]:
        return dict(self.labels)


@dataclass(frozen=True)
class ConfigError:
    source: str
    entry: str
    message: str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Defaults(_Strict):
    interval_seconds: float = Field(default=60.0, ge=1, le=86400)
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    failures_before_down: int = Field(default=3, ge=1, le=100)
    labels: dict[str, str] = Field(default_factory=dict)


class Module(_Strict):
    probe: str
    options: dict[str, Any] = Field(default_factory=dict)


class FileEntry(_Strict):
    target: str = Field(min_length=1)
    probe: str | None = None
    module: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    interval_seconds: float | None = Field(default=None, ge=1, le=86400)
    timeout_seconds: float | None = Field(default=None, gt=0, le=300)
    failures_before_down: int | None = Field(default=None, ge=1, le=100)
    labels: dict[str, str] = Field(default_factory=dict)


class FileLayout(_Strict):
    defaults: Defaults = Field(default_factory=Defaults)
    modules: dict[str, Any] = Field(default_factory=dict)
    targets: list[Any] = Field(default_factory=list)


def explain(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        parts.append(f"{where}: {error['msg']}" if where else str(error["msg"]))
    return "; ".join(parts)


@dataclass
class TargetSet:
    """The outcome of one load: valid targets by key, and the entries that were rejected."""

    targets: dict[str, Target] = field(default_factory=dict)
    errors: list[ConfigError] = field(default_factory=list)

    def add(self, target: Target) -> None:
        other = self.targets.get(target.key)
        if other is not None:
            message = f"duplicate of an entry from {other.source} ({target.key})"
            self.errors.append(ConfigError(target.source, target.address, message))
            return
        self.targets[target.key] = target


class Builder:
    """Turns raw entries into Targets, using the probe kinds and the file's modules."""

    def __init__(self, probes: Mapping[str, Probe], layout: FileLayout | None = None) -> None:
        self.probes = probes
        self.layout = layout or FileLayout()
        self.defaults = self.layout.defaults
        self.modules: dict[str, Module] = {}
        self.module_errors: dict[str, str] = {}
        for name, raw in self.layout.modules.items():
            try:
                module = Module.model_validate(raw)
                if module.probe not in probes:
                    raise ValueError(f"unknown probe kind {module.probe!r}")
                _check_module_options(probes[module.probe], module.options)
            except ValidationError as exc:
                self.module_errors[name] = explain(exc)
            except ValueError as exc:
                self.module_errors[name] = str(exc)
            else:
                self.modules[name] = module

    def module_config_errors(self) -> list[ConfigError]:
        return [ConfigError(FILE, f"module {n}", m) for n, m in self.module_errors.items()]

    def _module(self, probe: str | None, module: str | None) -> tuple[str, Module]:
        name = module or probe
        if name is None:
            raise ValueError("needs `probe` or `module`")
        if name in self.module_errors:
            raise ValueError(f"module {name!r} is invalid: {self.module_errors[name]}")
        found = self.modules.get(name)
        if found is None:
            if name not in self.probes:
                raise ValueError(f"unknown module or probe kind {name!r}")
            found = Module(probe=name)
        if probe is not None and found.probe != probe:
            raise ValueError(f"module {name!r} is for probe {found.probe!r}, not {probe!r}")
        return name, found

    def build(
        self,
        *,
        address: str,
        source: str,
        probe: str | None,
        module: str | None = None,
        options: Mapping[str, Any] | None = None,
        interval: float | None = None,
        timeout: float | None = None,
        failures_before_down: int | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Target:
        """A validated Target, or ValueError saying what is wrong with the entry."""
        module_name, found = self._module(probe, module)
        kind = self.probes[found.probe]
        try:
            parsed = kind.options_model.model_validate({**found.options, **(options or {})})
        except ValidationError as exc:
            raise ValueError(f"options: {explain(exc)}") from None
        kind.check_target(address, parsed)
        interval = interval if interval is not None else self.defaults.interval_seconds
        if timeout is None:  # like Prometheus: a default timeout never exceeds the interval
            timeout = min(self.defaults.timeout_seconds, interval)
        if not 1 <= interval <= 86400 or not 0 < timeout <= 300:
            raise ValueError(f"interval {interval:g}s or timeout {timeout:g}s out of range")
        if timeout > interval:
            raise ValueError(f"timeout {timeout:g}s is longer than the interval {interval:g}s")
        # `module` beside `probe`: two modules polling one address export different series, so
        # neither result hides the other (blackbox's `module` parameter does the same).
        merged = {
            **self.defaults.labels,
            **(labels or {}),
            "probe": found.probe,
            "module": module_name,
        }
        check_labels(merged)
        return Target(
            address=address,
            probe=found.probe,
            module=module_name,
            options=parsed,
            interval=float(interval),
            timeout=float(timeout),
            failures_before_down=failures_before_down or self.defaults.failures_before_down,
            labels=tuple(sorted(merged.items())),
            source=source,
        )


def _check_module_options(probe: Probe, options: Mapping[str, Any]) -> None:
    """A module may leave required options (a dns ``query_name``) to its targets; anything
    else wrong in it is an error of the module."""
    try:
        probe.options_model.model_validate(options)
    except ValidationError as exc:
        wrong = [e for e in exc.errors() if e["type"] != "missing"]
        if wrong:
            parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in wrong]
            raise ValueError("; ".join(parts)) from None


def check_labels(labels: Mapping[str, str]) -> None:
    reserved = reserved_label_names()
    for name, value in labels.items():
        if not valid_label_name(name):
            raise ValueError(f"label name {name!r} is not a valid Prometheus label name")
        if name in reserved:
            raise ValueError(f"label {name!r} is used by the metrics themselves")
        if not isinstance(value, str):
            raise ValueError(f"label {name!r} must be a string")


def load_file_entries(builder: Builder, raw_targets: Iterable[Any], into: TargetSet) -> None:
    for index, raw in enumerate(raw_targets):
        name = raw.get("target") if isinstance(raw, dict) else None
        entry_name = str(name) if name else f"targets[{index}]"
        try:
            entry = FileEntry.model_validate(raw)
            into.add(
                builder.build(
                    address=entry.target,
                    source=FILE,
                    probe=entry.probe,
                    module=entry.module,
                    options=entry.options,
                    interval=entry.interval_seconds,
                    timeout=entry.timeout_seconds,
                    failures_before_down=entry.failures_before_down,
                    labels=entry.labels,
                )
            )
        except ValidationError as exc:
            into.errors.append(ConfigError(FILE, entry_name, explain(exc)))
        except ValueError as exc:
            into.errors.append(ConfigError(FILE, entry_name, str(exc)))


def load_http_sd(builder: Builder, groups: Any, into: TargetSet) -> None:
    """Targets from Prometheus HTTP-SD JSON (a list of {targets, labels} groups)."""
    if not isinstance(groups, list):
        raise ValueError("expected a JSON list of target groups")
    for index, group in enumerate(groups):
        labels = group.get("labels", {}) if isinstance(group, dict) else None
        addresses = group.get("targets") if isinstance(group, dict) else None
        if not isinstance(labels, dict) or not isinstance(addresses, list):
            message = "a group needs a `targets` list and a `labels` object"
            into.errors.append(ConfigError(INVENTORY, f"group {index}", message))
            continue
        for address in addresses:
            _load_sd_target(builder, str(address), labels, into)


def _load_sd_target(
    builder: Builder, address: str, labels: dict[str, Any], into: TargetSet
) -> None:
    visible = {k: str(v) for k, v in labels.items() if not str(k).startswith("__")}
    try:
        into.add(
            builder.build(
                address=address,
                source=INVENTORY,
                probe=visible.get("probe") or None,
                module=labels.get("__module") or None,
                interval=_number(labels, "__interval_seconds"),
                timeout=_number(labels, "__timeout_seconds"),
                labels=visible,
            )
        )
    except ValueError as exc:
        into.errors.append(ConfigError(INVENTORY, address, str(exc)))


def _number(labels: Mapping[str, Any], name: str) -> float | None:
    value = labels.get(name)
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, not {value!r}") from None
