"""Routers of changes and the CAB: the REST API and the pages. The assembly mounts them."""

from __future__ import annotations

from fastapi import APIRouter


def api_routers() -> list[APIRouter]:
    from servicedesk.changes.routes import api

    return [api.router]


def page_routers() -> list[APIRouter]:
    from servicedesk.changes.routes import page_forms, pages

    # The forms first: "/endringer/ny" is no change number.
    return [page_forms.router, pages.router]
