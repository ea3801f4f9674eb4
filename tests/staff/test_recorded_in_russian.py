"""The audit's recorded English results and details (bot/staff/recorded.py): shown in Russian in ``/audit`` and
the audit channel, exactly as recorded in English, and anything no catalog message matches (Neverlose's own
words) as recorded. The texts the spending code writes inline are held to their ``audit.*`` catalog messages:
a wording drift fails here (the text would otherwise reach a Russian reader in English)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bot.i18n.english import match
from bot.staff.audit import AuditQuery
from bot.staff.models import AuditEntry, AuditEvent, AuditRecord
from bot.staff.recorded import DETAILS, RESULTS, detail_in, result_in
from bot.staff.rendering import audit_embed, audit_line
from tests.i18n.leaks import english_in
from tests.staff.conftest import Env
from tests.staff.test_answers_in_russian import channel_ru  # noqa: F401 (the fixture)

AT = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)


def _record(detail: str, result: str, action: str = "gift", event: AuditEvent = AuditEvent.SUCCEEDED) -> AuditRecord:
    entry = AuditEntry(action, event, 7, username="a49", detail=detail, amount_nle=Decimal("5"), result=result)
    return AuditRecord(3, AT, entry)


def _fields(record: AuditRecord, locale: str) -> dict[str, str]:
    return {f.name: f.value for f in audit_embed(record, locale).fields if f.name and f.value}


def test_results_and_details_in_russian_as_rendered() -> None:
    done = _record("CS2, 30 days", "Done: CS2, 30 days for `a49`.")
    assert _fields(done, "ru")["Что"] == "CS2, 30 дн."
    assert _fields(done, "ru")["Результат"] == "Готово: CS2, 30 дн. для `a49`."
    assert audit_line(done, "ru").endswith("CS2, 30 дн. — Готово: CS2, 30 дн. для `a49`.")

    order = _record("order ab12: CS2, 30 days", "not staff", action="order confirm", event=AuditEvent.REFUSED)
    assert _fields(order, "ru")["Что"] == "заказ ab12: CS2, 30 дн."
    assert _fields(order, "ru")["Результат"] == "не сотрудник"

    approval = _record("150.00 NLE, approval #1, requested by <@7>", "denied; nothing was sent", action="transfer")
    assert _fields(approval, "ru")["Что"] == "150,00\N{NO-BREAK SPACE}NLE, одобрение №1, запросил <@7>"
    assert _fields(approval, "ru")["Результат"] == "отклонено; ничего не отправлено"

    redriven = _record("5.00 NLE", "re-sent after a restart: Neverlose refused: no reason given", action="transfer")
    assert (
        result_in(redriven.entry.result, "ru")
        == "отправлено снова после перезапуска: Neverlose отказал: причина не указана"
    )
    assert detail_in("5.00 NLE", "ru") == "5,00\N{NO-BREAK SPACE}NLE"


def test_english_unchanged_and_unknown_text_as_recorded() -> None:
    for detail, result in (
        ("CS2, 30 days", "Done: CS2, 30 days for `a49`."),
        ("order ab12: CS2, 30 days", "not staff"),
        ("approval #4", "waiting for a second staff member until 2026-12-07 17:00 UTC"),
    ):
        fields = _fields(_record(detail, result), "en")
        assert (fields["What"], fields["Result"]) == (detail, result)
    assert result_in("Neverlose refused: user banned by staff", "ru") == "Neverlose отказал: user banned by staff"
    assert result_in("something Neverlose said", "ru") == "something Neverlose said"
    assert detail_in("a note typed by staff", "ru") == "a note typed by staff"


async def test_the_spending_codes_recorded_texts_are_catalog_sentences(channel_ru: Env) -> None:  # noqa: F811
    """Every result and detail the spending code records on the approval path matches a catalog message (so it
    is shown in Russian), and the audit channel shows it in Russian."""
    env = channel_ru
    rec = await env.run("transfer", {"username": "a49", "amount": "150"})
    await env.answered(rec, "Подтвердите")
    await (await env.fake.click_button(rec, "confirm", user="staff")).wait_response()
    posted = await env.fake.wait_for_message("audit", lambda m: bool(m.get("components")))
    await env.answered(await env.fake.click_button(posted, "staff:deny:1", user="owner"), "отклонено")
    gift = await env.run("gift", {"product": "csgo", "plan": 30, "username": "a49"})
    await env.answered(gift, "Подтвердите")
    await (await env.fake.click_button(gift, "confirm", user="staff")).wait_response()
    await gift.wait_until(lambda r: "Готово" in r.all_text())
    await env.fake.wait_for(lambda: len(env.fake.messages("audit")) >= 5)

    records = await env.bot.staff.audit.query(AuditQuery())  # type: ignore[union-attr]
    assert len(records) >= 4
    for record in records:
        assert match(record.entry.detail, DETAILS) is not None, record.entry.detail
        assert not record.entry.result or match(record.entry.result, RESULTS) is not None, record.entry.result
    posted_text = " ".join(str(m.get("embeds")) for m in env.fake.messages("audit"))
    assert "одобрение №1, запросил <@" in posted_text
    assert "ждёт второго сотрудника до " in posted_text
    assert "отклонено; ничего не отправлено" in posted_text
    assert "Готово: CS:GO, 30 дн. для `a49`." in posted_text
    texts: list[Any] = [str(m.get("embeds")) for m in env.fake.messages("audit")]
    assert [english_in(text) for text in texts if english_in(text)] == []


def test_timeline_notes_in_russian_in_order_show_and_as_recorded_in_english() -> None:
    from bot.orders.models import OrderState, Transition
    from bot.orders.rendering import detail_embed
    from tests.orders.test_discord_rendering import ORDER

    notes = ["method manual", "payment claimed", "payment confirmed (manual)", "gift-product done", "duplicate"]
    history = [
        Transition(
            "o1", n, None if n == 0 else OrderState.AWAITING_PAYMENT, OrderState.AWAITING_PAYMENT, AT, "buyer", note
        )
        for n, note in enumerate(notes)
    ]
    order = ORDER

    def timeline(locale: str) -> str:
        return str(detail_embed(order, history, locale=locale)["fields"][-1]["value"])

    russian = timeline("ru")
    for shown in (
        "способ оплаты: Оплата вручную",
        "покупатель сообщил об оплате",
        "оплата подтверждена (Оплата вручную)",
    ):
        assert f" — {shown}" in russian
    assert " — Подарок подписки: выполнено" in russian
    assert " — duplicate" in russian  # a person's reason: as recorded
    english = timeline("en")
    for note in notes:
        assert f" — {note}" in english


def test_the_orders_notes_are_catalog_sentences() -> None:
    """The notes the money modules write as constants or from an operation's outcome are held to their
    ``audit.note.*`` messages (a wording drift fails here)."""
    from bot.orders.cryptopay_events import LATE_NOTE
    from bot.orders.discord_cards import APPROVAL_NOTE
    from bot.staff.recorded import note_in

    for note in (
        LATE_NOTE,
        APPROVAL_NOTE,
        "the Crypto Pay invoice expired",
        "not paid in time",
        "retry",
        "checks passed",
    ):
        assert match(note, "audit.note.") is not None, note
        assert english_in(note_in(note, "ru")) == [], note


def test_a_done_note_is_translated_only_for_a_market_method() -> None:
    """``gift-product done`` is the fulfilment's note; a person's ``all done`` (a cancel reason or refund note)
    is shown as typed, not cut into a pattern."""
    from bot.staff.recorded import note_in

    assert note_in("gift-product done", "ru") != "gift-product done"
    assert english_in(note_in("gift-product done", "ru")) == []
    assert note_in("all done", "ru") == "all done"
    assert note_in("refund all done", "ru") == "refund all done"
    assert note_in("all done", "en") == "all done"
