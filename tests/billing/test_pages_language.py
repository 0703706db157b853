"""Billing's errors on the pages speak the page's language and still name their item: a
kommune without an inhabitants figure, overlapping versions, a negative price, an unknown
kommune in a count file, an issued month, a credit note without a reason. The API keeps its
English text (programs read it)."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import select

from billing.models import PriceElement, PriceModelVersion
from register.models import User
from tests.billing import uiworld
from tests.billing.uiworld import Issued
from tests.support.fixtures import Browser

Open = Callable[..., Browser]
issued = uiworld.issued  # the fixture


def _in(lang: str, browser: Open, issued: Issued) -> Browser:
    """The billing admin, signed in, with ``lang`` chosen on their profile."""
    with issued.world.session() as s:
        admin = s.get(User, issued.world.admin.id)
        assert admin is not None
        admin.language = lang
        s.add(admin)
        s.commit()
    return browser(issued.world.admin)


def _source_id(issued: Issued) -> int:
    with issued.world.session() as s:
        version = s.exec(select(PriceModelVersion)).one()
    assert version.id is not None
    return version.id


def test_version_errors_name_the_kommune_and_the_version_in_either_language(
    issued: Issued, browser: Open
) -> None:
    source = str(_source_id(issued))
    no_figures = {"name": "Prismodell 2027", "copy_from": source, "valid_from": "2027-01-01"}
    overlap = {"name": "Overlapp", "copy_from": source, "valid_from": "2026-06-01"}
    nb = _in("nb", browser, issued)
    page = nb.submit("/fakturering/priser/ny", no_figures)
    assert page.status_code == 422
    assert "Gamma har ikke innbyggertall for den datoen" in page.text
    assert "fordeler etter innbyggertall per 2027-01-01" in page.text
    assert "elements[0] &#39;infra&#39;" in page.text  # the element, named as the model names it
    page = nb.submit("/fakturering/priser/ny", overlap)
    assert "overlapper versjonen &#39;Prismodell 2026&#39; (2026-01-01 - 2026-12-31)" in page.text
    en = _in("en", browser, issued)
    page = en.submit("/fakturering/priser/ny", no_figures)
    assert "but Gamma has no inhabitants figure for that date" in page.text
    page = en.submit("/fakturering/priser/ny", overlap)
    assert "overlaps the version &#39;Prismodell 2026&#39; (2026-01-01 - 2026-12-31)" in page.text


NEGATIVE = """
versions:
  - name: Prismodell 2030
    valid_from: 2030-01-01
    elements:
      - code: brukerkonto
        category: 3
        service: Brukerkonto
        count: user_accounts
        unit_price: "-1.00"
      - code: annet
        category: 2
        service: Annet
        monthly_amount: "10.00"
        owner: {kommune: omega}
"""


def _import(client: Browser, text: str) -> str:
    files = {"file": ("priser.yaml", text.encode(), "application/yaml")}
    page = client.post("/fakturering/priser/import", data={"csrf_token": client.csrf}, files=files)
    assert page.status_code == 422
    return page.text


def test_a_price_model_import_is_refused_in_the_page_language(
    issued: Issued, browser: Open
) -> None:
    nb = _import(_in("nb", browser, issued), NEGATIVE)
    assert "elements[0] &#39;brukerkonto&#39; unit_price (-1.00): må være minst 0" in nb
    en = _import(_in("en", browser, issued), NEGATIVE)
    assert "elements[0] &#39;brukerkonto&#39; unit_price (-1.00): must be at least 0" in en
    unknown = NEGATIVE.replace('"-1.00"', '"40.00"')
    nb = _import(_in("nb", browser, issued), unknown)
    assert "elements[1] &#39;annet&#39; owner.kommune (omega): ukjent kommune" in nb
    en = _import(_in("en", browser, issued), unknown)
    assert "owner.kommune (omega): unknown kommune" in en
    fixed = unknown.replace("owner: {kommune: omega}", "owner: {kommune: alfa}").replace(
        "category: 2", "category: 1"
    )
    fixed = fixed.replace(
        'monthly_amount: "10.00"',
        'monthly_amount: "10.00"\n        key: {fixed: {alfa: 60, beta: 30}}',
    )
    nb = _import(_in("nb", browser, issued), fixed)
    assert "fixed: prosentene må bli 100 til sammen" in nb
    assert "fixed: the percentages must sum to 100" in _import(_in("en", browser, issued), fixed)


def test_a_count_file_names_the_line_and_the_kommune_in_either_language(
    issued: Issued, browser: Open
) -> None:
    bad = "kommune;kind;label\nalfa;devices;PC-1\nomega;devices;PC-2\nbeta;printers;P-1\n"

    def refused(lang: str) -> str:
        client = _in(lang, browser, issued)
        page = client.post(
            "/fakturering/tellinger/import",
            data={"csrf_token": client.csrf, "month": "2026-11"},
            files={"file": ("enheter.csv", bad.encode(), "text/csv")},
        )
        assert page.status_code == 422
        return page.text

    nb = refused("nb")
    assert "enheter.csv 3: kommune (omega): ukjent kommune" in nb
    assert "enheter.csv 4: kind (printers): ukjent type; bruk" in nb
    en = refused("en")
    assert "enheter.csv 3: kommune (omega): unknown kommune" in en
    assert "enheter.csv 4: kind (printers): unknown kind; use" in en


def test_an_issued_month_and_a_price_change_are_refused_in_either_language(
    issued: Issued, browser: Open
) -> None:
    for lang, text in (
        ("nb", "fakturakjøringen for 2026-10 er utstedt; rett den med kreditnotaer"),
        ("en", "the invoice run for 2026-10 is issued; correct it with credit notes"),
    ):
        page = _in(lang, browser, issued).submit("/fakturering/kjoringer", {"month": "2026-10"})
        assert page.status_code == 422 and text in page.text, lang
    with issued.world.session() as s:
        element = s.exec(select(PriceElement).where(PriceElement.code == "brukerkonto")).one()
    for lang, text in (
        (
            "nb",
            "prismodellversjonen &#39;Prismodell 2026&#39; er brukt av fakturakjøringen for "
            "2026-10",
        ),
        (
            "en",
            "the price model version &#39;Prismodell 2026&#39; was used by the issued invoice "
            "run for 2026-10",
        ),
    ):
        client = _in(lang, browser, issued)
        page = client.submit(f"/fakturering/priselementer/{element.id}/slett")
        assert page.status_code == 422 and text in page.text, lang


def test_credit_note_errors_name_the_invoice_lines_in_either_language(
    issued: Issued, browser: Open
) -> None:
    path = f"/fakturering/fakturaer/{issued.invoice_a.id}/krediter"
    nb = _in("nb", browser, issued)
    assert "skriv hvorfor fakturaen krediteres" in nb.submit(path, {"reason": " "}).text.lower()
    assert nb.submit(path, {"reason": "Feil"}, follow_redirects=False).status_code == 303
    again = nb.submit(path, {"reason": "Igjen"})
    assert again.status_code == 422
    assert f"på {issued.number_a} er allerede kreditert" in again.text
    en = _in("en", browser, issued).submit(path, {"reason": "Again"})
    assert f"of {issued.number_a} are already credited" in en.text


def test_the_api_keeps_its_english_text(issued: Issued, browser: Open) -> None:
    client = _in("nb", browser, issued)
    files = {"file": ("priser.yaml", NEGATIVE.replace('"-1.00"', '"40.00"').encode())}
    response = client.post("/api/v1/billing/price-models", files=files)
    assert response.status_code == 422
    messages = [e["message"] for e in response.json()["errors"]]
    assert "unknown kommune" in messages


#: Callables of billing that take a code, and where it is among their arguments.
_CODED = {"fault": 1, "conflict": 0, "billing_conflict": 0, "rule": 0, "refusal": 2}
_CODED |= {"error": 1, "AllocationError": 0, "DocumentError": 0}


def _codes_in_billing() -> set[str]:
    import ast
    from pathlib import Path

    import billing

    codes: set[str] = set()
    for path in Path(billing.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            at = _CODED.get(name)
            if at is None or len(node.args) <= at:
                continue
            arg = node.args[at]
            options = [arg.body, arg.orelse] if isinstance(arg, ast.IfExp) else [arg]
            codes |= {str(o.value) for o in options if isinstance(o, ast.Constant)}
    return codes


def test_every_code_billing_raises_has_its_text_in_both_languages() -> None:
    from fellesdrift.kernel.i18n import catalogue

    codes = _codes_in_billing()
    assert {"unknown_kommune", "overlap", "version_used", "time_invoiced"} <= codes
    for lang in ("nb", "en"):
        missing = sorted(c for c in codes if f"billing_err.{c}" not in catalogue(lang))
        assert not missing, (lang, missing)
