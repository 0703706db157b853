"""Assertions shared by the API tests."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx

PROBLEM_JSON = "application/problem+json"


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """Assert an RFC 9457 problem with ``status``; returns its body."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"] and body["detail"]
    return body


def field_error(
    response: httpx.Response, field: str, value: object = None, status: int = 422
) -> dict[str, Any]:
    """Assert a problem whose ``errors`` name ``field`` (and the given ``value``, if any)."""
    body = problem(response, status)
    errors = [e for e in body.get("errors", []) if e["field"] == field]
    assert errors, f"no error for {field!r} in {body}"
    if value is not None:
        assert any(e.get("value") == value for e in errors), f"{value!r} not named in {errors}"
    return errors[0]


def ids(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    body = response.json()
    items = body["items"] if isinstance(body, dict) else body
    return [item["id"] for item in items]


def all_pages(client: httpx.Client, path: str, limit: int, **params: Any) -> list[list[int]]:
    """Follow the ``next`` cursors; returns the ids of each page."""
    pages: list[list[int]] = []
    after: str | None = None
    while True:
        query = {"limit": limit, **params} | ({"after": after} if after else {})
        response = client.get(path, params=query)
        pages.append(ids(response))
        after = response.json()["next"]
        if after is None:
            return pages
        assert len(pages) < 1000, "the cursor never ends"
