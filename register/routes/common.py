"""Small helpers shared by the routers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request
from pydantic import BaseModel

from fellesdrift.kernel.pagination import keyset_page
from register.deps import check_csrf

Limit = Annotated[int, Query(ge=1, le=1000, description="Page size")]
After = Annotated[str | None, Query(description="The `next` cursor of the previous page")]

#: Router-level dependency for every router: unsafe requests with cookie credentials need CSRF.
CSRF = [Depends(check_csrf)]


def page_of(
    session: Any, stmt: Any, id_column: Any, limit: int, after: str | None, out: type[BaseModel]
) -> dict[str, Any]:
    rows, nxt = keyset_page(session, stmt, id_column, limit, after)
    return {"items": [out.model_validate(r) for r in rows], "next": nxt}


def link_next(request: Request, nxt: str | None) -> dict[str, str]:
    if not nxt:
        return {}
    url = request.url.include_query_params(after=nxt)
    return {"Link": f'<{url}>; rel="next"'}
