"""The form of a catalogue item and how an order's values are checked against it.

``CatalogueItem.fields`` holds a list of :class:`FormField`; :func:`validate_form_data` checks
posted values against them (as the portal, the API and the approvers' pages read them), so a
wrong value is refused alike everywhere, each one named as ``form_data.<name>``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fellesdrift.kernel.problems import FieldError, invalid
from servicedesk.tickets.models import CatalogueItem

FieldType = Literal["text", "textarea", "select", "date", "number"]
#: Longest text a field takes when the item does not say (``max``).
TEXT_MAX = {"text": 200, "textarea": 4000}
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


# ---- the shape of an item's form -----------------------------------------------------------------


class FieldOption(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    value: str = Field(min_length=1, max_length=80)
    label: str = Field(min_length=1, max_length=120)
    label_en: str = Field(default="", max_length=120)


class FormField(BaseModel):
    """One input of an item's form. ``min``/``max`` bound a number, ``max`` a text's length."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(pattern=NAME.pattern)
    label: str = Field(min_length=1, max_length=120)
    label_en: str = Field(default="", max_length=120)
    type: FieldType = "text"
    required: bool = False
    hint: str = Field(default="", max_length=300)
    hint_en: str = Field(default="", max_length=300)
    options: list[FieldOption] = Field(default_factory=list, max_length=50)
    min: int | None = None
    max: int | None = None

    @model_validator(mode="after")
    def _consistent(self) -> FormField:
        if self.type == "select" and not self.options:
            raise ValueError("options: a choice needs options")
        if len({o.value for o in self.options}) != len(self.options):
            raise ValueError("options: option values must be unique")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("max: must not be below min")
        return self

    def text_for(self, lang: str) -> tuple[str, str]:
        """The label and hint in ``lang`` (English falls back to bokmål)."""
        if lang == "en":
            return self.label_en or self.label, self.hint_en or self.hint
        return self.label, self.hint

    def option_label(self, value: str, lang: str) -> str:
        for o in self.options:
            if o.value == value:
                return (o.label_en or o.label) if lang == "en" else o.label
        return value


def fields_of(item: CatalogueItem) -> list[FormField]:
    return [FormField.model_validate(f) for f in item.fields]


# ---- checking an order against the item's form ---------------------------------------------------


def _error(spec: FormField, raw: Any, code: str, message: str, **params: Any) -> FieldError:
    return FieldError(f"form_data.{spec.name}", message, raw, code=code, params=params)


def _one(spec: FormField, raw: Any) -> tuple[Any, FieldError | None]:
    """The checked value of one field (None when left empty), or the error."""
    text = "" if raw is None else str(raw).strip()
    if not text:
        if spec.required:
            return None, _error(spec, raw, "missing", "Field required")
        return None, None
    if spec.type in TEXT_MAX:
        limit = spec.max or TEXT_MAX[spec.type]
        if len(text) > limit:
            msg = f"String should have at most {limit} characters"
            return None, _error(spec, raw, "string_too_long", msg, max_length=limit)
        return text, None
    if spec.type == "select":
        if text not in {o.value for o in spec.options}:
            return None, _error(spec, raw, "literal_error", "is not one of the choices")
        return text, None
    if spec.type == "date":
        return _date(spec, raw, text)
    return _number(spec, raw, text)


def _date(spec: FormField, raw: Any, text: str) -> tuple[Any, FieldError | None]:
    """ISO dates as a date input sends them; 24.12.2026 as people in Norway type them."""
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, fmt).date().isoformat(), None
        except ValueError:
            continue
    return None, _error(spec, raw, "date_parsing", "Input should be a valid date")


def _number(spec: FormField, raw: Any, text: str) -> tuple[Any, FieldError | None]:
    if not re.fullmatch(r"[-+]?\d{1,12}", text):
        return None, _error(spec, raw, "int_parsing", "Input should be a valid integer")
    number = int(text)
    if spec.min is not None and number < spec.min:
        msg = f"Input should be greater than or equal to {spec.min}"
        return None, _error(spec, raw, "greater_than_equal", msg, ge=spec.min)
    if spec.max is not None and number > spec.max:
        msg = f"Input should be less than or equal to {spec.max}"
        return None, _error(spec, raw, "less_than_equal", msg, le=spec.max)
    return number, None


def validate_form_data(item: CatalogueItem, posted: Mapping[str, Any]) -> dict[str, Any]:
    """The item's form values, checked and normalised (dates ISO, numbers int); raises a 422
    naming every wrong field as ``form_data.<name>``. Values for unknown fields are refused."""
    specs = fields_of(item)
    errors = [
        FieldError(f"form_data.{name}", "Extra inputs are not permitted", code="extra_forbidden")
        for name in posted
        if name not in {s.name for s in specs}
    ]
    data: dict[str, Any] = {}
    for spec in specs:
        value, error = _one(spec, posted.get(spec.name))
        if error is not None:
            errors.append(error)
        elif value is not None:
            data[spec.name] = value
    if errors:
        raise invalid(errors)
    return data


def known_date(value: Any) -> date | None:
    """A stored date value of a form (ISO text) as a date, for showing it."""
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def answers(
    item: CatalogueItem | None, form_data: Mapping[str, Any], lang: str
) -> list[tuple[str, str]]:
    """An order's answers as (label, text) in the form's order, each as the person chose it:
    an option's label, a date as people write it. The requester's and the agent's pages
    both show them."""
    if item is None:
        return []
    rows = []
    for spec in fields_of(item):
        if spec.name not in form_data:
            continue
        value = form_data[spec.name]
        text = spec.option_label(str(value), lang) if spec.type == "select" else str(value)
        if spec.type == "date" and (day := known_date(value)) is not None:
            text = day.strftime("%d.%m.%Y")
        rows.append((spec.text_for(lang)[0], text))
    return rows
