"""The demo's service agreements: the unit's default agreement and one per kommune, with a
stricter level for life-and-health systems (on call round the clock) and finance systems
(the register's flags on each system). Run after the register's demo."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session, col, or_, select

from register.access import elevated
from register.models import ConfigItem, Kommune
from sla.importer import import_agreements
from sla.models import SlaAgreement
from sla.schemas import AgreementsIn

START = date(2024, 1, 1)
STANDARD = {
    "key": "standard",
    "name": "Standard",
    "calendar": "service_desk",
    "pause_on": ["user", "vendor", "approval"],
    "warn_at": [75, 100],
    "targets": {
        1: {"response": "30m", "resolution": "4h"},
        2: {"response": "1h", "resolution": "8h"},
        # Three and five working days of 7.5 hours.
        3: {"response": "4h", "resolution": 3 * 450},
        4: {"response": "8h", "resolution": 5 * 450},
    },
}
LIFE_AND_HEALTH = {
    "key": "liv-og-helse",
    "name": "Liv og helse (døgnvakt)",
    "calendar": "round_the_clock",
    "pause_on": ["vendor"],
    "warn_at": [50, 75, 100],
    "targets": {
        1: {"response": "15m", "resolution": "2h"},
        2: {"response": "1h", "resolution": "4h"},
        3: {"response": "2h", "resolution": "8h"},
        4: {"response": "4h", "resolution": "24h"},
    },
}
FINANCE = {
    "key": "okonomi",
    "name": "Økonomi og lønn",
    "calendar": "service_desk",
    "pause_on": ["vendor"],
    "warn_at": [75, 100],
    "targets": {
        1: {"response": "15m", "resolution": "2h"},
        2: {"response": "1h", "resolution": "4h"},
        3: {"response": "2h", "resolution": "8h"},
        4: {"response": "4h", "resolution": "16h"},
    },
}


def is_loaded(session: Session) -> bool:
    with elevated(session, "demo"):
        return session.exec(select(SlaAgreement.id)).first() is not None


def _services(session: Session) -> list[dict[str, Any]]:
    critical = session.exec(
        select(ConfigItem)
        .where(or_(col(ConfigItem.life_and_health), col(ConfigItem.finance_payroll)))
        .order_by(col(ConfigItem.key))
    ).all()
    return [
        {
            "system": ci.key,
            "level": "liv-og-helse" if ci.life_and_health else "okonomi",
            "availability": "99.9" if ci.life_and_health else "99.5",
        }
        for ci in critical
    ]


def model(session: Session) -> AgreementsIn:
    services = _services(session)
    agreements: list[dict[str, Any]] = [
        {
            "name": "Standardavtale fra 2024",
            "valid_from": START,
            "default_level": "standard",
            "closed_days": ["12-24", "12-31"],
            "leadership": ["driftsleder@knutepunkt.no"],
            "levels": [STANDARD],
            "note": "Gjelder alt en kommunes egen avtale ikke nevner.",
        }
    ]
    for k in session.exec(select(Kommune).order_by(col(Kommune.kommunenummer))):
        if k.valid_to is not None and k.valid_to < START:
            continue  # merged into its successor before the agreements began
        agreements.append(
            {
                "name": f"Tjenesteavtale {k.name}",
                "kommune": k.slug,
                "valid_from": max(START, k.valid_from),
                "valid_to": k.valid_to,
                "levels": [LIFE_AND_HEALTH, FINANCE],
                "services": services,
            }
        )
    return AgreementsIn.model_validate({"agreements": agreements})


def load(session: Session) -> None:
    """Store the demo agreements (as the system), unless there are some already."""
    with elevated(session, "demo"):
        if not is_loaded(session):
            import_agreements(session, model(session), filename="demo")
