"""Admin pages of the workspace: the priority matrix (impact x urgency -> P1-P4) and the
assignment groups with their members. Admins only; other agents are refused (403)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from fellesdrift.kernel.problems import FieldError, Problem
from fellesdrift.kernel.web import render
from register.deps import PageDb
from register.routes.page_forms import PostedForm, judge
from register.service import get_visible
from servicedesk.tickets.models import Group
from servicedesk.tickets.routes.agent_common import (
    BASE,
    AgentForm,
    agent_form,
    posted_form,
    require_admin,
)
from servicedesk.tickets.service import groups as svc

router = APIRouter(dependencies=[Depends(require_admin)])
ADMIN = f"{BASE}/admin"


def _attempt(db: Session, action: object) -> list[FieldError]:
    try:
        action()  # type: ignore[operator]
        db.flush()
    except Problem as problem:
        if problem.status != 422:
            raise
        db.rollback()
        return list(problem.errors) or [FieldError("input", problem.detail)]
    return []


# ---- priority matrix -----------------------------------------------------------------------------


def _matrix_page(request: Request, db: Session, form: AgentForm, status: int = 200) -> Response:
    return render(
        request,
        "agent/admin_priority.html",
        status,
        form=form,
        levels=svc.LEVELS,
        has_errors=bool(form.errors),
    )


@router.get(f"{ADMIN}/prioritet", response_class=HTMLResponse)
def priority_matrix(request: Request, db: PageDb) -> Response:
    values = {f"p{i}{u}": p for (i, u), p in svc.priority_matrix(db).items()}
    return _matrix_page(request, db, agent_form(request, values, prefix="m-"))


@router.post(f"{ADMIN}/prioritet", response_class=HTMLResponse)
def save_priority_matrix(request: Request, db: PageDb, form: PostedForm) -> Response:
    matrix: dict[tuple[int, int], int] = {}
    for i in svc.LEVELS:
        for u in svc.LEVELS:
            raw = form.get(f"p{i}{u}")
            matrix[(i, u)] = int(raw) if raw.isdigit() else 0
    errors = _attempt(db, lambda: svc.set_priority_matrix(db, matrix))
    if errors:
        state = posted_form(request, form, errors, prefix="m-")
        return _matrix_page(request, db, state, 422)
    return RedirectResponse(f"{ADMIN}/prioritet?ok=agent_matrix_saved", status_code=303)


# ---- groups --------------------------------------------------------------------------------------


def _groups_page(request: Request, db: Session, form: AgentForm, status: int = 200) -> Response:
    groups = svc.groups(db)
    counts = {g.id: len(svc.members(db, g.id)) for g in groups if g.id is not None}
    return render(
        request,
        "agent/admin_groups.html",
        status,
        groups=groups,
        counts=counts,
        form=form,
        has_errors=bool(form.errors),
    )


@router.get(f"{ADMIN}/grupper", response_class=HTMLResponse)
def group_list(request: Request, db: PageDb) -> Response:
    return _groups_page(request, db, agent_form(request, prefix="g-"))


@router.post(f"{ADMIN}/grupper", response_class=HTMLResponse)
def create_group(request: Request, db: PageDb, form: PostedForm) -> Response:
    data, errors = judge(svc.GroupIn, form)
    created: list[Group] = []
    if data is not None:
        errors = _attempt(db, lambda: created.append(svc.create_group(db, data)))
    if errors:
        return _groups_page(request, db, posted_form(request, form, errors, prefix="g-"), 422)
    return RedirectResponse(f"{ADMIN}/grupper/{created[0].id}?ok=agent_group_created", 303)


def _group_page(
    request: Request,
    db: Session,
    group: Group,
    edit: AgentForm | None = None,
    member: AgentForm | None = None,
) -> Response:
    edit = edit or agent_form(
        request, {"key": group.key, "name": group.name, "email": group.email}, prefix="g-"
    )
    member = member or agent_form(request, prefix="mem-")
    failed = bool(edit.errors or member.errors)
    return render(
        request,
        "agent/admin_group.html",
        422 if failed else 200,
        group=group,
        members=svc.members(db, group.id),  # type: ignore[arg-type]
        edit=edit,
        member=member,
        has_errors=failed,
    )


@router.get(f"{ADMIN}/grupper/{{group_id:int}}", response_class=HTMLResponse)
def group_detail(request: Request, db: PageDb, group_id: int) -> Response:
    return _group_page(request, db, get_visible(db, Group, group_id))


@router.post(f"{ADMIN}/grupper/{{group_id:int}}", response_class=HTMLResponse)
def update_group(request: Request, db: PageDb, group_id: int, form: PostedForm) -> Response:
    group = get_visible(db, Group, group_id)
    data, errors = judge(svc.GroupIn, form)
    if data is not None:
        errors = _attempt(db, lambda: svc.update_group(db, group_id, data))
    if errors:
        state = posted_form(request, form, errors, prefix="g-")
        return _group_page(request, db, get_visible(db, Group, group_id), edit=state)
    return RedirectResponse(f"{ADMIN}/grupper/{group.id}?ok=agent_group_saved", 303)


@router.post(f"{ADMIN}/grupper/{{group_id:int}}/medlemmer", response_class=HTMLResponse)
def add_member(request: Request, db: PageDb, group_id: int, form: PostedForm) -> Response:
    group = get_visible(db, Group, group_id)
    errors = _attempt(db, lambda: svc.add_member(db, group_id, form.get("username")))
    if errors:
        state = posted_form(request, form, errors, prefix="mem-")
        return _group_page(request, db, get_visible(db, Group, group_id), member=state)
    return RedirectResponse(f"{ADMIN}/grupper/{group.id}?ok=agent_member_added", 303)


@router.post(f"{ADMIN}/grupper/{{group_id:int}}/medlemmer/{{user_id:int}}/fjern")
def remove_member(db: PageDb, group_id: int, user_id: int) -> Response:
    svc.remove_member(db, group_id, user_id)
    return RedirectResponse(f"{ADMIN}/grupper/{group_id}?ok=agent_member_removed", 303)
