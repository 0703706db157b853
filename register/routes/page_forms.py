"""Forms on the pages: read what was posted, judge it with the API's own schemas, and carry the
values and errors back to the template, so a page and the API never disagree about input.

The flow of every form page::

    data, errors = judge(SiteIn, form, fixed={"kommune_id": kommune_id})
    if data is not None:
        errors = attempt(db, lambda: svc.create_site(db, data))
    if errors:
        state = FormState.posted(request, form, errors)
        return render_form(request, "register/site_form.html", state, kommune=...)
    return done(f"/kommuner/{kommune_id}/lokasjoner", "created")

``attempt`` rolls the session back when the service refuses, so a refused form stores nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, TypeVar, get_args, get_origin
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from sqlmodel import Session

from fellesdrift.kernel.i18n import translate
from fellesdrift.kernel.pagination import keyset_page
from fellesdrift.kernel.problems import FieldError, Problem, forbidden, from_validation_errors
from fellesdrift.kernel.web import add_template_global, field_message, language_of, render

M = TypeVar("M", bound=BaseModel)
PAGE_SIZE = 50
OSLO = ZoneInfo("Europe/Oslo")


def local_time(value: datetime | None) -> str:
    """A stored (UTC) time as people in Norway read it: Oslo time, to the minute."""
    return value.astimezone(OSLO).strftime("%Y-%m-%d %H:%M") if value else ""


add_template_global("local_time", local_time)


class Posted:
    """A posted form: each name with its values (several for a group of checkboxes)."""

    def __init__(self, items: Mapping[str, list[str]]) -> None:
        self._items = dict(items)

    def get(self, name: str, default: str = "") -> str:
        values = self._items.get(name)
        return values[0] if values else default

    def getlist(self, name: str) -> list[str]:
        return list(self._items.get(name, []))

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def as_values(self) -> dict[str, Any]:
        return {k: v if len(v) > 1 else v[0] for k, v in self._items.items()}


async def read_form(request: Request) -> Posted:
    """The request's form fields (the CSRF token left out); the router's CSRF check has
    already read and cached the form."""
    form = await request.form()
    items: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str) and key != "csrf_token":
            items.setdefault(key, []).append(value)
    return Posted(items)


PostedForm = Annotated[Posted, Depends(read_form)]


# ---- judging input ------------------------------------------------------------------------------


def _allows_none(info: FieldInfo) -> bool:
    return type(None) in get_args(info.annotation)


def _is_text(info: FieldInfo) -> bool:
    """A text field (``str``, also as ``Annotated[str, ...] | None``)."""
    for arg in (info.annotation, *get_args(info.annotation)):
        if arg is str or (get_origin(arg) is Annotated and get_args(arg)[0] is str):
            return True
    return False


def judge(
    schema: type[M],
    form: Posted,
    *,
    checkboxes: Iterable[str] = (),
    lists: Iterable[str] = (),
    fixed: Mapping[str, Any] | None = None,
) -> tuple[M | None, list[FieldError]]:
    """Validate a posted form with ``schema`` (the API's input schema).

    An empty text field becomes None where the schema allows None, stays "" where "" is the
    default, and is left out otherwise (so a required field reports "missing"). ``checkboxes``
    are true when posted; ``lists`` are groups of checkboxes; ``fixed`` supplies values that do
    not come from the form (e.g. the kommune of a new site). In a ``Patch`` (``NULLABLE``), an
    empty text field that may not be null is "" and any other such field is left out."""
    data: dict[str, Any] = {}
    checkboxes, lists = set(checkboxes), set(lists)
    # A partial update (``Patch``) takes null only where a field may be empty: an emptied
    # text field there is "", and an emptied field of another type is left as it was.
    nullable: frozenset[str] | None = getattr(schema, "NULLABLE", None)
    for name, info in schema.model_fields.items():
        if name in lists:
            data[name] = form.getlist(name)
        elif name in checkboxes:
            data[name] = name in form
        elif name in form:
            raw = form.get(name).strip()
            if raw:
                data[name] = raw
            elif nullable is not None and name not in nullable:
                if _is_text(info):
                    data[name] = ""
            elif _allows_none(info):
                data[name] = None
            elif info.default == "":
                data[name] = ""
    data.update(fixed or {})
    try:
        return schema.model_validate(data), []
    except ValidationError as exc:
        return None, from_validation_errors(exc.errors())


#: Refusals of the service layer that carry their subject only in the text: (pattern, field,
#: message). The message is a constant with a ``msg.`` key in the catalogue.
_CONFLICTS: list[tuple[re.Pattern[str], str, str]] = [
    (
        re.compile(r"(?P<field>\w+) ['\"](?P<value>.*)['\"] is already used by another kommune"),
        "",
        "is already used by another kommune",
    ),
    (
        re.compile(r"site code ['\"](?P<value>.*)['\"] already exists"),
        "code",
        "already exists in this kommune",
    ),
    (
        re.compile(r"site ['\"](?P<value>.*)['\"] still has sub-units or people"),
        "",
        "still has sub-units or people; move them first",
    ),
    (re.compile(r"user name ['\"](?P<value>.*)['\"] is taken"), "username", "is taken"),
    (re.compile(r"system key ['\"](?P<value>.*)['\"] is taken"), "key", "is taken"),
    (
        re.compile(r"\w+ ['\"](?P<value>.*)['\"] is already monitored"),
        "target",
        "is already monitored on this system",
    ),
]
_CONSTANT_CONFLICTS = {
    "you cannot take the admin role from yourself": "roles",
    "you cannot deactivate yourself": "active",
    "this person already has this role on the system": "user_id",
    "the system already has a systemeier; remove that one first": "kind",
    "this relation already exists": "target_id",
}


def errors_of(problem: Problem) -> list[FieldError]:
    """A refusal of the service layer as field errors."""
    if problem.errors:
        return list(problem.errors)
    detail = problem.detail
    if detail in _CONSTANT_CONFLICTS:
        return [FieldError(_CONSTANT_CONFLICTS[detail], detail)]
    for pattern, name, message in _CONFLICTS:
        match = pattern.match(detail)
        if match:
            groups = match.groupdict()
            return [FieldError(groups.get("field") or name, message, groups["value"])]
    return [FieldError("", detail)]


def attempt(db: Session, action: Callable[[], object]) -> list[FieldError]:
    """Run a service call. A rule it refuses (422, 409) comes back as field errors and the
    session is rolled back, so nothing of the refused form is stored."""
    try:
        action()
        db.flush()
    except Problem as problem:
        if problem.status not in (409, 422):
            raise
        db.rollback()
        return errors_of(problem)
    return []


# ---- what the template gets ---------------------------------------------------------------------


@dataclass
class FormState:
    """Values and errors of one form, with the helpers the form macros use."""

    lang: str
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[FieldError] = field(default_factory=list)
    #: Distinguishes the ids of several forms on one page.
    prefix: str = ""
    #: Error field -> input name, where the form asks differently (a user name for a user id).
    aliases: dict[str, str] = field(default_factory=dict)
    #: Input name -> catalogue key of its label, where it is not ``field.<name>``.
    labels: dict[str, str] = field(default_factory=dict)
    #: Inputs whose refused value is an enum value worth naming in the message (which role).
    value_enums: dict[str, str] = field(
        default_factory=lambda: {"roles": "Role", "scopes": "TokenScope"}
    )

    @classmethod
    def blank(cls, request: Request, **values: Any) -> FormState:
        return cls(language_of(request), dict(values))

    @classmethod
    def of(cls, request: Request, obj: Any, names: Iterable[str], **extra: Any) -> FormState:
        """A form filled with a stored object's values."""
        values = {n: getattr(obj, n) for n in names} | extra
        return cls(language_of(request), values)

    @classmethod
    def posted(
        cls, request: Request, form: Posted, errors: Sequence[FieldError], **kw: Any
    ) -> FormState:
        return cls(language_of(request), form.as_values(), list(errors), **kw)

    def input_of(self, error: FieldError) -> str:
        name = error.field.split(".")[0]
        return self.aliases.get(name, name)

    def id_for(self, name: str) -> str:
        return f"{self.prefix}{name}".replace("_", "-")

    def value(self, name: str) -> str:
        value = self.values.get(name)
        if value is None or isinstance(value, bool):
            return ""
        if isinstance(value, list):
            return str(value[0]) if value else ""
        return str(value.value if hasattr(value, "value") else value)

    def selected(self, name: str, option: object) -> bool:
        value = self.values.get(name)
        option = str(option)
        if isinstance(value, (list, tuple, set, frozenset)):
            return option in {str(v) for v in value}
        return value is not None and self.value(name) == option

    def checked(self, name: str) -> bool:
        value = self.values.get(name)
        return value is True or value in ("on", "true", "1")

    def message(self, error: FieldError) -> str:
        """One error in the page's language, naming the refused choice where that helps."""
        text = field_message(error, self.lang)
        enum = self.value_enums.get(self.input_of(error))
        if enum and isinstance(error.value, str) and error.value:
            key = f"choice.{enum}.{error.value}"
            label = translate(key, self.lang)
            if label != key:
                text = f"{label}: {text}"
        return text

    def error(self, name: str) -> str:
        """The messages for one input, in the page's language ("" when it is fine)."""
        found = [self.message(e) for e in self.errors if self.input_of(e) == name]
        text = "; ".join(dict.fromkeys(found))
        return text[:1].upper() + text[1:]

    def label(self, name: str) -> str:
        key = self.labels.get(name, f"field.{name}")
        text = translate(key, self.lang)
        return name if text == key else text

    def summary(self) -> list[dict[str, str]]:
        """The errors for the summary at the top: label, message and the input they link to."""
        out = []
        for e in self.errors:
            name = self.input_of(e)
            out.append(
                {
                    "label": self.label(name) if name and name != "input" else "",
                    "message": self.message(e),
                    "href": f"#{self.id_for(name)}" if name and name != "input" else "",
                }
            )
        return out


def render_form(
    request: Request, template: str, form: FormState, status: int = 200, **context: Any
) -> HTMLResponse:
    """Render a page with a form; a page with errors says so in its title."""
    if form.errors and status == 200:
        status = 422
    return render(request, template, status, form=form, has_errors=bool(form.errors), **context)


def done(url: str, ok: str) -> RedirectResponse:
    """Post/redirect/get: back to a page that confirms what happened (``?ok=<key>``)."""
    sep = "&" if "?" in url else "?"
    return RedirectResponse(f"{url}{sep}ok={ok}", status_code=303)


def require(allowed: bool) -> None:
    """Refuse a page the principal may not use (the access layer would refuse the write too)."""
    if not allowed:
        raise forbidden()


# ---- paging -------------------------------------------------------------------------------------


@dataclass
class Paged:
    rows: Sequence[Any]
    next_url: str = ""
    first_url: str = ""


def paged(request: Request, db: Session, stmt: Any, id_column: Any, after: str | None) -> Paged:
    """One keyset page of ``stmt`` with links that keep the page's filters."""
    rows, nxt = keyset_page(db, stmt, id_column, PAGE_SIZE, after)
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("after", "ok")]
    path = request.url.path
    next_url = f"{path}?{urlencode([*params, ('after', nxt)])}" if nxt else ""
    first_url = (f"{path}?{urlencode(params)}" if params else path) if after else ""
    return Paged(rows, next_url, first_url)


def int_or_none(value: str | None) -> int | None:
    """A filter value from the query string: a number, or None when empty or not a number."""
    if value is None or not value.strip().isdigit():
        return None
    return int(value)
