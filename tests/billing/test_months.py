"""Only a month that has ended is counted, drafted and issued; no month, however far off or
malformed, makes the API answer 500."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from billing import counts, run
from billing.models import PriceModelVersion
from billing.numbering import today_in_oslo
from fellesdrift.kernel.problems import Problem
from tests.billing.conftest import BillingWorld, act

BASE = "/api/v1/billing"


def _this_month() -> date:
    return today_in_oslo().replace(day=1)


@pytest.mark.parametrize("month", [date(2030, 1, 1), None])
def test_a_month_that_has_not_ended_is_not_counted_or_drafted(
    world: BillingWorld, month: date | None
) -> None:
    month = month or _this_month()
    for step in (counts.snapshot_registers, run.draft):
        with pytest.raises(Problem) as caught:
            act(world, world.admin, step, month)
        assert caught.value.status == 422
        assert caught.value.errors[0].code == "billing_err.month_not_ended", step
    with pytest.raises(Problem) as caught:
        act(
            world,
            world.admin,
            counts.import_count_file,
            month,
            "kommune,kind\nalfa,devices\n",
            "x.csv",
        )
    assert caught.value.errors[0].code == "billing_err.month_not_ended"
    with world.session() as s:
        assert run.run_of(s, month) is None


@pytest.mark.parametrize("month", ["9093-11", "9999-12", "0001-01", "2030-01"])
def test_the_api_refuses_any_future_or_odd_month_without_a_500(
    pg_world: BillingWorld, api: Callable[..., TestClient], month: str
) -> None:
    with pg_world.session() as s:  # the price model open-ended, as in production
        for version in s.exec(select(PriceModelVersion)):
            version.valid_to = None
            s.add(version)
        s.commit()
    admin = api(pg_world.admin)
    response = admin.post(f"{BASE}/runs", json={"month": month})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if month < "2026":
        return  # an old month may be counted (and is refused for want of a price model above)
    counted = admin.post(
        f"{BASE}/counts",
        data={"month": month},
        files={"file": ("c.csv", b"kommune,kind\nalfa,devices\n", "text/csv")},
    )
    assert counted.status_code == 422, counted.text
