"""Who is staff, checked on our side for every command and every button.

Staff = a member with a role in ``STAFF_ROLE_IDS`` (or added with ``/setup staff-role``) or with Manage
Server (Administrator implies it). ``default_permissions`` only hides commands in the client; these checks
are what actually decides.

Reuse from other features::

    from bot.staff.permissions import is_staff, staff_only, check_staff_interaction

    @app_commands.command()
    @app_commands.guild_only()
    @staff_only()
    async def whois(self, interaction: discord.Interaction, ...) -> None: ...

    # in a View / button callback:
    if not await check_staff_interaction(interaction):
        return  # an ephemeral refusal was sent and the attempt logged

The guild configuration is read from ``interaction.client.guild_config`` (``ResellerBot`` has it) unless
one is passed explicitly.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

import discord
from discord import app_commands

from bot.staff.errors import NotStaff
from bot.tree import send_ephemeral

log = logging.getLogger(__name__)

T = TypeVar("T")


@runtime_checkable
class StaffRoleSource(Protocol):
    """Anything that knows the staff role ids (``bot.guild_config.GuildConfig`` does)."""

    async def staff_role_ids(self) -> frozenset[int]: ...


@dataclass(frozen=True, slots=True)
class StaffSubject:
    """What the staff rule looks at: a user id, their role ids and whether they may manage the server."""

    user_id: int
    role_ids: frozenset[int]
    manage_guild: bool


def _member_role_ids(member: discord.Member) -> frozenset[int]:
    # ``member.roles`` only lists roles found in the guild cache; an interaction's member payload always
    # carries the raw role ids (``_roles``), which is what Discord says the member has.
    ids = {role.id for role in member.roles}
    ids.update(int(role_id) for role_id in getattr(member, "_roles", ()))
    ids.discard(member.guild.id)  # @everyone
    return frozenset(ids)


def _member_manages_guild(member: discord.Member, interaction: discord.Interaction | None) -> bool:
    perms = member.resolved_permissions
    if perms is None and interaction is not None:
        perms = interaction.permissions
    if perms is None or perms.value == 0:
        perms = member.guild_permissions
    return perms.administrator or perms.manage_guild


def subject_of(who: discord.Interaction | discord.Member | discord.User | StaffSubject) -> StaffSubject | None:
    """The staff subject for an interaction or member; ``None`` outside a guild (a plain ``User``)."""
    if isinstance(who, StaffSubject):
        return who
    interaction = who if isinstance(who, discord.Interaction) else None
    user = who.user if isinstance(who, discord.Interaction) else who
    if not isinstance(user, discord.Member):
        return None
    return StaffSubject(user.id, _member_role_ids(user), _member_manages_guild(user, interaction))


def is_staff_subject(subject: StaffSubject, staff_role_ids: Iterable[int]) -> bool:
    """The rule itself, pure: Manage Server, or at least one staff role."""
    return subject.manage_guild or not subject.role_ids.isdisjoint(staff_role_ids)


def _config_of(interaction: discord.Interaction) -> StaffRoleSource:
    config = getattr(interaction.client, "guild_config", None)
    if not isinstance(config, StaffRoleSource):
        raise RuntimeError("the client has no guild_config; pass guild_config explicitly")
    return config


async def is_staff(
    who: discord.Interaction | discord.Member | discord.User | StaffSubject,
    guild_config: StaffRoleSource | None = None,
) -> bool:
    """True when ``who`` is staff. Outside a guild nobody is staff."""
    subject = subject_of(who)
    if subject is None:
        return False
    if guild_config is None:
        if not isinstance(who, discord.Interaction):
            raise TypeError("guild_config is required unless an interaction is given")
        guild_config = _config_of(who)
    return is_staff_subject(subject, await guild_config.staff_role_ids())


def _log_refusal(interaction: discord.Interaction, what: str) -> None:
    log.warning(
        "staff check refused user=%s guild=%s what=%s",
        interaction.user.id,
        interaction.guild_id,
        what,
    )


def staff_only(guild_config: StaffRoleSource | None = None) -> Callable[[T], T]:
    """An ``app_commands.check``: raises :class:`NotStaff` (rendered by the tree's error handler)."""

    async def predicate(interaction: discord.Interaction) -> bool:
        if await is_staff(interaction, guild_config):
            return True
        command = interaction.command.qualified_name if interaction.command else "?"
        _log_refusal(interaction, f"/{command}")
        raise NotStaff()

    return app_commands.check(predicate)


def server_manager_only() -> Callable[[T], T]:
    """An ``app_commands.check`` for configuration commands: Manage Server (or Administrator) only."""

    async def predicate(interaction: discord.Interaction) -> bool:
        subject = subject_of(interaction)
        if subject is not None and subject.manage_guild:
            return True
        command = interaction.command.qualified_name if interaction.command else "?"
        _log_refusal(interaction, f"/{command}")
        raise NotStaff("Only members with Manage Server can change the bot's configuration.")

    return app_commands.check(predicate)


async def staff_choices(
    interaction: discord.Interaction[Any], values: Callable[[], Awaitable[Iterable[str]]]
) -> list[app_commands.Choice[str]]:
    """Autocomplete choices from staff data (past recipients, item codes, price currencies): for staff only.

    Discord runs no command check for an autocomplete, and the commands may be shown to everyone (Server
    Settings -> Integrations): a member who is not staff gets no choices (and nothing is read or logged, an
    autocomplete comes at every keystroke)."""
    if not await is_staff(interaction):
        return []
    return [app_commands.Choice(name=value, value=value) for value in await values()]


async def check_staff_interaction(
    interaction: discord.Interaction[Any],
    guild_config: StaffRoleSource | None = None,
    *,
    what: str = "button",
) -> bool:
    """For component interactions: True for staff; otherwise log, answer with an ephemeral refusal, False."""
    if await is_staff(interaction, guild_config):
        return True
    _log_refusal(interaction, what)
    await send_ephemeral(interaction, NotStaff().message)
    return False
