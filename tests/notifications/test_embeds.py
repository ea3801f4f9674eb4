from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.notifications.embeds import (
    Embed,
    alert_embed,
    check_embed,
    check_message,
    echoed,
    embed_chars,
    event_embed,
    format_nle,
    purchase_embed,
    stored_event_embed,
    transfer_embed,
    truncate,
)

WHEN = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_purchase_embed_shows_buyer_item_link_amount_id_and_time() -> None:
    embed = purchase_embed(username="A49", item_id="E3yugw", amount=Decimal("0.9"), unique_id=89968, received_at=WHEN)
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Buyer"] == "`A49`"
    assert fields["Item"] == "[E3yugw](https://neverlose.cc/market/item?id=E3yugw)"
    assert fields["Amount"] == "0.9 NLE"
    assert fields["Unique ID"] == "89968"
    assert fields["Received"] == f"<t:{int(WHEN.timestamp())}:F>"
    assert embed["timestamp"] == "2025-01-02T03:04:05+00:00"
    assert embed["url"] == "https://neverlose.cc/market/item?id=E3yugw"
    check_message([embed])


def test_transfer_embed() -> None:
    embed = transfer_embed(username="A49", amount=Decimal("1"), unique_id=22, received_at=WHEN)
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields == {"Sender": "`A49`", "Amount": "1 NLE", "Unique ID": "22", "Received": fields["Received"]}
    check_message([embed])


@pytest.mark.parametrize(
    ("amount", "text"), [("0.9", "0.9 NLE"), ("1E+2", "100 NLE"), ("17.10", "17.1 NLE"), ("0.000001", "0.000001 NLE")]
)
def test_format_nle(amount: str, text: str) -> None:
    assert format_nle(Decimal(amount)) == text


def test_ten_event_embeds_fit_one_message() -> None:
    embed = purchase_embed(
        username="x" * 64, item_id="y" * 32, amount=Decimal("999999.99"), unique_id=2**63 - 1, received_at=WHEN
    )
    check_message([embed] * 10)


def test_truncate_keeps_a_text_at_the_limit_and_cuts_one_over_to_the_limit() -> None:
    """Every embed part is cut by this one function (the alerts, the order cards and lists): the limit counts
    characters, the cut text ends in one ``…`` (U+2026) and is exactly ``limit`` long; an empty text stays."""
    assert truncate("", 10) == ""
    assert truncate("a" * 10, 10) == "a" * 10
    assert truncate("a" * 11, 10) == "a" * 9 + "\u2026"
    assert len(truncate("я" * 300, 256)) == 256


def test_echoed_text_cannot_leave_its_code_span_and_is_cut_at_40_by_default() -> None:
    """A typed text shown inside backticks: no backtick (it would close the span), no CR or LF (a new line of the
    message); 40 characters unless told otherwise."""
    assert echoed("a`b\r\nc\rd\ne") == "a'b  c d e"
    assert echoed("x" * 40) == "x" * 40
    assert echoed("x" * 41) == "x" * 39 + "\u2026"
    assert echoed("x" * 64, 64) == "x" * 64


def test_alert_embed_is_truncated_to_limits() -> None:
    embed = alert_embed("t" * 300, "d" * 5000, fields=[("n" * 300, "v" * 2000)] * 30)
    check_embed(embed)
    assert len(embed["fields"]) == 25


@pytest.mark.parametrize(
    "embed",
    [
        {"title": "t" * 257},
        {"description": "d" * 4097},
        {"fields": [{"name": "n", "value": "v"}] * 26},
        {"fields": [{"name": "n" * 257, "value": "v"}]},
        {"fields": [{"name": "n", "value": "v" * 1025}]},
        {"fields": [{"name": "", "value": "v"}]},
        {"footer": {"text": "f" * 2049}},
        {"author": {"name": "a" * 257}},
    ],
)
def test_limits_are_checked(embed: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"embed|fields"):
        check_message([embed])


def test_total_and_count_limits() -> None:
    with pytest.raises(ValueError, match="10 embeds"):
        check_message([{"title": "x"}] * 11)
    with pytest.raises(ValueError, match="6000"):
        check_message([{"description": "d" * 4000}, {"description": "d" * 2001}])
    assert embed_chars({"title": "ab", "fields": [{"name": "c", "value": "de"}], "footer": {"text": "f"}}) == 6


@pytest.mark.parametrize("kind", ["purchase", "transfer"])
def test_the_largest_valid_event_renders_within_discords_limits(kind: str) -> None:
    """Event announcements are rendered at delivery, without the enqueue-time check: the largest event the
    strict validation lets through must still make a valid message."""
    embed = event_embed(
        kind,
        username="u" * 64,
        item_id="I" * 32 if kind == "purchase" else None,
        amount=Decimal("999999999.123456789012345"),
        unique_id=2**63 - 1,
        received_at=WHEN,
    )
    check_message([embed], None)
    assert embed["title"] == ("New market purchase" if kind == "purchase" else "NLE received")


@pytest.mark.parametrize("kind", ["purchase", "transfer"])
def test_an_event_embed_is_in_its_own_language_whichever_was_rendered_before(kind: str) -> None:
    """The fixed texts of an announcement are looked up once per language: English, Russian and English
    again, each embed entirely in its own language (title, description, field names, footer)."""

    def render(locale: str) -> Embed:
        item = "E3yugw" if kind == "purchase" else None
        return event_embed(
            kind, username="A49", item_id=item, amount=Decimal("0.9"), unique_id=5, received_at=WHEN, locale=locale
        )

    english, russian, english_again = render("en"), render("ru"), render("en")
    assert english == english_again
    assert russian["footer"] == {"text": "Вебхук маркета Neverlose"}
    assert english["footer"] == {"text": "Neverlose market webhook"}
    names = [f["name"] for f in russian["fields"]]
    assert names[0] == ("Покупатель" if kind == "purchase" else "Отправитель")
    assert "Получено" in names
    assert "Уникальный ID" in names
    if kind == "purchase":
        assert russian["title"] == "Новая покупка на маркете"
        assert (
            russian["description"] == "`A49` купил [E3yugw](https://neverlose.cc/market/item?id=E3yugw) за **0.9 NLE**."
        )
    else:
        assert russian["title"] == "Получены NLE"
        assert russian["description"] == "`A49` отправил **0.9 NLE** на аккаунт реселлера."


@pytest.mark.parametrize(
    "when",
    [
        WHEN,
        datetime(2025, 1, 2, 3, 4, 5, 999_999, tzinfo=UTC),  # the same second as WHEN, its last microsecond
        datetime(2025, 1, 2, 3, 4, 6, 1, tzinfo=UTC),  # the next second
        datetime(2025, 1, 2, 6, 34, 5, 500_000, tzinfo=timezone(timedelta(hours=3, minutes=30))),  # another zone
        datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC),  # before 1970: the ISO second and <t:> differ
    ],
)
def test_an_announcement_shows_its_time_to_the_second_in_utc_and_as_discord_time(when: datetime) -> None:
    """The two texts of the time (cached by the second) are those of the event's own moment, whichever
    moments came before it."""
    for earlier in (WHEN, when - timedelta(seconds=1), when + timedelta(seconds=1), when):
        purchase_embed(username="A49", item_id="E3yugw", amount=Decimal("0.9"), unique_id=1, received_at=earlier)
    embed = purchase_embed(username="A49", item_id="E3yugw", amount=Decimal("0.9"), unique_id=1, received_at=when)
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    moment = when.astimezone(UTC)
    assert embed["timestamp"] == moment.replace(microsecond=0).isoformat()
    assert embed["timestamp"].endswith("+00:00")
    assert fields["Received"] == f"<t:{int(moment.timestamp())}:F>"


_MOMENTS = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
) | st.datetimes(min_value=datetime(1969, 12, 31, 23, 59), max_value=datetime(1970, 1, 1, 0, 1), timezones=st.just(UTC))


@settings(max_examples=400, deadline=None)
@given(
    kind=st.sampled_from(["purchase", "transfer"]),
    item_id=st.none() | st.from_regex(r"[A-Za-z0-9_-]{1,32}", fullmatch=True),
    amount=st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("1000000000"), allow_nan=False),
    moment=_MOMENTS,
    locale=st.sampled_from(["en", "ru"]),
)
def test_an_event_rendered_from_its_stored_texts_is_the_event_rendered_from_its_values(
    kind: str, item_id: str | None, amount: Decimal, moment: datetime, locale: str
) -> None:
    """The delivery path renders from the row's texts (amount and time cached by their texts): the same embed as
    from the parsed values, for the store's own time format (before 1970 included: its second is not the
    truncated timestamp there) and for any other ISO text a row might hold."""
    stored = moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"  # format_timestamp's text
    for received in (stored, moment.isoformat(), moment.isoformat(timespec="seconds")):
        expected = event_embed(
            kind,
            username="A49",
            item_id=item_id,
            amount=Decimal(str(amount)),
            unique_id=7,
            received_at=datetime.fromisoformat(received),
            locale=locale,
        )
        rendered = stored_event_embed(
            kind, username="A49", item_id=item_id, amount=str(amount), unique_id=7, received_at=received, locale=locale
        )
        assert rendered == expected
        assert (
            stored_event_embed(
                kind,
                username="A49",
                item_id=item_id,
                amount=str(amount),
                unique_id=7,
                received_at=received,
                locale=locale,
            )
            == expected
        )  # a second time: from the caches


def test_stored_times_of_one_second_share_their_texts_but_not_across_seconds() -> None:
    first = stored_event_embed(
        "transfer", username="A", item_id=None, amount="1", unique_id=1, received_at="2026-12-07T23:40:01.000001Z"
    )
    same = stored_event_embed(
        "transfer", username="A", item_id=None, amount="1", unique_id=1, received_at="2026-12-07T23:40:01.999999Z"
    )
    later = stored_event_embed(
        "transfer", username="A", item_id=None, amount="1", unique_id=1, received_at="2026-12-07T23:40:02.000000Z"
    )
    assert first["timestamp"] == same["timestamp"] == "2026-12-07T23:40:01+00:00"
    assert later["timestamp"] == "2026-12-07T23:40:02+00:00"
    assert later["fields"][-1]["value"] == "<t:1796686802:F>"
