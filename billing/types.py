"""Column types of billing: exact decimal money on both backends."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, String, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine


class Money(TypeDecorator[Decimal]):
    """A ``Decimal`` stored exactly: NUMERIC(p, s) on PostgreSQL, canonical text on SQLite.

    SQLite has no decimal type: SQLAlchemy would go through float there (and warn). Text keeps
    every øre; billing sums money in Python, never with SQL SUM over these columns on SQLite.
    """

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int = 14, scale: int = 2) -> None:
        super().__init__(precision=precision, scale=scale, asdecimal=True)
        self.precision = precision
        self.scale = scale

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(self.precision + 2))
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def _quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.scale)

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("money must be Decimal, not float")
        amount = Decimal(value)
        exact = amount.quantize(self._quantum())
        if exact != amount:
            raise ValueError(f"{amount} has more than {self.scale} decimals")
        return str(exact) if dialect.name == "sqlite" else exact

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value)).quantize(self._quantum())
