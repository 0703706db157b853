"""Validate EHF XML: UBL 2.1 schema, the official EN 16931 rules, and the Peppol/Norwegian rules.

Three layers, each reported with the rule ids a receiving access point would use:

1. ``UBL-XSD``: the official OASIS UBL 2.1 schemas (``validation/ubl-2.1``).
2. The official CEN EN 16931 UBL Schematron (``validation/en16931``, EUPL 1.2), the version
   bundled with Peppol BIS Billing 3.0.20: ``BR-*``, ``BR-CO-*``, the VAT category rules
   (``BR-S-*``, ``BR-O-*``, ...), ``BR-DEC-*``, the code lists (``BR-CL-*``) and the UBL syntax
   rules (``UBL-CR-*``, ``UBL-SR-*``, ``UBL-DT-*``).
3. The OpenPeppol rules (``PEPPOL-EN16931-R*``, ``PEPPOL-COMMON-R*``) and the Norwegian national
   rules (``NO-R-*``) that our EHF relies on, written for this project in Schematron from the
   published BIS Billing 3.0 rule list (``validation/peppol-no-subset.sch``). OpenPeppol's own
   Schematron file carries no licence that allows us to redistribute it; an operator who holds
   it (every access point does) can point ``FELLESDRIFT_PEPPOL_SCHEMATRON`` at it, and it is then
   run as a fourth layer.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lxml import etree

from billing.schematron import Schematron

VALIDATION_DIR = Path(__file__).parent / "validation"
UBL_XSD = {
    "Invoice": VALIDATION_DIR / "ubl-2.1" / "maindoc" / "UBL-Invoice-2.1.xsd",
    "CreditNote": VALIDATION_DIR / "ubl-2.1" / "maindoc" / "UBL-CreditNote-2.1.xsd",
}
CEN_RULES = VALIDATION_DIR / "en16931" / "CEN-EN16931-UBL.sch"
PEPPOL_NO_RULES = VALIDATION_DIR / "peppol-no-subset.sch"
CEN_VERSION = "EN 16931 UBL Schematron 1.3.15 (Peppol BIS Billing 3.0.20)"
PEPPOL_NO_VERSION = "Peppol BIS Billing 3.0.21 and NO-R rules, as used by fellesdrift"


@dataclass(frozen=True)
class Failure:
    """One failed rule: its id, ``fatal`` or ``warning``, the rule's text, and where."""

    rule: str
    flag: str
    message: str
    location: str
    source: str

    @property
    def fatal(self) -> bool:
        return self.flag != "warning"

    def __str__(self) -> str:
        return f"{self.rule} ({self.flag}) {self.message} at {self.location} [{self.source}]"


@cache
def _schema(root_name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(UBL_XSD[root_name])))


@cache
def _rules(path: Path) -> Schematron:
    return Schematron(path)


def _rule_files() -> list[tuple[Path, str]]:
    files = [(CEN_RULES, CEN_VERSION), (PEPPOL_NO_RULES, PEPPOL_NO_VERSION)]
    official = os.environ.get("FELLESDRIFT_PEPPOL_SCHEMATRON")
    if official:
        files.append((Path(official), f"OpenPeppol Schematron {Path(official).name}"))
    return files


def _xsd_failures(root: etree._Element) -> list[Failure]:
    name = etree.QName(root).localname
    if name not in UBL_XSD:
        return [
            Failure(
                "UBL-XSD",
                "fatal",
                f"root element {name} is neither Invoice nor CreditNote",
                "/",
                "UBL 2.1 XSD",
            )
        ]
    schema = _schema(name)
    if schema.validate(root):
        return []
    return [
        Failure("UBL-XSD", "fatal", error.message, f"line {error.line}", "UBL 2.1 XSD")
        for error in schema.error_log
    ]


def validate_ehf(xml: bytes) -> list[Failure]:
    """Every failed rule for the EHF document ``xml``; an empty list means it is valid.

    Warnings (flag ``warning``) are included: a caller that only refuses on errors filters
    with ``Failure.fatal``.
    """
    try:
        root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        return [Failure("XML", "fatal", str(exc), "/", "XML parser")]
    if root.getroottree().docinfo.doctype:
        # UBL has no DTD; a DOCTYPE can only smuggle entities into the rule engine.
        return [Failure("XML", "fatal", "a DOCTYPE is not allowed in EHF", "/", "XML parser")]
    failures = _xsd_failures(root)
    # The rule engine gets the parsed document re-encoded as UTF-8, whatever the input encoding.
    utf8 = etree.tostring(root, encoding="UTF-8", xml_declaration=True)
    for path, source in _rule_files():
        failures += [
            Failure(f.rule, f.flag, f.message, f.location, source) for f in _rules(path).check(utf8)
        ]
    return failures


def main(argv: list[str] | None = None) -> int:
    """``python -m billing.validate FILE...``: check EHF files, one line per failed rule.

    Exit status 0 when every file is valid (warnings allowed), 1 when any has an error, 2 when a
    file cannot be read.
    """
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        sys.stderr.write("usage: python -m billing.validate EHF.xml...\n")
        return 2
    status = 0
    for name in paths:
        try:
            failures = validate_ehf(Path(name).read_bytes())
        except OSError as exc:
            sys.stderr.write(f"{name}: {exc.strerror}\n")
            return 2
        for failure in failures:
            sys.stdout.write(f"{name}: {failure}\n")
        invalid = any(f.fatal for f in failures)
        status = max(status, 1 if invalid else 0)
        sys.stdout.write(f"{name}: {'INVALID' if invalid else 'valid'}\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
