"""Routers of the register: its REST API and its pages. The assembly mounts them."""

from __future__ import annotations

from fastapi import APIRouter


def api_routers() -> list[APIRouter]:
    from register.routes import api_cmdb, api_inventory, api_io, api_kommuner, api_people

    return [
        api_kommuner.router,
        api_people.router,
        api_cmdb.router,
        api_inventory.router,
        api_io.router,
    ]


def sign_in_router() -> APIRouter:
    """Sign-in, sign-out and the start page: mounted before the domains' pages."""
    from register.routes import pages_auth

    return pages_auth.router


def page_routers() -> list[APIRouter]:
    from register.routes import pages_cmdb, pages_io, pages_people, pages_register

    return [pages_register.router, pages_people.router, pages_cmdb.router, pages_io.router]
