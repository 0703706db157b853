"""Billing's own error messages: English for the API, the CLI and logs, a catalogue key for
pages.

Every message a billing user can meet is made here with a code: the English text is the
template formatted with the values, so the API says exactly what it always said, and a page
shows ``billing_err.<code>`` from the catalogue in its language, filled in with the same values
(the kommune, version, line or month the error names). ``fellesdrift.kernel.web.field_message``
does the translating.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import PydanticCustomError

from fellesdrift.kernel.problems import FieldError, Problem

PREFIX = "billing_err."


def fault(
    field: str,
    code: str,
    template: str,
    value: Any = None,
    /,
    *,
    line: int | None = None,
    file: str | None = None,
    **params: Any,
) -> FieldError:
    """An error of one input or item: ``template`` (English) filled in with ``params``."""
    return FieldError(
        field, template.format(**params), value, line, file, PREFIX + code, dict(params)
    )


def refusal(status: int, title: str, code: str, template: str, /, **params: Any) -> Problem:
    """A refusal without field errors (a 409, a missing price model) whose detail pages show
    in their language."""
    return Problem(
        status, title, template.format(**params), code=PREFIX + code, params=dict(params)
    )


def conflict(code: str, template: str, /, **params: Any) -> Problem:
    return refusal(409, "Conflict", code, template, **params)


def rule(code: str, template: str, /, **params: Any) -> PydanticCustomError:
    """A rule of an input schema broken: raised in a validator, its type is the catalogue key
    (``fellesdrift.kernel.problems.from_validation_errors`` keeps it as the error's code)."""
    # The message goes in already filled in: pydantic's own templates know no ``!r``.
    return PydanticCustomError(PREFIX + code, template.format(**params), params)


class CodedError(ValueError):
    """An error of billing's arithmetic or documents that carries its code and values."""

    def __init__(self, code: str, template: str, /, **params: Any) -> None:
        super().__init__(template.format(**params))
        self.code = PREFIX + code
        self.params = params

    def at(self, field: str, value: Any = None) -> FieldError:
        """This error as the error of one item (an element, an invoice)."""
        return FieldError(field, str(self), value, code=self.code, params=dict(self.params))

    def as_rule(self) -> PydanticCustomError:
        """This error raised in a schema's validator."""
        return PydanticCustomError(self.code, str(self), self.params)
