"""The shared ``/setup`` command group (Manage Server by default), filled by several cogs.

An ``app_commands.Group`` can be added to a tree only once, so the group lives in the bot's own tree:
the first cog that adds subcommands creates and adds it, every later cog adds its subcommands to that same
group, and removing the last subcommand removes the group. No module-level group object: two bots in one
process (tests) never share it.

    add_setup_commands(bot.tree, *my_commands)       # in cog_load
    remove_setup_commands(bot.tree, *my_commands)    # in cog_unload
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

SETUP_GROUP_NAME = "setup"


def setup_group(tree: app_commands.CommandTree[discord.Client]) -> app_commands.Group:
    """The tree's ``/setup`` group, created and added on first use."""
    existing = tree.get_command(SETUP_GROUP_NAME)
    if isinstance(existing, app_commands.Group):
        return existing
    group = app_commands.Group(
        name=SETUP_GROUP_NAME,
        description="Configure the bot for this server",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )
    tree.add_command(group)
    return group


def add_setup_commands(
    tree: app_commands.CommandTree[discord.Client], *commands: app_commands.Command[Any, ..., Any]
) -> None:
    group = setup_group(tree)
    for command in commands:
        group.add_command(command)


def remove_setup_commands(
    tree: app_commands.CommandTree[discord.Client], *commands: app_commands.Command[Any, ..., Any]
) -> None:
    group = tree.get_command(SETUP_GROUP_NAME)
    if not isinstance(group, app_commands.Group):
        return
    for command in commands:
        if group.get_command(command.name) is command:
            group.remove_command(command.name)
    if not group.commands:
        tree.remove_command(SETUP_GROUP_NAME)
