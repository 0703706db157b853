"""From an alert's labels to the CI it concerns, the kommuner it affects and a priority.

Prometheus keeps the labels the inventory feed put on each target (``ci``, ``kommune``,
``kommuner``, ``service``, ``criticality``; see register/service/inventory.py), and the
collectors' series carry them too (``honor_labels``), so an alert on a monitored system names
its CI by key. Alerts from elsewhere are matched by ``instance`` (a monitoring target's address,
or a CI's address) and then by ``service``. The register, not the label, is the truth for
criticality and kommuner: a label can be stale, the register is what the desk acts on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlmodel import Session, col, select

from fellesdrift.kernel.types import utcnow
from register.models import CIUsage, ConfigItem, Kommune, MonitorTarget

#: Impact (1 extensive .. 4 minor) of an outage of a CI of each criticality.
IMPACT = {"critical": 1, "high": 2, "medium": 3, "low": 4}
#: Urgency (1 critical .. 4 low) by the alert's ``severity`` label; 2 without one: something is
#: failing now.
URGENCY = {"critical": 1, "page": 1, "error": 2, "warning": 3, "info": 4, "none": 4}
DEFAULT_URGENCY = 2


@dataclass
class Match:
    """What an alert is about. ``ci`` is None when no CI matched its labels."""

    ci: ConfigItem | None
    #: How the CI was found: "ci", "instance", "address", "service" (or "" if not).
    matched_by: str = ""
    kommune_ids: list[int] = field(default_factory=list)
    impact: int = 3
    urgency: int = DEFAULT_URGENCY

    @property
    def shared(self) -> bool:
        return len(self.kommune_ids) > 1


def find_ci(session: Session, labels: dict[str, str]) -> tuple[ConfigItem | None, str]:
    if key := labels.get("ci"):
        ci = session.exec(select(ConfigItem).where(ConfigItem.key == key)).first()
        if ci is not None:
            return ci, "ci"
    if instance := labels.get("instance"):
        by_instance = _by_instance(session, instance)
        if by_instance is not None:
            return by_instance
    if service := labels.get("service"):
        found = session.exec(select(ConfigItem).where(ConfigItem.service == service)).all()
        if len(found) == 1:  # several systems of one service: no guessing
            return found[0], "service"
    return None, ""


def _by_instance(session: Session, instance: str) -> tuple[ConfigItem, str] | None:
    targets = select(MonitorTarget.ci_id).where(MonitorTarget.target == instance).distinct()
    ci_ids = list(session.exec(targets).all())
    if len(ci_ids) == 1:
        ci = session.get(ConfigItem, ci_ids[0])
        if ci is not None:
            return ci, "instance"
    host = _host_of(instance)
    candidates = {instance, host} - {""}
    found = session.exec(select(ConfigItem).where(col(ConfigItem.address).in_(candidates))).all()
    return (found[0], "address") if len(found) == 1 else None


def _host_of(instance: str) -> str:
    """``host`` of ``host:port``, ``[v6]:port``, ``user@host:22`` or a URL."""
    if "://" in instance:
        return urlsplit(instance).hostname or ""
    rest = instance.rsplit("@", 1)[-1]
    if rest.startswith("["):
        return rest[1:].split("]", 1)[0]
    return rest.rsplit(":", 1)[0] if rest.count(":") == 1 else rest


def affected_kommuner(session: Session, ci: ConfigItem) -> list[int]:
    """The owner and every user of the CI, each ended kommune replaced by its successor."""
    ids = set(session.exec(select(CIUsage.kommune_id).where(CIUsage.ci_id == ci.id)).all())
    if ci.owner_kommune_id is not None:
        ids.add(ci.owner_kommune_id)
    return sorted({_current(session, k) for k in ids})


def _current(session: Session, kommune_id: int) -> int:
    today = utcnow().date()
    seen: set[int] = set()
    while kommune_id not in seen:
        seen.add(kommune_id)
        kommune = session.get(Kommune, kommune_id)
        if kommune is None or kommune.valid_to is None or kommune.valid_to >= today:
            break
        if kommune.successor_id is None:
            break
        kommune_id = kommune.successor_id
    return kommune_id


def kommune_by_slug(session: Session, slug: str) -> int | None:
    kommune = session.exec(select(Kommune).where(Kommune.slug == slug)).first()
    return _current(session, kommune.id) if kommune is not None and kommune.id else None


def match(session: Session, labels: dict[str, str]) -> Match:
    ci, how = find_ci(session, labels)
    urgency = URGENCY.get(labels.get("severity", "").lower(), DEFAULT_URGENCY)
    if ci is None:
        # No CI: the kommune label, if it names one, still routes the incident.
        slug = labels.get("kommune", "")
        kommune_id = kommune_by_slug(session, slug) if slug else None
        kommuner = [kommune_id] if kommune_id is not None else []
        return Match(None, "", kommuner, IMPACT["medium"], urgency)
    kommuner = affected_kommuner(session, ci)
    impact = IMPACT.get(ci.criticality, IMPACT["medium"])
    if len(kommuner) > 1:
        impact = max(1, impact - 1)  # several kommuner down at once: more extensive
    return Match(ci, how, kommuner, impact, urgency)
