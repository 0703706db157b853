"""REST API of the agent workspace's tools (``/api/v1``): assignment groups and their members,
saved views (one's own named queue filters, run as a queue), queues in the workspace's order,
and bulk updates.

Assignment groups belong to the drift unit: everyone may list them (a ticket names its
group), only the drift unit sees who is in them, and only admins change them. Saved views are
personal: nobody sees or changes another's, admins included (another's view is a 404). A bulk
update changes each ticket through the same services as a single edit. The services decide
who may do what (:mod:`..service.groups`, :mod:`..service.views`, :mod:`..service.bulk`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlmodel import Session, select

from fellesdrift.kernel.types import DbInt
from register.deps import ApiDb
from register.routes.common import CSRF, After, Limit
from register.schemas import Page
from register.service import get_visible
from servicedesk.tickets.choices import Status, TicketType, Tlp
from servicedesk.tickets.models import Group, SavedView
from servicedesk.tickets.routes.api_common import page, saving
from servicedesk.tickets.routes.api_schemas import (
    BulkIn,
    BulkOut,
    BulkResultOut,
    FieldErrorOut,
    GroupOut,
    MemberIn,
    MemberOut,
    ViewIn,
    ViewOut,
    ViewUpdate,
    problems,
)
from servicedesk.tickets.schemas import TicketOut
from servicedesk.tickets.service import bulk, groups, queues, views
from servicedesk.tickets.service.groups import GroupIn

router = APIRouter(prefix="/api/v1", tags=["groups"], dependencies=CSRF)
views_router = APIRouter(prefix="/api/v1", tags=["views"], dependencies=CSRF)
bulk_router = APIRouter(prefix="/api/v1", tags=["tickets"], dependencies=CSRF)


# ---- assignment groups -----------------------------------------------------------------------


@router.get("/groups", response_model=Page[GroupOut], summary="List assignment groups")
def list_groups(db: ApiDb, limit: Limit = 50, after: After = None) -> dict[str, Any]:
    """The drift unit's teams, whose queues tickets are assigned to, by id."""
    return page(db, select(Group), Group.id, limit, after, GroupOut.model_validate)


@router.get(
    "/groups/{group_id}",
    response_model=GroupOut,
    summary="Get an assignment group",
    responses=problems(404),
)
def get_group(db: ApiDb, group_id: DbInt) -> Group:
    return get_visible(db, Group, group_id)


@router.post(
    "/groups",
    response_model=GroupOut,
    status_code=201,
    summary="Add an assignment group",
    responses=problems(409),
)
def create_group(db: ApiDb, data: GroupIn, response: Response) -> Group:
    """Admins only; the `key` must be free."""
    with saving(db):
        group = groups.create_group(db, data)
    response.headers["Location"] = f"/api/v1/groups/{group.id}"
    return group


@router.put(
    "/groups/{group_id}",
    response_model=GroupOut,
    summary="Change an assignment group",
    responses=problems(404, 409),
)
def update_group(db: ApiDb, group_id: DbInt, data: GroupIn) -> Group:
    """Admins only: the group's key, name and e-mail, all given."""
    with saving(db):
        return groups.update_group(db, group_id, data)


def _member(user: Any) -> MemberOut:
    return MemberOut(user_id=user.id, username=user.username, full_name=user.full_name)


@router.get(
    "/groups/{group_id}/members",
    response_model=list[MemberOut],
    summary="The members of an assignment group",
    responses=problems(404),
)
def list_members(db: ApiDb, group_id: DbInt) -> list[MemberOut]:
    """By name; the drift unit only. A group has a few members, so this is one list."""
    get_visible(db, Group, group_id)
    return [_member(u) for u in groups.members(db, group_id)]


@router.post(
    "/groups/{group_id}/members",
    response_model=MemberOut,
    status_code=201,
    summary="Add a member to an assignment group",
    responses=problems(404, 409),
)
def add_member(db: ApiDb, group_id: DbInt, data: MemberIn) -> MemberOut:
    """Admins only; the member must be an active agent of the drift unit."""
    with saving(db):
        groups.add_member_id(db, group_id, data.user_id)
    return next(_member(u) for u in groups.members(db, group_id) if u.id == data.user_id)


@router.delete(
    "/groups/{group_id}/members/{user_id}",
    status_code=204,
    summary="Remove a member from an assignment group",
    responses=problems(404),
)
def remove_member(db: ApiDb, group_id: DbInt, user_id: DbInt) -> Response:
    """Admins only. Tickets assigned to the person stay assigned."""
    with saving(db):
        get_visible(db, Group, group_id)
        groups.remove_member(db, group_id, user_id)
    return Response(status_code=204)


# ---- saved views -----------------------------------------------------------------------------


@views_router.get("/views", response_model=Page[ViewOut], summary="My saved views")
def list_views(db: ApiDb, limit: Limit = 50, after: After = None) -> dict[str, Any]:
    """Your own saved views, by id."""
    return page(db, views.mine(db), SavedView.id, limit, after, ViewOut.model_validate)


@views_router.post(
    "/views",
    response_model=ViewOut,
    status_code=201,
    summary="Save a view",
    responses=problems(),
)
def create_view(db: ApiDb, data: ViewIn, response: Response) -> SavedView:
    """Save a queue filter under a name of your own (agents of the drift unit)."""
    with saving(db):
        view = views.save_view(db, data.name, data.query)
    response.headers["Location"] = f"/api/v1/views/{view.id}"
    return view


@views_router.get(
    "/views/{view_id}", response_model=ViewOut, summary="Get a saved view", responses=problems(404)
)
def get_view(db: ApiDb, view_id: DbInt) -> SavedView:
    return views.get_view(db, view_id)


@views_router.patch(
    "/views/{view_id}",
    response_model=ViewOut,
    summary="Rename a saved view or change its filter",
    responses=problems(404),
)
def update_view(db: ApiDb, view_id: DbInt, data: ViewUpdate) -> SavedView:
    with saving(db):
        return views.update_view(db, view_id, data.name, data.query)


@views_router.delete(
    "/views/{view_id}", status_code=204, summary="Delete a saved view", responses=problems(404)
)
def delete_view(db: ApiDb, view_id: DbInt) -> Response:
    with saving(db):
        views.delete_view(db, view_id)
    return Response(status_code=204)


@views_router.get(
    "/views/{view_id}/tickets",
    response_model=Page[TicketOut],
    summary="Run a saved view",
    responses=problems(404),
)
def run_view(db: ApiDb, view_id: DbInt, limit: Limit = 50, after: After = None) -> dict[str, Any]:
    """The view's queue as you may see it now, in the workspace's order: priority (P1 first),
    then oldest first. Pass `next` back as `after` for the following page."""
    result = views.run_view(db, view_id, limit, after)
    return {"items": [TicketOut.model_validate(t) for t in result.tickets], "next": result.next}


_ASSIGNEE = "`me`, `none` (unassigned) or a user id"


@views_router.get(
    "/queue",
    response_model=Page[TicketOut],
    summary="A queue, as the workspace orders it",
    responses=problems(),
)
def queue(
    db: ApiDb,
    limit: Limit = 50,
    after: After = None,
    status: Annotated[list[Status] | None, Query(description="Open statuses if none")] = None,
    priority: Annotated[list[DbInt] | None, Query(description="One or more of 1-4")] = None,
    type: Annotated[list[TicketType] | None, Query()] = None,
    tlp: Annotated[list[Tlp] | None, Query()] = None,
    kommune: Annotated[list[DbInt] | None, Query(description="Kommune ids")] = None,
    group: Annotated[list[DbInt] | None, Query(description="Assignment group ids")] = None,
    assignee: Annotated[
        str | None, Query(max_length=12, description="`me`, `none` or an id")
    ] = None,
    ci: Annotated[str | None, Query(max_length=80, description="A system's id or key")] = None,
    major: bool = False,
    q: Annotated[str | None, Query(max_length=200, description="Full-text, as in /tickets")] = None,
) -> dict[str, Any]:
    """The tickets of a filter, as you may see them, in the order the workspace works them:
    priority (P1 first), then oldest first; the filter of a saved view without saving it
    (the same keys as a view's `query`). Pass `next` back as `after` for the next page."""
    pairs = [("status", s.value) for s in status or []]
    pairs += [("priority", str(p)) for p in priority or []]
    pairs += [("type", t.value) for t in type or []] + [("tlp", t.value) for t in tlp or []]
    pairs += [("kommune", str(k)) for k in kommune or []]
    pairs += [("group", str(g)) for g in group or []]
    singles = {"assignee": assignee, "ci": ci, "q": q, "major": "1" if major else None}
    pairs += [(key, value) for key, value in singles.items() if value]
    result = queues.queue_page(db, queues.QueueFilter.from_pairs(pairs), limit, after)
    return {"items": [TicketOut.model_validate(t) for t in result.tickets], "next": result.next}


# ---- bulk update -----------------------------------------------------------------------------


def _change(data: BulkIn) -> bulk.BulkChange:
    given = data.model_fields_set
    # The bulk service says "nobody" with 0; the API with null.
    return bulk.BulkChange(
        assignee_id=(data.assignee_id or 0) if "assignee_id" in given else None,
        group_id=(data.assignment_group_id or 0) if "assignment_group_id" in given else None,
        impact=data.impact,
        urgency=data.urgency,
        status=data.status,
        pending_reason=data.pending_reason,
        resolution=data.resolution,
        comment=data.comment,
    )


def _result(db: Session, r: bulk.BulkResult) -> BulkResultOut:
    errors = [FieldErrorOut(field=e.field, message=e.message, value=e.value) for e in r.errors]
    return BulkResultOut(ticket_id=r.ticket_id, status=r.status, detail=r.detail, errors=errors)


@bulk_router.post(
    "/tickets/bulk",
    response_model=BulkOut,
    summary="Change many tickets at once",
    responses=problems(),
)
def bulk_update(db: ApiDb, data: BulkIn) -> BulkOut:
    """The drift unit applies one change (assignee, group, impact, urgency, status) to each
    ticket named with the `version` seen. Each ticket is changed on its own, as a single edit
    would be (history, notifications): one that changed meanwhile, cannot take the status or
    may not be seen is left as it was and reported in `results` with why; the others are
    changed. A change that could succeed on no ticket (nothing to change, resolving without a
    `resolution`) is a 422 and changes nothing."""
    items = [(t.ticket_id, t.version) for t in data.tickets]
    results = bulk.bulk_update(db, items, _change(data))
    db.flush()
    return BulkOut(applied=sum(r.ok for r in results), results=[_result(db, r) for r in results])
