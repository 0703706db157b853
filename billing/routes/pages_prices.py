"""Pages: the price model ("/fakturering/priser"): versions and their elements for everyone in
billing; for the billing admin new versions, element forms with errors by field and the YAML
import. And the month's count snapshots with the count-file import ("/fakturering/tellinger")."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlmodel import Session, col, select
from starlette.datastructures import UploadFile

from billing import pricemodel
from billing.choices import CountKind, KeyKind, OwnerKind, Rounding
from billing.errors import fault
from billing.models import PriceElement, PriceModelVersion
from billing.routes import price_forms as pf
from billing.routes.common import attempt, general, require_admin, require_reader
from billing.rules import is_billing_admin
from billing.schemas import ElementIn, PriceModelIn
from fellesdrift.kernel.problems import FieldError, from_validation_errors, invalid
from fellesdrift.kernel.web import field_message, language_of, render
from register.deps import CurrentPrincipal, PageDb
from register.models import Kommune
from register.routes.common import CSRF
from register.routes.page_forms import FormState, PostedForm, done, render_form
from register.service import get_visible

router = APIRouter(include_in_schema=False, dependencies=CSRF)

MAX_UPLOAD = 20 * 1024 * 1024
VERSION_INPUTS = ("name", "valid_from", "valid_to", "note")


def _versions(db: Session) -> list[PriceModelVersion]:
    stmt = select(PriceModelVersion).order_by(col(PriceModelVersion.valid_from).desc())
    return list(db.exec(stmt))


def _list(request: Request, db: Session, admin: bool, form: FormState) -> Response:
    return render_form(
        request, "billing/price_list.html", form, versions=_versions(db), admin=admin
    )


@router.get("/fakturering/priser", response_class=HTMLResponse)
def price_list(request: Request, db: PageDb, p: CurrentPrincipal) -> Response:
    require_reader(p)
    return _list(request, db, is_billing_admin(p), FormState.blank(request))


async def upload_text(request: Request, name: str = "file") -> tuple[str, str, list[FieldError]]:
    """The uploaded file's name and text, or an error naming the input. The form's spooled
    temporary files are closed here (the CSRF check parsed the form before the route)."""
    form = await request.form()
    try:
        upload = form.get(name)
        if not isinstance(upload, UploadFile) or not upload.filename:
            return "", "", [fault(name, "choose_file", "choose a file")]
        data = await upload.read(MAX_UPLOAD + 1)
        filename = upload.filename
    finally:
        await form.close()
    if len(data) > MAX_UPLOAD:
        return filename, "", [fault(name, "too_large", "the file is larger than 20 MB")]
    try:
        return filename, data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        return filename, "", [fault(name, "not_utf8", "the file is not UTF-8 text")]


def file_errors(errors: list[FieldError], lang: str, name: str = "file") -> list[FieldError]:
    """Errors inside an uploaded file, each naming its place in the file, on the file input."""
    out = []
    for e in errors:
        where = " ".join(str(x) for x in (e.file, f"{e.line}:" if e.line else "") if x)
        place = " ".join(x for x in (where, e.field) if x)
        shown = f" ({e.value})" if e.value not in (None, "") else ""
        out.append(FieldError(name, f"{place}{shown}: {field_message(e, lang)}"))
    return out


@router.post("/fakturering/priser/import", response_class=HTMLResponse)
async def price_import(request: Request, db: PageDb, p: CurrentPrincipal) -> Response:
    """A YAML price model: all versions stored, or none and every error shown."""
    require_admin(p)
    filename, text, errors = await upload_text(request)
    if not errors:
        errors = attempt(db, lambda: pricemodel.import_yaml(db, text, filename))
        errors = file_errors(errors, language_of(request))
    if errors:
        return _list(request, db, True, FormState(language_of(request), {}, errors))
    return done("/fakturering/priser", "billing_prices_imported")


@router.get("/fakturering/priser/{version_id:int}", response_class=HTMLResponse)
def price_detail(request: Request, db: PageDb, p: CurrentPrincipal, version_id: int) -> Response:
    require_reader(p)
    version = get_visible(db, PriceModelVersion, version_id)
    elements = pf.elements_of(db, version_id)
    names = pf.Names(db)
    kommuner = {k.id: k.name for k in db.exec(select(Kommune))}
    return render(
        request,
        "billing/price_detail.html",
        version=version,
        elements=elements,
        rates=pf.rates_of(db, [e.id for e in elements if e.id is not None]),
        specs={e.id: pf.key_spec_text(e, names) for e in elements},
        names=names,
        kommuner=kommuner,
        admin=is_billing_admin(p),
    )


# ---- versions -----------------------------------------------------------------------------------


def _version_form(
    request: Request, db: Session, form: FormState, version: PriceModelVersion | None
) -> Response:
    return render_form(
        request,
        "billing/version_form.html",
        form,
        version=version,
        versions=_versions(db),
        admin=True,
    )


@router.get("/fakturering/priser/ny", response_class=HTMLResponse)
def version_new(request: Request, db: PageDb, p: CurrentPrincipal) -> Response:
    require_admin(p)
    latest = next(iter(_versions(db)), None)
    values: dict[str, Any] = {"copy_from": latest.id if latest else ""}
    if latest is not None:
        values["valid_from"] = date(latest.valid_from.year + 1, 1, 1).isoformat()
        values["valid_to"] = date(latest.valid_from.year + 1, 12, 31).isoformat()
    return _version_form(request, db, FormState.blank(request, **values), None)


def _store(db: Session, build: Any) -> tuple[list[PriceModelVersion], list[FieldError]]:
    """Build the version input and store it; errors of either come back for the form."""
    stored: list[PriceModelVersion] = []

    def action() -> None:
        try:
            version = build()
        except ValidationError as exc:
            raise invalid(from_validation_errors(exc.errors())) from None
        stored.extend(pricemodel.import_model(db, PriceModelIn(versions=[version])))

    return stored, attempt(db, action)


def version_errors(errors: list[FieldError], lang: str) -> list[FieldError]:
    """An overlap names the version: shown on its period; errors of its elements (a missing
    inhabitants figure) go to the summary, naming the element."""
    out = []
    for e in errors:
        if e.field.startswith("versions[") and " elements[" not in e.field:
            out.append(FieldError("valid_from", e.message, e.value, code=e.code, params=e.params))
        else:
            out.append(e)
    return general(out, VERSION_INPUTS, lang)


def _header(form: PostedForm) -> dict[str, Any]:
    return {n: form.get(n).strip() or None for n in VERSION_INPUTS} | {
        "note": form.get("note").strip()
    }


@router.post("/fakturering/priser/ny", response_class=HTMLResponse)
def version_create(request: Request, db: PageDb, p: CurrentPrincipal, form: PostedForm) -> Response:
    """A new version with the elements of an existing one (prices change once a year)."""
    require_admin(p)
    source_id = form.get("copy_from")
    if not source_id.isdigit():
        errors = [
            fault("copy_from", "choose_source", "choose the version to copy the elements from")
        ]
        return _version_form(request, db, FormState.posted(request, form, errors), None)
    source = get_visible(db, PriceModelVersion, int(source_id))
    header = _header(form)
    stored, errors = _store(db, lambda: pf.version_input(db, source, header))
    errors = version_errors(errors, language_of(request))
    if errors:
        return _version_form(request, db, FormState.posted(request, form, errors), None)
    return done(f"/fakturering/priser/{stored[0].id}", "billing_version_saved")


@router.get("/fakturering/priser/{version_id:int}/rediger", response_class=HTMLResponse)
def version_edit(request: Request, db: PageDb, p: CurrentPrincipal, version_id: int) -> Response:
    require_admin(p)
    version = get_visible(db, PriceModelVersion, version_id)
    return _version_form(request, db, FormState.of(request, version, VERSION_INPUTS), version)


def _only_end_changes(version: PriceModelVersion, header: dict[str, Any]) -> bool:
    """The start stays: only the end and the note change, in place, even on a used version."""
    return header.get("valid_from") == version.valid_from.isoformat()


def _set_end(
    db: Session, version: PriceModelVersion, header: dict[str, Any]
) -> tuple[list[PriceModelVersion], list[FieldError]]:
    end: date | None = None
    if header.get("valid_to"):
        try:
            end = date.fromisoformat(header["valid_to"])
        except ValueError:
            return [], [
                fault("valid_to", "not_a_date", "is not a date (YYYY-MM-DD)", header["valid_to"])
            ]
    stored: list[PriceModelVersion] = []
    errors = attempt(
        db,
        lambda: stored.append(pricemodel.set_end(db, version.id, end, header["note"])),  # type: ignore[arg-type]
    )
    return stored, errors


@router.post("/fakturering/priser/{version_id:int}/rediger", response_class=HTMLResponse)
def version_update(
    request: Request, db: PageDb, p: CurrentPrincipal, version_id: int, form: PostedForm
) -> Response:
    """Change a version's period or note (its name stays; a new name is a new version)."""
    require_admin(p)
    version = get_visible(db, PriceModelVersion, version_id)
    header = _header(form) | {"name": version.name}
    if _only_end_changes(version, header):
        stored, errors = _set_end(db, version, header)
    else:
        stored, errors = _store(db, lambda: pf.version_input(db, version, header))
    errors = version_errors(errors, language_of(request))
    if errors:
        state = FormState.posted(request, form, errors)
        return _version_form(request, db, state, get_visible(db, PriceModelVersion, version_id))
    return done(f"/fakturering/priser/{stored[0].id}", "billing_version_saved")


# ---- elements -----------------------------------------------------------------------------------


def _element_form(
    request: Request,
    db: Session,
    form: FormState,
    version: PriceModelVersion,
    element: PriceElement | None,
) -> Response:
    form.aliases = dict(pf.ALIASES)
    options = {
        "categories": [1, 2, 3, 4],
        "key_kinds": [k.value for k in KeyKind],
        "owner_kinds": [k.value for k in OwnerKind],
        "count_kinds": [k.value for k in CountKind],
        "roundings": [r.value for r in Rounding],
        "kommuner": [(k.slug, k.name) for k in db.exec(select(Kommune).order_by(Kommune.name))],
    }
    return render_form(
        request,
        "billing/element_form.html",
        form,
        version=version,
        element=element,
        options=options,
        admin=True,
    )


@router.get("/fakturering/priser/{version_id:int}/elementer/ny", response_class=HTMLResponse)
def element_new(request: Request, db: PageDb, p: CurrentPrincipal, version_id: int) -> Response:
    require_admin(p)
    version = get_visible(db, PriceModelVersion, version_id)
    form = FormState.blank(request, category="1", rounding="none")
    return _element_form(request, db, form, version, None)


def _save_element(
    request: Request, db: Session, form: PostedForm, version_id: int, element_id: int | None
) -> Response:
    version = get_visible(db, PriceModelVersion, version_id)
    element, errors = pf.element_from_form(form)
    stored: list[PriceModelVersion] = []
    if element is not None:
        new: ElementIn = element
        stored, errors = _store(db, lambda: pf.version_input(db, version, None, (element_id, new)))
        errors = pf.form_errors(errors)
    if errors:
        version = get_visible(db, PriceModelVersion, version_id)
        current = db.get(PriceElement, element_id) if element_id else None
        return _element_form(request, db, FormState.posted(request, form, errors), version, current)
    return done(f"/fakturering/priser/{stored[0].id}", "billing_element_saved")


@router.post("/fakturering/priser/{version_id:int}/elementer/ny", response_class=HTMLResponse)
def element_create(
    request: Request, db: PageDb, p: CurrentPrincipal, version_id: int, form: PostedForm
) -> Response:
    require_admin(p)
    return _save_element(request, db, form, version_id, None)


@router.get("/fakturering/priselementer/{element_id:int}", response_class=HTMLResponse)
def element_edit(request: Request, db: PageDb, p: CurrentPrincipal, element_id: int) -> Response:
    require_admin(p)
    element = get_visible(db, PriceElement, element_id)
    version = get_visible(db, PriceModelVersion, element.version_id)
    rates = pf.rates_of(db, [element_id]).get(element_id, {})
    values = pf.element_values(element, rates, pf.Names(db))
    return _element_form(request, db, FormState(language_of(request), values), version, element)


@router.post("/fakturering/priselementer/{element_id:int}", response_class=HTMLResponse)
def element_update(
    request: Request, db: PageDb, p: CurrentPrincipal, element_id: int, form: PostedForm
) -> Response:
    require_admin(p)
    element = get_visible(db, PriceElement, element_id)
    return _save_element(request, db, form, element.version_id, element_id)


@router.post("/fakturering/priselementer/{element_id:int}/slett", response_class=HTMLResponse)
def element_delete(request: Request, db: PageDb, p: CurrentPrincipal, element_id: int) -> Response:
    """Remove an element (a version keeps at least one; a used version cannot change)."""
    require_admin(p)
    element = get_visible(db, PriceElement, element_id)
    version = get_visible(db, PriceModelVersion, element.version_id)
    stored, errors = _store(db, lambda: pf.version_input(db, version, None, (element_id, None)))
    errors = general(errors, (), language_of(request))
    if errors:
        version = get_visible(db, PriceModelVersion, element.version_id)
        form = FormState(language_of(request), pf.element_values(element, {}, pf.Names(db)), errors)
        return _element_form(request, db, form, version, element)
    return done(f"/fakturering/priser/{stored[0].id}", "billing_element_deleted")
