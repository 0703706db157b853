"""The demo service catalogue: items the demo kommuner can order, with their forms."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from register.access import elevated
from register.models import ConfigItem
from servicedesk.tickets.choices import ApprovalKind
from servicedesk.tickets.models import CatalogueItem, Group
from servicedesk.tickets.service.catalogue import CatalogueItemIn, create_item
from servicedesk.tickets.service.catalogue_forms import FormField


def _opt(*pairs: tuple[str, str, str]) -> list[dict[str, str]]:
    return [{"value": v, "label": nb, "label_en": en} for v, nb, en in pairs]


def _f(
    name: str, nb: str, en: str, type: str = "text", req: bool = False, **kw: Any
) -> dict[str, Any]:
    return {"name": name, "label": nb, "label_en": en, "type": type, "required": req} | kw


_WHO = _f("for_whom", "Hvem gjelder det (fullt navn)", "Who is it for (full name)", req=True)
_WHY = _f("reason", "Hvorfor trengs det", "Why is it needed", "textarea", True)
_NEEDED = _f("needed_by", "Når trengs det", "When is it needed", "date")
_ACCESS = _opt(("read", "Lesetilgang", "Read access"), ("write", "Skrivetilgang", "Write access"))

#: (key, name, name_en, category, group key, approval, system key, description, fields)
DEMO_ITEMS: list[tuple[str, str, str, str, str, str, str, str, list[dict[str, Any]]]] = [
    ("ny-brukerkonto", "Ny brukerkonto", "New user account", "Brukere og tilgang",
     "brukerstotte", "none", "",
     "Brukerkonto, e-post og hjemmeområde for en ny ansatt. Bestill minst tre dager før start.",
     [_WHO, _f("start_date", "Første arbeidsdag", "First working day", "date", True),
      _f("position", "Stilling", "Position", req=True),
      _f("unit", "Enhet eller arbeidssted", "Unit or workplace", req=True)]),
    ("tilgang-pleie", "Tilgang til Pleie og omsorg (EPJ)", "Access to Pleie og omsorg (EPJ)",
     "Brukere og tilgang", "fagsystemer", "systemeier", "pleie",
     "Tilgang til det elektroniske pasientjournalsystemet.",
     [_WHO, _f("level", "Tilgangsnivå", "Access level", "select", True, options=_ACCESS), _WHY]),
    ("tilgang-sakarkiv", "Tilgang til Sak og arkiv", "Access to Sak og arkiv",
     "Brukere og tilgang", "fagsystemer", "systemeier", "sakarkiv",
     "Tilgang til sak- og arkivsystemet.",
     [_WHO, _f("level", "Tilgangsnivå", "Access level", "select", True, options=_ACCESS), _WHY]),
    ("passordhjelp", "Hjelp med passordbytte", "Help changing a password", "Brukere og tilgang",
     "brukerstotte", "none", "",
     "Vi ringer deg og hjelper deg å bytte passord. Vi spør aldri om passordet ditt.",
     [_f("phone", "Telefonnummer vi kan ringe", "Phone number we can call", req=True)]),
    ("ny-pc", "Ny PC eller klient", "New PC or client", "Utstyr", "brukerstotte", "leader", "",
     "Bærbar eller stasjonær PC med kommunens standardoppsett.",
     [_WHO, _f("model", "Type", "Type", "select", True, options=_opt(
         ("laptop", "Bærbar", "Laptop"), ("desktop", "Stasjonær", "Desktop"))), _NEEDED, _WHY]),
    ("mobiltelefon", "Mobiltelefon", "Mobile phone", "Utstyr", "brukerstotte", "none", "",
     "Mobiltelefon med kommunens avtale og oppsett for e-post.",
     [_WHO, _f("number", "Nummer", "Number", "select", True, options=_opt(
         ("new", "Nytt nummer", "New number"), ("keep", "Behold nummeret", "Keep number")))]),
    ("programvare", "Programvareinstallasjon", "Software installation", "Programvare",
     "brukerstotte", "none", "",
     "Installasjon av et program på PC-en din. Programmet må ha lisens.",
     [_f("program", "Program", "Software", req=True),
      _f("pc_name", "PC-navn (står på klistremerket)", "PC name (on the sticker)"),
      _f("licence", "Lisens", "Licence", "select", True, options=_opt(
          ("have", "Kommunen har lisens", "The kommune has a licence"),
          ("buy", "Må kjøpes", "Must be bought"), ("free", "Gratis", "Free")))]),
    ("epostliste", "Endring av e-postliste", "Change a mailing list", "E-post", "brukerstotte",
     "none", "", "Legg til eller fjern medlemmer i en e-postliste eller fellespostkasse.",
     [_f("list", "E-postliste", "Mailing list", req=True, hint="F.eks. post@kommune.no",
         hint_en="E.g. post@kommune.no"),
      _f("change", "Endring", "Change", "select", True, options=_opt(
          ("add", "Legg til", "Add"), ("remove", "Fjern", "Remove"))),
      _f("members", "Hvem (én per linje)", "Who (one per line)", "textarea", True)]),
    ("vpn", "VPN-tilgang", "VPN access", "Brukere og tilgang", "nettverk", "none", "",
     "Tilgang til kommunens nett hjemmefra eller på reise.",
     [_WHO, _f("until", "Til og med", "Until", "date"), _WHY]),
]  # fmt: skip


def load_demo_catalogue(session: Session) -> list[CatalogueItem]:
    """Create the demo catalogue (``session`` acts as the system). Items whose key exists are
    left alone, and an item whose system is missing from the register is skipped."""
    with elevated(session, "demo-catalogue"):
        groups = {g.key: g.id for g in session.exec(select(Group))}
        systems = {c.key: c.id for c in session.exec(select(ConfigItem))}
        existing = set(session.exec(select(CatalogueItem.key)))
        created = []
        for key, name, en, category, group, approval, system, text, fields in DEMO_ITEMS:
            if key in existing or (system and system not in systems):
                continue
            data = CatalogueItemIn(
                key=key,
                name=name,
                name_en=en,
                category=category,
                description=text,
                approval=ApprovalKind(approval),
                ci_id=systems.get(system),
                group_id=groups.get(group),
                fields=[FormField.model_validate(f) for f in fields],
            )
            created.append(create_item(session, data))
    return created
