"""Routers of the service desk: the versioned REST API and the pages."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    from servicedesk.routes import (
        api_cmdb,
        api_inventory,
        api_io,
        api_kommuner,
        api_people,
        pages_auth,
        pages_cmdb,
        pages_io,
        pages_people,
        pages_register,
    )

    return [
        api_kommuner.router,
        api_people.router,
        api_cmdb.router,
        api_inventory.router,
        api_io.router,
        __import__("servicedesk.tickets.routes.api", fromlist=["router"]).router,
        __import__("servicedesk.tickets.routes.metrics", fromlist=["router"]).router,
        pages_auth.router,
        __import__("servicedesk.tickets.routes.portal", fromlist=["router"]).router,
        __import__("servicedesk.tickets.routes.agent", fromlist=["router"]).router,
        pages_register.router,
        pages_people.router,
        pages_cmdb.router,
        pages_io.router,
    ]
