"""The Schematron runner: ISO rule semantics, messages, and the operator's extra rule file."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from billing.ehf import to_ehf
from billing.schematron import Schematron, SchematronError, compile_schematron
from billing.validate import validate_ehf
from tests.billing import documents

RULES = b"""<?xml version="1.0" encoding="UTF-8"?>
<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt2">
  <ns prefix="t" uri="urn:test"/>
  <ns prefix="xs" uri="http://www.w3.org/2001/XMLSchema"/>
  <let name="limit" value="xs:decimal(/t:doc/@limit)"/>
  <function xmlns="http://www.w3.org/1999/XSL/Transform" name="t:twice" as="xs:decimal">
    <param name="v" as="xs:decimal"/>
    <sequence select="$v * 2"/>
  </function>
  <pattern>
    <rule context="t:item[@kind = 'special']">
      <assert id="SPECIAL" flag="fatal" test="@value = 'ok'"
        >special <value-of select="@n"/> not ok</assert>
    </rule>
    <rule context="t:item">
      <let name="doubled" value="t:twice(xs:decimal(@n))"/>
      <assert id="LIMIT" flag="warning" test="$doubled le $limit"
        >item <value-of select="@n"/> doubled is <value-of select="$doubled"/></assert>
      <report id="REPORTED" test="@value = 'flag'">item <name/> reported</report>
    </rule>
  </pattern>
</schema>
"""

DOC = b"""<doc xmlns="urn:test" limit="10">
  <item n="1" value="ok"/>
  <item n="6" value="x"/>
  <item n="2" kind="special" value="bad"/>
  <item n="50" kind="special" value="ok"/>
  <item n="3" value="flag"/>
</doc>"""


@pytest.fixture
def rules(tmp_path: Path) -> Schematron:
    path = tmp_path / "rules.sch"
    path.write_bytes(RULES)
    return Schematron(path)


def test_first_matching_rule_of_a_pattern_wins(rules: Schematron) -> None:
    findings = rules.check(DOC)
    found = [(f.rule, f.flag, f.message) for f in findings]
    # item 50 is special: the LIMIT rule must not also see it, though its doubled value is 100.
    assert found == [
        ("LIMIT", "warning", "item 6 doubled is 12"),
        ("SPECIAL", "fatal", "special 2 not ok"),
        ("REPORTED", "error", "item item reported"),
    ]
    assert findings[0].location.endswith("item[2]")


def test_not_a_schematron_file_is_refused() -> None:
    with pytest.raises(SchematronError, match="not an ISO Schematron"):
        compile_schematron(b"<schema/>")


def test_broken_rule_is_reported_with_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "broken.sch"
    path.write_bytes(RULES.replace(b"@value = 'ok'", b"@value = = 'ok'"))
    with pytest.raises(SchematronError, match=r"broken\.sch"):
        Schematron(path).check(DOC)


def test_operator_supplied_peppol_rules_run_as_a_further_layer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = tmp_path / "PEPPOL-EN16931-UBL.sch"
    extra.write_bytes(b"""<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt2">
      <ns prefix="cbc" uri="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"/>
      <pattern><rule context="cbc:BuyerReference">
        <assert id="OPERATOR-R001" flag="fatal" test="starts-with(., 'Kommune')">ref</assert>
      </rule></pattern></schema>""")
    xml = to_ehf(documents.invoice())
    assert validate_ehf(xml) == []
    monkeypatch.setenv("FELLESDRIFT_PEPPOL_SCHEMATRON", str(extra))
    failures = validate_ehf(xml)
    assert [(f.rule, f.source) for f in failures] == [
        ("OPERATOR-R001", "OpenPeppol Schematron PEPPOL-EN16931-UBL.sch")
    ]


def test_included_rule_files_are_run(tmp_path: Path) -> None:
    # OpenPeppol's modular rule sets include files whose root is a container of patterns.
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "items.inc").write_bytes(b"""<include>
      <pattern xmlns="http://purl.oclc.org/dsdl/schematron">
        <rule context="t:item"><assert id="INCLUDED" test="@n != '6'">six</assert></rule>
      </pattern></include>""")
    main = tmp_path / "main.sch"
    main.write_bytes(b"""<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt2">
      <ns prefix="t" uri="urn:test"/>
      <include href="parts/items.inc"/>
      <pattern><rule context="t:doc"><assert id="MAIN" test="false()">main</assert></rule></pattern>
    </schema>""")
    assert sorted(f.rule for f in Schematron(main).check(DOC)) == ["INCLUDED", "MAIN"]


def test_missing_include_and_abstract_patterns_are_refused(tmp_path: Path) -> None:
    missing = tmp_path / "missing.sch"
    missing.write_bytes(b"""<schema xmlns="http://purl.oclc.org/dsdl/schematron">
      <include href="nowhere.sch"/></schema>""")
    with pytest.raises(SchematronError, match=r"missing\.sch: included file nowhere\.sch"):
        Schematron(missing).check(DOC)
    abstract = b"""<schema xmlns="http://purl.oclc.org/dsdl/schematron">
      <pattern abstract="true" id="a"><rule context="$x"><assert test="true()"/></rule></pattern>
    </schema>"""
    with pytest.raises(SchematronError, match="abstract patterns"):
        compile_schematron(abstract)


def test_command_line_validation_reports_rules_and_exit_status(tmp_path: Path) -> None:
    good = tmp_path / "good.xml"
    good.write_bytes(to_ehf(documents.invoice()))
    bad = tmp_path / "bad.xml"
    bad.write_bytes(
        good.read_bytes()
        .replace(b"<cbc:BuyerReference>", b"<cbc:AccountingCost>")
        .replace(b"</cbc:BuyerReference>", b"</cbc:AccountingCost>")
    )
    run = [sys.executable, "-m", "billing.validate"]
    ok = subprocess.run([*run, str(good)], capture_output=True, text=True, check=False, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == f"{good}: valid"
    failed = subprocess.run(
        [*run, str(good), str(bad)], capture_output=True, text=True, check=False, timeout=120
    )
    assert failed.returncode == 1
    assert f"{bad}: PEPPOL-EN16931-R003 (fatal)" in failed.stdout
    assert failed.stdout.strip().endswith(f"{bad}: INVALID")
    missing = subprocess.run(
        [*run, str(tmp_path / "nowhere.xml")],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert missing.returncode == 2
    assert "nowhere.xml" in missing.stderr


def test_validation_from_web_worker_threads_agrees() -> None:
    xml = to_ehf(documents.invoice())
    bad = xml.replace(b"<cbc:BuyerReference>Birkenes IT 4021", b"<cbc:BuyerReference>")
    with ThreadPoolExecutor(max_workers=4) as pool:
        good_runs = list(pool.map(lambda _: validate_ehf(xml), range(6)))
        bad_runs = list(pool.map(lambda _: {f.rule for f in validate_ehf(bad)}, range(6)))
    assert good_runs == [[]] * 6
    assert all("PEPPOL-EN16931-R003" in rules for rules in bad_runs)
