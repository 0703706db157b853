"""Demo billing for the Knutepunkt Sørlandet kommuner of ``register.demo``: five since Søgne and
Songdalen became part of Kristiansand on 1 January 2020.

Two price-model versions (2025 and 2026) in all four categories with NOK amounts of the order a
unit of this size budgets (about 17 MNOK a year of shared infrastructure), a supplier outside
VAT (an intermunicipal unit commonly is), monthly counts from the registers and from a
generated AD/Intune export, a few purchases passed through at cost, and a year of invoice runs.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from sqlmodel import Session, col, select

from billing import counts, pricemodel, run
from billing.inputs import month_end
from billing.models import Purchase, Supplier
from register.models import Kommune

#: The drift unit as supplier; the numbers pass their MOD11 checks but are invented.
SUPPLIER = {
    "name": "Knutepunkt Sørlandet IKT",
    "orgnr": "998877660",
    "street": "Tollbodgata 2",
    "postal_code": "4611",
    "city": "Kristiansand",
    "email": "faktura@knutepunkt-ikt.no",
    "contact_name": "Frida Fakturaansvarlig",
    "vat_registered": False,
    "bank_account": "28011000004",
    "payment_days": 30,
}

_ELEMENTS = """
    elements:
      - code: infrastruktur
        category: 1
        service: Felles teknisk infrastruktur
        description: Serverrom, nettverkskjerne, AD, backup og overvåking
        annual_budget: "{infra}"
        key: {{mix: [{{key: equal, weight: 1/3}}, {{key: inhabitants, weight: 2/3}}]}}
      - code: fellessystemer
        category: 1
        service: Drift av fellessystemer
        monthly_amount: "{systems}"
        key: user_accounts
      - code: sikkerhet
        category: 1
        service: Informasjonssikkerhet
        annual_budget: "{security}"
        key: {{fixed: {{kristiansand: 73, birkenes: 5, lillesand: 8, vennesla: 12, iveland: 2}}}}
      - code: linje-kristiansand-radhus
        category: 2
        service: Fiberlinje Rådhuset Kristiansand
        monthly_amount: "4500.00"
        owner: {{kind: site, kommune: kristiansand, site: radhus}}
      - code: server-vennesla
        category: 2
        service: Dedikert server Vennesla
        monthly_amount: "2083.33"
        owner: {{kommune: vennesla}}
      - code: brukerkonto
        category: 3
        service: Brukerkonto
        count: user_accounts
        unit_price: "{account}"
      - code: klient
        category: 3
        service: PC/klient
        count: devices
        unit_price: "{device}"
      - code: postkasse
        category: 3
        service: E-postkasse
        count: mailboxes
        unit_price: "38.50"
      - code: lisens-sakarkiv
        category: 3
        service: Lisens sak/arkiv
        count: licences
        system: sakarkiv
        unit_price: "95.00"
      - code: konsulent
        category: 4
        service: Konsulenttimer
        rates: {{office_hours: "{hour}", after_hours: "{after}"}}
        rounding: up_per_entry
        rounding_minutes: 15
"""


def price_model_yaml() -> str:
    v2025 = _ELEMENTS.format(
        infra="13800000.00",
        systems="320000.00",
        security="2300000.00",
        account="40.00",
        device="160.00",
        hour="625.00",
        after="940.00",
    )
    v2026 = _ELEMENTS.format(
        infra="14400000.00",
        systems="335000.00",
        security="2400000.00",
        account="42.00",
        device="165.00",
        hour="650.00",
        after="975.00",
    )
    return (
        "versions:\n"
        "  - name: Prismodell 2025\n    valid_from: 2025-01-01\n    valid_to: 2025-12-31\n"
        "    inhabitants: [{date: 2025-01-01, figures: "
        + _figures()
        + "}]\n"
        + v2025
        + "  - name: Prismodell 2026\n    valid_from: 2026-01-01\n"
        "    inhabitants: [{date: 2026-01-01, figures: " + _figures() + "}]\n" + v2026
    )


def _figures() -> str:
    """Inhabitants of the kommuner billed: a merged kommune's count with its successor's."""
    from register.demo import KOMMUNER, MERGED

    figures: dict[str, int] = {}
    for row in KOMMUNER:
        slug = MERGED.get(row[0], row[0])
        figures[slug] = figures.get(slug, 0) + row[4]
    return "{" + ", ".join(f"{slug}: {n}" for slug, n in figures.items()) + "}"


def _supplier(session: Session) -> None:
    if session.exec(select(Supplier)).first() is None:
        session.add(Supplier(**SUPPLIER))  # type: ignore[arg-type]
        session.flush()


def device_file(session: Session, month: date, seed: int) -> str:
    """A generated export of the month's PCs (one row per PC, as Intune lists them) and
    mailboxes (a count per kommune), about one PC per 60 inhabitants."""
    rng = random.Random(seed * 100 + month.month)
    rows = ["kommune;kind;label;id;quantity"]
    for k in session.exec(select(Kommune).order_by(col(Kommune.kommunenummer))):
        if k.valid_to is not None and k.valid_to < month:
            continue  # merged into another before this month: counted there
        staff = (k.inhabitants or 1000) // 60
        pcs = int(staff * rng.uniform(0.97, 1.03))
        tag = k.slug.upper()[:4]
        rows += [f"{k.kommunenummer};devices;PC-{tag}-{i:05d};{i};1" for i in range(1, pcs + 1)]
        rows.append(f"{k.kommunenummer};mailboxes;;;{int(staff * 1.1 * rng.uniform(0.98, 1.02))}")
    return "\n".join(rows) + "\n"


def _purchases(session: Session, month: date) -> None:
    slugs = {k.slug: k for k in session.exec(select(Kommune))}
    if month.month % 3 == 0:
        k = slugs["lillesand"]
        session.add(
            Purchase(
                kommune_id=k.id,  # type: ignore[arg-type]
                purchase_date=month.replace(day=15),
                service="Innkjøp",
                description="Nettverkssvitsj 24 porter, videresolgt til kostpris",
                quantity=Decimal("2"),
                unit_cost=Decimal("7450.0000"),
                vat_category="O",
                vat_percent=Decimal("0.00"),
            )
        )


def load(session: Session, months: list[date], seed: int = 2010) -> None:
    """Supplier, price model, the months' counts and purchases (as the system principal)."""
    _supplier(session)
    pricemodel.import_yaml(session, price_model_yaml(), "demo price model")
    for month in months:
        counts.snapshot_registers(session, month)
        counts.import_count_file(session, month, device_file(session, month, seed), "intune.csv")
        _purchases(session, month)
    session.flush()


def billing_months(today: date, count: int = 12) -> list[date]:
    """The ``count`` whole months before ``today``'s month, oldest first."""
    y, m = today.year, today.month
    out = []
    for _ in range(count):
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
        out.append(date(y, m, 1))
    return sorted(out)


Progress = Callable[[str, int, int], None]


def run_months(session: Session, months: list[date], issue_last: bool = True) -> None:
    """Draft, review and issue each month in turn; the last is left reviewed unless
    ``issue_last``."""
    for i, month in enumerate(months):
        run.draft(session, month)
        run.review(session, month)
        if issue_last or i < len(months) - 1:
            run.issue(session, month, issue_date=_first_working_day_after(month))
        session.flush()


def _first_working_day_after(month: date) -> date:
    from datetime import timedelta

    day = month_end(month) + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def load_demo(session: Session, today: date) -> list[date]:
    """What ``fellesdrift demo`` shows: a year of billing up to last month, the last month
    drafted and reviewed but not issued (so the issue step can be tried)."""
    months = billing_months(today)
    load(session, months)
    run_months(session, months, issue_last=False)
    return months
