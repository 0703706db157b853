"""Routers of the SLA: the API under /api/v1/sla and the admin pages under /tjenesteavtaler."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    from sla.routes import api, pages

    return [api.router, pages.router]
