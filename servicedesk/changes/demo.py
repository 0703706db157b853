"""Demo changes: a change on a life-and-health system that goes through its systemeier and a
CAB meeting (agenda, votes, minutes), a standard change from a template, an emergency change
approved by the emergency CAB and reviewed afterwards, and a change that conflicts with the
first in time on a system it runs on. Built through the services, as people would."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from register import auth
from register.access import Principal, bind
from register.choices import Responsibility, Role
from register.models import CIResponsibility, ConfigItem, RoleGrant, User
from servicedesk.changes.choices import ChangeState, ChangeType, Vote
from servicedesk.changes.models import ChangeTemplate
from servicedesk.changes.schemas import ChangeCreate, DecisionIn, MeetingIn
from servicedesk.changes.service import approvals, cab, lifecycle, records
from sla.calendar import OSLO, SERVICE_DESK

LOW = {
    "reach": "one_kommune",
    "downtime": "short",
    "tested": "yes",
    "backout": "simple",
    "experience": "done_before",
}
HIGH = dict(LOW, reach="several_kommuner", downtime="long", tested="partly")
WINDOW = "tue 20:00-24:00"


def _as(session: Session, user: User) -> Session:
    bind(session, Principal.system("demo"))
    return bind(session, auth.principal_for(session, user))


def _people(session: Session, role: Role) -> list[User]:
    grants = select(RoleGrant.user_id).where(RoleGrant.role == role.value)
    stmt = select(User).where(col(User.id).in_(grants), col(User.kommune_id).is_(None))
    return list(session.exec(stmt.order_by(col(User.id))))


def _tuesday_evening(weeks: int) -> tuple[datetime, datetime]:
    earliest = SERVICE_DESK.add_working_days(datetime.now(OSLO), 6).date()
    day = earliest + timedelta(days=(1 - earliest.weekday()) % 7, weeks=weeks)
    start = datetime(day.year, day.month, day.day, 20, 30, tzinfo=OSLO)
    return start, start + timedelta(minutes=90)


def _plans(**kw: object) -> dict[str, object]:
    return {
        "implementation_plan": "1. Varsle brukerne\n2. Stopp tjenesten\n3. Oppgrader\n4. Start",
        "test_plan": "Logg inn som testbruker og åpne en journal",
        "backout_plan": "Gjenopprett fra øyeblikksbildet tatt før start",
    } | kw


def move(session: Session, user: User, change_id: int, *states: ChangeState) -> None:
    _as(session, user)
    for state in states:
        review = "Endringen virket; varslingen kom for sent ut" if state == "closed" else ""
        lifecycle.transition(session, change_id, state, review=review)
    session.flush()


def load(session: Session) -> None:
    """Load the demo changes; ``session`` is bound to the system and is left bound to it."""
    bind(session, Principal.system("demo"))
    agents = [u for u in _people(session, Role.AGENT) if u.username not in ("admin", "agent")]
    voters = [u for u in _people(session, Role.CAB_MEMBER) if u.username != "agent"]
    # The first life-and-health system with a named systemeier (a database has none).
    found = session.exec(
        select(ConfigItem, User)
        .join(CIResponsibility, col(CIResponsibility.ci_id) == ConfigItem.id)
        .join(User, col(User.id) == CIResponsibility.user_id)
        .where(
            col(ConfigItem.life_and_health).is_(True),
            CIResponsibility.kind == Responsibility.SYSTEMEIER.value,
        )
        .order_by(col(ConfigItem.id))
    ).first()
    if not agents or len(voters) < 3 or found is None or found[0].id is None:
        return  # a register without the demo's people and systems
    health, owner = found
    health_id = int(found[0].id)
    health.maintenance_window = health.maintenance_window or WINDOW
    plain = session.exec(
        select(ConfigItem)
        .where(ConfigItem.criticality == "medium", col(ConfigItem.life_and_health).is_(False))
        .where(col(ConfigItem.finance_payroll).is_(False))
        .order_by(col(ConfigItem.id))
    ).first()
    session.flush()
    maker = agents[0]
    critical = _through_cab(session, maker, owner, voters, health_id)
    if plain is not None and plain.id is not None:
        _standard(session, maker, plain.id)
    _emergency(session, maker, voters, health_id)
    _conflict(session, maker, health_id, critical)
    bind(session, Principal.system("demo"))


def _create(session: Session, user: User, **data: object) -> int:
    _as(session, user)
    ticket, _ = records.create_change(session, ChangeCreate.model_validate(data))
    session.flush()
    return int(ticket.id or 0)


def _through_cab(session: Session, maker: User, owner: User, voters: list[User], ci_id: int) -> int:
    start, end = _tuesday_evening(1)
    cid = _create(
        session,
        maker,
        title="Oppgradere fagsystemet for helse og omsorg til ny hovedversjon",
        reason="Leverandøren avslutter støtten for dagens versjon ved årsskiftet",
        ci_ids=[ci_id],
        planned_start=start,
        planned_end=end,
        risk_answers=HIGH,
        **_plans(),
    )
    move(session, maker, cid, ChangeState.SUBMITTED, ChangeState.ASSESSMENT)
    move(session, maker, cid, ChangeState.AWAITING_APPROVAL)
    _as(session, owner)
    approvals.decide(session, cid, DecisionIn(vote=Vote.APPROVE), systemeier=True)
    _as(session, maker)
    meeting = cab.create_meeting(
        session, MeetingIn(meets_at=start - timedelta(days=5, hours=11), title="Ukentlig CAB")
    )
    cab.send_agenda(session, int(meeting.id or 0))
    session.flush()
    # A tie after two votes; the third decides.
    votes = [(Vote.APPROVE, ""), (Vote.REJECT, "Ønsker lengre vindu"), (Vote.APPROVE, "")]
    for voter, (vote, why) in zip(voters, votes, strict=False):
        _as(session, voter)
        approvals.decide(
            session,
            cid,
            DecisionIn(vote=vote, comment=why, meeting_id=meeting.id),
            systemeier=False,
        )
        session.flush()
    _as(session, maker)
    cab.close_meeting(session, int(meeting.id or 0), "Godkjent med to mot én stemme.")
    session.flush()
    return cid


def _standard(session: Session, maker: User, ci_id: int) -> None:
    bind(session, Principal.system("demo"))
    template = ChangeTemplate(
        key="omstart-tjeneste",
        name="Planlagt omstart av en tjeneste",
        description="Omstart utenom arbeidstid etter fast oppskrift",
        **_plans(test_plan="Sjekk at tjenesten svarer på helsesjekken"),  # type: ignore[arg-type]
    )
    session.add(template)
    session.flush()
    start, end = _tuesday_evening(0)
    cid = _create(
        session,
        maker,
        title="Planlagt omstart etter oppdateringer",
        change_type=ChangeType.STANDARD,
        template_id=template.id,
        ci_ids=[ci_id],
        planned_start=start,
        planned_end=end,
    )
    move(session, maker, cid, ChangeState.SUBMITTED)


def _emergency(session: Session, maker: User, voters: list[User], ci_id: int) -> None:
    now = datetime.now(OSLO).replace(second=0, microsecond=0)
    cid = _create(
        session,
        maker,
        title="Hasteoppdatering: kritisk sikkerhetshull i innloggingen",
        reason="Leverandøren melder at hullet utnyttes aktivt",
        change_type=ChangeType.EMERGENCY,
        ci_ids=[ci_id],
        planned_start=now - timedelta(days=2),
        planned_end=now - timedelta(days=2) + timedelta(hours=1),
        risk_answers=LOW,
        **_plans(),
    )
    move(session, maker, cid, ChangeState.SUBMITTED)
    for voter in voters[:2]:
        _as(session, voter)
        approvals.decide(session, cid, DecisionIn(vote=Vote.APPROVE), systemeier=False)
        session.flush()
    done = (ChangeState.SCHEDULED, ChangeState.IN_PROGRESS, ChangeState.IMPLEMENTED)
    move(session, maker, cid, *done, ChangeState.REVIEW, ChangeState.CLOSED)


def _conflict(session: Session, maker: User, ci_id: int, other: int) -> None:
    """A second change on the same system, overlapping ``other`` in time: both show it."""
    start, end = _tuesday_evening(1)
    cid = _create(
        session,
        maker,
        title="Utvide lagringen på databaseserveren",
        reason="Disken er snart full",
        ci_ids=[ci_id],
        planned_start=start + timedelta(minutes=30),
        planned_end=end + timedelta(minutes=30),
        risk_answers=LOW,
        **_plans(),
    )
    move(session, maker, cid, ChangeState.SUBMITTED)
