"""REST API: (being written)."""

from __future__ import annotations

from fastapi import APIRouter

from servicedesk.routes.common import CSRF

router = APIRouter(prefix="/api/v1", dependencies=CSRF)
