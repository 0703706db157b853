"""Demo tickets: assignment groups, the service catalogue, a year of incidents across the
kommuner of today (Søgne and Songdalen merged into Kristiansand in 2020), service requests
ordered from the catalogue (some waiting for approval), a mass outage with children in three
kommuner, a problem with its incidents (a known error), time entries."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, select

from register import auth
from register.access import Principal, bind
from register.models import ConfigItem, Kommune, RoleGrant, User
from servicedesk.tickets.choices import LinkKind, Status, TicketType
from servicedesk.tickets.models import CatalogueItem, Group, GroupMember, Ticket
from servicedesk.tickets.schemas import (
    LinkIn,
    RatingIn,
    ReplyIn,
    TicketCreate,
    TicketUpdate,
    TimeEntryIn,
    Transition,
)
from servicedesk.tickets.service import (
    approvals,
    catalogue,
    catalogue_demo,
    core,
    lifecycle,
    links,
    timeentries,
)
from servicedesk.tickets.service.catalogue import RequestIn

GROUPS = [
    ("brukerstotte", "Brukerstøtte"),
    ("servere", "Servere og lagring"),
    ("nettverk", "Nettverk og sikkerhet"),
    ("fagsystemer", "Fagsystemer"),
]
PROBLEMS = [
    ("Skriveren skriver ikke ut", "skriver", 4, 3),
    ("Får ikke logget inn på PC-en", "pålogging", 3, 2),
    ("Outlook henger ved oppstart", "e-post", 4, 3),
    ("Treg tilgang til fellesområdet", "filer", 3, 3),
    ("Lønnsslippen vises ikke", "lønn", 3, 2),
    ("Fagsystemet for pleie og omsorg svarer ikke", "pleie", 2, 1),
    ("Trenger tilgang til saksarkivet", "tilgang", 4, 4),
    ("VPN kobler fra hele tiden", "vpn", 3, 3),
    ("Skjermen flimrer", "utstyr", 4, 4),
    ("Kan ikke åpne vedlegg i sak/arkiv", "sakarkiv", 3, 3),
]
ANSWERS = [
    "Takk for meldingen. Vi ser på saken.",
    "Kan du prøve å logge ut og inn igjen?",
    "Vi har startet tjenesten på nytt. Virker det nå?",
]


def _as(session: Session, user: User) -> Session:
    bind(session, Principal.system("demo"))
    return bind(session, auth.principal_for(session, user))


def load(session: Session, seed: int = 2026) -> None:
    """Load demo tickets; ``session`` is bound to the system and is left bound to it."""
    rng = random.Random(seed)
    agents = list(
        session.exec(
            select(User)
            .join(RoleGrant, col(RoleGrant.user_id) == User.id)
            .where(RoleGrant.role == "agent", col(User.kommune_id).is_(None))
            .order_by(col(User.id))
        )
    )
    groups = _groups(session, agents)
    # The portal's catalogue (its items name the groups above and the register's systems).
    catalogue_demo.load_demo_catalogue(session)
    # Tickets of today are filed in the kommuner of today (Søgne and Songdalen have merged).
    kommuner = list(
        session.exec(
            select(Kommune).where(col(Kommune.valid_to).is_(None)).order_by(col(Kommune.id))
        )
    )
    people = {
        k.id: list(
            session.exec(
                select(User).where(User.kommune_id == k.id, col(User.active).is_(True)).limit(25)
            )
        )
        for k in kommuner
    }
    systems = {c.key: c for c in session.exec(select(ConfigItem))}
    now = datetime.now(UTC)
    for n in range(90):
        k = kommuner[n % len(kommuner)]
        _one_ticket(
            session,
            rng,
            people[k.id],
            agents,
            groups,
            systems,
            now - timedelta(days=rng.randint(0, 300)),
        )
    _mass_outage(session, rng, kommuner, people, agents, systems)
    _requests(session, rng, kommuner, people, agents)
    _problem(session, agents, systems)
    bind(session, Principal.system("demo"))


#: Orders of the demo catalogue: (item key, form answers). Some need an approval first.
ORDERS: list[tuple[str, dict[str, str]]] = [
    ("ny-brukerkonto", {"for_whom": "Ola Nordmann", "start_date": "2027-01-04",
                        "position": "Sykepleier", "unit": "Hjemmetjenesten"}),
    ("tilgang-sakarkiv", {"for_whom": "Ingrid Berg", "level": "write",
                          "reason": "Ny saksbehandler i byggesak"}),
    ("passordhjelp", {"phone": "+47 38 00 00 00"}),
    ("mobiltelefon", {"for_whom": "Per Hansen", "number": "keep"}),
    ("programvare", {"program": "Adobe Acrobat Reader", "licence": "free"}),
    ("vpn", {"for_whom": "Kari Lie", "reason": "Hjemmekontor to dager i uken"}),
    ("epostliste", {"list": "post@vennesla.kommune.no", "change": "add",
                    "members": "ny.ansatt@vennesla.kommune.no"}),
    ("tilgang-pleie", {"for_whom": "Sofie Dahl", "level": "read",
                       "reason": "Vikar i hjemmesykepleien"}),
    ("ny-pc", {"for_whom": "Jonas Moe", "model": "laptop", "reason": "Ny stilling"}),
]  # fmt: skip


def _requests(
    session: Session,
    rng: random.Random,
    kommuner: list[Kommune],
    people: dict[int | None, list[User]],
    agents: list[User],
) -> None:
    """Service requests ordered in the portal: some waiting for approval, some done."""
    items = {i.key: i for i in session.exec(select(CatalogueItem))}
    for n, (key, answers) in enumerate(ORDERS):
        if key not in items:
            continue
        k = _kommune_for(kommuner, n)
        _as(session, rng.choice(people[k.id]))
        item_id = items[key].id
        assert item_id is not None
        ticket = catalogue.order(session, item_id, RequestIn(form_data=answers))
        if ticket.status != Status.NEW.value and n % 2 == 1:
            _approve(session, _id(ticket))  # the approver has said yes: work can start
            continue
        if ticket.status != Status.NEW.value or n % 3 == 2:
            continue  # waiting for approval, or not yet picked up
        agent = rng.choice(agents)
        _as(session, agent)
        update = TicketUpdate(version=ticket.version, assignee_id=agent.id)
        ticket = core.update_ticket(session, _id(ticket), update)
        if n % 2 == 0:
            done = Transition(
                version=ticket.version, status=Status.RESOLVED, resolution="Utført som bestilt."
            )
            lifecycle.transition(session, _id(ticket), done)


def _approve(session: Session, ticket_id: int) -> None:
    bind(session, Principal.system("demo"))
    for approval in approvals.approvals_of(session, ticket_id):
        approver = session.get(User, approval.approver_id)
        if approval.state == "pending" and approver is not None:
            _as(session, approver)
            decision = approvals.DecisionIn(approve=True, comment="Godkjent.")
            approvals.decide(session, _id_of(approval.id), decision)
            return


def _id_of(value: int | None) -> int:
    assert value is not None
    return value


def _kommune_for(kommuner: list[Kommune], n: int) -> Kommune:
    return kommuner[n % len(kommuner)]


def _problem(session: Session, agents: list[User], systems: dict[str, ConfigItem]) -> None:
    """A problem recorded by the drift unit, with the incidents it causes linked to it."""
    _as(session, agents[1 % len(agents)])
    email = systems.get("epost")
    problem = core.create_ticket(
        session,
        TicketCreate(
            type=TicketType.PROBLEM,
            title="Outlook henger ved oppstart etter månedlig oppdatering",
            description="Flere hendelser hver måned etter oppdateringen av Office.",
            category="e-post",
            impact=3,
            urgency=3,
            ci_ids=[email.id] if email and email.id else [],
        ),
    )
    stmt = select(Ticket).where(
        Ticket.title == "Outlook henger ved oppstart", Ticket.type == TicketType.INCIDENT.value
    )
    for incident in list(session.exec(stmt.order_by(col(Ticket.id))))[:4]:
        link = LinkIn(kind=LinkKind.CAUSED_BY, target_id=_id(problem))
        links.link(session, _id(incident), link)
    update = TicketUpdate(
        version=problem.version,
        root_cause="Et tillegg i Outlook lastes før profilen er klar.",
        workaround="Start Outlook i sikker modus (outlook.exe /safe) og slå av tillegget.",
        known_error=True,
    )
    core.update_ticket(session, _id(problem), update)


def _groups(session: Session, agents: list[User]) -> list[Group]:
    groups = []
    for i, (key, name) in enumerate(GROUPS):
        group = Group(key=key, name=name, email=f"{key}@fellesdrift.no")
        session.add(group)
        session.flush()
        for agent in agents[i :: len(GROUPS)]:
            session.add(GroupMember(group_id=group.id, user_id=agent.id))  # type: ignore[arg-type]
        groups.append(group)
    return groups


def _one_ticket(
    session: Session,
    rng: random.Random,
    people: list[User],
    agents: list[User],
    groups: list[Group],
    systems: dict[str, ConfigItem],
    when: datetime,
) -> Ticket:
    title, category, impact, urgency = rng.choice(PROBLEMS)
    requester = rng.choice(people)
    ci = systems.get(
        {"lønn": "lonn", "pleie": "pleie", "e-post": "epost", "sakarkiv": "sakarkiv"}.get(
            category, ""
        )
    )
    _as(session, requester)
    ticket = core.create_ticket(
        session,
        TicketCreate(
            title=title,
            description=f"{title}. Gjelder {requester.full_name}.",
            category=category,
            impact=impact,
            urgency=urgency,
            ci_ids=[ci.id] if ci and ci.id else [],
        ),
    )
    ticket.created_at = when
    tid = _id(ticket)
    agent = rng.choice(agents)
    _as(session, agent)
    fate = rng.random()
    if fate < 0.15:
        return ticket  # still new
    group = groups[0] if ci is None else groups[3]
    update = TicketUpdate(
        version=ticket.version, assignee_id=agent.id, assignment_group_id=group.id
    )
    ticket = core.update_ticket(session, tid, update)
    lifecycle.reply(session, tid, ReplyIn(body=rng.choice(ANSWERS)))
    work = {"work_date": when.date(), "minutes": rng.choice([15, 30, 45, 60, 90])}
    work["work_type"] = "after_hours" if rng.random() < 0.1 else "office_hours"
    timeentries.add(session, tid, TimeEntryIn.model_validate(work))
    if fate < 0.35:
        return ticket
    resolution = "Løst: " + rng.choice(ANSWERS)
    done = Transition(version=ticket.version, status=Status.RESOLVED, resolution=resolution)
    ticket = lifecycle.transition(session, tid, done)
    ticket.resolved_at = when + timedelta(hours=rng.randint(1, 48))
    if fate > 0.5:
        _as(session, requester)
        lifecycle.rate(session, tid, RatingIn(rating=rng.randint(3, 5)))
    return ticket


def _mass_outage(
    session: Session,
    rng: random.Random,
    kommuner: list[Kommune],
    people: dict[int | None, list[User]],
    agents: list[User],
    systems: dict[str, ConfigItem],
) -> None:
    email = systems["epost"]
    _as(session, agents[0])
    parent = core.create_ticket(
        session,
        TicketCreate(
            title="E-post er nede for alle kommunene",
            description="Brukere får ikke sendt eller mottatt e-post.",
            impact=1,
            urgency=1,
            major=True,
            ci_ids=[email.id] if email.id else [],
            category="e-post",
        ),
    )
    for k in kommuner[:3]:
        _as(session, people[k.id][0])
        child = core.create_ticket(
            session, TicketCreate(title="Får ikke sendt e-post", category="e-post")
        )
        _as(session, agents[0])
        links.link(session, _id(child), LinkIn(kind=LinkKind.PARENT, target_id=_id(parent)))
    news = ReplyIn(body="Vi har funnet feilen og jobber med å rette den.")
    lifecycle.reply(session, _id(parent), news)


def _id(ticket: Ticket) -> int:
    assert ticket.id is not None, "flushed tickets have ids"
    return ticket.id
