"""Systems register pages: list and filters, detail, forms for the drift unit."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from register.models import (
    CIRelation,
    CIResponsibility,
    CIUsage,
    ConfigItem,
    MonitorTarget,
)
from tests.pages.conftest import World, no_csrf
from tests.pages.helpers import (
    assert_page,
    error_summary,
    field_error,
    input_value,
    text,
)
from tests.support.factories import Factory


def _ci(make: Factory, key: str) -> ConfigItem | None:
    with make.session() as s:
        return s.exec(select(ConfigItem).where(ConfigItem.key == key)).first()


def _rows(make: Factory, model: type[Any]) -> list[Any]:
    with make.session() as s:
        return list(s.exec(select(model)))


# ---- list -------------------------------------------------------------------------------------


def test_agent_lists_and_filters_systems(world: World, make: Factory, browser) -> None:
    make.ci("gammel-epost", name="Gammel e-post", kind="service_endpoint", lifecycle="retired")
    b = browser(world.agent)
    html = assert_page(b.get("/systemer"), "Systemoversikt")
    page = text(html)
    for name in ("Visma HRM", "Applikasjonsserver 01", "Birkenes arkiv", "Gammel e-post"):
        assert name in page
    assert "Fagsystem" in page and "Fellessystem" in page and "Økonomi og lønn" in page
    assert 'href="/systemer/ny"' in html

    page = text(b.get("/systemer?kind=fagsystem").text)
    assert "Visma HRM" in page and "Applikasjonsserver" not in page
    page = text(b.get("/systemer?lifecycle=retired").text)
    assert "Gammel e-post" in page and "Visma HRM" not in page
    page = text(b.get("/systemer?criticality=high").text)
    assert "Visma HRM" in page and "Birkenes arkiv" not in page
    page = text(b.get("/systemer?classification=virksomhetsspesifikt").text)
    assert "Birkenes arkiv" in page and "Visma HRM" not in page
    page = text(b.get(f"/systemer?kommune={world.lillesand.id}").text)
    assert "Visma HRM" in page and "Birkenes arkiv" not in page
    page = text(b.get(f"/systemer?kommune={world.birkenes.id}").text)
    assert "Birkenes arkiv" in page and "Visma HRM" not in page
    page = text(b.get("/systemer?q=APP01").text)
    assert "Applikasjonsserver 01" in page and "Visma HRM" not in page


def test_kommune_user_sees_only_systems_of_their_kommune(
    world: World, make: Factory, browser
) -> None:
    b = browser(world.end_user)
    html = assert_page(b.get("/systemer"), "Systemoversikt")
    page = text(html)
    assert "Visma HRM" in page
    assert "Birkenes arkiv" not in page and "Applikasjonsserver" not in page
    assert 'href="/systemer/ny"' not in html

    html = assert_page(b.get(f"/systemer/{world.fagsystem.id}"), "Visma HRM")
    assert "/rediger" not in html and "Legg til ansvarlig" not in html
    assert_page(b.get(f"/systemer/{world.other_system.id}"), "Fant ikke siden", 404)
    assert_page(b.get(f"/systemer/{world.fagsystem.id}/rediger"), "Ingen tilgang", 403)
    response = b.submit("/systemer/ny", {"key": "x", "name": "X", "kind": "server"})
    assert_page(response, "Ingen tilgang", 403)
    assert _ci(make, "x") is None


# ---- create and edit --------------------------------------------------------------------------


def test_agent_creates_a_system(world: World, make: Factory, browser) -> None:
    b = browser(world.agent)
    assert_page(b.get("/systemer/ny"), "Nytt system")
    form = {
        "key": "profil",
        "name": "Profil journal",
        "kind": "fagsystem",
        "classification": "",
        "criticality": "critical",
        "life_and_health": "on",
        "lifecycle": "in_production",
        "owner_kommune_id": "",
        "vendor": "Visma",
    }
    html = assert_page(b.submit("/systemer/ny", form), "Nytt system", 422)
    assert field_error(html, "classification") == "Feil: Et fagsystem må klassifiseres"
    assert input_value(html, "vendor") == "Visma"
    assert 'id="life-and-health" name="life_and_health" type="checkbox" value="on" checked' in html
    assert _ci(make, "profil") is None

    form["classification"] = "sektorsystem"
    response = b.submit("/systemer/ny", form, follow_redirects=False)
    ci = _ci(make, "profil")
    assert ci is not None and ci.life_and_health and not ci.finance_payroll
    assert response.headers["location"] == f"/systemer/{ci.id}?ok=created"
    html = assert_page(b.get(response.headers["location"]), "Profil journal")
    page = text(html)
    assert "Opprettet." in page and "Sektorsystem" in page and "Kritisk" in page
    assert "Advarsel:" in page and "Ingen systemeier er oppført." in page
    assert "Færre enn to systemadministratorer er oppført." in page
    assert "Dette systemet krever strengere endringskontroll." in page

    html = assert_page(b.submit("/systemer/ny", form), "Nytt system", 422)
    assert field_error(html, "key") == "Feil: Er allerede i bruk"


def test_agent_edits_a_system(world: World, make: Factory, browser) -> None:
    b = browser(world.agent)
    path = f"/systemer/{world.fagsystem.id}/rediger"
    html = assert_page(b.get(path), "Endre Visma HRM")
    assert 'value="high" selected' in html
    assert 'name="finance_payroll" type="checkbox" value="on" checked' in html
    response = b.submit(
        path,
        {
            "name": "Visma HRM",
            "classification": "fellessystem",
            "criticality": "critical",
            "lifecycle": "retiring",
            "owner_kommune_id": "",
            "version": "2026.1",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == f"/systemer/{world.fagsystem.id}?ok=saved"
    ci = _ci(make, "visma-hrm")
    assert ci is not None and ci.criticality == "critical" and ci.lifecycle == "retiring"
    assert ci.version == "2026.1" and not ci.finance_payroll

    html = assert_page(
        b.submit(path, {"name": "", "classification": "", "criticality": "nesten"}),
        "Endre Visma HRM",
        422,
    )
    summary = error_summary(html)
    assert "Navn: må fylles ut" in summary and "Kritikalitet: er ikke et av valgene" in summary
    assert _ci(make, "visma-hrm").name == "Visma HRM"  # type: ignore[union-attr]


def test_retiring_a_system_switches_monitoring_off(world: World, make: Factory, browser) -> None:
    b = browser(world.agent)
    b.submit(
        f"/systemer/{world.server.id}/overvaking",
        {
            "probe": "ssh",
            "target": "srv-app01:22",
            "interval_seconds": "60",
            "timeout_seconds": "10",
            "enabled": "on",
        },
    )
    response = b.submit(f"/systemer/{world.server.id}/ut-av-drift", follow_redirects=False)
    assert response.headers["location"] == f"/systemer/{world.server.id}?ok=retired"
    page = text(b.get(response.headers["location"]).text)
    assert "Tatt ut av drift" in page and "overvåkingen er slått av" in page
    assert [t.enabled for t in _rows(make, MonitorTarget)] == [False]


# ---- responsibilities -------------------------------------------------------------------------


def test_naming_responsible_people(world: World, make: Factory, browser) -> None:
    b = browser(world.agent)
    path = f"/systemer/{world.fagsystem.id}/ansvar"
    html = assert_page(
        b.submit(path, {"username": "ingen-slik", "kind": "systemeier"}), "Visma HRM", 422
    )
    assert field_error(html, "resp-username") == (
        "Feil: Finner ingen bruker med dette brukernavnet"
    )
    assert '<details class="subform" open>' in html

    html = assert_page(
        b.submit(path, {"username": "kari", "kind": "teknisk_systemadministrator"}),
        "Visma HRM",
        422,
    )
    assert field_error(html, "resp-username") == (
        "Feil: Teknisk systemadministrator må være ansatt i driftsenheten"
    )
    assert input_value(html, "resp-username") == "kari"

    for username, kind in [
        ("kari", "systemeier"),
        ("ola", "systemadministrator"),
        ("kari", "systemadministrator"),
        ("arne", "teknisk_systemadministrator"),
        ("ada", "teknisk_systemadministrator"),
    ]:
        response = b.submit(path, {"username": username, "kind": kind}, follow_redirects=False)
        assert response.status_code == 303, response.text
    page = text(b.get(f"/systemer/{world.fagsystem.id}").text)
    assert "Advarsel" not in page
    assert "Systemeier Kari Kontakt" in page and "Teknisk systemadministrator Arne Agent" in page

    html = assert_page(b.submit(path, {"username": "ola", "kind": "systemeier"}), "Visma HRM", 422)
    assert field_error(html, "resp-kind") == (
        "Feil: Systemet har allerede en systemeier; fjern den først"
    )

    row = next(r for r in _rows(make, CIResponsibility) if r.kind == "systemeier")
    response = b.submit(f"/systemer/ansvar/{row.id}/slett", follow_redirects=False)
    assert response.headers["location"] == f"/systemer/{world.fagsystem.id}?ok=removed"
    assert "Ingen systemeier er oppført." in text(b.get(response.headers["location"]).text)

    # The systemeier's own user page lists the system.
    admin = browser(world.admin)
    page = text(admin.get(f"/brukere/{world.end_user.id}").text)
    assert "Visma HRM" in page and "Systemadministrator" in page


# ---- relations, usage, monitoring -------------------------------------------------------------


def test_relations_both_ways(world: World, make: Factory, browser) -> None:
    b = browser(world.agent)
    path = f"/systemer/{world.fagsystem.id}/relasjoner"
    html = assert_page(
        b.submit(path, {"kind": "runs_on", "target_key": "birk-arkiv"}), "Visma HRM", 422
    )
    assert field_error(html, "rel-target-key") == (
        "Feil: Et system kan bare kjøre på en server, en database eller en nettverksenhet"
    )
    html = assert_page(
        b.submit(path, {"kind": "runs_on", "target_key": "finnes-ikke"}), "Visma HRM", 422
    )
    assert field_error(html, "rel-target-key").startswith("Feil: Finner ikke noe system")

    response = b.submit(
        path, {"kind": "runs_on", "target_key": "SRV-APP01"}, follow_redirects=False
    )
    assert response.status_code == 303
    page = text(b.get(f"/systemer/{world.fagsystem.id}").text)
    assert "Kjører på Applikasjonsserver 01" in page
    page = text(b.get(f"/systemer/{world.server.id}").text)
    assert "Plattform for Visma HRM" in page

    html = assert_page(
        b.submit(path, {"kind": "runs_on", "target_key": "srv-app01"}), "Visma HRM", 422
    )
    assert field_error(html, "rel-target-key") == "Feil: Relasjonen finnes allerede"

    # Dependencies may not go round in a circle.
    response = b.submit(
        path, {"kind": "depends_on", "target_key": "birk-arkiv"}, follow_redirects=False
    )
    assert response.status_code == 303
    html = assert_page(
        b.submit(
            f"/systemer/{world.other_system.id}/relasjoner",
            {"kind": "depends_on", "target_key": "visma-hrm"},
        ),
        "Birkenes arkiv",
        422,
    )
    assert field_error(html, "rel-target-key") == "Feil: Ville gitt en sirkel av relasjoner"
    assert len(_rows(make, CIRelation)) == 2

    rel = next(r for r in _rows(make, CIRelation) if r.kind == "runs_on")
    response = b.submit(f"/systemer/relasjoner/{rel.id}/slett", follow_redirects=False)
    assert response.headers["location"] == f"/systemer/{world.fagsystem.id}?ok=removed"
    assert "Plattform for" not in text(b.get(f"/systemer/{world.server.id}").text)


def test_usage_per_kommune(world: World, make: Factory, browser) -> None:
    b = browser(world.agent)
    path = f"/systemer/{world.fagsystem.id}/bruk"
    html = assert_page(
        b.submit(path, {"kommune_id": str(world.birkenes.id), "users_count": "-3"}),
        "Visma HRM",
        422,
    )
    assert field_error(html, "use-users-count") == "Feil: Må være minst 0"
    assert "selected" in html.split('id="use-kommune-id"')[1].split("</select>")[0]

    response = b.submit(
        path, {"kommune_id": str(world.birkenes.id), "users_count": "80"}, follow_redirects=False
    )
    assert response.status_code == 303
    page = text(b.get(f"/systemer/{world.fagsystem.id}").text)
    assert "Birkenes 80" in page and "Lillesand 120" in page and "Brukere i alt 200" in page

    # Birkenes now uses the system, so its people see it.
    other = browser(world.other_contact)
    assert_page(other.get(f"/systemer/{world.fagsystem.id}"), "Visma HRM")

    row = next(u for u in _rows(make, CIUsage) if u.kommune_id == world.birkenes.id)
    b.submit(f"/systemer/bruk/{row.id}/slett")
    assert_page(other.get(f"/systemer/{world.fagsystem.id}"), "Fant ikke siden", 404)


def test_monitoring_targets(world: World, make: Factory, browser) -> None:
    b = browser(world.agent)
    path = f"/systemer/{world.fagsystem.id}/overvaking"
    form = {
        "probe": "http",
        "target": "https://hrm.example.no/",
        "interval_seconds": "30",
        "timeout_seconds": "60",
        "enabled": "on",
    }
    html = assert_page(b.submit(path, form), "Visma HRM", 422)
    assert field_error(html, "mon-timeout-seconds") == (
        "Feil: Kan ikke være lengre enn intervallet"
    )
    assert input_value(html, "mon-target") == "https://hrm.example.no/"

    form["timeout_seconds"] = "10"
    assert b.submit(path, form, follow_redirects=False).status_code == 303
    page = text(b.get(f"/systemer/{world.fagsystem.id}").text)
    assert "https://hrm.example.no/" in page and "HTTP" in page

    html = assert_page(b.submit(path, form), "Visma HRM", 422)
    assert field_error(html, "mon-target") == "Feil: Overvåkes allerede på dette systemet"

    target = _rows(make, MonitorTarget)[0]
    b.submit(f"/systemer/overvaking/{target.id}/slett")
    assert _rows(make, MonitorTarget) == []


def test_cmdb_forms_need_the_csrf_token(world: World, make: Factory, browser) -> None:
    b = no_csrf(browser(world.agent))
    response = b.post(
        f"/systemer/{world.fagsystem.id}/overvaking",
        data={"probe": "tcp", "target": "x:1", "interval_seconds": "60", "timeout_seconds": "5"},
    )
    assert response.status_code == 403
    response = b.post("/systemer/ny", data={"key": "k", "name": "K", "kind": "server"})
    assert response.status_code == 403
    assert _rows(make, MonitorTarget) == [] and _ci(make, "k") is None


def test_cmdb_in_english(world: World, browser) -> None:
    b = browser(world.agent)
    b.submit("/sprak", {"lang": "en", "next": "/systemer"})
    html = assert_page(b.get("/systemer"), "Systems register")
    assert "Line-of-business system" in text(html)
    html = assert_page(b.get(f"/systemer/{world.fagsystem.id}"), "Visma HRM")
    assert "No systemeier is named." in text(html)
