"""The shop's audit records (recorded in English by bot/shop/service.py) shown in Russian in /audit's lines and the
audit channel's entries (bot/shop/recorded.py through bot/staff/rendering.py), and in English exactly as recorded.
Real SQLite and the Market simulator."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.market.errors import MarketUnavailable
from bot.shop.recorded import RESULT_LIMIT
from bot.staff.audit import AuditQuery
from bot.staff.models import AuditEntry, AuditEvent, AuditRecord
from bot.staff.recorded import result_in
from bot.staff.rendering import audit_embed, audit_line
from tests.i18n.everything import latin_runs
from tests.i18n.leaks import english_in
from tests.shop.test_service import ALICE, Shop, shop  # noqa: F401 (the fixture)


def _shown(record: AuditRecord, locale: str) -> tuple[str, str]:
    """(what, result) as the audit channel's entry shows them."""
    fields = {field["name"]: field["value"] for field in audit_embed(record, locale).to_dict()["fields"]}
    what = "Что" if locale == "ru" else "What"
    result = "Результат" if locale == "ru" else "Result"
    return fields[what], fields.get(result, "")


async def _records(shop: Shop) -> list[AuditRecord]:  # noqa: F811
    return list(reversed(await shop.audit.query(AuditQuery())))


async def test_every_shop_record_in_russian_and_in_english_as_recorded(shop: Shop) -> None:  # noqa: F811
    service = shop.service
    await service.set_price(ALICE, "cs2-90", "RUB", "1234.50")
    await service.set_price(ALICE, "cs2-90", "RUB", "1300", "manual")
    await service.remove_price(ALICE, "cs2-90", "RUB", "manual")
    exported = json.loads(await service.export())
    exported["cs2-30"] = {"EUR": "30.50"}
    exported["cs2-90"]["RUB"] = "1400"
    await service.apply_import(ALICE, await service.plan_import(json.dumps(exported).encode()))
    await service.set_visibility(ALICE, True)
    shop.sim.state.faults.fail_next("integration-visibility", times=5)
    with pytest.raises(MarketUnavailable):
        await service.set_visibility(ALICE, False)
    await service.set_manual_instructions(ALICE, "Карта 1234 → номер заказа в комментарии")
    await service.set_manual_instructions(ALICE, "off")
    records = await _records(shop)
    assert [_shown(record, "ru") for record in records] == [
        ("cs2-90 RUB (все способы оплаты)", "нет → 1\N{NO-BREAK SPACE}234,50"),
        ("cs2-90 RUB (manual)", "нет → 1\N{NO-BREAK SPACE}300"),
        ("cs2-90 RUB (manual)", "1\N{NO-BREAK SPACE}300 → нет"),
        (
            "добавлено: 1, изменено: 1, удалено: 0",
            "+ cs2-30 EUR 30,50 (все способы оплаты); ~ cs2-90 RUB 1\N{NO-BREAK SPACE}234,50 (все способы оплаты) → "
            "1\N{NO-BREAK SPACE}400",
        ),
        ("интеграция 1", "неизвестно → публичная"),
        ("интеграция 1", "публичная → скрыта: не удалось (Neverlose сейчас недоступен)"),
        ("инструкция оплаты вручную", "нет (выключена) → Карта 1234 → номер заказа в комментарии"),
        ("инструкция оплаты вручную", "Карта 1234 → номер заказа в комментарии → нет (выключена)"),
    ]
    for record in records:
        line = audit_line(record, "ru")
        assert english_in(line) == [], line
        assert latin_runs(line) == [], line
        english = _shown(record, "en")
        assert english == (record.entry.detail, record.entry.result)  # English: exactly as recorded
        assert record.entry.detail in audit_line(record, "en")


def _record(action: str, detail: str, result: str) -> AuditRecord:
    """A stored record as an older version wrote it (the same texts), or one cut at the length limit."""
    entry = AuditEntry(action=action, event=AuditEvent.SUCCEEDED, staff_id=1, detail=detail, result=result)
    return AuditRecord(id=1, created_at=datetime(2026, 3, 1, tzinfo=UTC), entry=entry)


def test_a_cut_import_record_ends_with_an_ellipsis_and_unknown_texts_stay_as_recorded() -> None:
    line = "+ cs2-30 EUR 30.50 (every method)"
    cut = "; ".join([line] * 40)[:RESULT_LIMIT]
    assert cut.rsplit("; ", 1)[1] != line  # the last line was cut
    shown = result_in(cut, "ru", "shop prices import")  # (the channel's field clips this further)
    assert shown.endswith("(все способы оплаты); …")
    assert shown.count("+ cs2-30 EUR 30,50 (все способы оплаты)") == cut.count(line)
    assert english_in(shown) == []
    odd = _record("shop price set", "something else", "was 5, now 6")  # no message matches: as recorded
    assert _shown(odd, "ru") == ("something else", "was 5, now 6")
    other = _record("gift", "cs2-90 RUB (every method)", "none → 5")  # not a shop record: not read as one
    assert _shown(other, "ru") == ("cs2-90 RUB (every method)", "none → 5")
