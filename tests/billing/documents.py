"""Invoice documents for the output tests: a VAT-registered and an outside-VAT supplier.

Built directly on ``billing.document`` so the output tests do not depend on the invoice run; the
figures are those of a plausible month for Birkenes in an intermunicipal IT unit.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from billing.document import (
    DocumentLine,
    InvoiceDocument,
    LineDetail,
    Party,
    make_kid,
)

D = Decimal
PERIOD = (date(2026, 10, 1), date(2026, 10, 31))
ACCOUNT = "86011117947"


def supplier(*, vat_registered: bool = True) -> Party:
    return Party(
        name="Agder IKT IKS",
        orgnr="921635419",
        street="Tordenskjolds gate 65",
        postal_code="4614",
        city="Kristiansand",
        email="faktura@agderikt.example",
        vat_registered=vat_registered,
        contact_name="Kari Nordmann",
    )


def customer() -> Party:
    return Party(
        name="Birkenes kommune",
        orgnr="964965137",
        street="Hovedgata 21",
        postal_code="4760",
        city="Birkeland",
        email="regnskap@birkenes.example",
        vat_registered=True,
    )


def line(
    line_id: str, category: int, service: str, quantity: str, unit_price: str, **kw
) -> DocumentLine:
    q, p = D(quantity), D(unit_price)
    fields = {
        "line_id": line_id,
        "category": category,
        "service": service,
        "description": kw.pop("description", service),
        "quantity": q,
        "unit_code": kw.pop("unit_code", "EA"),
        "unit_price": p,
        "net_amount": (q * p).quantize(D("0.01")),
        "vat_category": "S",
        "vat_percent": D("25"),
        "period_start": PERIOD[0],
        "period_end": PERIOD[1],
        "details": (),
    }
    fields.update(kw)
    return DocumentLine(**fields)


def vat_lines() -> tuple[DocumentLine, ...]:
    """A month with all four categories, a 15 % pass-through and an exempt pass-through."""
    users = tuple(
        LineDetail(text=f"bruker{n:02d} Ola Nordmann {n}", quantity=D(1)) for n in range(1, 15)
    )
    hours = (
        LineDetail("INC-000123 Skriver virker ikke: 1,25 t", D("1.25"), D("812.50")),
        LineDetail("INC-000131 Ny bruker i Visma: 0,75 t", D("0.75"), D("487.50")),
        LineDetail("REQ-000140 Flytting av kontor: 2,00 t", D("2.00"), D("1300.00")),
    )
    return (
        line(
            "1",
            1,
            "Felles infrastruktur",
            "1",
            "41666.6667",
            unit_code="MON",
            description="Andel av felles infrastruktur: 1/3 likt + 2/3 innbyggere",
            net_amount=D("41666.67"),
            details=(
                LineDetail("Likt fordelt (1/7 av 1/3)", None, D("19841.27")),
                LineDetail("Innbyggere 5 200 av 236 010 (2/3)", None, D("21825.40")),
            ),
        ),
        line("2", 2, "Nettlinje Birkeland skole", "1", "2450.00", unit_code="MON"),
        line("3", 3, "Brukerkonto", "14", "95.00", details=users),
        line("4", 4, "Konsulenttimer kontortid", "4.00", "650.00", unit_code="HUR", details=hours),
        line(
            "5",
            4,
            "Fagbok (videresalg)",
            "2",
            "349.00",
            vat_percent=D("15"),
            description="Innkjøp videresendt til kostpris",
        ),
        line("6", 4, "Kurs (videresalg)", "1", "1200.00", vat_category="E", vat_percent=D("0")),
    )


def invoice(**changes) -> InvoiceDocument:
    doc = InvoiceDocument(
        kind="invoice",
        number="2026-000123",
        issue_date=date(2026, 11, 2),
        due_date=date(2026, 12, 2),
        supplier=supplier(),
        customer=customer(),
        buyer_reference="Birkenes IT 4021",
        kid=make_kid("0928000123"),
        supplier_account=ACCOUNT,
        period_start=PERIOD[0],
        period_end=PERIOD[1],
        lines=vat_lines(),
        note="Faktura for oktober 2026",
    )
    return replace(doc, **changes) if changes else doc


def outside_vat_invoice(**changes) -> InvoiceDocument:
    lines = tuple(replace(x, vat_category="O", vat_percent=D("0")) for x in vat_lines())
    return invoice(supplier=supplier(vat_registered=False), lines=lines, **changes)


def credit_note(**changes) -> InvoiceDocument:
    base = {
        "kind": "credit_note",
        "number": "K2026-000007",
        "issue_date": date(2026, 11, 20),
        "due_date": date(2026, 11, 20),
        "lines": (
            line(
                "1",
                4,
                "Konsulenttimer kontortid",
                "1.25",
                "650.00",
                unit_code="HUR",
                description="Kreditering: INC-000123 feilført",
                details=(
                    LineDetail("INC-000123 Skriver virker ikke: 1,25 t", D("1.25"), D("812.50")),
                ),
            ),
        ),
        "note": "Kreditnota for feilført tid",
        "original_number": "2026-000123",
        "original_issue_date": date(2026, 11, 2),
    }
    base.update(changes)
    return invoice(**base)
