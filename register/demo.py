"""Demo data: the seven Knutepunkt Sørlandet kommuner, their sites and people, and a systems
register of about 30 systems over all four classifications.

The scenario is the intercommunal unit as planned in 2010 for Kristiansand, Birkenes, Lillesand,
Søgne, Vennesla, Iveland and Songdalen, with the kommunenummer of that time and inhabitants
rounded from Statistics Norway (1 January 2019, the last date all seven existed). The
organisation numbers pass the mod-11 check; check them against Enhetsregisteret before using
any of this outside a demo. Every name of a person is invented.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlmodel import Session, select

from register import auth
from register.choices import Role
from register.models import ConfigItem, Kommune, User
from register.schemas import (
    CICreate,
    ContactIn,
    KommuneCreate,
    KommuneEnd,
    RelationIn,
    ResponsibilityIn,
    SiteIn,
    TargetIn,
    UsageIn,
    UserCreate,
)
from register.service import cmdb, kommuner, people

DEMO_PASSWORD = "fellesdrift-demo"  # noqa: S105 - published in the README for the demo
REFERENCE_DATE = date(2019, 1, 1)
#: Søgne and Songdalen became part of Kristiansand on 1 January 2020: ended the day before,
#: with Kristiansand as successor. Their records stay (history), their people are no longer
#: active and the systems' users are counted with Kristiansand's.
MERGED = {"sogne": "kristiansand", "songdalen": "kristiansand"}
MERGED_ON = date(2020, 1, 1)

# slug, name, kommunenummer, orgnr, inhabitants, end users, address, postcode, city
KOMMUNER = [
    (
        "kristiansand",
        "Kristiansand",
        "1001",
        "963296746",
        92000,
        110,
        "Rådhusgata 18",
        "4611",
        "Kristiansand",
    ),
    ("birkenes", "Birkenes", "0928", "964965137", 5200, 14, "Hovedgata 21", "4760", "Birkeland"),
    ("lillesand", "Lillesand", "0926", "964965064", 11000, 24, "Østregate 2", "4790", "Lillesand"),
    ("sogne", "Søgne", "1018", "964966753", 11400, 24, "Rådhusveien 3", "4640", "Søgne"),
    ("vennesla", "Vennesla", "1014", "964966664", 14800, 30, "Hunsøyveien 3", "4700", "Vennesla"),
    ("iveland", "Iveland", "0935", "964964947", 1330, 8, "Ivelandsveien 200", "4724", "Iveland"),
    (
        "songdalen",
        "Songdalen",
        "1017",
        "964966109",
        6700,
        16,
        "Nodelandsveien 1",
        "4645",
        "Nodeland",
    ),
]

SITE_KINDS = [
    ("radhus", "Rådhuset", "site"),
    ("helse", "Helse og omsorg", "org_unit"),
    ("oppvekst", "Oppvekst", "org_unit"),
    ("teknisk", "Teknisk etat", "org_unit"),
    ("sykehjem", "Sykehjemmet", "site"),
    ("helsestasjon", "Helsestasjonen", "site"),
    ("skole-1", "Sentrum skole", "site"),
    ("skole-2", "Nordre skole", "site"),
    ("barnehage-1", "Solsiden barnehage", "site"),
    ("bibliotek", "Biblioteket", "site"),
    ("skole-3", "Vestre skole", "site"),
    ("skole-4", "Østre skole", "site"),
    ("barnehage-2", "Bakken barnehage", "site"),
    ("brannstasjon", "Brannstasjonen", "site"),
    ("nav", "NAV-kontoret", "site"),
]

FIRST = (
    "Kari Ola Ingrid Lars Marit Per Anne Jon Silje Erik Hilde Knut Tone Arne Liv Bjørn Eli "
    "Tor Randi Geir Sigrid Håkon Astrid Nils Ragnhild Svein Ida Trond Solveig Eirik Mari "
    "Thomas Hanne Morten Line Anders Nina Espen Camilla Øystein"
).split()
LAST = (
    "Hansen Johansen Olsen Larsen Andersen Pedersen Nilsen Kristiansen Jensen Karlsen Johnsen "
    "Pettersen Eriksen Berg Haugen Hagen Johannessen Andreassen Jacobsen Dahl Jørgensen "
    "Halvorsen Henriksen Lund Sørensen Jakobsen Moen Gundersen Iversen Strand Solberg "
    "Svendsen Eide Knutsen Martinsen Paulsen Bakken Kristoffersen Mathisen Lie Amundsen "
    "Nguyen Rasmussen Ali Lunde Solheim Berge Moe Nygård Bakke Kristensen Fredriksen Holm "
    "Lien Hauge Christensen Andresen Nielsen Knudsen Evensen Sæther Aas Myhre Hanssen Ahmed "
    "Haugland Thomassen Sivertsen Simonsen Danielsen Berntsen Sandvik Rønning Arnesen "
    "Antonsen Næss Vik Haug Ellingsen Thorsen Edvardsen Birkeland Isaksen Gulbrandsen Ruud "
    "Aasen Strøm Myklebust Tangen Ødegård Eliassen Helland Bøe Jenssen Aune Mikkelsen Tveit "
    "Brekke Abrahamsen Madsen"
).split()


@dataclass
class System:
    key: str
    name: str
    kind: str
    classification: str | None = None
    criticality: str = "medium"
    life_and_health: bool = False
    finance_payroll: bool = False
    owner: str | None = None
    service: str = ""
    vendor: str = ""
    runs_on: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    used_by: str = "all"  # "all", "none" or space-separated slugs
    admins: int = 2
    tekniske: int = 2


SYSTEMS = [
    System(
        "ks-core-sw01",
        "Kjernesvitsj serverrom",
        "network_device",
        criticality="critical",
        service="Nettverk",
        vendor="Cisco",
        used_by="none",
    ),
    System(
        "ks-fw01",
        "Brannmur",
        "network_device",
        criticality="critical",
        service="Nettverk",
        vendor="Fortinet",
        used_by="none",
    ),
    System(
        "ks-vmhost01",
        "Virtualiseringsvert 1",
        "server",
        criticality="critical",
        service="Serverdrift",
        vendor="VMware",
        used_by="none",
    ),
    System(
        "ks-vmhost02",
        "Virtualiseringsvert 2",
        "server",
        criticality="critical",
        service="Serverdrift",
        vendor="VMware",
        used_by="none",
    ),
    System(
        "ks-dc01",
        "Domenekontroller 1",
        "server",
        criticality="critical",
        service="Katalogtjeneste",
        runs_on=("ks-vmhost01",),
        used_by="none",
    ),
    System(
        "ks-dc02",
        "Domenekontroller 2",
        "server",
        criticality="critical",
        service="Katalogtjeneste",
        runs_on=("ks-vmhost02",),
        used_by="none",
    ),
    System(
        "ks-sql01",
        "Databaseserver MS SQL",
        "server",
        criticality="high",
        service="Database",
        runs_on=("ks-vmhost01",),
        used_by="none",
        tekniske=1,
    ),
    System(
        "ks-pg01",
        "Databaseserver PostgreSQL",
        "server",
        criticality="high",
        service="Database",
        runs_on=("ks-vmhost02",),
        used_by="none",
    ),
    System(
        "ks-backup01",
        "Backupserver",
        "server",
        criticality="high",
        service="Backup",
        vendor="Veeam",
        used_by="none",
    ),
    System(
        "ks-mon01",
        "Overvåkingsserver",
        "server",
        criticality="high",
        service="Overvåking",
        runs_on=("ks-vmhost02",),
        used_by="none",
    ),
    System(
        "db-okonomi",
        "Database økonomi og lønn",
        "database",
        criticality="critical",
        finance_payroll=True,
        service="Database",
        runs_on=("ks-sql01",),
        used_by="none",
    ),
    System(
        "db-helse",
        "Database helse og omsorg",
        "database",
        criticality="critical",
        life_and_health=True,
        service="Database",
        runs_on=("ks-sql01",),
        used_by="none",
    ),
    System(
        "ad",
        "Active Directory",
        "fagsystem",
        "fellessystem",
        "critical",
        service="Katalogtjeneste",
        vendor="Microsoft",
        runs_on=("ks-dc01",),
        depends_on=("ks-dc02",),
    ),
    System(
        "epost",
        "E-post og kalender",
        "fagsystem",
        "fellessystem",
        "high",
        service="E-post",
        vendor="Microsoft",
        depends_on=("ad",),
    ),
    System(
        "lonn",
        "Lønn og personal",
        "fagsystem",
        "fellessystem",
        "critical",
        finance_payroll=True,
        service="Lønn",
        vendor="Visma",
        runs_on=("ks-vmhost01",),
        depends_on=("db-okonomi", "ad"),
    ),
    System(
        "okonomi",
        "Økonomisystem",
        "fagsystem",
        "fellessystem",
        "critical",
        finance_payroll=True,
        service="Økonomi",
        vendor="Unit4",
        runs_on=("ks-vmhost01",),
        depends_on=("db-okonomi", "ad"),
    ),
    System(
        "sakarkiv",
        "Sak og arkiv",
        "fagsystem",
        "fellessystem",
        "high",
        service="Sak/arkiv",
        vendor="Sikri",
        depends_on=("ks-sql01", "ad"),
        admins=1,
    ),
    System(
        "intranett",
        "Intranett",
        "fagsystem",
        "fellessystem",
        "medium",
        service="Intranett",
        depends_on=("ks-pg01",),
    ),
    System(
        "pleie",
        "Pleie og omsorg (EPJ)",
        "fagsystem",
        "sektorsystem",
        "critical",
        life_and_health=True,
        service="Helse",
        vendor="Tieto",
        depends_on=("db-helse", "ad"),
    ),
    System(
        "helsestasjon",
        "Helsestasjon og skolehelse",
        "fagsystem",
        "sektorsystem",
        "critical",
        life_and_health=True,
        service="Helse",
        vendor="CosDoc",
        depends_on=("db-helse",),
        admins=1,
    ),
    System(
        "legevakt",
        "Legevakt og journal",
        "fagsystem",
        "sektorsystem",
        "critical",
        life_and_health=True,
        service="Helse",
        depends_on=("db-helse",),
        used_by="kristiansand sogne songdalen vennesla",
    ),
    System(
        "skole",
        "Skoleadministrativt system",
        "fagsystem",
        "sektorsystem",
        "high",
        service="Oppvekst",
        vendor="Visma",
        depends_on=("ad",),
    ),
    System(
        "barnehage",
        "Barnehageadministrasjon",
        "fagsystem",
        "sektorsystem",
        "medium",
        service="Oppvekst",
        vendor="Visma",
    ),
    System(
        "plan-bygg",
        "Plan- og byggesak",
        "fagsystem",
        "sektorsystem",
        "medium",
        service="Teknisk",
        vendor="Norkart",
        depends_on=("ks-sql01",),
    ),
    System(
        "vann",
        "Vann og avløp",
        "fagsystem",
        "sektorsystem",
        "high",
        service="Teknisk",
        vendor="Norkart",
        used_by="kristiansand vennesla lillesand sogne",
    ),
    System(
        "bibliotek",
        "Bibliotekssystem",
        "fagsystem",
        "sektorsystem",
        "low",
        service="Kultur",
        vendor="Bibliotek-Systemer",
        admins=1,
        tekniske=1,
    ),
    System(
        "fdv",
        "Forvaltning, drift og vedlikehold",
        "fagsystem",
        "tverrsektorielt",
        "medium",
        service="Eiendom",
        vendor="Famac",
    ),
    System(
        "kvalitet",
        "Kvalitets- og avvikssystem",
        "fagsystem",
        "tverrsektorielt",
        "high",
        service="Kvalitet",
    ),
    System(
        "portal",
        "fellesdrift brukerportal",
        "service_endpoint",
        "tverrsektorielt",
        "high",
        service="Brukerstøtte",
        depends_on=("ks-pg01",),
    ),
    System(
        "nettside-krs",
        "Kristiansands nettsider",
        "fagsystem",
        "virksomhetsspesifikt",
        "medium",
        owner="kristiansand",
        service="Nettsider",
        used_by="kristiansand",
    ),
    System(
        "parkering-krs",
        "Parkeringsforvaltning",
        "fagsystem",
        "virksomhetsspesifikt",
        "low",
        owner="kristiansand",
        service="Parkering",
        used_by="kristiansand",
        admins=1,
    ),
    System(
        "hytte-iveland",
        "Hytte- og tomtekart",
        "fagsystem",
        "virksomhetsspesifikt",
        "low",
        owner="iveland",
        service="Kart",
        used_by="iveland",
    ),
]


class _Names:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.taken: set[str] = set()

    def person(self, domain: str) -> tuple[str, str, str]:
        while True:
            first, last = self.rng.choice(FIRST), self.rng.choice(LAST)
            base = (first[:3] + last[:4]).lower()
            base = base.replace("ø", "o").replace("æ", "ae").replace("å", "a")
            for n in range(1, 100):
                username = f"{base}{n}" if n > 1 else base
                if username not in self.taken:
                    self.taken.add(username)
                    return username, f"{first} {last}", f"{username}@{domain}"


def is_loaded(session: Session) -> bool:
    return session.exec(select(Kommune.id).limit(1)).first() is not None


def load(session: Session, port: int = 8000, seed: int = 2010) -> dict[str, Any]:
    """Load the demo into an empty database as the system principal; returns demo logins."""
    rng = random.Random(seed)
    names = _Names(rng)
    by_slug = _load_kommuner(session)
    logins = _load_people(session, by_slug, names, rng)
    _load_systems(session, by_slug, names, rng, port)
    _set_demo_passwords(session)
    _merge(session, by_slug)
    return logins


def _merge(session: Session, by_slug: dict[str, Kommune]) -> None:
    """End the kommuner that merged, as the register records a merger."""
    for slug, successor in MERGED.items():
        ended = KommuneEnd(
            valid_to=MERGED_ON - timedelta(days=1), successor_id=_id(by_slug[successor])
        )
        kommuner.end_kommune(session, _id(by_slug[slug]), ended)
        for user in session.exec(select(User).where(User.kommune_id == by_slug[slug].id)):
            user.active = False
    session.flush()


def _load_kommuner(session: Session) -> dict[str, Kommune]:
    by_slug = {}
    for slug, name, nr, orgnr, inhabitants, _, address, postcode, city in KOMMUNER:
        k = kommuner.create_kommune(
            session,
            KommuneCreate(
                slug=slug,
                name=f"{name} kommune",
                kommunenummer=nr,
                orgnr=orgnr,
                inhabitants=inhabitants,
                inhabitants_date=REFERENCE_DATE,
                address_line=address,
                postcode=postcode,
                city=city,
                invoice_email=f"faktura@{slug}.kommune.no",
                buyer_reference=f"{nr}-IKT",
                valid_from=date(2011, 1, 1),
            ),
        )
        by_slug[slug] = k
        sites = 3 + min(12, inhabitants // 8000)
        for code, site_name, kind in SITE_KINDS[:sites]:
            kommuner.create_site(
                session,
                SiteIn(kommune_id=k.id, code=code, name=site_name, kind=kind),  # type: ignore[arg-type]
            )
    return by_slug


def _user(
    session: Session,
    names: _Names,
    domain: str,
    kommune: Kommune | None,
    roles: list[Role],
    username: str | None = None,
    full_name: str | None = None,
) -> User:
    generated, generated_name, email = names.person(domain)
    if username:
        names.taken.add(username)
        email = f"{username}@{domain}"
    return people.create_user(
        session,
        UserCreate(
            username=username or generated,
            full_name=full_name or generated_name,
            email=email,
            kommune_id=kommune.id if kommune else None,
            roles=roles,
        ),
    )


def _load_people(
    session: Session, by_slug: dict[str, Kommune], names: _Names, rng: random.Random
) -> dict[str, Any]:
    drift = "fellesdrift.no"
    _user(session, names, drift, None, [Role.ADMIN, Role.AGENT], "admin", "Ada Administrator")
    _user(session, names, drift, None, [Role.AGENT, Role.CAB_MEMBER], "agent", "Arne Agent")
    _user(
        session,
        names,
        drift,
        None,
        [Role.BILLING_ADMIN],
        "fakturaansvarlig",
        "Frida Fakturaansvarlig",
    )
    for _ in range(22):
        _user(session, names, drift, None, [Role.AGENT])
    for _ in range(3):
        _user(session, names, drift, None, [Role.AGENT, Role.CAB_MEMBER])
    for slug, _name, _nr, _orgnr, _inhabitants, end_users, *_address in KOMMUNER:
        k = by_slug[slug]
        domain = f"{slug}.kommune.no"
        site_ids = _site_ids(session, k)
        first = slug == "kristiansand"
        _user(
            session,
            names,
            domain,
            k,
            [Role.END_USER],
            "ansatt" if first else f"ansatt-{slug}",
            "Kari Ansatt" if first else None,
        )
        _user(
            session,
            names,
            domain,
            k,
            [Role.END_USER, Role.KOMMUNE_CONTACT],
            "kontakt" if first else f"kontakt-{slug}",
        )
        _user(
            session,
            names,
            domain,
            k,
            [Role.END_USER, Role.FINANCE],
            "okonomi" if first else f"okonomi-{slug}",
        )
        if slug in ("kristiansand", "vennesla", "lillesand"):
            _user(session, names, domain, k, [Role.END_USER, Role.CAB_MEMBER])
        for _ in range(end_users):
            u = _user(session, names, domain, k, [Role.END_USER])
            u.site_id = rng.choice(site_ids)
        leader = names.person(domain)
        for kind, person, title in (
            ("leadership", leader, "Kommunedirektør"),
            ("it", names.person(domain), "IT-kontakt"),
            ("finance", names.person(domain), "Regnskapsleder"),
        ):
            contact = {"kind": kind, "name": person[1], "title": title, "email": person[2]}
            contact["phone"] = f"+47 {rng.randint(40000000, 99999999)}"
            kommuner.add_contact(session, _id(k), ContactIn.model_validate(contact))
    return sign_ins()


def sign_ins() -> dict[str, Any]:
    """The demo's sign-ins as the demo command prints them."""
    return {
        "password": DEMO_PASSWORD,
        "users": {
            "admin": "admin (driftsenheten)",
            "agent": "agent (driftsenheten, CAB)",
            "fakturaansvarlig": "fakturaansvarlig (driftsenheten)",
            "ansatt": "ansatt (Kristiansand, sluttbruker)",
            "kontakt": "kontakt (Kristiansand, kontaktperson)",
            "okonomi": "okonomi (Kristiansand, økonomi)",
            "systemeier": "systemeier (Kristiansand, systemeier for Pleie og omsorg)",
        },
    }


def _site_ids(session: Session, k: Kommune) -> list[int]:
    from register.models import Site

    return [s for s in session.exec(select(Site.id).where(Site.kommune_id == k.id)) if s]


def _load_systems(
    session: Session, by_slug: dict[str, Kommune], names: _Names, rng: random.Random, port: int
) -> None:
    cis: dict[str, ConfigItem] = {}
    drift_staff = list(session.exec(select(User).where(User.kommune_id == None)))  # noqa: E711
    agents = [u for u in drift_staff if u.username not in ("admin", "fakturaansvarlig")]
    krs = by_slug["kristiansand"]
    for s in SYSTEMS:
        owner = by_slug[s.owner].id if s.owner else None
        fields = {
            "key": s.key,
            "name": s.name,
            "kind": s.kind,
            "classification": s.classification,
            "criticality": s.criticality,
            "life_and_health": s.life_and_health,
            "finance_payroll": s.finance_payroll,
            "owner_kommune_id": owner,
            "service": s.service,
            "vendor": s.vendor,
            "description": f"{s.name} ({s.service or s.kind}).",
        }
        cis[s.key] = cmdb.create_ci(session, CICreate.model_validate(fields))
    for s in SYSTEMS:
        ci = cis[s.key]
        relations = [(t, "runs_on") for t in s.runs_on] + [(t, "depends_on") for t in s.depends_on]
        for target, kind in relations:
            relation = RelationIn.model_validate({"target_id": cis[target].id, "kind": kind})
            cmdb.add_relation(session, _id(ci), relation)
        _usage(session, s, ci, by_slug, rng)
        for person in rng.sample(agents, s.tekniske):
            _responsible(session, ci, person, "teknisk_systemadministrator")
        if s.kind == "fagsystem":
            _named_owners(session, s, ci, by_slug.get(s.owner or "", krs), names)
    _targets(session, cis, port)


def _usage(
    session: Session, s: System, ci: ConfigItem, by_slug: dict[str, Kommune], rng: random.Random
) -> None:
    slugs = (
        [] if s.used_by == "none" else list(by_slug) if s.used_by == "all" else s.used_by.split()
    )
    for slug in dict.fromkeys(MERGED.get(slug, slug) for slug in slugs):
        k = by_slug[slug]
        share = {"fellessystem": 0.09, "sektorsystem": 0.02}.get(s.classification or "", 0.01)
        count = max(3, int((k.inhabitants or 1000) * share * rng.uniform(0.8, 1.2)))
        cmdb.set_usage(session, _id(ci), UsageIn(kommune_id=_id(k), users_count=count))


def _named_owners(
    session: Session, s: System, ci: ConfigItem, kommune: Kommune, names: _Names
) -> None:
    domain = f"{kommune.slug}.kommune.no"
    if s.key == "pleie":
        owner = _user(
            session,
            names,
            domain,
            kommune,
            [Role.END_USER, Role.SYSTEMEIER],
            "systemeier",
            "Sigrid Systemeier",
        )
    else:
        owner = _user(session, names, domain, kommune, [Role.END_USER, Role.SYSTEMEIER])
    _responsible(session, ci, owner, "systemeier")
    for _ in range(s.admins):
        admin = _user(session, names, domain, kommune, [Role.END_USER, Role.SYSTEMADMINISTRATOR])
        _responsible(session, ci, admin, "systemadministrator")


def _responsible(session: Session, ci: ConfigItem, person: User, kind: str) -> None:
    data = ResponsibilityIn.model_validate({"user_id": person.id, "kind": kind})
    cmdb.add_responsibility(session, _id(ci), data)


def _id(row: Kommune | ConfigItem | User) -> int:
    assert row.id is not None, "flushed rows have ids"
    return row.id


def _targets(session: Session, cis: dict[str, ConfigItem], port: int) -> None:
    """Monitoring aimed at what really runs on this machine: the platform itself."""
    base = f"http://127.0.0.1:{port}"
    wanted = [
        ("portal", "http", f"{base}/healthz", 15, 5),
        ("portal", "tcp", f"127.0.0.1:{port}", 15, 5),
        ("ks-mon01", "icmp", "127.0.0.1", 30, 5),
        ("intranett", "http", f"{base}/logg-inn", 30, 10),
    ]
    for key, probe, target, interval, timeout in wanted:
        data = {"probe": probe, "target": target, "interval_seconds": interval}
        data["timeout_seconds"] = timeout
        cmdb.add_target(session, _id(cis[key]), TargetIn.model_validate(data))


def _set_demo_passwords(session: Session) -> None:
    # One argon2 hash shared by every demo account: hashing hundreds separately would make
    # the demo start slowly, and these accounts have a published password anyway.
    shared = auth.hash_password(DEMO_PASSWORD)
    for user in session.exec(select(User)):
        user.password_hash = shared
