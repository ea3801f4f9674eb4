"""Run the fake Discord on its own for a local demo: ``python -m tests.fake_discord --port 8900``.

It prints the settings the bot needs (``DISCORD_API_BASE``, ``DISCORD_TOKEN``, the guild, channel and Staff
role ids; ``--env-file demo.env`` also writes them to a file for ``reseller-bot --env-file demo.env sandbox``)
and serves a small control API next to the fake REST API, so you can act as Discord's users with curl::

    POST /_control/invoke  {"command": "gift", "user": "staff", "options": {...}, "subcommand": null}
    POST /_control/click   {"interaction": "<id>", "custom_id": "confirm", "user": "staff"}
    GET  /_control/interactions/<id>
    GET  /_control/messages/<channel>        (purchases, transfers, audit, general)
    GET  /_control/posted/<channel>[?ids=1]  counts: messages, embeds, last post (distinct unique_ids)
    POST /_control/hold    /_control/release hold the bot's message posts unanswered until released
                                             (benchmarks: ingest alone, then the notification drain alone)

``user`` is ``owner``, ``staff`` or ``member``. In ``options``, ``"#name"`` is a channel and ``"@name"`` a
member (or role). Invoke and click wait (up to 10 s) for the bot's answer and return what it shows.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from .interactions import CHANNEL_MESSAGE_WITH_SOURCE, DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE, InteractionRecord
from .limits import FLAG_LOADING
from .server import FakeDiscord

ANSWER_TIMEOUT = 10.0


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def demo_settings(fake: FakeDiscord) -> dict[str, str]:
    """What the bot's ``.env`` needs to run against ``fake``."""
    return {
        "DISCORD_API_BASE": fake.api_base,
        "DISCORD_TOKEN": fake.token,
        "DISCORD_GUILD_ID": str(fake.guild.id),
        "PURCHASE_CHANNEL_ID": str(fake.channels["purchases"].id),
        "TRANSFER_CHANNEL_ID": str(fake.channels["transfers"].id),
        "AUDIT_CHANNEL_ID": str(fake.channels["audit"].id),
        "STAFF_ROLE_IDS": str(fake.staff_role.id),
    }


def _summary(message: dict[str, Any] | None) -> dict[str, Any] | None:
    if message is None:
        return None
    return {
        "id": message["id"],
        "content": message.get("content", ""),
        "embeds": [
            {
                "title": e.get("title"),
                "description": e.get("description"),
                "fields": {f.get("name"): f.get("value") for f in e.get("fields") or []},
            }
            for e in message.get("embeds") or []
        ],
        "buttons": [
            c.get("custom_id")
            for row in message.get("components") or []
            for c in row.get("components") or []
            if c.get("custom_id") and not c.get("disabled")
        ],
    }


class ControlledFakeDiscord(FakeDiscord):
    """The fake plus ``/_control/*`` routes (the fake's REST API lives under ``/api/v10``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._released = asyncio.Event()
        self._released.set()

    def make_app(self) -> web.Application:
        app = super().make_app()
        app.router.add_post("/_control/invoke", self._control_invoke)
        app.router.add_post("/_control/click", self._control_click)
        app.router.add_get("/_control/interactions/{interaction_id}", self._control_interaction)
        app.router.add_get("/_control/messages/{channel}", self._control_messages)
        app.router.add_get("/_control/posted/{channel}", self._control_posted)
        app.router.add_post("/_control/hold", self._control_hold)
        app.router.add_post("/_control/release", self._control_release)
        app.middlewares.insert(0, self._hold_posts)
        return app

    @web.middleware
    async def _hold_posts(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """While held, a message post waits (unanswered) until ``/_control/release``."""
        if request.method == "POST" and request.path.endswith("/messages"):
            await self._released.wait()
        response: web.StreamResponse = await handler(request)
        return response

    async def _control_hold(self, _request: web.Request) -> web.Response:
        self._released.clear()
        return web.json_response({"held": True})

    async def _control_release(self, _request: web.Request) -> web.Response:
        self._released.set()
        return web.json_response({"held": False})

    async def _control_posted(self, request: web.Request) -> web.Response:
        try:
            channel = self.channels[request.match_info["channel"]]
        except KeyError:
            return web.json_response({"error": "unknown channel"}, status=404)
        messages = self.messages(channel)
        unique_ids = {  # only on request (?ids=1): the cheap counts are polled while the bot drains
            f.get("value")
            for m in (messages if request.query.get("ids") else [])
            for e in m.get("embeds") or []
            for f in e.get("fields") or []
            if f.get("name") == "Unique ID"
        }
        posts = [c for c in self.calls_to("POST", f"/channels/{channel.id}/messages") if c.status == 200]
        return web.json_response(
            {
                "messages": len(messages),
                "embeds": sum(len(m.get("embeds") or []) for m in messages),
                "distinct_unique_ids": len(unique_ids),
                "posts": len(posts),
                "last_post_at": posts[-1].at if posts else None,  # time.monotonic(): the same clock system-wide
            }
        )

    def _option(self, value: Any) -> Any:
        if isinstance(value, str) and value.startswith("#"):
            return self.channels[value[1:]]
        if isinstance(value, str) and value.startswith("@"):
            return self.guild.members.get(value[1:]) or self.guild.roles[value[1:]]
        return value

    def _record_json(self, record: InteractionRecord) -> dict[str, Any]:
        original = record.original_message()
        return {
            "interaction": str(record.id),
            "ephemeral": record.ephemeral,
            "message": _summary(original),
            "followups": [_summary(m) for m in record.followups if m is not original],
        }

    async def _answered(self, record: InteractionRecord, *, clicked: dict[str, Any] | None = None) -> None:
        """Wait for the answer: a new message or follow-up, or (after a click) a change of the clicked
        message's embeds, e.g. "Confirm" becoming "succeeded"."""
        before = json.dumps((clicked or {}).get("embeds"))

        def done(r: InteractionRecord) -> bool:
            if r.followups:
                return True
            if r.response_type in (CHANNEL_MESSAGE_WITH_SOURCE, DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE):
                message = r.original_message()
                return message is not None and not int(message.get("flags") or 0) & FLAG_LOADING
            if clicked is None or not r.responded:
                return r.responded
            current = self.state_message(int(clicked["id"])) or {}
            return json.dumps(current.get("embeds")) != before

        with contextlib.suppress(TimeoutError):
            await record.wait_until(done, timeout=ANSWER_TIMEOUT)

    async def _control_invoke(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            record = await self.invoke_command(
                str(body["command"]),
                {name: self._option(value) for name, value in (body.get("options") or {}).items()},
                user=str(body.get("user", "staff")),
                subcommand=body.get("subcommand"),
                channel=str(body.get("channel", "general")),
            )
        except (KeyError, LookupError, RuntimeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        await self._answered(record)
        return web.json_response(self._record_json(record))

    async def _control_click(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            target = self.interactions[int(body["interaction"])] if "interaction" in body else int(body["message"])
            clicked = self._find_message_with(target, str(body["custom_id"]))
            record = await self.click_button(target, str(body["custom_id"]), user=str(body.get("user", "staff")))
        except (KeyError, LookupError, ValueError, RuntimeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        await self._answered(record, clicked=json.loads(json.dumps(clicked)))
        return web.json_response(self._record_json(record))

    async def _control_interaction(self, request: web.Request) -> web.Response:
        record = self.interactions.get(int(request.match_info["interaction_id"]))
        if record is None:
            return web.json_response({"error": "unknown interaction"}, status=404)
        return web.json_response(self._record_json(record))

    async def _control_messages(self, request: web.Request) -> web.Response:
        try:
            messages = self.messages(request.match_info["channel"])
        except KeyError:
            return web.json_response({"error": "unknown channel"}, status=404)
        return web.json_response([_summary(m) for m in messages])


async def serve(host: str, port: int, env_file: Path | None) -> None:
    fake = ControlledFakeDiscord(host=host, port=port)
    await fake.start()
    settings = demo_settings(fake)
    if env_file is not None:
        env_file.write_text("".join(f"{key}={value}\n" for key, value in settings.items()), encoding="utf-8")
    _out(f"Fake Discord listening on {fake.base_url} (control API: {fake.base_url}/_control/...)")
    for key, value in settings.items():
        _out(f"{key}={value}")
    if env_file is not None:
        _out(f"(written to {env_file}; start the bot with: reseller-bot --env-file {env_file} sandbox)")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await fake.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fake_discord", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900, help="0 picks a free port")
    parser.add_argument("--env-file", type=Path, help="also write the bot's settings to this file")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.port, args.env_file))
    return 0


if __name__ == "__main__":
    sys.exit(main())
