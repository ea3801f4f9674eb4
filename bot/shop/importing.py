"""Export and import of the price table as a JSON file in exactly Neverlose's prices format.

Export: the prices object the next push sends (``{"cs2-30": {"EUR": "30.50", "USD": ["31.82", "32.65"]}}``),
pretty-printed, keys in the push's stable order. Import: the same format, at most 64 KiB, validated as a
whole: every problem is listed and nothing changes until everything is right. The file replaces the whole
table:

* a product and currency whose value is what the bot derives today is kept as it is (per-method prices
  included), so importing an export unchanged changes nothing;
* a different single price becomes one price for every payment method;
* a different range is refused: a range stands for per-method prices, which ``/shop price set … method:``
  sets;
* products and currencies missing from the file are removed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bot.shop.catalog import PaymentMethod
from bot.shop.price_table import PriceEntry
from bot.shop.prices_object import PriceValue, derive_prices, key_order, price_text, to_json_object
from bot.shop.validation import MAX_CURRENCIES, ShopInputError, parse_currency, parse_price, parse_product_key
from bot.staff.errors import InvalidInput

MAX_IMPORT_BYTES = 64 * 1024
EXPORT_FILENAME = "neverlose-prices.json"
MAX_LISTED_PROBLEMS = 40

EntryKey = tuple[str, str, str]


class ImportRejected(InvalidInput):
    """The file cannot be imported; ``problems`` lists every reason (nothing was changed)."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        shown = self.problems[:MAX_LISTED_PROBLEMS]
        more = len(self.problems) - len(shown)
        lines = [f"Nothing was imported: the file has {len(self.problems)} problem(s)."]
        lines += [f"- {problem}" for problem in shown]
        if more:
            lines.append(f"- … and {more} more.")
        super().__init__("\n".join(lines))


def export_methods(enabled: Sequence[PaymentMethod]) -> list[PaymentMethod]:
    """The methods an export (and the import's comparison) derives over: the enabled ones, or all of them
    while none is enabled (so a table is exported even before a payment method is set up)."""
    return list(enabled) or list(PaymentMethod)


def export_json(entries: Iterable[PriceEntry], enabled: Sequence[PaymentMethod]) -> bytes:
    """The export file: Neverlose's prices object, indented, with a final newline."""
    derived = derive_prices(entries, export_methods(enabled))
    return (json.dumps(to_json_object(derived), indent=2) + "\n").encode()


def entry_key(entry: PriceEntry) -> EntryKey:
    return (entry.product_key, entry.currency, "" if entry.method is None else entry.method.value)


def describe_entry(entry: PriceEntry) -> str:
    """``cs2-30 EUR 30.50 (every method)`` / ``… (manual)``."""
    method = "every method" if entry.method is None else entry.method.value
    return f"{entry.product_key} {entry.currency} {price_text(entry.price)} ({method})"


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """The whole new table and how it differs from the table it was made from (``base``)."""

    entries: list[PriceEntry]
    base: list[PriceEntry]
    added: list[PriceEntry] = field(default_factory=list)
    removed: list[PriceEntry] = field(default_factory=list)
    changed: list[tuple[PriceEntry, PriceEntry]] = field(default_factory=list)

    @property
    def unchanged(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def preview_lines(self) -> list[str]:
        lines = [f"+ {describe_entry(e)}" for e in self.added]
        lines += [f"~ {describe_entry(old)} → {price_text(new.price)}" for old, new in self.changed]
        lines += [f"- {describe_entry(e)}" for e in self.removed]
        return lines

    def summary(self) -> str:
        return f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed"


def diff(base: Sequence[PriceEntry], new: Sequence[PriceEntry]) -> ImportPlan:
    old_by_key = {entry_key(e): e for e in base}
    new_by_key = {entry_key(e): e for e in new}
    order = sorted(set(old_by_key) | set(new_by_key), key=lambda k: (key_order(k[0]), k[1], k[2]))
    added, removed, changed = [], [], []
    for key in order:
        old, fresh = old_by_key.get(key), new_by_key.get(key)
        if old is None and fresh is not None:
            added.append(fresh)
        elif fresh is None and old is not None:
            removed.append(old)
        elif old is not None and fresh is not None and price_text(old.price) != price_text(fresh.price):
            changed.append((old, fresh))
    ordered = [new_by_key[k] for k in order if k in new_by_key]
    return ImportPlan(ordered, list(base), added, removed, changed)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the name {key!r} appears twice in one object")
        result[key] = value
    return result


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a price")


def check_size(size: int) -> None:
    """Refuse a file of more than 64 KiB (``/shop prices import`` checks the attachment's size before
    downloading it; the bytes are checked again when read)."""
    if size > MAX_IMPORT_BYTES:
        raise ImportRejected([f"the file is {size:,} bytes; at most {MAX_IMPORT_BYTES:,} bytes (64 KiB) are accepted."])


def _decode(raw: bytes) -> object:
    check_size(len(raw))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportRejected(["the file is not UTF-8 text; export the table with `/shop prices export`."]) from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than the parser goes
        reason = str(exc) if "appears twice" in str(exc) or "is not a price" in str(exc) else "it is not valid JSON"
        raise ImportRejected([f"the file cannot be read: {reason}."]) from None


def _value(value: object) -> PriceValue:
    """A price or a (low, high) range from the file, or raise ShopInputError saying the rule."""
    if isinstance(value, str):
        return parse_price(value)
    if isinstance(value, list):
        if len(value) != 2 or not all(isinstance(v, str) for v in value):
            raise ShopInputError("price", 'a range must be a list of exactly 2 price strings, e.g. ["30.50", "31.30"].')
        low, high = parse_price(value[0]), parse_price(value[1])
        if not low < high:
            raise ShopInputError(
                "price", f"the first price of a range ({value[0]}) must be less than the second ({value[1]})."
            )
        return (low, high)
    raise ShopInputError(
        "price", 'a price must be a string such as "12.50" (numbers lose precision) or a 2-price range.'
    )


def parse_import(raw: bytes, current: Sequence[PriceEntry], enabled: Sequence[PaymentMethod]) -> ImportPlan:
    """Validate the whole file and plan the new table; raises :class:`ImportRejected` listing every problem."""
    document = _decode(raw)
    if not isinstance(document, dict):
        raise ImportRejected(['the file must hold one JSON object such as {"cs2-30": {"EUR": "30.50"}}.'])
    derived = derive_prices(current, export_methods(enabled))
    problems: list[str] = []
    new: list[PriceEntry] = []
    seen_keys: dict[str, str] = {}
    for raw_key, row in document.items():
        try:
            key = str(parse_product_key(raw_key))
        except ShopInputError as exc:
            problems.append(f"`{raw_key}`: {exc.rule}")
            continue
        if key in seen_keys:
            problems.append(f"`{raw_key}`: the same product as `{seen_keys[key]}` (both mean {key}).")
            continue
        seen_keys[key] = raw_key
        if not isinstance(row, dict) or not row:
            problems.append(
                f'`{raw_key}`: must be an object of 1 to {MAX_CURRENCIES} currencies, e.g. {{"EUR": "30.50"}}.'
            )
            continue
        if len(row) > MAX_CURRENCIES:
            problems.append(
                f"`{raw_key}`: {len(row)} currencies; Neverlose accepts at most {MAX_CURRENCIES} per product."
            )
        for currency, value in row.items():
            path = f"{raw_key} → {currency}"
            try:
                parse_currency(currency)
                parsed = _value(value)
            except ShopInputError as exc:
                problems.append(f"`{path}`: {exc.rule}")
                continue
            now = derived.get(key, {}).get(currency)
            if now is not None and _same(now, parsed):
                new.extend(e for e in current if e.product_key == key and e.currency == currency)
            elif isinstance(parsed, tuple):
                problems.append(
                    f"`{path}`: a range can only be imported as exported (it stands for per-method prices); "
                    "give one price, or set per-method prices with `/shop price set … method:`."
                )
            else:
                new.append(PriceEntry(key, currency, parsed))
    if problems:
        raise ImportRejected(problems)
    return diff(current, new)


def _same(a: PriceValue, b: PriceValue | None) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):
        return price_text(a[0]) == price_text(b[0]) and price_text(a[1]) == price_text(b[1])
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        return price_text(a) == price_text(b)
    return False
