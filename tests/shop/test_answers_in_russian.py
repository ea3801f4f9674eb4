"""``/shop`` in the staff member's language (issue #19): every answer, button, refusal, preview and the status
render in Russian through the real cog against the fake Discord, with no English catalog text; Russian
plurals and prices the Russian way (``1 234,50``); English stays as it was (tests/shop/test_commands.py)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from bot.market.retry import RetryPolicy
from bot.market.simulator.runner import RunningSimulator
from bot.shop.importing import MAX_IMPORT_BYTES
from bot.shop.price_table import PriceEntry
from bot.shop.service import Actor
from tests.fake_discord import FakeDiscord, InteractionRecord
from tests.i18n.leaks import english_in
from tests.plugins.bot import StartBot
from tests.shop.test_commands import ShopEnv

NBSP = "\N{NO-BREAK SPACE}"


@pytest.fixture
async def env(
    start_bot: StartBot, fake_discord: FakeDiscord, market_sim: RunningSimulator, market_retry: RetryPolicy
) -> ShopEnv:
    bot = await start_bot(
        AUDIT_CHANNEL_ID=str(fake_discord.channels["audit"].id),
        MARKET_INTEGRATION_ID="1",
        PUBLIC_BASE_URL="https://shop.example",
    )
    bot.market.retry = market_retry
    for who in ("staff", "owner"):
        fake_discord.user_locales[fake_discord.guild.members[who].id] = "ru"
    return ShopEnv(fake_discord, bot, market_sim)


def _message(rec: InteractionRecord) -> dict[str, Any]:
    message = rec.followups[-1] if rec.followups else rec.original_message()
    assert message is not None
    return message


async def test_price_set_and_remove_in_russian(env: ShopEnv) -> None:
    rec = await env.run("price set", {"product": "csgo", "plan": 90, "currency": "EUR", "price": "20"})
    text = await env.answered(rec, "Цена задана")
    assert text == "Цена задана: **CS:GO, 90 дней**, EUR, все способы оплаты: **20** (новая цена). " + (
        "В следующую отправку она не попадёт."  # no payment method is enabled yet
    )
    await env.shop.methods.set_manual_instructions("card", None)
    rec = await env.run("price set", {"product": "cs2", "plan": 30, "currency": "RUB", "price": "1234.50"})
    text = await env.answered(rec, "Цена задана")
    assert text == (
        f"Цена задана: **CS2, 30 дней**, RUB, все способы оплаты: **1{NBSP}234,50** (новая цена). "
        f"После следующей отправки (в течение 10 с) Neverlose покажет 1{NBSP}234,50 RUB."
    )
    assert english_in(text) == []

    rec = await env.run(
        "price set", {"product": "cs2", "plan": 30, "currency": "RUB", "price": "1300", "method": "manual"}
    )
    text = await env.answered(rec, "Цена задана")
    assert f"**CS2, 30 дней**, RUB, Оплата вручную: **1{NBSP}300** (новая цена)" in text
    assert "Neverlose покажет 1" + NBSP + "300 RUB" in text
    assert english_in(text) == []

    rec = await env.run("price set", {"product": "marketplace", "currency": "USD", "price": "1.15"})
    text = await env.answered(rec, "Цена задана")
    assert "**маркетплейс (цена 1 NLE)**, USD" in text
    assert english_in(text) == []

    rec = await env.run("price remove", {"product": "cs2", "plan": 30, "currency": "RUB", "method": "manual"})
    text = await env.answered(rec, "Цена удалена")
    assert text == f"Цена удалена: **CS2, 30 дней**, RUB, Оплата вручную (было 1{NBSP}300)."
    again = await env.run("price remove", {"product": "cs2", "plan": 30, "currency": "RUB", "method": "manual"})
    text = await env.answered(again, "удалять нечего")
    assert "Неверное значение «цена»: цены для cs2-30 RUB (manual) нет, удалять нечего." in text
    assert english_in(text) == []


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"product": "dota", "plan": 30, "currency": "EUR", "price": "1"}, "«продукт»: 'dota' — не продукт"),
        ({"product": "cs2", "plan": 45, "currency": "EUR", "price": "1"}, "у CS2 нет срока в 45 дн."),
        ({"product": "cs2", "currency": "EUR", "price": "1"}, "«срок»: выберите срок для CS2: 30, 90, 180, 365 дн."),
        ({"product": "marketplace", "plan": 30, "currency": "EUR", "price": "1"}, "у маркетплейса (цена 1 NLE)"),
        ({"product": "cs2", "plan": 30, "currency": "usd", "price": "1"}, "«валюта»: 'usd': нужны ровно 3"),
        ({"product": "cs2", "plan": 30, "currency": "EUR", "price": "-5"}, "«цена»: -5 — цена должна быть больше 0."),
        ({"product": "cs2", "plan": 30, "currency": "EUR", "price": "abc"}, "'abc' — не число"),
        ({"product": "cs2", "plan": 30, "currency": "EUR", "price": "1.123456789"}, "знаков после точки: 9"),
        ({"product": "cs2", "plan": 30, "currency": "GBP", "price": "1"}, "у cs2-30 уже 3 валюты (EUR, RUB, USD)"),
    ],
)
async def test_refusals_in_russian(env: ShopEnv, options: dict[str, Any], expected: str) -> None:
    for code in ("EUR", "USD", "RUB"):
        await env.shop.table.put(PriceEntry("cs2-30", code, Decimal("1")), updated_by=None)
    rec = await env.run("price set", options)
    text = await env.answered(rec, expected)
    assert text.startswith("Неверное значение «")
    assert english_in(text) == []


@pytest.mark.parametrize(("count", "title"), [(1, "(1 запись)"), (3, "(3 записи)"), (5, "(5 записей)")])
async def test_prices_show_plurals(env: ShopEnv, count: int, title: str) -> None:
    for days, code in [(30, "EUR"), (30, "USD"), (90, "EUR"), (180, "EUR"), (365, "EUR")][:count]:
        await env.shop.table.put(PriceEntry(f"cs2-{days}", code, Decimal("2500.5")), updated_by=None)
    rec = await env.run("prices show")
    text = await env.answered(rec, "Таблица цен " + title)
    assert f"`cs2-30` EUR **2{NBSP}500,5** (все способы оплаты)" in text
    assert "Отправлять нечего: Не включён ни один способ оплаты" in text
    assert english_in(text) == []


async def test_prices_show_pages_and_empty_table_in_russian(env: ShopEnv) -> None:
    await env.shop.methods.set_manual_instructions("card", None)
    for days in (30, 90, 180, 365):
        for code in ("EUR", "USD", "RUB"):
            for product in ("cs2", "csgo"):
                await env.shop.table.put(PriceEntry(f"{product}-{days}", code, Decimal(days)), updated_by=None)
    rec = await env.run("prices show")
    text = await env.answered(rec, "Таблица цен (24 записи)")
    message = _message(rec)
    assert "Страница 1/2" in str(message["embeds"])
    assert "Следующая отправка передаст" in text
    labels = [c["label"] for row in message["components"] for c in row["components"]]
    assert labels == ["Назад", "Далее"]
    assert english_in(text + str(message["embeds"]) + " ".join(labels)) == []

    await env.shop.table.replace_all([], updated_by=None)
    rec = await env.run("prices show")
    text = await env.answered(rec, "Таблица цен (0 записей)")
    assert "Таблица цен пуста. Добавьте цены командой `/магазин цена задать`." in text
    assert "Отправлять нечего: Таблица цен пуста" in text
    assert english_in(text) == []


async def test_export_and_import_in_russian(env: ShopEnv) -> None:
    await env.shop.methods.set_manual_instructions("card", None)
    await env.shop.table.put(PriceEntry("cs2-30", "EUR", Decimal("1030.50")), updated_by=None)
    await env.shop.table.put(PriceEntry("marketplace", "USD", Decimal("1.15")), updated_by=None)
    rec = await env.run("prices export")
    text = await env.answered(rec, "Цены в формате Neverlose")
    assert english_in(text) == []
    [attachment] = _message(rec)["attachments"]
    exported = env.fake.attachment_content(attachment)

    same = await env.run("prices import", {"file": env.fake.upload("prices.json", exported)}, user="owner")
    text = await env.answered(same, "импортировать нечего")
    assert "Файл совпадает с таблицей цен, импортировать нечего." in text

    changed = json.loads(exported)
    changed["cs2-30"]["EUR"] = "1029.99"
    changed["cs2-90"] = {"EUR": "80"}
    del changed["marketplace"]
    rec = await env.run(
        "prices import", {"file": env.fake.upload("p.json", json.dumps(changed).encode())}, user="owner"
    )
    text = await env.answered(rec, "Предпросмотр импорта")
    assert "Предпросмотр импорта: добавлено: 1, изменено: 1, удалено: 1" in text
    assert f"~ cs2-30 EUR 1{NBSP}030,50 (все способы оплаты) → 1{NBSP}029,99" in text
    assert "+ cs2-90 EUR 80 (все способы оплаты)" in text
    assert "- marketplace USD 1,15 (все способы оплаты)" in text
    message = _message(rec)
    labels = [c["label"] for row in message["components"] for c in row["components"]]
    assert labels == ["Подтвердить", "Отмена"]
    assert english_in(text + " ".join(labels)) == []
    confirm = await env.fake.click_button(rec, "shop:confirm", user="owner")
    await confirm.wait_response()
    await rec.wait_until(lambda r: "Импортировано: добавлено: 1, изменено: 1, удалено: 1." in r.all_text())
    assert english_in(rec.all_text()) == []
    assert len(await env.shop.table.entries()) == 2


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"not json", "Ничего не импортировано: в файле 1 ошибка.\n- файл не читается: это не корректный JSON."),
        (b"\xff\xfe", "файл не является текстом UTF-8"),
        (b'{"cs2-30": {"EUR": "1"}, "cs2-30": {"EUR": "2"}}', "имя 'cs2-30' встречается в одном объекте дважды"),
        (b'{"cs2-30": {"EUR": NaN}}', "NaN — не цена"),
        (b"[1]", "в файле должен быть один объект JSON"),
        (b" " * (MAX_IMPORT_BYTES + 1), f"размер файла 65{NBSP}537 байт; принимается не больше 65{NBSP}536 байт"),
        (
            b'{"cs2-30": {"eur": "1"}, "cs2-45": {"EUR": "1"}, "csgo-30": {"EUR": "0"}}',
            "Ничего не импортировано: в файле 3 ошибки.\n"
            "- `cs2-30 → eur`: 'eur': нужны ровно 3 заглавные латинские буквы, например USD или EUR.\n"
            "- `cs2-45`: срока в 45 дн. нет; выберите один из: 30, 90, 180, 365.\n"
            "- `csgo-30 → EUR`: 0 — цена должна быть больше 0.",
        ),
        (
            b'{"cs2": {"EUR": "1"}, "cs2-30": {"EUR": "1"}, "csgo-30": [], "csgo-90": {"A": "1", "B": "1", '
            b'"C": "1", "D": "1"}, "csgo-180": {"EUR": ["1", "2"]}, "csgo-365": {"EUR": 5}, '
            b'"cs2-90": {"EUR": ["2", "1"]}}',
            "Ничего не импортировано: в файле 10 ошибок.",
        ),
    ],
)
async def test_import_refusals_in_russian(env: ShopEnv, content: bytes, expected: str) -> None:
    await env.shop.table.put(PriceEntry("cs2-30", "EUR", Decimal("1")), updated_by=None)
    rec = await env.run("prices import", {"file": env.fake.upload("p.json", content)}, user="owner")
    text = await env.answered(rec, expected)
    assert text.startswith("Ничего не импортировано")
    assert english_in(text) == []
    assert await env.shop.table.entries() == [PriceEntry("cs2-30", "EUR", Decimal("1"))]


async def test_visibility_status_and_manual_method_in_russian(env: ShopEnv) -> None:
    rec = await env.run("visibility", {"public": True}, user="owner")
    text = await env.answered(rec, "Сделать интеграцию **публичной**?")
    assert "**Внимание:** в Neverlose пока ничего не отправлено. Таблица цен пуста;" in text
    assert english_in(text) == []
    confirm = await env.fake.click_button(rec, "shop:confirm", user="owner")
    await confirm.wait_response()
    await rec.wait_until(lambda r: "Интеграция открыта" in r.all_text())
    assert english_in(rec.all_text()) == []
    rec = await env.run("visibility", {"public": False}, user="owner")
    assert english_in(await env.answered(rec, "Интеграция скрыта")) == []
    rec = await env.run("visibility", {"public": True}, user="owner")
    await env.answered(rec, "публичной")
    cancel = await env.fake.click_button(rec, "shop:cancel", user="owner")
    await cancel.wait_response()
    await rec.wait_until(lambda r: "Отменено, ничего не изменено." in r.all_text())

    rec = await env.run("method manual", {"instructions": "Карта 1234"}, user="owner")
    assert english_in(await env.answered(rec, "Оплата вручную включена")) == []
    await env.shop.set_price(Actor(env.fake.staff.id, env.fake.guild.id), "cs2-30", "EUR", "1")
    env.sim.state.faults.fail_next("set-reseller-prices", times=4)
    await env.shop.pusher.push()
    rec = await env.run("status")
    text = await env.answered(rec, "Состояние магазина")
    assert "ID интеграции: `1`" in text
    assert "Видимость: скрыта (в Neverlose её видите только вы), задано <t:" in text
    assert "Записи: в таблице: 1; продуктов в следующей отправке: 1" in text
    assert "Последняя успешная отправка: ещё не было" in text
    assert "Последняя ошибка: Neverlose недоступен: " in text
    assert "Redirect URL: `https://shop.example/checkout` (вставьте его в настройки API в Neverlose)" in text
    assert english_in(text) == []

    rec = await env.run("method manual", {"instructions": "off"}, user="owner")
    assert english_in(await env.answered(rec, "Оплата вручную выключена")) == []
    env.fake.assert_no_violations()


async def test_autocomplete_in_russian(env: ShopEnv) -> None:
    rec = await env.fake.autocomplete("shop", "product", {"product": ""}, user="staff", subcommand="price set")
    await rec.wait_response()
    assert rec.response is not None
    names = [c["name"] for c in rec.response["data"]["choices"]]
    assert names == ["CS:GO", "CS2", "маркетплейс (цена 1 NLE)"]
    rec = await env.fake.autocomplete(
        "shop", "plan", {"product": "cs2", "plan": ""}, user="staff", subcommand="price set"
    )
    await rec.wait_response()
    assert rec.response is not None
    assert [c["name"] for c in rec.response["data"]["choices"]] == ["30 дней", "90 дней", "180 дней", "365 дней"]


async def test_audit_channel_and_push_alerts_in_the_channel_language(
    start_bot: StartBot, fake_discord: FakeDiscord, market_sim: RunningSimulator, market_retry: RetryPolicy
) -> None:
    bot = await start_bot(
        AUDIT_CHANNEL_ID=str(fake_discord.channels["audit"].id),
        MARKET_INTEGRATION_ID="1",
        PUBLIC_BASE_URL="https://shop.example",
        BOT_LOCALE="ru",
    )
    bot.market.retry = market_retry
    env = ShopEnv(fake_discord, bot, market_sim)  # the member reads English, the channel Russian
    rec = await env.run("price set", {"product": "cs2", "plan": 30, "currency": "EUR", "price": "30.50"})
    assert "Price set: **CS2, 30 days**, EUR, every method: **30.50** (new price)." in await env.answered(rec, "Price")
    posted = await fake_discord.wait_for_message("audit", lambda m: "установка цены" in str(m.get("embeds")))
    assert posted["embeds"][0]["title"] == "установка цены: выполнено"
    # the pusher's alert sink, as core wired it: the English alert is posted in the channel language
    await env.shop.pusher._alerts(
        "Neverlose checkout prices at risk",
        "No price push has succeeded for more than twice the refresh interval (last success: never). "
        "See `/shop status`.",
        problem=True,
    )
    alert = await fake_discord.wait_for_message("audit", lambda m: "под угрозой" in str(m.get("embeds")))
    assert alert["embeds"][0]["title"] == "Цены на странице оплаты Neverlose под угрозой"
    assert english_in(str(alert["embeds"])) == []
    fake_discord.assert_no_violations()
