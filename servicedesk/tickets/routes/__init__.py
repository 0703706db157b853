"""Routers of the service desk's tickets: the REST API and the pages. The assembly mounts them."""

from __future__ import annotations

from fastapi import APIRouter


def api_routers() -> list[APIRouter]:
    from servicedesk.tickets.routes import api, metrics

    return [api.router, metrics.router]


def page_routers() -> list[APIRouter]:
    # system_panel adds the open tickets to the register's system pages when imported.
    from servicedesk.tickets.routes import agent, agent_sla, portal, system_panel  # noqa: F401

    return [portal.router, agent.router, agent_sla.router]
