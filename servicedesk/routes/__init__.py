"""Routers of the service desk: the versioned REST API and the pages."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    from servicedesk.routes import api_kommuner, pages_auth

    return [api_kommuner.router, pages_auth.router]
