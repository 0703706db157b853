"""The billing API as finance users of two kommuner, the billing admin, an agent and an end
user: own invoices only (keyset pages), documents, runs, credit notes, price model versions and
the transparency figures; errors as problem+json."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from fastapi.testclient import TestClient

from billing.validate import validate_ehf
from tests.billing import uiworld
from tests.billing.uiworld import Issued

Api = Callable[..., TestClient]
issued = uiworld.issued  # the fixture
BASE = "/api/v1/billing"


def test_finance_lists_and_reads_only_their_own_invoices(issued: Issued, api: Api) -> None:
    a = api(issued.world.finance_a)
    page = a.get(f"{BASE}/invoices").json()
    assert [i["id"] for i in page["items"]] == [issued.invoice_a.id]
    assert page["next"] is None
    asked_for_b = a.get(f"{BASE}/invoices", params={"kommune_id": issued.world.b.id}).json()
    assert asked_for_b["items"] == []
    one = a.get(f"{BASE}/invoices/{issued.invoice_a.id}").json()
    services = {line["service"] for line in one["lines"]}
    assert {"Felles teknisk infrastruktur", "Brukerkonto", "Konsulenttimer"} <= services
    hours = [d["text"] for line in one["lines"] for d in line["details"]]
    assert any(issued.ticket_title in t for t in hours)
    assert Decimal(one["payable"]) == issued.invoice_a.payable


def test_another_kommunes_invoice_is_a_404_problem(issued: Issued, api: Api) -> None:
    a = api(issued.world.finance_a)
    for suffix in ("", "/pdf", "/csv", "/ehf"):
        response = a.get(f"{BASE}/invoices/{issued.invoice_b.id}{suffix}")
        assert response.status_code == 404, suffix
        assert response.headers["content-type"] == "application/problem+json"
        assert "Beta" not in response.text
    ytd = a.get(f"{BASE}/year-to-date", params={"kommune_id": issued.world.b.id, "year": 2026})
    assert ytd.status_code == 404


def test_documents_download(issued: Issued, api: Api) -> None:
    b = api(issued.world.finance_b)
    base = f"{BASE}/invoices/{issued.invoice_b.id}"
    assert b.get(f"{base}/pdf").content.startswith(b"%PDF")
    assert "Beta" in b.get(f"{base}/csv").content.decode("utf-8-sig")
    ehf = b.get(f"{base}/ehf")
    assert ehf.headers["content-type"] == "application/xml"
    assert validate_ehf(ehf.content) == []


def test_admin_pages_through_every_kommune(issued: Issued, api: Api) -> None:
    admin = api(issued.world.admin)
    first = admin.get(f"{BASE}/invoices", params={"limit": 1})
    assert first.status_code == 200 and first.json()["next"]
    assert 'rel="next"' in first.headers["link"]
    seen = [i["id"] for i in first.json()["items"]]
    cursor = first.json()["next"]
    while cursor:
        nxt = admin.get(f"{BASE}/invoices", params={"limit": 1, "after": cursor}).json()
        seen += [i["id"] for i in nxt["items"]]
        cursor = nxt["next"]
    assert issued.invoice_a.id in seen and issued.invoice_b.id in seen and len(seen) == 3
    bad = admin.get(f"{BASE}/invoices", params={"after": "not-a-cursor"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "after"


def test_admin_runs_a_month_through_the_api(issued: Issued, api: Api) -> None:
    admin = api(issued.world.admin)
    missing = admin.post(f"{BASE}/runs", json={"month": "2026-11"})
    assert missing.status_code == 422  # no counts for November: named, nothing drafted
    assert "brukerkonto" in missing.text
    counts = "kommune,kind,label\nalfa,user_accounts,Ola\nbeta,user_accounts,Kari\n"
    counts += "gamma,user_accounts,Per\nalfa,licences,Ola\n"
    bad_file = admin.post(
        f"{BASE}/counts",
        data={"month": "2026-11"},
        files={"file": ("ad.csv", b"kommune,kind\nomega,devices\n", "text/csv")},
    )
    assert bad_file.status_code == 422 and bad_file.json()["errors"][0]["line"] == 2
    lic = "kommune,kind,system,label\nalfa,licences,arkiv,Ola\n"
    for text in (counts.replace("alfa,licences,Ola\n", ""), lic):
        stored = admin.post(
            f"{BASE}/counts",
            data={"month": "2026-11"},
            files={"file": ("ad.csv", text.encode(), "text/csv")},
        )
        assert stored.status_code == 201, stored.text
    drafted = admin.post(f"{BASE}/runs", json={"month": "2026-11"})
    assert drafted.status_code == 200, drafted.text
    run_id = drafted.json()["id"]
    assert admin.post(f"{BASE}/runs/{run_id}/issue", json={}).status_code == 409
    assert admin.post(f"{BASE}/runs/{run_id}/review").json()["state"] == "reviewed"
    issued_now = admin.post(f"{BASE}/runs/{run_id}/issue", json={"issue_date": "2026-12-01"})
    assert issued_now.status_code == 200
    assert all(i["document_number"] for i in issued_now.json())
    assert admin.delete(f"{BASE}/runs/{run_id}").status_code == 409
    assert admin.get(f"{BASE}/runs/{run_id}").json()["state"] == "issued"
    assert [r["month"] for r in admin.get(f"{BASE}/runs").json()][:2] == [
        "2026-11-01",
        "2026-10-01",
    ]


def test_credit_notes_through_the_api(issued: Issued, api: Api) -> None:
    admin = api(issued.world.admin)
    path = f"{BASE}/invoices/{issued.invoice_a.id}/credit-notes"
    assert admin.post(path, json={"reason": ""}).status_code == 422
    note = admin.post(path, json={"reason": "Feil timer"})
    assert note.status_code == 201
    assert (
        note.json()["kind"] == "credit_note" and note.json()["original_id"] == issued.invoice_a.id
    )
    assert admin.post(path, json={"reason": "Igjen"}).status_code == 409
    a = api(issued.world.finance_a)
    assert a.post(path, json={"reason": "Selv"}).status_code == 403
    listed = a.get(f"{BASE}/invoices", params={"kind": "credit_note"}).json()["items"]
    assert [i["id"] for i in listed] == [note.json()["id"]]


def test_agents_and_end_users_are_refused(issued: Issued, api: Api) -> None:
    for user in (issued.world.agent, issued.end_user_a):
        client = api(user)
        for path in (
            "/invoices",
            f"/invoices/{issued.invoice_a.id}",
            f"/invoices/{issued.invoice_a.id}/pdf",
            "/runs",
            "/price-models",
        ):
            response = client.get(f"{BASE}{path}")
            assert response.status_code == 403, (user.username, path)
            assert response.headers["content-type"] == "application/problem+json"
        assert client.post(f"{BASE}/runs", json={"month": "2026-11"}).status_code == 403


def test_finance_may_not_run_or_import(issued: Issued, api: Api) -> None:
    a = api(issued.world.finance_a)
    assert a.get(f"{BASE}/runs").status_code == 403
    assert a.post(f"{BASE}/runs", json={"month": "2026-11"}).status_code == 403
    files = {"file": ("p.yaml", b"versions: []\n", "application/yaml")}
    assert a.post(f"{BASE}/price-models", files=files).status_code == 403


def test_price_model_versions(issued: Issued, api: Api) -> None:
    a = api(issued.world.finance_a)
    versions = a.get(f"{BASE}/price-models").json()
    assert [v["name"] for v in versions] == ["Prismodell 2026"]
    one = a.get(f"{BASE}/price-models/{versions[0]['id']}").json()
    consultant = next(e for e in one["elements"] if e["code"] == "konsulent")
    assert {r["work_type"]: r["rate"] for r in consultant["rates"]} == {
        "after_hours": "975.00",
        "office_hours": "650.00",
    }
    admin = api(issued.world.admin)
    overlap = "versions:\n  - name: X\n    valid_from: 2026-06-01\n    elements:\n"
    overlap += "      - {code: k, category: 1, service: K, monthly_amount: '1.00', key: equal}\n"
    refused = admin.post(
        f"{BASE}/price-models", files={"file": ("p.yaml", overlap.encode(), "application/yaml")}
    )
    assert refused.status_code == 422
    assert "overlaps the version 'Prismodell 2026'" in refused.json()["errors"][0]["message"]
    good = overlap.replace("2026-06-01", "2027-01-01")
    stored = admin.post(
        f"{BASE}/price-models", files={"file": ("p.yaml", good.encode(), "application/yaml")}
    )
    assert stored.status_code == 201 and stored.json()[0]["name"] == "X"


def test_transparency_figures(issued: Issued, api: Api) -> None:
    a = api(issued.world.finance_a)
    costs = a.get(f"{BASE}/transparency/services", params={"month": "2026-10"}).json()
    infra = next(c for c in costs if c["service"] == "Felles teknisk infrastruktur")
    assert infra["pool"] == "100000.00" and infra["key_kind"] == "mix"
    assert [s["kommune"] for s in infra["shares"]] == ["Alfa"]
    admin = api(issued.world.admin)
    every = admin.get(f"{BASE}/transparency/services", params={"month": "2026-10"}).json()
    infra = next(c for c in every if c["service"] == "Felles teknisk infrastruktur")
    assert sum(Decimal(s["amount"]) for s in infra["shares"]) == Decimal("100000.00")
    body = {
        "month": "2026-10",
        "pool": "90000.00",
        "key_a": {
            "mix": [{"key": "equal", "weight": "1/3"}, {"key": "inhabitants", "weight": "2/3"}]
        },
        "key_b": {"fixed": {"alfa": 30, "beta": 30, "gamma": 40}},
    }
    rows = admin.post(f"{BASE}/transparency/key-comparison", json=body).json()
    assert sum(Decimal(r["amount_a"]) for r in rows) == Decimal("90000.00")
    assert {r["kommune"]: r["amount_b"] for r in rows}["Gamma"] == "36000.00"
    wrong = admin.post(
        f"{BASE}/transparency/key-comparison", json=body | {"key_b": {"fixed": {"alfa": 50}}}
    )
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"].startswith("key_b")
    assert a.post(f"{BASE}/transparency/key-comparison", json=body).status_code == 403
