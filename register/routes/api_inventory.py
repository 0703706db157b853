"""REST API: the inventory feed that Prometheus and the collectors read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlmodel import Session

from fellesdrift.kernel.problems import Problem
from register.access import Principal
from register.deps import LoginRequired, bound_session, resolve_principal
from register.routes.common import CSRF
from register.service.inventory import http_sd_groups

router = APIRouter(prefix="/api/v1", tags=["inventory"], dependencies=CSRF)

#: Token scopes that may read the feed: the narrow ``inventory`` scope, or any reading scope.
INVENTORY_SCOPES = frozenset({"inventory", "read", "write", "admin"})


def inventory_principal(request: Request) -> Principal:
    """The caller, if a token with the ``inventory`` (or a reading) scope or a signed-in
    person; a token with only the ``inventory`` scope is good for this feed and nothing else."""
    principal = resolve_principal(request)
    if principal is None:
        raise LoginRequired()
    if principal.scopes is not None and not principal.scopes & INVENTORY_SCOPES:
        raise Problem(
            403, "Insufficient scope", f"the token needs one of {sorted(INVENTORY_SCOPES)}"
        )
    return principal


async def inventory_db(
    request: Request, principal: Annotated[Principal, Depends(inventory_principal)]
) -> AsyncIterator[Session]:
    async with bound_session(request, principal) as session:
        yield session


InventoryDb = Annotated[Session, Depends(inventory_db, scope="function")]

_EXAMPLE = [
    {
        "targets": ["https://vpn.example.kommune.no/health"],
        "labels": {
            "kommune": "lillesand",
            "kommuner": ",lillesand,",
            "ci": "vpn-lillesand",
            "ci_kind": "service_endpoint",
            "service": "VPN",
            "criticality": "high",
            "probe": "http",
            "__interval_seconds": "60",
            "__timeout_seconds": "10",
        },
    }
]


@router.get(
    "/inventory/targets",
    response_class=JSONResponse,
    responses={
        200: {
            "description": "Target groups in Prometheus HTTP service-discovery format",
            "content": {"application/json": {"example": _EXAMPLE}},
        }
    },
)
def inventory_targets(db: InventoryDb) -> JSONResponse:
    """The monitoring targets of every system the caller may see, in the
    [Prometheus HTTP SD](https://prometheus.io/docs/prometheus/latest/http_sd/) format.

    Point Prometheus' `http_sd_configs` (with `authorization: {credentials: <token>}`) or the
    collectors at this URL. Use a token with the `inventory` scope: it can read this feed and
    nothing else.

    The body is a JSON list of target groups, each `{"targets": [str], "labels": {str: str}}`.
    Targets that share all labels form one group. Labels:

    * `kommune`: the owning kommune's slug; for a shared system used by several kommuner,
      `felles`;
    * `kommuner`: every kommune that owns or uses the system, comma-separated with a comma at
      both ends (match with `kommuner=~".*,vennesla,.*"`);
    * `ci`, `ci_kind`, `service`, `criticality`: the system's key, kind, service and criticality;
    * `probe`: the probe kind (`http`, `tcp`, `tls`, `dns`, `icmp`, `ssh`);
    * `__interval_seconds`, `__timeout_seconds`: polling hints for the collectors, dropped by
      Prometheus after relabelling.

    Retired systems and disabled targets are left out.
    """
    groups: list[dict[str, Any]] = http_sd_groups(db)
    return JSONResponse(groups)
