"""Panels that upper layers add to the register's pages.

The register may not import the layers above it, yet a system's page should show, say, the
service desk's open tickets on that system. So the upper layer registers a panel here when it
is imported (``servicedesk.tickets.routes.system_panel``), and the page renders whatever is
registered. A panel gets the request, the page's session (bound to the viewer: the access
layer decides what it may show) and the system, and returns HTML or None (nothing to show).
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from markupsafe import Markup
from sqlmodel import Session

from register.models import ConfigItem

CIPanel = Callable[[Request, Session, ConfigItem], Markup | None]
_CI_PANELS: list[CIPanel] = []


def add_ci_panel(panel: CIPanel) -> CIPanel:
    """Show ``panel`` on every system's page (once, however often the module is imported)."""
    if panel not in _CI_PANELS:
        _CI_PANELS.append(panel)
    return panel


def ci_panels(request: Request, db: Session, ci: ConfigItem) -> list[Markup]:
    return [html for panel in _CI_PANELS if (html := panel(request, db, ci)) is not None]
