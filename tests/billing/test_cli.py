"""``fellesdrift billing ...`` as an operator runs it, in a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from sqlmodel import select

from billing.models import Invoice
from tests.billing.conftest import BillingWorld
from tests.support.fixtures import SECRET


def _cli(world: BillingWorld, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FELLESDRIFT_")}
    env |= {
        "FELLESDRIFT_DATABASE_URL": world.engine.url.render_as_string(hide_password=False),
        "FELLESDRIFT_SECRET_KEY": SECRET,
        "FELLESDRIFT_DATA_DIR": str(tmp_path),
    }
    return subprocess.run(
        [sys.executable, "-m", "fellesdrift.assembly.cli", "billing", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_month_from_counts_to_a_credit_note(pg_world: BillingWorld, tmp_path: Path) -> None:
    w = pg_world
    count_file = tmp_path / "intune.csv"
    count_file.write_text("kommune;label\nalfa;PC-1\nbeta;PC-2\n", "utf-8")
    steps = [
        ("counts", "--month", "2026-10"),
        ("counts", "--month", "2026-10", "--file", str(count_file), "--kind", "devices"),
        ("run", "--month", "2026-10"),
        ("review", "--month", "2026-10"),
        ("issue", "--month", "2026-10", "--issue-date", "2026-11-02"),
        ("credit", "F-000002", "--reason", "Feil antall brukere", "--line", "4"),
        ("rebill", "K-000001", "--line", "1", "--date", "2026-11-05"),
    ]
    outputs = []
    for step in steps:
        done = _cli(w, tmp_path, *step)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout + done.stderr)
    assert "2 counted items imported from intune.csv" in outputs[1]
    assert "draft for 2026-10 ready" in outputs[2] and "(utkast)" in outputs[2]
    assert "F-000001" in outputs[4] and "Alfa" in outputs[4]
    assert outputs[5].startswith("K-000001 credits F-000002")
    assert outputs[6].startswith("line 1 of K-000001 billed again on 2026-11-05")
    again = _cli(w, tmp_path, "rebill", "K-000001", "--line", "1", "--date", "2026-11-06")
    assert again.returncode == 1 and "already billed again" in again.stderr
    with w.session() as s:
        note = s.exec(select(Invoice).where(Invoice.kind == "credit_note")).one()
        assert note.note == "Feil antall brukere"


def test_errors_are_reported_and_nothing_is_issued(pg_world: BillingWorld, tmp_path: Path) -> None:
    done = _cli(pg_world, tmp_path, "run", "--month", "2026-10")
    assert done.returncode == 1
    assert (
        "error: nothing was drafted" in done.stderr and "no count of user_accounts" in done.stderr
    )
    done = _cli(pg_world, tmp_path, "run", "--month", "oktober")
    assert done.returncode == 1 and "expected a month as YYYY-MM" in done.stderr
    with pg_world.session() as s:
        assert s.exec(select(Invoice)).all() == []


def test_supplier_and_purchases_from_the_shell(pg_world: BillingWorld, tmp_path: Path) -> None:
    from billing.models import Purchase, Supplier

    w = pg_world
    shown = _cli(w, tmp_path, "supplier")
    assert shown.returncode == 0, shown.stderr
    assert "Knutepunkt Test IKT" in shown.stdout and "in_business_register: true" in shown.stdout
    settings = tmp_path / "supplier.yaml"
    settings.write_text(shown.stdout.replace("payment_days: 30", "payment_days: 20"), "utf-8")
    changed = _cli(w, tmp_path, "supplier", str(settings))
    assert changed.returncode == 0, changed.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(shown.stdout.replace("28011000004", "12345678901"), "utf-8")
    refused = _cli(w, tmp_path, "supplier", str(bad))
    assert refused.returncode == 1 and "bank_account" in refused.stderr
    args = ["--kommune", "alfa", "--date", "2026-10-12", "--description", "Lisens PDF-verktøy"]
    args += ["--quantity", "2", "--unit-cost", "1499.50", "--vat", "O"]
    made = _cli(w, tmp_path, "purchase", *args)
    assert made.returncode == 0, made.stderr
    wrong = _cli(w, tmp_path, "purchase", *args[:-1], "X")
    assert wrong.returncode == 1 and "vat_category" in wrong.stderr
    with w.session() as s:
        assert s.exec(select(Supplier)).one().payment_days == 20
        purchase = s.exec(select(Purchase)).one()
    assert (purchase.quantity, purchase.unit_cost) == (Decimal(2), Decimal("1499.50"))
    assert purchase.kommune_id == w.a.id
