"""The inventory feed: monitored CIs in Prometheus HTTP service-discovery format.

Prometheus (``http_sd_configs``) and the collectors both read it. Each group is
``{"targets": [...], "labels": {...}}`` with the labels kommune, kommuner, ci, ci_kind, service,
criticality and probe, plus ``__``-prefixed hints (interval and timeout) that the collectors use
and Prometheus drops after relabelling.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from sqlmodel import Session, col, select

from register.choices import Lifecycle
from register.models import CIUsage, ConfigItem, Kommune, MonitorTarget

SHARED = "felles"
_LABEL_VALUE = re.compile(r"[\x00-\x1f]")


def _clean(value: str) -> str:
    return _LABEL_VALUE.sub(" ", value)


def http_sd_groups(session: Session) -> list[dict[str, Any]]:
    rows = session.exec(
        select(MonitorTarget, ConfigItem)
        .join(ConfigItem, col(ConfigItem.id) == MonitorTarget.ci_id)
        .where(
            col(MonitorTarget.enabled).is_(True), ConfigItem.lifecycle != Lifecycle.RETIRED.value
        )
        .order_by(ConfigItem.key, MonitorTarget.probe, MonitorTarget.target)
    ).all()
    slugs = {k.id: k.slug for k in session.exec(select(Kommune))}
    users: dict[int, list[str]] = defaultdict(list)
    for usage in session.exec(select(CIUsage).order_by(col(CIUsage.kommune_id))):
        if usage.kommune_id in slugs:
            users[usage.ci_id].append(slugs[usage.kommune_id])
    groups: dict[tuple[tuple[str, str], ...], list[str]] = {}
    for target, ci in rows:
        owner = slugs.get(ci.owner_kommune_id) if ci.owner_kommune_id else None
        kommuner = sorted(set(users.get(ci.id, [])) | ({owner} if owner else set()))  # type: ignore[arg-type]
        labels = {
            "kommune": owner or (kommuner[0] if len(kommuner) == 1 else SHARED),
            # Commas on both ends make a regex match easy: kommuner=~".*,vennesla,.*"
            "kommuner": "," + ",".join(kommuner) + "," if kommuner else "",
            "ci": ci.key,
            "ci_kind": ci.kind,
            "service": _clean(ci.service or ci.name),
            "criticality": ci.criticality,
            "probe": target.probe,
            "__interval_seconds": str(target.interval_seconds),
            "__timeout_seconds": str(target.timeout_seconds),
        }
        groups.setdefault(tuple(sorted(labels.items())), []).append(target.target)
    return [{"targets": targets, "labels": dict(key)} for key, targets in groups.items()]
