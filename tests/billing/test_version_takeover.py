"""A new price model version takes over from the open-ended one, as the form promises ("gjelder
til en ny versjon tar over"): the open version ends the day before; months it billed stay its."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy.engine import Engine
from sqlmodel import select

from billing.models import InhabitantFigure, PriceModelVersion
from tests.billing.conftest import build_world
from tests.billing.uiworld import issue_october
from tests.support.fixtures import Browser


def test_a_new_version_ends_the_open_one_that_billed_months(
    engine: Engine, browser: Callable[..., Browser]
) -> None:
    world = build_world(engine)
    with world.session() as s:
        version = s.exec(select(PriceModelVersion)).one()
        version.valid_to = None  # open-ended, as an admin leaves it
        s.add(version)
        for kommune, count in ((world.a, 30100), (world.b, 12100), (world.c, 3100)):
            s.add(
                InhabitantFigure(
                    kommune_id=kommune.id, ref_date=date(2027, 1, 1), inhabitants=count
                )
            )
        s.commit()
    issue_october(world, "Skriver")  # the open version has billed October 2026
    admin = browser(world.admin)
    form = admin.get("/fakturering/priser/ny")
    assert "gjelder til en ny versjon tar over" in form.text.lower()
    into_billed = admin.submit(
        "/fakturering/priser/ny",
        {"name": "For tidlig", "copy_from": str(version.id), "valid_from": "2026-10-01"},
    )
    assert into_billed.status_code == 422
    assert "2026-10" in into_billed.text and "Prismodell 2026" in into_billed.text
    made = admin.submit(
        "/fakturering/priser/ny",
        {"name": "Prismodell 2027", "copy_from": str(version.id), "valid_from": "2027-01-01"},
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    with world.session() as s:
        rows = {v.name: (v.valid_from, v.valid_to) for v in s.exec(select(PriceModelVersion))}
    assert rows == {
        "Prismodell 2026": (date(2026, 1, 1), date(2026, 12, 31)),
        "Prismodell 2027": (date(2027, 1, 1), None),
    }


def test_the_end_of_a_used_version_is_set_but_never_before_a_billed_month(
    engine: Engine, browser: Callable[..., Browser]
) -> None:
    world = build_world(engine)
    with world.session() as s:
        version = s.exec(select(PriceModelVersion)).one()
        version.valid_to = None
        s.add(version)
        s.commit()
    issue_october(world, "Skriver")
    admin = browser(world.admin)
    path = f"/fakturering/priser/{version.id}/rediger"
    cut = admin.submit(path, {"valid_from": "2026-01-01", "valid_to": "2026-09-30", "note": ""})
    assert cut.status_code == 422 and "2026-10" in cut.text
    ended = admin.submit(
        path,
        {"valid_from": "2026-01-01", "valid_to": "2026-12-31", "note": "Avsluttet"},
        follow_redirects=False,
    )
    assert ended.status_code == 303, ended.text
    with world.session() as s:
        stored = s.get(PriceModelVersion, version.id)
        assert stored is not None and stored.valid_to == date(2026, 12, 31)
        assert stored.note == "Avsluttet"
