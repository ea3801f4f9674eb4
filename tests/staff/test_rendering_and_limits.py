"""Every error class's rendering, and every registered command within Discord's documented limits."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import discord
import pytest
from discord import app_commands

from bot.market.errors import MarketError, MarketProtocolError, MarketUnavailable, MarketValidationError
from bot.staff.errors import (
    ApprovalRefused,
    ConfirmationClosed,
    CooldownActive,
    DailyLimitExceeded,
    InvalidInput,
    NotStaff,
    OutcomeUnknown,
    PrecheckFailed,
    render_error,
)
from cogs._setup_group import SETUP_GROUP_NAME, add_setup_commands, remove_setup_commands
from tests.staff.conftest import Env

NAME = re.compile(r"^[-_\w]{1,32}$")  # \w covers \p{L}\p{N} and "_"


@pytest.mark.parametrize(
    ("error", "spending", "expected"),
    [
        (MarketError("User doesn't exist"), False, "Neverlose refused: User doesn't exist"),
        (MarketUnavailable("timeout"), False, "Neverlose is unreachable right now; please try again"),
        (MarketUnavailable("timeout"), True, "recorded and will be re-checked automatically"),
        (MarketProtocolError("junk"), False, "Neverlose answered something unexpected"),
        (MarketValidationError("username", "must be text"), False, "Invalid username: must be text."),
        (InvalidInput("`x` is not a valid amount"), False, "`x` is not a valid amount"),
        (PrecheckFailed("Balance 12.40 NLE, price 17.10 NLE"), False, "Balance 12.40 NLE, price 17.10 NLE"),
        (DailyLimitExceeded(spent=Decimal(190), amount=Decimal(17), limit=Decimal(200)), False, "Daily limit"),
        (CooldownActive(3), False, "Slow down"),
        (ConfirmationClosed("expired"), False, "expired"),
        (ApprovalRefused("You cannot approve your own transfer"), False, "cannot approve your own"),
        (OutcomeUnknown("abc-1"), False, "request id `abc-1`) is recorded"),
        (NotStaff(), False, "Only staff can use this"),
        (app_commands.NoPrivateMessage(), False, "only works inside the server"),
        (app_commands.CheckFailure(), False, "You cannot use this command here."),
        (app_commands.CommandOnCooldown(app_commands.Cooldown(1, 5), 4.2), False, "try again in 0:00:04"),
    ],
)
def test_render_known_errors(error: Exception, spending: bool, expected: str) -> None:
    rendered = render_error(error, spending=spending)
    assert expected in rendered.text
    assert rendered.reference is None


def test_render_unexpected_hides_the_text() -> None:
    rendered = render_error(RuntimeError("password=hunter2"))
    assert rendered.reference is not None
    assert rendered.reference in rendered.text
    assert "hunter2" not in rendered.text


# ---------------------------------------------------------------- Discord's documented limits
def _check_options(options: list[dict[str, Any]], where: str, problems: list[str]) -> None:
    if len(options) > 25:
        problems.append(f"{where}: more than 25 options")
    names = [o["name"] for o in options]
    if len(set(names)) != len(names):
        problems.append(f"{where}: duplicate option names")
    for option in options:
        here = f"{where} {option['name']}"
        _check_named(option, here, problems)
        choices = option.get("choices") or []
        if len(choices) > 25:
            problems.append(f"{here}: more than 25 choices")
        for choice in choices:
            if not 1 <= len(choice["name"]) <= 100:
                problems.append(f"{here}: choice name length")
            if isinstance(choice["value"], str) and not 1 <= len(choice["value"]) <= 100:
                problems.append(f"{here}: choice value length")
        if option.get("type") in (1, 2):  # subcommand (group)
            _check_options(option.get("options") or [], here, problems)
        if "min_length" in option and not 0 <= option["min_length"] <= 6000:
            problems.append(f"{here}: min_length")
        if "max_length" in option and not 1 <= option["max_length"] <= 6000:
            problems.append(f"{here}: max_length")


def _check_named(item: dict[str, Any], where: str, problems: list[str]) -> None:
    name = item["name"]
    if not NAME.fullmatch(name) or name != name.lower():
        problems.append(f"{where}: bad name {name!r}")
    if not 1 <= len(item.get("description", "")) <= 100:
        problems.append(f"{where}: description must be 1-100 characters")


async def test_all_commands_within_discord_limits(env: Env) -> None:
    payloads = [command.to_dict(env.bot.tree) for command in env.bot.tree.get_commands()]
    names = [p["name"] for p in payloads]
    assert len(set(names)) == len(names), "two cogs registered the same command name"
    assert {"gift", "give", "transfer", "balance", "prices", "user", "audit", "operations", "setup"} <= set(names)
    problems: list[str] = []
    for payload in payloads:
        if payload.get("type", 1) == 1:
            _check_named(payload, f"/{payload['name']}", problems)
        _check_options(payload.get("options") or [], f"/{payload['name']}", problems)
    assert len(payloads) <= 100
    assert problems == []
    setup = next(p for p in payloads if p["name"] == SETUP_GROUP_NAME)
    assert {"staff-role", "limits"} <= {o["name"] for o in setup["options"]}
    env.fake.assert_no_violations()  # the fake validated the synced commands too


def test_setup_group_shared_and_removed_cleanly() -> None:
    client = discord.Client(intents=discord.Intents.none())
    tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(client)

    async def one(interaction: discord.Interaction) -> None: ...

    async def two(interaction: discord.Interaction) -> None: ...

    first = app_commands.Command(name="one", description="first cog", callback=one)
    second = app_commands.Command(name="two", description="second cog", callback=two)
    add_setup_commands(tree, first)
    add_setup_commands(tree, second)
    group = tree.get_command(SETUP_GROUP_NAME)
    assert isinstance(group, app_commands.Group)
    assert sorted(c.name for c in group.commands) == ["one", "two"]
    remove_setup_commands(tree, first)
    assert tree.get_command(SETUP_GROUP_NAME) is group
    remove_setup_commands(tree, second)
    assert tree.get_command(SETUP_GROUP_NAME) is None
    add_setup_commands(tree, first)  # a reloaded cog gets a fresh group
    assert tree.get_command(SETUP_GROUP_NAME) is not group


def test_a_refused_username_cannot_close_its_code_span_in_the_audit() -> None:
    """A refused /gift records the text as typed (cut to 64): its backticks and line breaks would end the code
    span of the audit channel's "For" field and of /audit's line, and the rest would render as markdown."""
    from datetime import UTC, datetime

    from bot.staff.models import AuditEntry, AuditEvent, AuditRecord
    from bot.staff.rendering import audit_embed, audit_line

    typed = "darth` **approved by the owner**\n`x"
    entry = AuditEntry("gift", AuditEvent.REFUSED, 7, username=typed, result="not a valid username")
    record = AuditRecord(3, datetime(2026, 12, 7, 16, 0, tzinfo=UTC), entry)
    fields = {f.name: f.value for f in audit_embed(record).fields}
    assert fields["For"] == "`darth' **approved by the owner** 'x`"
    assert "→ `darth' **approved by the owner** 'x`" in audit_line(record)
    valid = AuditRecord(4, record.created_at, AuditEntry("gift", AuditEvent.SUCCEEDED, 7, username="a.b_c-9"))
    assert {f.name: f.value for f in audit_embed(valid).fields}["For"] == "`a.b_c-9`"
