"""The demo's changes, loaded on the embedded SQLite database as the demo does: one through the
systemeier and a CAB meeting, a standard change, a reviewed emergency change, a conflict."""

from __future__ import annotations

from sqlmodel import Session, select

from fellesdrift.kernel.db import make_engine
from register import demo
from register.access import Principal, bind
from servicedesk.changes import demo as change_demo
from servicedesk.changes.models import CabMeeting, ChangeDecision, ChangeRecord
from servicedesk.changes.service import cab


def test_the_demo_shows_each_kind_of_change(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with bind(Session(engine), Principal.system("test")) as session:
            demo.load(session)
            session.commit()
            change_demo.load(session)
            session.commit()
            changes = {r.ticket_id: r for r in session.exec(select(ChangeRecord))}
            kinds = {(r.change_type, r.state) for r in changes.values()}
            assert ("normal", "approved") in kinds
            assert ("standard", "approved") in kinds
            assert ("emergency", "closed") in kinds and ("normal", "submitted") in kinds
            emergency = next(r for r in changes.values() if r.change_type == "emergency")
            assert emergency.review
            meeting = session.exec(select(CabMeeting)).one()
            assert meeting.state == "held" and meeting.notes
            votes = session.exec(select(ChangeDecision).where(ChangeDecision.kind == "cab")).all()
            assert sorted(v.vote for v in votes) == ["approve", "approve", "reject"]
            approved = next(
                r for r in changes.values() if (r.change_type, r.state) == ("normal", "approved")
            )
            assert cab.conflicts(session, approved), "the demo's conflict is not seen"
    finally:
        engine.dispose()
