"""REST API: people, their roles, passwords and API tokens.

Who may see and change which user is decided by the access layer (``register.access``);
the routes add only what the rows cannot express: setting someone else's password is an
administrator's action, never a self-service one (that needs the current password).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import Field
from sqlmodel import Session, col, or_, select

from fellesdrift.kernel.pagination import keyset_page
from fellesdrift.kernel.problems import forbidden
from fellesdrift.kernel.types import DbInt
from register.access import Principal
from register.choices import Role
from register.deps import ApiDb, ApiPrincipal, api_principal, own_session_cookie
from register.models import ApiToken, RoleGrant, User
from register.routes.common import CSRF, After, Limit
from register.schemas import (
    Page,
    PasswordChange,
    Strict,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserCreate,
    UserOut,
    UserUpdate,
)
from register.service import get_visible
from register.service import people as svc
from register.service.people import roles_of

router = APIRouter(prefix="/api/v1", tags=["people"], dependencies=CSRF)


def require_admin(principal: Annotated[Principal, Depends(api_principal)]) -> Principal:
    if not principal.is_admin:
        raise forbidden("only administrators of the drift unit may do this")
    return principal


AdminPrincipal = Annotated[Principal, Depends(require_admin)]


class PasswordSet(Strict):
    password: str = Field(min_length=12, max_length=200)
    #: Keep the person's API tokens working; by default they are revoked.
    keep_tokens: bool = False


def user_out(session: Session, user: User) -> UserOut:
    out = UserOut.model_validate(user)
    out.roles = roles_of(session, user.id)  # type: ignore[arg-type]
    return out


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# ---- users -------------------------------------------------------------------------------------


@router.get("/users", response_model=Page[UserOut])
def list_users(
    db: ApiDb,
    limit: Limit = 50,
    after: After = None,
    kommune_id: DbInt | None = None,
    role: Annotated[Role | None, Query(description="Only people holding this role")] = None,
    q: Annotated[str | None, Query(max_length=160, description="Part of name or user name")] = None,
) -> dict[str, Any]:
    """People the caller may see, ordered by id (keyset pages)."""
    stmt = select(User)
    if kommune_id is not None:
        stmt = stmt.where(User.kommune_id == kommune_id)
    if role is not None:
        stmt = stmt.where(
            col(User.id).in_(select(RoleGrant.user_id).where(RoleGrant.role == role.value))
        )
    if q and q.strip():
        pattern = _like(q.strip())
        stmt = stmt.where(
            or_(col(User.full_name).ilike(pattern), col(User.username).ilike(pattern))
        )
    rows, nxt = keyset_page(db, stmt, User.id, limit, after)
    roles: dict[int, list[str]] = defaultdict(list)
    grants = db.exec(
        select(RoleGrant).where(col(RoleGrant.user_id).in_([u.id for u in rows]))
    ).all()
    for grant in sorted(grants, key=lambda g: g.role):
        roles[grant.user_id].append(grant.role)
    items = [UserOut.model_validate(u).model_copy(update={"roles": roles[u.id]}) for u in rows]
    return {"items": items, "next": nxt}


@router.post("/users", response_model=UserOut, status_code=201)
def create_user(db: ApiDb, _admin: AdminPrincipal, data: UserCreate) -> UserOut:
    return user_out(db, svc.create_user(db, data))


@router.get("/users/{user_id}", response_model=UserOut)
def get_user(db: ApiDb, user_id: DbInt) -> UserOut:
    return user_out(db, get_visible(db, User, user_id))


@router.patch("/users/{user_id}", response_model=UserOut)
def update_user(db: ApiDb, user_id: DbInt, data: UserUpdate) -> UserOut:
    """Administrators change anything; people change their own name, e-mail, phone and
    language."""
    user = svc.update_user(db, user_id, data)
    db.flush()
    return user_out(db, user)


@router.put("/users/{user_id}/password", status_code=204)
def set_password(db: ApiDb, _admin: AdminPrincipal, user_id: DbInt, data: PasswordSet) -> Response:
    """An administrator sets a person's password; the person is signed out everywhere, and
    their API tokens are revoked unless `keep_tokens` is true."""
    svc.set_password(db, user_id, data.password, data.keep_tokens)
    return Response(status_code=204)


# ---- the caller --------------------------------------------------------------------------------


@router.get("/me", response_model=UserOut)
def me(db: ApiDb, principal: ApiPrincipal) -> UserOut:
    """The caller's own profile with their roles."""
    if principal.user_id is None:
        raise forbidden("this principal is not a person")
    return user_out(db, get_visible(db, User, principal.user_id))


@router.put("/me/password", status_code=204)
def change_own_password(
    request: Request, db: ApiDb, principal: ApiPrincipal, data: PasswordChange
) -> Response:
    """Change one's own password; the current password is required. Every other sign-in
    ends, and every API token of the caller (the one in use too) is revoked unless
    `keep_tokens` is true."""
    if principal.user_id is None:
        raise forbidden("this principal is not a person")
    svc.change_password(db, principal.user_id, data, own_session_cookie(request))
    return Response(status_code=204)


# ---- tokens ------------------------------------------------------------------------------------


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(db: ApiDb) -> list[ApiToken]:
    """The caller's own tokens, newest first (the token values themselves are never shown)."""
    return svc.list_tokens(db)


@router.post("/tokens", response_model=TokenCreated, status_code=201)
def create_token(db: ApiDb, data: TokenCreate) -> TokenCreated:
    """Create a token for the caller. The response carries the token itself, once only:
    store it now, it cannot be shown again."""
    token, raw = svc.create_token(db, data)
    return TokenCreated.model_validate(TokenOut.model_validate(token).model_dump() | {"token": raw})


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(db: ApiDb, token_id: DbInt) -> Response:
    """Revoke a token; it stops working at once."""
    svc.revoke_token(db, token_id)
    return Response(status_code=204)
