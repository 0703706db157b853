"""Run ISO Schematron (XSLT 2 query binding) rule files with Saxon-HE (saxonche).

The official EN 16931 and Peppol rules are published as Schematron whose tests are XPath 2/3 and
may call ``xsl:function``s. We compile such a file to one XSLT 3.0 stylesheet: per pattern a mode,
per rule a template whose priority follows the rule order (a node is checked by the first rule of
a pattern whose context it matches, as ISO Schematron says), and per failed assert or fired report
a ``<failure>`` element. Saxon runs the stylesheet; the result is read back with lxml.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from lxml import etree
from saxonche import PySaxonProcessor, PyXsltExecutable

SCH = "http://purl.oclc.org/dsdl/schematron"
XSL = "http://www.w3.org/1999/XSL/Transform"
_S = f"{{{SCH}}}"
_X = f"{{{XSL}}}"


class SchematronError(RuntimeError):
    """A rule file that cannot be compiled, or a document Saxon cannot check."""


@dataclass(frozen=True)
class Finding:
    rule: str
    flag: str
    message: str
    location: str


def _x(parent: etree._Element, instruction: str, **attributes: str) -> etree._Element:
    return etree.SubElement(parent, f"{_X}{instruction}", attributes)


def _literal(text: str) -> str:
    """Text for an attribute value template: braces doubled."""
    return text.replace("{", "{{").replace("}", "}}")


def _message(target: etree._Element, check: etree._Element) -> None:
    """Copy an assert's mixed-content message: text, ``value-of`` and ``name`` become XSLT."""
    if check.text:
        _x(target, "text").text = check.text
    for child in check:
        if child.tag == f"{_S}value-of":
            _x(target, "value-of", select=child.get("select", "."))
        elif child.tag == f"{_S}name":
            _x(target, "value-of", select=f"name({child.get('path', '.')})")
        else:
            _x(target, "text").text = "".join(child.itertext())
        if child.tail:
            _x(target, "text").text = child.tail


def _check(template: etree._Element, check: etree._Element) -> None:
    test = check.get("test", "true()")
    is_assert = check.tag == f"{_S}assert"
    condition = _x(template, "if", test=f"not({test})" if is_assert else test)
    failure = etree.SubElement(
        condition,
        "failure",
        id=_literal(check.get("id", "")),
        flag=_literal(check.get("flag", "error")),
        location="{path()}",
    )
    _message(failure, check)


def _variables(target: etree._Element, owner: etree._Element) -> None:
    for let in owner.findall(f"{_S}let"):
        _x(target, "variable", name=let.get("name", ""), select=let.get("value", "()"))


def _pattern(stylesheet: etree._Element, pattern: etree._Element, mode: str) -> None:
    walk = _x(stylesheet, "template", match="/|*|@*", mode=mode, priority="-1000")
    _x(walk, "apply-templates", select="@*|*", mode=mode)
    rules = pattern.findall(f"{_S}rule")
    for index, rule in enumerate(rules):
        template = _x(
            stylesheet,
            "template",
            match=rule.get("context", ""),
            mode=mode,
            priority=str(len(rules) - index),
        )
        _variables(template, pattern)
        _variables(template, rule)
        for check in rule:
            if check.tag in (f"{_S}assert", f"{_S}report"):
                _check(template, check)
        _x(template, "apply-templates", select="@*|*", mode=mode)


def _parse(source: bytes) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        return etree.fromstring(source, parser)
    except etree.XMLSyntaxError as exc:
        raise SchematronError(f"not well-formed: {exc}") from exc


def _resolve_includes(element: etree._Element, base: Path | None, depth: int = 0) -> None:
    """Replace each ``include`` by the file it names (relative to ``base``).

    OpenPeppol's modular rule sets include files whose root is a plain container of patterns;
    such a container contributes its Schematron children.
    """
    for include in element.iter(f"{_S}include"):
        if base is None or depth > 8:
            raise SchematronError(f"cannot resolve include {include.get('href')!r}")
        path = (base / include.get("href", "")).resolve()
        if not path.is_file():
            raise SchematronError(f"included file {path.name} not found next to the rules")
        root = _parse(path.read_bytes())
        _resolve_includes(root, path.parent, depth + 1)
        parts = (
            [root] if root.tag.startswith(_S) else [c for c in root if str(c.tag).startswith(_S)]
        )
        parent = include.getparent()
        assert parent is not None
        index = parent.index(include)
        parent.remove(include)
        for offset, part in enumerate(parts):
            parent.insert(index + offset, part)
        return _resolve_includes(element, base, depth)  # the tree changed: start again


def _refuse_unsupported(schema: etree._Element) -> None:
    """Abstract patterns and rules would need instantiation we do not do; never skip silently."""
    for node in schema.iter(f"{_S}pattern", f"{_S}rule"):
        if node.get("abstract") == "true" or node.get("is-a"):
            raise SchematronError("abstract patterns and rules are not supported")
    if next(schema.iter(f"{_S}extends"), None) is not None:
        raise SchematronError("rule extension (sch:extends) is not supported")


def compile_schematron(source: bytes, base: Path | None = None) -> str:
    """The XSLT 3.0 text that checks a document against the Schematron ``source``.

    ``base`` is the directory that ``include``s are resolved against.
    """
    schema = _parse(source)
    if schema.tag != f"{_S}schema":
        raise SchematronError("not an ISO Schematron schema")
    _resolve_includes(schema, base)
    _refuse_unsupported(schema)
    nsmap = {ns.get("prefix"): ns.get("uri") for ns in schema.findall(f"{_S}ns")}
    stylesheet = etree.Element(f"{_X}stylesheet", nsmap={"xsl": XSL, **nsmap}, version="3.0")
    stylesheet.set("exclude-result-prefixes", "#all")
    _variables(stylesheet, schema)
    for function in schema.findall(f"{_X}function"):
        stylesheet.append(_copy(function))
    patterns = schema.findall(f"{_S}pattern")
    main = _x(stylesheet, "template", match="/")
    report = etree.SubElement(main, "report")
    for index, pattern in enumerate(patterns):
        _x(report, "apply-templates", select="/", mode=f"p{index}")
        _pattern(stylesheet, pattern, f"p{index}")
    return etree.tostring(stylesheet, encoding="unicode")


def _copy(element: etree._Element) -> etree._Element:
    copy = etree.fromstring(etree.tostring(element))
    copy.tail = None
    return copy


class Schematron:
    """One compiled rule file; ``check`` is safe to call from several threads."""

    _processor: PySaxonProcessor | None = None
    _lock = threading.Lock()

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executable: PyXsltExecutable | None = None

    @classmethod
    def processor(cls) -> PySaxonProcessor:
        # One Saxon processor per process: SaxonC starts a GraalVM isolate for it.
        if cls._processor is None:
            cls._processor = PySaxonProcessor(license=False)
        return cls._processor

    def _compiled(self) -> PyXsltExecutable:
        if self._executable is None:
            try:
                xslt = compile_schematron(self.path.read_bytes(), self.path.parent)
            except SchematronError as exc:
                raise SchematronError(f"{self.path.name}: {exc}") from exc
            compiler = self.processor().new_xslt30_processor()
            try:
                self._executable = compiler.compile_stylesheet(stylesheet_text=xslt)
            except Exception as exc:  # saxonche raises PySaxonApiError, a plain Exception
                raise SchematronError(f"{self.path.name}: {exc}") from exc
        return self._executable

    def check(self, xml: bytes) -> list[Finding]:
        with self._lock:
            executable = self._compiled()
            document = self.processor().parse_xml(xml_text=xml.decode("utf-8"))
            executable.set_global_context_item(xdm_item=document)
            output = executable.transform_to_string(xdm_node=document)
        if output is None:
            raise SchematronError(f"{self.path.name}: Saxon returned no report")
        report = etree.fromstring(output.encode("utf-8"))
        return [
            Finding(
                rule=f.get("id", ""),
                flag=f.get("flag", ""),
                message=" ".join("".join(f.itertext()).split()),
                location=f.get("location", ""),
            )
            for f in report.iter("failure")
        ]
