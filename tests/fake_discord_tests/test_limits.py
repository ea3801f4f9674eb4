"""Discord's documented limits, checked without a bot (pure functions) plus one HTTP round trip each."""

from __future__ import annotations

import aiohttp
import pytest

from tests.fake_discord import FakeDiscord, limits


def codes(err: limits.FormError | None) -> list[str]:
    assert err is not None
    found: list[str] = []

    def walk(node: dict[str, object]) -> None:
        for key, value in node.items():
            if key == "_errors":
                found.extend(e["code"] for e in value)  # type: ignore[attr-defined]
            elif isinstance(value, dict):
                walk(value)

    walk(err.errors)
    return found


def test_message_content_and_embed_limits() -> None:
    assert limits.validate_message({"content": "x" * 2000}) is None
    assert codes(limits.validate_message({"content": "x" * 2001})) == ["BASE_TYPE_MAX_LENGTH"]
    assert limits.validate_message({"embeds": [{"title": "t"}] * 10}) is None
    assert codes(limits.validate_message({"embeds": [{"title": "t"}] * 11})) == ["BASE_TYPE_MAX_LENGTH"]
    too_long = {
        "title": "t" * 257,
        "description": "d" * 4097,
        "footer": {"text": "f" * 2049},
        "author": {"name": "a" * 257},
    }
    assert sorted(codes(limits.validate_embeds([too_long]))) == ["BASE_TYPE_MAX_LENGTH"] * 4 + [
        "MAX_EMBED_SIZE_EXCEEDED"
    ]
    fields = [{"name": "n" * 257, "value": "v" * 1025}, {"name": "", "value": "ok"}]
    assert sorted(codes(limits.validate_embeds([{"fields": fields}]))) == [
        "BASE_TYPE_BAD_LENGTH", "BASE_TYPE_BAD_LENGTH", "BASE_TYPE_REQUIRED",
    ]  # fmt: skip
    assert codes(limits.validate_embeds([{"fields": [{"name": "n", "value": "v"}] * 26}])) == ["BASE_TYPE_MAX_LENGTH"]
    # 6,000 characters in total across all embeds of a message
    big = {"description": "d" * 4000}
    assert limits.validate_embeds([big]) is None
    assert codes(limits.validate_embeds([big, big])) == ["MAX_EMBED_SIZE_EXCEEDED"]


def test_empty_message_is_refused_but_empty_edit_is_not() -> None:
    err = limits.validate_message({})
    assert err is not None
    assert err.to_json() == {"code": 50006, "message": "Cannot send an empty message"}
    assert limits.validate_message({}, partial=True) is None


def test_component_limits() -> None:
    def button(cid: str, label: str = "ok") -> dict[str, object]:
        return {"type": 2, "style": 1, "custom_id": cid, "label": label}

    def row(*children: dict[str, object]) -> dict[str, object]:
        return {"type": 1, "components": list(children)}

    assert limits.validate_components([row(button("a"))]) is None
    assert codes(limits.validate_components([row(button(str(i))) for i in range(6)])) == ["BASE_TYPE_MAX_LENGTH"]
    assert codes(limits.validate_components([row(*[button(str(i)) for i in range(6)])])) == ["BASE_TYPE_BAD_LENGTH"]
    assert codes(limits.validate_components([row(button("x" * 101))])) == ["BASE_TYPE_BAD_LENGTH"]
    assert codes(limits.validate_components([row(button("a", "l" * 81))])) == ["BASE_TYPE_MAX_LENGTH"]
    assert codes(limits.validate_components([row(button("a"), button("a"))])) == ["COMPONENT_CUSTOM_ID_DUPLICATED"]
    assert codes(limits.validate_components([button("a")])) == ["UNION_TYPE_CHOICES"]
    select = {"type": 3, "custom_id": "s", "options": [{"label": "l", "value": "v"}]}
    assert codes(limits.validate_components([row(select, button("b"))])) == ["COMPONENT_LAYOUT_WIDTH_EXCEEDED"]
    link = {"type": 2, "style": 5, "label": "site", "url": "https://example.com"}
    assert limits.validate_components([row(link)]) is None


@pytest.mark.parametrize(
    ("name", "ok"),
    [("price", True), ("stock-show_2", True), ("цена", True), ("Price", False), ("has space", False),
     ("", False), ("x" * 33, False), ("x" * 32, True), ("emoji🙂", False)],
)  # fmt: skip
def test_command_names(name: str, ok: bool) -> None:
    assert limits.is_valid_command_name(name) is ok


def test_command_rules() -> None:
    good = {
        "name": "grant",
        "description": "Grant",
        "options": [{"type": 4, "name": "days", "description": "d", "required": True}],
    }
    assert limits.validate_command(good) is None
    assert codes(limits.validate_command({"name": "grant", "description": ""})) == ["BASE_TYPE_REQUIRED"]
    assert codes(limits.validate_command({"name": "grant", "description": "d" * 101})) == ["BASE_TYPE_BAD_LENGTH"]
    many = [{"type": 3, "name": f"o{i}", "description": "d"} for i in range(26)]
    assert codes(limits.validate_command({"name": "g", "description": "d", "options": many})) == [
        "BASE_TYPE_MAX_LENGTH"
    ]
    choices = [{"name": str(i), "value": str(i)} for i in range(26)]
    opt = {"type": 3, "name": "o", "description": "d", "choices": choices}
    assert codes(limits.validate_command({"name": "g", "description": "d", "options": [opt]})) == [
        "BASE_TYPE_MAX_LENGTH"
    ]
    order = [
        {"type": 3, "name": "a", "description": "d"},
        {"type": 3, "name": "b", "description": "d", "required": True},
    ]
    assert codes(limits.validate_command({"name": "g", "description": "d", "options": order})) == [
        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID"
    ]
    assert limits.validate_command({"name": "Report User", "type": 2}) is None  # user commands allow spaces
    dupes = [{"name": "g", "description": "d"}, {"name": "g", "description": "d"}]
    assert codes(limits.validate_command_list(dupes)) == ["APPLICATION_COMMANDS_DUPLICATE_NAME"]


async def test_error_json_shape_over_http(fake_discord: FakeDiscord) -> None:
    channel_id = fake_discord.channels["general"].id
    headers = {"Authorization": f"Bot {fake_discord.token}"}
    async with aiohttp.ClientSession() as session:
        url = f"{fake_discord.api_base}/channels/{channel_id}/messages"
        async with session.post(url, json={"content": "x" * 2001}, headers=headers) as resp:
            assert resp.status == 400
            assert resp.headers["Content-Type"] == "application/json"
            assert await resp.json() == {
                "code": 50035,
                "message": "Invalid Form Body",
                "errors": {
                    "content": {
                        "_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}]
                    }
                },
            }
        async with session.post(url, json={"content": "hi"}) as resp:
            assert resp.status == 401
        async with session.get(f"{fake_discord.api_base}/unknown/route", headers=headers) as resp:
            assert resp.status == 404
    assert [c.status for c in fake_discord.calls] == [400, 401, 404]
    assert len(fake_discord.violations) == 1
    assert len(fake_discord.unhandled) == 1


def test_localizations_follow_the_rules_of_what_they_translate() -> None:
    good = {
        "name": "gift",
        "description": "Gift",
        "name_localizations": {"ru": "подарить"},
        "description_localizations": {"ru": "Подарить подписку"},
        "options": [
            {
                "type": 3,
                "name": "plan",
                "description": "d",
                "name_localizations": {"ru": "срок"},
                "choices": [{"name": "30 days", "value": "30", "name_localizations": {"ru": "30 дней"}}],
            }
        ],
    }
    assert limits.validate_command(good) is None
    bad_name = {**good, "name_localizations": {"ru": "Подарить Подписку"}}
    assert codes(limits.validate_command(bad_name)) == ["APPLICATION_COMMAND_INVALID_NAME"]
    long_description = {**good, "description_localizations": {"ru": "д" * 101}}
    assert codes(limits.validate_command(long_description)) == ["BASE_TYPE_BAD_LENGTH"]
    unknown_locale = {**good, "name_localizations": {"ru-RU": "подарить"}}
    assert codes(limits.validate_command(unknown_locale)) == ["LOCALE_INVALID"]
    option = {**good["options"][0], "choices": [{"name": "x", "value": "x", "name_localizations": {"ru": "я" * 101}}]}
    assert codes(limits.validate_command({**good, "options": [option]})) == ["BASE_TYPE_BAD_LENGTH"]
