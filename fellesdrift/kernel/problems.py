"""Errors the platform reports to people and programs.

Domain code raises :class:`Problem` (or a subclass); the web app renders it as RFC 9457
``application/problem+json`` on the API and as a page in the user's language elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any


@dataclass
class FieldError:
    """One thing wrong with one input field; ``value`` is what was given."""

    field: str
    message: str
    value: Any = None
    line: int | None = None
    file: str | None = None
    #: What to translate on pages, with ``params`` to fill in: pydantic's error type (e.g.
    #: ``missing``, shown as ``pydantic.<code>``), or a catalogue key of the domain's own
    #: messages (any code with a dot, e.g. ``billing_err.unknown_kommune``). ``message`` stays
    #: the English text the API shows.
    code: str | None = None
    params: dict[str, Any] = dc_field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "message": self.message}
        if self.value is not None:
            out["value"] = (
                self.value if isinstance(self.value, (int, float, bool)) else str(self.value)
            )
        if self.file is not None:
            out["file"] = self.file
        if self.line is not None:
            out["line"] = self.line
        return out

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = f"{self.file}:{self.line}: " if self.line is not None else f"{self.file}: "
        shown = f" ({self.value!r})" if self.value is not None else ""
        return f"{where}{self.field}{shown}: {self.message}"


@dataclass
class Problem(Exception):
    """An error with an HTTP status, a short title key and a human detail."""

    status: int
    title: str
    detail: str = ""
    errors: list[FieldError] = dc_field(default_factory=list)
    kind: str = "about:blank"
    #: A catalogue key and its values for ``detail`` on pages (see ``FieldError.code``); the
    #: API keeps ``detail`` in English.
    code: str | None = None
    params: dict[str, Any] = dc_field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.detail or self.title)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.kind,
            "title": self.title,
            "status": self.status,
            "detail": self.detail or self.title,
        }
        if self.errors:
            body["errors"] = [e.as_dict() for e in self.errors]
        return body


#: Where FastAPI found a request's input: the first part of a request validation error's loc.
_SOURCES = frozenset({"body", "query", "path", "form", "header", "cookie"})


def from_validation_errors(
    errors: Any, prefix: str = "", from_request: bool = False
) -> list[FieldError]:
    """FieldErrors from pydantic's ``errors()``: the field path, a plain message and the value.

    ``from_request``: the errors are FastAPI's, whose loc starts with where the input was
    (``body``, ``query``...); only that first part is dropped, so a field that happens to be
    called ``body`` keeps its name."""
    out = []
    for err in errors:
        parts = list(err.get("loc", ()))
        if from_request and parts and parts[0] in _SOURCES:
            parts = parts[1:]
        loc = [str(p) for p in parts]
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        value = err.get("input")
        if not loc and ": " in message:
            # A model-level rule names its field at the start of the message.
            name, message = message.split(": ", 1)
            loc, value = [name], (value or {}).get(name) if isinstance(value, dict) else None
        if isinstance(value, (dict, list)):
            value = None
        out.append(
            FieldError(
                field=prefix + (".".join(loc) or "input"),
                message=message,
                value=value,
                code=err.get("type"),
                params={k: v for k, v in (err.get("ctx") or {}).items() if k != "error"},
            )
        )
    return out


def invalid(errors: list[FieldError] | FieldError, detail: str = "") -> Problem:
    """A 422 for input that breaks a rule; ``detail`` defaults to the first error."""
    errs = [errors] if isinstance(errors, FieldError) else errors
    return Problem(422, "Invalid input", detail or "; ".join(str(e) for e in errs), errs)


def not_found(what: str) -> Problem:
    return Problem(404, "Not found", f"{what} not found")


def forbidden(detail: str = "You do not have access to this action") -> Problem:
    return Problem(403, "Forbidden", detail)


def conflict(detail: str) -> Problem:
    return Problem(409, "Conflict", detail)
