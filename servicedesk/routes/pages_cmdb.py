"""Pages: (being written)."""

from __future__ import annotations

from fastapi import APIRouter

from servicedesk.routes.common import CSRF

router = APIRouter(include_in_schema=False, dependencies=CSRF)
