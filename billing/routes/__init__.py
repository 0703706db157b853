"""Routers of billing: the pages under /fakturering and the API under /api/v1/billing."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    from billing.routes import (
        api_invoices,
        api_prices,
        pages_counts,
        pages_invoices,
        pages_prices,
        pages_runs,
        pages_transparency,
    )

    return [
        api_invoices.router,
        api_prices.router,
        pages_invoices.router,
        pages_runs.router,
        pages_prices.router,
        pages_counts.router,
        pages_transparency.router,
    ]
