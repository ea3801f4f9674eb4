"""The project's fake Discord: REST API v10 + Gateway on 127.0.0.1 for an unmodified discord.py bot.

Start it, point discord.py at it, drive the bot, inspect what the bot did::

    fake = FakeDiscord()                      # seeded guild: #purchases #transfers #audit #general,
    await fake.start()                        # @Staff/@everyone, members owner / staff / member
    env = {"DISCORD_API_BASE": fake.api_base, "DISCORD_TOKEN": fake.token}
    ...                                       # start the bot (in-process or as a subprocess)
    await fake.wait_until_ready(timeout=10)
    rec = await fake.invoke_command("balance", {"user": fake.staff}, user=fake.owner)
    await rec.wait_response()
    assert rec.ephemeral and "42" in rec.final_message()["content"]
    click = await fake.click_button(rec, "confirm", user=fake.owner)
    msg = await fake.wait_for_message("purchases", lambda m: "Order" in m["content"])
    fake.assert_no_violations()
    await fake.stop()

Pointing discord.py at the fake (what the bot must do with ``DISCORD_API_BASE``)::

    discord.http.Route.BASE = api_base                                  # REST, webhooks, interactions
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)    # url from GET /gateway/bot

A plain ``discord.Client``/``commands.Bot`` never calls ``GET /gateway/bot`` (only ``AutoShardedClient``
does): it connects to ``DiscordWebSocket.DEFAULT_GATEWAY``, so the bot has to set that too, e.g. from
``(await client.http.get_bot_gateway())[1]`` in ``setup_hook``. :func:`point_discord_py_at` does both
and restores the originals.

Public API (``FakeDiscord``)
----------------------------
Lifecycle: ``start()``, ``stop()``, ``restart()`` (same port; sessions survive so the bot RESUMEs),
``set_down(bool)`` (REST 503, gateway closed and refused;
``gateway.refused`` counts the refused connection attempts), ``async with FakeDiscord() as fake``.
Addresses: ``base_url``, ``api_base``, ``gateway_url``, ``port``, ``token``.
World: ``bot_user``, ``application_id``, ``guild`` (``.id``, ``.channels[name]``, ``.roles[name]``
with ``"Staff"``/``"@everyone"``, ``.members["owner"|"staff"|"member"]``, ``.bot_member``), shortcuts
``owner``, ``staff``, ``member``, ``staff_role``, ``channels``; ``add_member()``, ``post_user_message()``,
``close_dms(user)``, ``forbid_channel(channel)`` (the bot's messages there get 403 / 50013).
Records: ``calls`` (:class:`RecordedCall`: method, path, json, status, query, response), ``calls_to()``,
``violations`` (:class:`Violation`), ``assert_no_violations()``, ``unhandled`` (routes the fake does not
know, answered 404), ``internal_errors`` (bugs in the fake, answered 500; the fixture fails on them),
``messages(channel)``, ``dm_messages(user)``, ``dm_channel(user)``, ``commands``, ``command(name)``,
``member_roles(user)``, ``interactions`` (id -> :class:`InteractionRecord`).
Driving: ``invoke_command(name, options, user=, subcommand=, channel=)``, ``autocomplete(...)``,
``click_button(target, custom_id, user=)``, ``select(target, custom_id, values, user=)``,
``submit_modal(record, values)``, ``dispatch(event, data)``, ``inject_rate_limit(prefix, count,
retry_after)``.
Waiting: ``wait_for(predicate, timeout)``, ``wait_until_ready(timeout)``, ``wait_for_message(channel,
predicate, timeout)``, ``wait_for_dm(user, predicate, timeout)``; on records ``wait_response()``,
``wait_followups(n)``, ``wait_edits(n)``, ``wait_until(predicate)``.

Users, channels and roles are accepted as the fake's objects, ids, or names (``"staff"``, ``"#audit"``).

Enforced (400 with ``{"code": 50035, "message": "Invalid Form Body", "errors": {...}}``, recorded in
``violations``): message content/embeds/components limits (:mod:`.limits`), empty messages (50006),
command name/description/options/choices rules, first interaction response within
``interaction_deadline`` (3 s; later -> 404 10062), double acknowledgement (40060), follow-ups before
acknowledgement or after ``interaction_token_lifetime`` (15 min). Pass ``clock=`` to control time.
"""

from __future__ import annotations

from .discordpy import point_discord_py_at, run_client
from .interactions import InteractionRecord
from .limits import FormError
from .server import FakeDiscord
from .state import FakeChannel, FakeGuild, FakeMember, FakeRole, FakeUser, RecordedCall, Violation

__all__ = [
    "FakeChannel",
    "FakeDiscord",
    "FakeGuild",
    "FakeMember",
    "FakeRole",
    "FakeUser",
    "FormError",
    "InteractionRecord",
    "RecordedCall",
    "Violation",
    "point_discord_py_at",
    "run_client",
]
