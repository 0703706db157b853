"""Enumerations of billing; labels in the catalogue as ``choice.<Enum>.<value>``."""

from __future__ import annotations

from enum import StrEnum

# Price categories (see DOMAIN.md, "The price model").
SHARED_INFRASTRUCTURE = 1
OWNED_COSTS = 2
PER_UNIT = 3
HOURS_AND_PURCHASES = 4
CATEGORIES = (1, 2, 3, 4)


class KeyKind(StrEnum):
    """How a category 1 pool is split between the kommuner."""

    EQUAL = "equal"
    INHABITANTS = "inhabitants"
    USER_ACCOUNTS = "user_accounts"
    DEVICES = "devices"
    FIXED = "fixed"
    MIX = "mix"


class CountKind(StrEnum):
    """What category 3 counts per kommune and month."""

    USER_ACCOUNTS = "user_accounts"
    DEVICES = "devices"
    MAILBOXES = "mailboxes"
    LICENCES = "licences"


class OwnerKind(StrEnum):
    """Whom a category 2 cost belongs to."""

    KOMMUNE = "kommune"
    SITE = "site"
    ORG_UNIT = "org_unit"


class Rounding(StrEnum):
    """How category 4 time is rounded before it is priced."""

    NONE = "none"
    #: Each time entry rounded up to the next started block (e.g. quarter hour).
    UP_PER_ENTRY = "up_per_entry"
    #: The month's total per kommune and work type rounded up to the next started block.
    UP_PER_MONTH = "up_per_month"


class RunState(StrEnum):
    DRAFT = "draft"
    REVIEWED = "reviewed"
    ISSUED = "issued"


class InvoiceKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class CountSource(StrEnum):
    REGISTER = "register"
    FILE = "file"


#: Keys a category 1 pool can be split by that come from a count snapshot.
COUNTED_KEYS = {KeyKind.USER_ACCOUNTS: CountKind.USER_ACCOUNTS, KeyKind.DEVICES: CountKind.DEVICES}
