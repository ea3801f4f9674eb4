"""The price table: the single source of truth for the price push and for order pages.

An entry is (product key, currency, method or none) → price. A price for a specific method overrides the
entry without a method for that method. Prices are ``Decimal`` (stored as their exact text), never float.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from bot.shop.catalog import PaymentMethod, ProductKey
from bot.storage import Database


@dataclass(frozen=True, slots=True)
class PriceEntry:
    product_key: str
    currency: str
    price: Decimal
    method: PaymentMethod | None = None


def method_prices(
    entries: Iterable[PriceEntry], key: ProductKey | str, methods: Iterable[PaymentMethod]
) -> dict[PaymentMethod, dict[str, Decimal]]:
    """For one product key: each enabled method → currency → the price that method charges.

    A method-specific entry wins over the entry without a method; a method with no price is left out.
    """
    wanted = str(key)
    generic: dict[str, Decimal] = {}
    specific: dict[PaymentMethod, dict[str, Decimal]] = {}
    for entry in entries:
        if entry.product_key != wanted:
            continue
        if entry.method is None:
            generic[entry.currency] = entry.price
        else:
            specific.setdefault(entry.method, {})[entry.currency] = entry.price
    result: dict[PaymentMethod, dict[str, Decimal]] = {}
    for method in methods:
        prices = dict(generic)
        prices.update(specific.get(method, {}))
        if prices:
            result[method] = prices
    return result


class PriceTable:
    """Repository over ``shop_prices`` (migration 0008)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def entries(self) -> list[PriceEntry]:
        rows = await self._db.fetchall(
            "SELECT product_key, currency, method, price FROM shop_prices ORDER BY product_key, currency, method"
        )
        return [_entry(row["product_key"], row["currency"], row["method"], row["price"]) for row in rows]

    async def get(self, product_key: str, currency: str, method: PaymentMethod | None) -> PriceEntry | None:
        row = await self._db.fetchone(
            "SELECT product_key, currency, method, price FROM shop_prices "
            "WHERE product_key = ? AND currency = ? AND method = ?",
            (product_key, currency, _method_column(method)),
        )
        return None if row is None else _entry(row["product_key"], row["currency"], row["method"], row["price"])

    async def put(self, entry: PriceEntry, *, updated_by: int | None) -> None:
        await self._db.execute(
            "INSERT INTO shop_prices (product_key, currency, method, price, updated_by) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (product_key, currency, method) DO UPDATE SET price = excluded.price, "
            "updated_by = excluded.updated_by, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
            (entry.product_key, entry.currency, _method_column(entry.method), str(entry.price), updated_by),
        )

    async def remove(self, product_key: str, currency: str, method: PaymentMethod | None) -> bool:
        removed = await self._db.execute(
            "DELETE FROM shop_prices WHERE product_key = ? AND currency = ? AND method = ?",
            (product_key, currency, _method_column(method)),
        )
        return removed > 0

    async def replace_all(self, entries: Sequence[PriceEntry], *, updated_by: int | None) -> None:
        async with self._db.transaction() as tx:
            await tx.execute("DELETE FROM shop_prices")
            for entry in entries:
                await tx.execute(
                    "INSERT INTO shop_prices (product_key, currency, method, price, updated_by) VALUES (?, ?, ?, ?, ?)",
                    (entry.product_key, entry.currency, _method_column(entry.method), str(entry.price), updated_by),
                )


def _method_column(method: PaymentMethod | None) -> str:
    return "" if method is None else method.value


def _entry(product_key: str, currency: str, method: str, price: str) -> PriceEntry:
    return PriceEntry(product_key, currency, Decimal(price), PaymentMethod(method) if method else None)
