"""EHF output: our invoices and credit notes pass the official rules; broken ones fail by id."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

import pytest
from lxml import etree

from billing.ehf import CUSTOMIZATION_ID, PROFILE_ID, Attachment, to_ehf
from billing.validate import Failure, validate_ehf
from tests.billing import documents

NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}


def tree(xml: bytes) -> etree._Element:
    return etree.fromstring(xml)


def texts(root: etree._Element, path: str) -> list[str]:
    return [e.text for e in root.xpath(path, namespaces=NS)]


def rules(failures: list[Failure]) -> set[str]:
    return {f.rule for f in failures}


@pytest.mark.parametrize(
    "make",
    [documents.invoice, documents.credit_note, documents.outside_vat_invoice],
    ids=["invoice-vat", "credit-note", "invoice-outside-vat"],
)
def test_documents_pass_xsd_and_all_rules_without_warnings(make: Callable) -> None:
    failures = validate_ehf(to_ehf(make()))
    assert failures == []


def test_outside_vat_credit_note_passes() -> None:
    lines = tuple(
        replace(x, vat_category="O", vat_percent=Decimal(0)) for x in documents.credit_note().lines
    )
    doc = documents.credit_note(supplier=documents.supplier(vat_registered=False), lines=lines)
    assert validate_ehf(to_ehf(doc)) == []


def test_invoice_carries_what_the_kommune_routes_and_pays_by() -> None:
    doc = documents.invoice()
    root = tree(to_ehf(doc))
    assert texts(root, "cbc:CustomizationID") == [CUSTOMIZATION_ID]
    assert texts(root, "cbc:ProfileID") == [PROFILE_ID]
    assert texts(root, "cbc:BuyerReference") == ["Birkenes IT 4021"]
    customer = root.find("cac:AccountingCustomerParty/cac:Party", NS)
    assert customer.find("cbc:EndpointID", NS).get("schemeID") == "0192"
    assert texts(customer, "cbc:EndpointID") == ["964965137"]
    assert texts(customer, "cac:PartyLegalEntity/cbc:CompanyID[@schemeID='0192']") == ["964965137"]
    assert texts(root, "cac:PaymentMeans/cbc:PaymentMeansCode") == ["30"]
    assert texts(root, "cac:PaymentMeans/cbc:PaymentID") == [doc.kid]
    assert texts(root, "cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID") == ["86011117947"]
    assert texts(root, "cac:InvoicePeriod/cbc:*") == ["2026-10-01", "2026-10-31"]
    assert texts(root, "cac:InvoiceLine[1]/cac:InvoicePeriod/cbc:*") == ["2026-10-01", "2026-10-31"]


def test_vat_registered_supplier_shows_mva_number_and_foretaksregisteret() -> None:
    party = tree(to_ehf(documents.invoice())).find("cac:AccountingSupplierParty/cac:Party", NS)
    schemes = {
        e.findtext("cac:TaxScheme/cbc:ID", namespaces=NS): e.findtext(
            "cbc:CompanyID", namespaces=NS
        )
        for e in party.findall("cac:PartyTaxScheme", NS)
    }
    assert schemes == {"VAT": "NO921635419MVA", "TAX": "Foretaksregisteret"}


def test_vat_breakdown_per_category_and_rate_with_exact_totals() -> None:
    root = tree(to_ehf(documents.invoice()))
    rows = [
        (
            s.findtext("cac:TaxCategory/cbc:ID", namespaces=NS),
            s.findtext("cac:TaxCategory/cbc:Percent", namespaces=NS),
            s.findtext("cbc:TaxableAmount", namespaces=NS),
            s.findtext("cbc:TaxAmount", namespaces=NS),
        )
        for s in root.findall("cac:TaxTotal/cac:TaxSubtotal", NS)
    ]
    assert rows == [
        ("S", "25", "48046.67", "12011.67"),
        ("S", "15", "698.00", "104.70"),
        ("E", "0", "1200.00", "0.00"),
    ]
    assert texts(root, "cac:TaxTotal/cbc:TaxAmount") == ["12116.37"]
    assert texts(root, "cac:LegalMonetaryTotal/cbc:*") == [
        "49944.67",
        "49944.67",
        "62061.04",
        "62061.04",
    ]
    reason = texts(
        root, "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory[cbc:ID='E']/cbc:TaxExemptionReason"
    )
    assert reason and "Unntatt" in reason[0]


def test_outside_vat_invoice_has_no_vat_identifiers_and_states_why() -> None:
    root = tree(to_ehf(documents.outside_vat_invoice()))
    assert root.xpath("//cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']", namespaces=NS) == []
    assert texts(root, "//cac:PartyTaxScheme/cbc:CompanyID") == ["Foretaksregisteret"]
    subtotal = root.find("cac:TaxTotal/cac:TaxSubtotal", NS)
    assert subtotal.findtext("cac:TaxCategory/cbc:ID", namespaces=NS) == "O"
    assert subtotal.find("cac:TaxCategory/cbc:Percent", NS) is None
    assert subtotal.findtext("cac:TaxCategory/cbc:TaxExemptionReasonCode", namespaces=NS) == (
        "VATEX-EU-O"
    )
    assert texts(root, "cac:TaxTotal/cbc:TaxAmount") == ["0.00"]
    assert texts(root, "cac:LegalMonetaryTotal/cbc:PayableAmount") == ["49944.67"]


def test_credit_note_references_the_invoice_it_corrects() -> None:
    root = tree(to_ehf(documents.credit_note()))
    assert etree.QName(root).localname == "CreditNote"
    assert texts(root, "cbc:CreditNoteTypeCode") == ["381"]
    reference = "cac:BillingReference/cac:InvoiceDocumentReference/cbc:*"
    assert texts(root, reference) == ["2026-000123", "2026-11-02"]
    assert texts(root, "cac:CreditNoteLine/cbc:CreditedQuantity") == ["1.25"]
    assert texts(root, "cac:LegalMonetaryTotal/cbc:PayableAmount") == ["1015.63"]


@pytest.mark.parametrize("unit", ["EA", "C62", "HUR", "MON"])
def test_unit_codes_we_use_are_in_the_code_list(unit: str) -> None:
    lines = documents.invoice().lines
    doc = documents.invoice(lines=(replace(lines[0], unit_code=unit), *lines[1:]))
    xml = to_ehf(doc)
    quantity = tree(xml).find("cac:InvoiceLine/cbc:InvoicedQuantity", NS)
    assert quantity.get("unitCode") == unit
    assert validate_ehf(xml) == []


def test_lines_name_their_price_model_category() -> None:
    root = tree(to_ehf(documents.invoice()))
    values = texts(
        root, "cac:InvoiceLine/cac:Item/cac:AdditionalItemProperty[cbc:Name='Kategori']/cbc:Value"
    )
    assert values[0] == "1 Felles teknisk infrastruktur"
    assert values[2] == "3 Brukerrelaterte kostnader"


def test_attachment_of_a_type_peppol_does_not_carry_fails_cl001() -> None:
    attachment = Attachment("notes.txt", "text/plain", b"hei", "Notater")
    failures = validate_ehf(to_ehf(documents.invoice(), attachments=[attachment]))
    assert "PEPPOL-EN16931-CL001" in rules(failures)


def test_exemption_code_of_another_category_fails_p0105() -> None:
    def code_on_e(element: etree._Element) -> None:
        reason = element.find("cbc:TaxExemptionReason", NS)
        code = etree.Element(f"{{{NS['cbc']}}}TaxExemptionReasonCode")
        code.text = "VATEX-EU-O"
        reason.addprevious(code)

    path = "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory[cbc:ID='E']"
    xml = mutate(to_ehf(documents.invoice()), path, code_on_e)
    assert "PEPPOL-EN16931-P0105" in rules(validate_ehf(xml))


def test_embedded_pdf_attachment_keeps_the_document_valid() -> None:
    attachment = Attachment("2026-000123.pdf", "application/pdf", b"%PDF-1.7 test", "Spesifikasjon")
    xml = to_ehf(documents.invoice(), attachments=[attachment])
    root = tree(xml)
    obj = root.find(
        "cac:AdditionalDocumentReference/cac:Attachment/cbc:EmbeddedDocumentBinaryObject", NS
    )
    assert obj.get("mimeCode") == "application/pdf"
    assert validate_ehf(xml) == []


def mutate(xml: bytes, path: str, change: Callable[[etree._Element], None]) -> bytes:
    root = tree(xml)
    found = root.xpath(path, namespaces=NS)
    assert found, path
    change(found[0])
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def set_text(value: str) -> Callable[[etree._Element], None]:
    def change(element: etree._Element) -> None:
        element.text = value

    return change


def remove(element: etree._Element) -> None:
    element.getparent().remove(element)


def remove_tax_schemes(party: etree._Element) -> None:
    for scheme in party.findall("cac:PartyTaxScheme", NS):
        party.remove(scheme)


BROKEN = [
    ("cac:LegalMonetaryTotal/cbc:PayableAmount", set_text("62061.05"), "BR-CO-16"),
    ("cac:LegalMonetaryTotal/cbc:LineExtensionAmount", set_text("49944.66"), "BR-CO-10"),
    ("cac:TaxTotal/cbc:TaxAmount", set_text("12116.36"), "BR-CO-14"),
    # EN 16931 1.3.15 lets a category's VAT be off by less than one krone, not more:
    ("cac:TaxTotal/cac:TaxSubtotal[1]/cbc:TaxAmount", set_text("12010.00"), "BR-CO-17"),
    ("cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount", set_text("62061.00"), "BR-CO-15"),
    ("cac:InvoiceLine[2]/cbc:LineExtensionAmount", set_text("2450.5"), "PEPPOL-EN16931-R120"),
    ("cac:LegalMonetaryTotal/cbc:PayableAmount", set_text("62061.041"), "BR-DEC-18"),
    ("cbc:BuyerReference", remove, "PEPPOL-EN16931-R003"),
    (
        "cac:AccountingCustomerParty/cac:Party/cbc:EndpointID",
        set_text("964965136"),
        "PEPPOL-COMMON-R041",
    ),
    (
        "cac:AccountingSupplierParty//cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID",
        set_text("NO921635418MVA"),
        "NO-R-001",
    ),
    (
        "cac:AccountingSupplierParty//cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='TAX']",
        remove,
        "NO-R-002",
    ),
    ("cac:AccountingSupplierParty/cac:Party", remove_tax_schemes, "BR-S-02"),
    (
        "cac:InvoiceLine[1]/cac:InvoicePeriod/cbc:EndDate",
        set_text("2026-11-30"),
        "PEPPOL-EN16931-R111",
    ),
    ("cbc:Note", set_text(" "), "PEPPOL-EN16931-R008"),
    ("cbc:InvoiceTypeCode", set_text("381"), "PEPPOL-EN16931-P0100"),
    ("cbc:ProfileID", set_text("urn:fdc:peppol.eu:2017:poacc:billing:1.0"), "PEPPOL-EN16931-R007"),
    (
        "cbc:CustomizationID",
        set_text(f"{CUSTOMIZATION_ID}::extension"),
        "PEPPOL-EN16931-R004",
    ),
    ("cac:PaymentMeans/cbc:PaymentMeansCode", set_text("31x"), "BR-CL-16"),
    (
        "cac:InvoiceLine[1]/cac:Item/cac:ClassifiedTaxCategory/cbc:Percent",
        set_text("24"),
        "BR-S-08",
    ),
]


@pytest.mark.parametrize(("path", "change", "rule"), BROKEN, ids=[b[2] for b in BROKEN])
def test_broken_invoice_fails_with_the_rule_id(path: str, change: Callable, rule: str) -> None:
    xml = mutate(to_ehf(documents.invoice()), path, change)
    assert rule in rules(validate_ehf(xml))


def test_elements_out_of_schema_order_fail_the_ubl_schema() -> None:
    def swap(element: etree._Element) -> None:
        parent = element.getparent()
        parent.remove(element)
        parent.append(element)  # IssueDate after the invoice lines

    xml = mutate(to_ehf(documents.invoice()), "cbc:IssueDate", swap)
    failures = validate_ehf(xml)
    assert "UBL-XSD" in rules(failures)
    assert any("IssueDate" in f.message for f in failures if f.rule == "UBL-XSD")


def test_outside_vat_invoice_with_a_vat_number_fails_br_o_02() -> None:
    def add_vat(party: etree._Element) -> None:
        scheme = etree.fromstring(
            f'<cac:PartyTaxScheme xmlns:cac="{NS["cac"]}" xmlns:cbc="{NS["cbc"]}">'
            "<cbc:CompanyID>NO921635419MVA</cbc:CompanyID>"
            "<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>"
        )
        party.find("cac:PostalAddress", NS).addnext(scheme)

    xml = mutate(
        to_ehf(documents.outside_vat_invoice()), "cac:AccountingSupplierParty/cac:Party", add_vat
    )
    assert "BR-O-02" in rules(validate_ehf(xml))


def test_credit_note_without_its_lines_fails() -> None:
    xml = mutate(to_ehf(documents.credit_note()), "cac:CreditNoteLine", remove)
    found = rules(validate_ehf(xml))
    assert {"BR-16", "UBL-XSD"} <= found


def test_not_xml_is_reported_not_raised() -> None:
    failures = validate_ehf(b"<Invoice><unclosed></Invoice>")
    assert [f.rule for f in failures] == ["XML"]
    assert failures[0].fatal


def test_doctype_with_entities_is_refused_before_any_rule_runs() -> None:
    xml = to_ehf(documents.invoice()).replace(
        b"<Invoice ",
        b'<!DOCTYPE Invoice [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<Invoice ',
        1,
    )
    failures = validate_ehf(xml)
    assert [(f.rule, f.message) for f in failures] == [("XML", "a DOCTYPE is not allowed in EHF")]


def test_other_encodings_are_validated_like_utf8() -> None:
    root = tree(to_ehf(documents.invoice()))
    latin1 = etree.tostring(root, encoding="ISO-8859-1", xml_declaration=True)
    assert b"ISO-8859-1" in latin1
    assert validate_ehf(latin1) == []
