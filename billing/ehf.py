"""EHF: an InvoiceDocument as Peppol BIS Billing 3.0 UBL 2.1 XML (Invoice or CreditNote).

Norwegian public bodies receive invoices as EHF through Peppol. The elements are written in the
order the UBL 2.1 schema prescribes (a merely logical order is schema-invalid), optional elements
are left out rather than written empty (PEPPOL-EN16931-R008), and every amount carries exactly two
decimals. Totals come from the document's own computed properties, so the XML and the PDF/CSV
always show the same kroner. ``billing.validate`` checks the result against the official rules.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from lxml import etree

from billing.document import ORE, DocumentLine, InvoiceDocument, Party, VatSubtotal
from fellesdrift.kernel.i18n import translate

CUSTOMIZATION_ID = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PROFILE_ID = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
ORGNR_SCHEME = "0192"  # Peppol EAS/ICD for the Norwegian Enhetsregisteret
CREDIT_TRANSFER = "30"  # UNCL 4461
INVOICE_TYPE = "380"  # UNCL 1001 commercial invoice
CREDIT_NOTE_TYPE = "381"

NS_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
NS_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
NS_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
NS_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"


@dataclass(frozen=True)
class Attachment:
    """A file embedded in the EHF (BG-24), e.g. the PDF specification of the invoice."""

    filename: str
    mime_code: str
    content: bytes
    description: str


def _cac(parent: etree._Element, name: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{NS_CAC}}}{name}")


def _cbc(
    parent: etree._Element, tag: str, text: str | None, **attributes: str
) -> etree._Element | None:
    """A basic element; None or blank text writes nothing (R008 forbids empty elements)."""
    if text is None or not text.strip():
        return None
    element = etree.SubElement(parent, f"{{{NS_CBC}}}{tag}", attributes)
    element.text = text
    return element


def _amount(parent: etree._Element, name: str, value: Decimal, currency: str) -> None:
    _cbc(parent, name, f"{value.quantize(ORE)}", currencyID=currency)


def _number(value: Decimal) -> str:
    """A quantity, price or rate without exponent notation or needless trailing zeros."""
    text = f"{value.normalize():f}"
    return text if text != "-0" else "0"


def _date(value: date) -> str:
    return value.isoformat()


def to_ehf(doc: InvoiceDocument, attachments: Sequence[Attachment] = ()) -> bytes:
    """The document as EHF XML (UTF-8, with XML declaration)."""
    credit = doc.is_credit_note
    ns_root = NS_CREDIT_NOTE if credit else NS_INVOICE
    nsmap = {None: ns_root, "cac": NS_CAC, "cbc": NS_CBC}
    root = etree.Element(f"{{{ns_root}}}{'CreditNote' if credit else 'Invoice'}", nsmap=nsmap)
    _header(root, doc)
    _references(root, doc, attachments)
    _supplier(_cac(_cac(root, "AccountingSupplierParty"), "Party"), doc.supplier)
    # BR-O-02: an invoice outside VAT names no VAT identifier at all, not even the buyer's.
    buyer_vat = doc.customer.vat_number if doc.supplier.vat_registered else None
    _customer(_cac(_cac(root, "AccountingCustomerParty"), "Party"), doc.customer, buyer_vat)
    _payment(root, doc)
    _tax_total(root, doc)
    _monetary_total(root, doc)
    for line in doc.lines:
        _line(root, doc, line)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _header(root: etree._Element, doc: InvoiceDocument) -> None:
    _cbc(root, "CustomizationID", CUSTOMIZATION_ID)
    _cbc(root, "ProfileID", PROFILE_ID)
    _cbc(root, "ID", doc.number)
    _cbc(root, "IssueDate", _date(doc.issue_date))
    if doc.is_credit_note:
        _cbc(root, "CreditNoteTypeCode", CREDIT_NOTE_TYPE)
    else:
        _cbc(root, "DueDate", _date(doc.due_date))
        _cbc(root, "InvoiceTypeCode", INVOICE_TYPE)
    _cbc(root, "Note", doc.note)
    _cbc(root, "DocumentCurrencyCode", doc.currency)
    _cbc(root, "AccountingCost", doc.accounting_cost)  # BT-19: the buyer's kontostreng
    _cbc(root, "BuyerReference", doc.buyer_reference)
    period = _cac(root, "InvoicePeriod")
    _cbc(period, "StartDate", _date(doc.period_start))
    _cbc(period, "EndDate", _date(doc.period_end))
    if doc.order_reference:
        _cbc(_cac(root, "OrderReference"), "ID", doc.order_reference)  # BT-13


def _references(
    root: etree._Element, doc: InvoiceDocument, attachments: Sequence[Attachment]
) -> None:
    if doc.is_credit_note and doc.original_number is not None:
        reference = _cac(_cac(root, "BillingReference"), "InvoiceDocumentReference")
        _cbc(reference, "ID", doc.original_number)
        if doc.original_issue_date is not None:
            _cbc(reference, "IssueDate", _date(doc.original_issue_date))
    for attachment in attachments:
        reference = _cac(root, "AdditionalDocumentReference")
        _cbc(reference, "ID", attachment.filename)
        _cbc(reference, "DocumentDescription", attachment.description)
        _cbc(
            _cac(reference, "Attachment"),
            "EmbeddedDocumentBinaryObject",
            base64.b64encode(attachment.content).decode("ascii"),
            mimeCode=attachment.mime_code,
            filename=attachment.filename,
        )


def _party_common(party_el: etree._Element, party: Party) -> None:
    _cbc(party_el, "EndpointID", party.orgnr, schemeID=ORGNR_SCHEME)
    _cbc(_cac(party_el, "PartyIdentification"), "ID", party.orgnr, schemeID=ORGNR_SCHEME)
    _cbc(_cac(party_el, "PartyName"), "Name", party.name)
    address = _cac(party_el, "PostalAddress")
    _cbc(address, "StreetName", party.street)
    _cbc(address, "CityName", party.city)
    _cbc(address, "PostalZone", party.postal_code)
    _cbc(_cac(address, "Country"), "IdentificationCode", party.country_code)


def _tax_scheme(party_el: etree._Element, company_id: str, scheme: str) -> None:
    tax_scheme = _cac(party_el, "PartyTaxScheme")
    _cbc(tax_scheme, "CompanyID", company_id)
    _cbc(_cac(tax_scheme, "TaxScheme"), "ID", scheme)


def _legal_and_contact(party_el: etree._Element, party: Party) -> None:
    legal = _cac(party_el, "PartyLegalEntity")
    _cbc(legal, "RegistrationName", party.name)
    _cbc(legal, "CompanyID", party.orgnr, schemeID=ORGNR_SCHEME)
    if party.contact_name or party.email:
        contact = _cac(party_el, "Contact")
        _cbc(contact, "Name", party.contact_name)
        _cbc(contact, "Telephone", party.contact_phone)
        _cbc(contact, "ElectronicMail", party.email)


def _supplier(party_el: etree._Element, party: Party) -> None:
    _party_common(party_el, party)
    if party.vat_number is not None:
        _tax_scheme(party_el, party.vat_number, "VAT")  # NO-R-001: NO + orgnr + MVA
    if party.country_code == "NO" and party.in_business_register:
        # NO-R-002: Norwegian limited companies and the like must state "Foretaksregisteret".
        _tax_scheme(party_el, "Foretaksregisteret", "TAX")
    _legal_and_contact(party_el, party)


def _customer(party_el: etree._Element, party: Party, vat_number: str | None) -> None:
    _party_common(party_el, party)
    if vat_number is not None:
        _tax_scheme(party_el, vat_number, "VAT")
    _legal_and_contact(party_el, party)


def _payment(root: etree._Element, doc: InvoiceDocument) -> None:
    if not doc.is_credit_note:
        means = _cac(root, "PaymentMeans")
        _cbc(means, "PaymentMeansCode", CREDIT_TRANSFER, name="Credit transfer")
        _cbc(means, "PaymentID", doc.kid)
        _cbc(_cac(means, "PayeeFinancialAccount"), "ID", doc.supplier_account)
        terms = f"Betales til konto {doc.supplier_account} med KID {doc.kid} innen {doc.due_date}"
    else:
        terms = f"Krediterer faktura {doc.original_number}; beløpet avregnes mot utestående"
    _cbc(_cac(root, "PaymentTerms"), "Note", terms)


def _tax_category(
    parent: etree._Element, name: str, category: str, percent: Decimal
) -> etree._Element:
    element = _cac(parent, name)
    _cbc(element, "ID", category)
    if category != "O":  # BR-O-05/-09: out-of-scope lines and breakdowns carry no rate
        _cbc(element, "Percent", _number(percent))
    return element


def _tax_subtotal(total: etree._Element, row: VatSubtotal, currency: str) -> None:
    subtotal = _cac(total, "TaxSubtotal")
    _amount(subtotal, "TaxableAmount", row.taxable_amount, currency)
    _amount(subtotal, "TaxAmount", row.tax_amount, currency)
    category = _tax_category(subtotal, "TaxCategory", row.category, row.percent)
    if row.exemption is not None:
        code, reason = row.exemption
        _cbc(category, "TaxExemptionReasonCode", code)
        _cbc(category, "TaxExemptionReason", reason)
    _cbc(_cac(category, "TaxScheme"), "ID", "VAT")


def _tax_total(root: etree._Element, doc: InvoiceDocument) -> None:
    total = _cac(root, "TaxTotal")
    _amount(total, "TaxAmount", doc.tax_total, doc.currency)
    for row in doc.vat_breakdown:
        _tax_subtotal(total, row, doc.currency)


def _monetary_total(root: etree._Element, doc: InvoiceDocument) -> None:
    total = _cac(root, "LegalMonetaryTotal")
    _amount(total, "LineExtensionAmount", doc.line_total, doc.currency)
    _amount(total, "TaxExclusiveAmount", doc.tax_exclusive_amount, doc.currency)
    _amount(total, "TaxInclusiveAmount", doc.tax_inclusive_amount, doc.currency)
    _amount(total, "PayableAmount", doc.payable_amount, doc.currency)


def _line(root: etree._Element, doc: InvoiceDocument, line: DocumentLine) -> None:
    credit = doc.is_credit_note
    element = _cac(root, "CreditNoteLine" if credit else "InvoiceLine")
    _cbc(element, "ID", line.line_id)
    quantity_name = "CreditedQuantity" if credit else "InvoicedQuantity"
    _cbc(element, quantity_name, _number(line.quantity), unitCode=line.unit_code)
    _amount(element, "LineExtensionAmount", line.net_amount, doc.currency)
    _cbc(element, "AccountingCost", line.accounting_cost)  # BT-133
    period = _cac(element, "InvoicePeriod")
    _cbc(period, "StartDate", _date(line.period_start))
    _cbc(period, "EndDate", _date(line.period_end))
    item = _cac(element, "Item")
    _cbc(item, "Description", line.description)
    _cbc(item, "Name", line.service)
    tax = _tax_category(item, "ClassifiedTaxCategory", line.vat_category, line.vat_percent)
    _cbc(_cac(tax, "TaxScheme"), "ID", "VAT")
    prop = _cac(item, "AdditionalItemProperty")
    _cbc(prop, "Name", "Kategori")
    # The price-model category, so finance staff can sort lines in their own system the way the
    # PDF groups them. EHF to Norwegian public bodies is read in Norwegian.
    _cbc(prop, "Value", f"{line.category} {translate(f'billing_docs.category.{line.category}')}")
    price = _cac(element, "Price")
    _cbc(price, "PriceAmount", _price(line.unit_price), currencyID=doc.currency)
    if line.base_quantity != 1:
        _cbc(price, "BaseQuantity", _number(line.base_quantity), unitCode=line.unit_code)


def _price(value: Decimal) -> str:
    """A price that fits in øre is written with two decimals; finer prices keep their digits."""
    return f"{value.quantize(ORE)}" if value == value.quantize(ORE) else _number(value)
