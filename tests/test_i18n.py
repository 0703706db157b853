"""The string catalogue is complete: both languages, every key the templates and the code use,
every choice, every constant error message; and templates hold no text outside ``_()``."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
import string
from enum import StrEnum
from pathlib import Path

import pytest

from fellesdrift.kernel.i18n import LANGUAGES, catalogue
from fellesdrift.kernel.problems import Problem
from register.routes import page_forms

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "fellesdrift" / "kernel" / "locale"
TEMPLATES = sorted(
    p
    for pkg in ("fellesdrift", "register", "servicedesk", "sla", "billing")
    for p in (ROOT / pkg).glob("**/templates/**/*.html")
)
#: Modules whose error messages reach people; their constant messages need a ``msg.`` key.
MESSAGE_SOURCES = [
    ROOT / "register" / "schemas.py",
    ROOT / "register" / "identifiers.py",
    ROOT / "register" / "auth.py",
    ROOT / "fellesdrift" / "kernel" / "pagination.py",
    *sorted((ROOT / "register" / "service").glob("*.py")),
    ROOT / "register" / "routes" / "page_forms.py",
    *sorted((ROOT / "register" / "routes").glob("pages_*.py")),
]
COMMON_PYDANTIC_TYPES = [
    "missing",
    "string_too_short",
    "string_too_long",
    "string_type",
    "greater_than_equal",
    "less_than_equal",
    "greater_than",
    "less_than",
    "int_parsing",
    "int_from_float",
    "float_parsing",
    "decimal_parsing",
    "bool_parsing",
    "date_from_datetime_parsing",
    "date_from_datetime_inexact",
    "date_parsing",
    "datetime_parsing",
    "datetime_from_date_parsing",
    "enum",
    "literal_error",
    "string_pattern_mismatch",
    "too_short",
    "too_long",
    "extra_forbidden",
]


def _files(lang: str) -> list[Path]:
    """The main catalogue of a language and its fragments, one per area."""
    return [LOCALE / f"{lang}.json", *sorted((LOCALE / lang).glob("*.json"))]


def _raw(path: Path) -> dict[str, str]:
    data: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


# ---- the catalogues themselves ----------------------------------------------------------------


def test_both_languages_have_the_same_files_and_keys() -> None:
    nb_files = [
        p.relative_to(LOCALE / "nb") if p.parent.name == "nb" else None for p in _files("nb")
    ]
    en_files = [
        p.relative_to(LOCALE / "en") if p.parent.name == "en" else None for p in _files("en")
    ]
    assert nb_files == en_files, "every fragment needs its counterpart in the other language"
    for nb_path, en_path in zip(_files("nb"), _files("en"), strict=True):
        nb, en = _raw(nb_path), _raw(en_path)
        assert sorted(set(nb) - set(en)) == [], f"keys missing in {en_path.name}"
        assert sorted(set(en) - set(nb)) == [], f"keys missing in {nb_path.name}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalogue_is_sorted_and_filled(lang: str) -> None:
    for path in _files(lang):
        data = _raw(path)
        assert list(data) == sorted(data), f"{path} is not sorted by key"
        empty = [k for k, v in data.items() if not isinstance(v, str) or not v.strip()]
        assert empty == [], path


def test_placeholders_agree_between_languages() -> None:
    nb, en = catalogue("nb"), catalogue("en")
    differ = {k: (nb[k], en[k]) for k in nb if k in en and _fields(nb[k]) != _fields(en[k])}
    assert differ == {}


# ---- keys used by templates and code ----------------------------------------------------------

_LITERAL = re.compile(r"""\b_\(\s*(['"])([^'"]+)\1""")
_MACRO_FIELD = re.compile(
    r"""(?<![\w.])f\.(?:input|textarea|select|select_grouped|checkbox|checkboxes)\(\s*\w+\s*,\s*'(\w+)'"""
)


def test_templates_were_found() -> None:
    names = {p.name for p in TEMPLATES}
    assert {"base.html", "error.html", "login.html", "_form.html", "ci_detail.html"} <= names


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_literal_key_in_templates_exists(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    keys = {m.group(2) for m in _LITERAL.finditer(source)}
    # A key ending in "." is a prefix completed at run time (checked by the tests below).
    missing = sorted(k for k in keys if not k.endswith(".") and k not in catalogue("nb"))
    assert missing == []
    labels = {f"field.{m.group(1)}" for m in _MACRO_FIELD.finditer(source)}
    assert sorted(labels - set(catalogue("nb"))) == [], "form inputs without a field label"


def _choice_enums() -> list[type[StrEnum]]:
    enums = []
    for package in ("register", "servicedesk.tickets", "servicedesk.changes", "sla", "billing"):
        try:
            module = importlib.import_module(f"{package}.choices")
        except ModuleNotFoundError:
            continue
        enums += [
            obj
            for obj in vars(module).values()
            if inspect.isclass(obj)
            and issubclass(obj, StrEnum)
            and obj is not StrEnum
            and obj.__module__ == module.__name__
        ]
    return enums


def test_every_choice_has_a_label() -> None:
    enums = _choice_enums()
    assert enums, "no choice enums found"
    missing = [
        f"choice.{e.__name__}.{v.value}"
        for e in enums
        for v in e
        if f"choice.{e.__name__}.{v.value}" not in catalogue("nb")
    ]
    assert missing == []


def test_dynamic_key_families_are_complete() -> None:
    from register.choices import RelationKind, Role, TokenScope

    nb = catalogue("nb")
    wanted = [f"role.hint.{r.value}" for r in Role]
    wanted += [f"scope.hint.{s.value}" for s in TokenScope]
    wanted += [f"relation.{d}.{k.value}" for d in ("in", "out") for k in RelationKind]
    wanted += [f"lang.{lang}" for lang in LANGUAGES]
    wanted += [f"pydantic.{t}" for t in COMMON_PYDANTIC_TYPES]
    assert [k for k in wanted if k not in nb] == []


def test_warning_keys_of_the_services_exist() -> None:
    keys: set[str] = set()
    for path in MESSAGE_SOURCES:
        keys |= set(re.findall(r"""["'](warning\.\w+)["']""", path.read_text(encoding="utf-8")))
    assert keys, "expected the systems register's warnings"
    assert sorted(k for k in keys if k not in catalogue("nb")) == []


# ---- error messages ---------------------------------------------------------------------------


def _constant_messages(tree: ast.AST) -> set[str]:
    """Constant messages people can see: FieldError messages, ValueError texts (without their
    'field: ' prefix) and the texts returned by ``*_problem`` checks."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            args = list(node.args) + [k.value for k in node.keywords if k.arg == "message"]
            if name == "FieldError" and any(k.arg == "code" for k in node.keywords):
                continue  # translated by its pydantic error type instead
            if name == "FieldError" and len(args) >= 2:
                args = args[1:2] + [k.value for k in node.keywords if k.arg == "message"]
            elif name != "ValueError":
                continue
            for arg in args[:1]:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    text = arg.value
                    if re.match(r"^[a-z_]+: ", text):
                        text = text.split(": ", 1)[1]
                    found.add(text)
        if isinstance(node, ast.FunctionDef) and node.name.endswith("_problem"):
            for ret in ast.walk(node):
                if (
                    isinstance(ret, ast.Return)
                    and isinstance(ret.value, ast.Constant)
                    and isinstance(ret.value.value, str)
                ):
                    found.add(ret.value.value)
    return found


def _conflict_samples(tree: ast.AST) -> list[str]:
    """Each ``conflict(...)`` detail, with its placeholders filled as the service fills them."""
    samples = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "conflict"):
            continue
        arg = node.args[0]
        if isinstance(arg, ast.Constant):
            samples.append(str(arg.value))
        elif isinstance(arg, ast.JoinedStr):
            parts = []
            for piece in arg.values:
                if isinstance(piece, ast.Constant):
                    parts.append(str(piece.value))
                else:
                    conversion = getattr(piece, "conversion", -1)
                    parts.append("'x1'" if conversion == ord("r") else "x1")
            samples.append("".join(parts))
    return samples


@pytest.mark.parametrize("path", MESSAGE_SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_constant_error_messages_are_translated(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    messages = _constant_messages(tree)
    missing = sorted(m for m in messages if f"msg.{m}" not in catalogue("nb"))
    assert missing == [], f"add msg.<message> keys to the catalogue: {missing}"


@pytest.mark.parametrize(
    "path",
    sorted((ROOT / "register" / "service").glob("*.py")),
    ids=lambda p: p.name,
)
def test_conflicts_reach_the_pages_as_translated_field_errors(path: Path) -> None:
    for detail in _conflict_samples(ast.parse(path.read_text(encoding="utf-8"))):
        errors = page_forms.errors_of(Problem(409, "Conflict", detail))
        assert len(errors) == 1
        message = errors[0].message
        assert f"msg.{message}" in catalogue("nb"), f"no page translation for {detail!r}"


# ---- no hard-coded text in templates ----------------------------------------------------------

_JINJA = re.compile(r"{#.*?#}|{%.*?%}|{{.*?}}", re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_TAG = re.compile(r"<[^>]*>", re.S)
_PEOPLE_ATTRS = re.compile(
    r"""\b(title|alt|placeholder|aria-label|label)\s*=\s*(["'])(.*?)\2""", re.S | re.I
)
_LETTER = re.compile(r"[^\W\d_]")


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_templates_have_no_hard_coded_text(path: Path) -> None:
    source = _COMMENT.sub(" ", _JINJA.sub(" ", path.read_text(encoding="utf-8")))
    problems = []
    for tag in _TAG.findall(source):
        for attr, _, value in _PEOPLE_ATTRS.findall(tag):
            if _LETTER.search(value):
                problems.append(f'{attr}="{value}"')
    for chunk in _TAG.split(source):
        # Attributes written by a macro outside a tag (aria-describedby="...") are not text.
        text = re.sub(r"&[a-z]+;|&#\d+;|[\w-]+=\"[^\"]*\"", " ", chunk).strip()
        if text.lower() in ("", "html"):
            continue
        if _LETTER.search(text):
            problems.append(text)
    problems = [p for p in problems if p.lower() != "doctype html"]
    assert problems == [], f"text outside _() in {path.name}: {problems}"


def test_the_hard_coded_text_check_catches_text() -> None:
    """The check above would notice a forgotten string (the test of the test)."""
    sample = '<p>{{ _("ok") }} Lagre</p><button aria-label="Lukk">{{ x }}</button>'
    source = _JINJA.sub(" ", sample)
    assert _LETTER.search(_TAG.split(source)[1])
    assert _PEOPLE_ATTRS.findall(_TAG.findall(source)[2])
