"""What a mass outage copies from its parent into its children, with TLP (issue 14, item 10).

The decision (docs/access.md): a parent's text (public replies, the resolution) is copied into a
child only when the child is at least as restricted as the parent (CLEAR < GREEN < AMBER <
RED). A less restricted child is still resolved with its parent, and says so, but without the
parent's words: its readers and its notifications' TLP label are not the parent's.
"""

from __future__ import annotations

from sqlmodel import select

from servicedesk.tickets.models import Notification, Ticket
from servicedesk.tickets.schemas import LinkIn, ReplyIn, TicketCreate, Transition
from servicedesk.tickets.service import core, lifecycle, links

SECRET_REPLY = "Angriper er inne via VPN-kontoen til leverandoren"
SECRET_RESOLUTION = "Kompromittert konto sperret, passord byttet hos leverandoren"


def _mass_outage(world, as_user, parent_tlp: str, child_tlp: str):  # type: ignore[no-untyped-def]
    agent = as_user(world.agent)
    parent = core.create_ticket(
        agent, TicketCreate(title="E-post nede for alle", tlp=parent_tlp, major=True)
    )
    agent.commit()
    anne = as_user(world.user_a)
    child = core.create_ticket(anne, TicketCreate(title="Får ikke sendt e-post", tlp=child_tlp))
    anne.commit()
    links.link(agent, child.id, LinkIn(kind="parent", target_id=parent.id))
    agent.commit()
    lifecycle.reply(agent, parent.id, ReplyIn(body=SECRET_REPLY))
    agent.commit()
    lifecycle.transition(
        agent,
        parent.id,
        Transition(version=parent.version, status="resolved", resolution=SECRET_RESOLUTION),
    )
    agent.commit()
    return child


def _child_texts(world, as_user, make, child) -> str:  # type: ignore[no-untyped-def]
    """Everything the child's kommune contact reads of the child, and every message about it."""
    contact = as_user(world.contact_a)
    seen = contact.get(Ticket, child.id)
    assert seen is not None and seen.status == "resolved"
    texts = [seen.resolution or ""] + [e.body for e in core.timeline(contact, child.id)]
    with make.session() as system:
        mails = system.exec(select(Notification).where(Notification.ticket_id == child.id)).all()
    assert any(m.reason == "resolved" for m in mails), "the child's requester hears it resolved"
    texts += [m.subject + m.body for m in mails]
    return "\n".join(texts)


def test_red_parent_text_never_reaches_an_amber_child(world, as_user, make) -> None:
    child = _mass_outage(world, as_user, "red", "amber")
    texts = _child_texts(world, as_user, make, child)
    assert SECRET_REPLY not in texts
    assert SECRET_RESOLUTION not in texts
    contact = as_user(world.contact_a)
    parent_id = contact.get(Ticket, child.id).parent_id  # type: ignore[union-attr]
    events = [e.change for e in core.timeline(contact, child.id)]
    assert parent_id is not None and {"event": "resolved_by_parent", "parent": parent_id} in events


def test_amber_parent_text_never_reaches_a_green_child(world, as_user, make) -> None:
    texts = _child_texts(world, as_user, make, _mass_outage(world, as_user, "amber", "green"))
    assert SECRET_REPLY not in texts and SECRET_RESOLUTION not in texts


def test_parent_text_reaches_a_child_as_restricted_or_more(world, as_user, make) -> None:
    """The other direction: a GREEN parent's words reach an AMBER child, and an AMBER parent's
    an AMBER child, as before."""
    for parent_tlp in ("green", "amber"):
        child = _mass_outage(world, as_user, parent_tlp, "amber")
        texts = _child_texts(world, as_user, make, child)
        assert SECRET_REPLY in texts and SECRET_RESOLUTION in texts
        assert as_user(world.user_a).get(Ticket, child.id).resolution == SECRET_RESOLUTION  # type: ignore[union-attr]
