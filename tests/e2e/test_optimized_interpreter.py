"""The image runs the bot with ``PYTHONOPTIMIZE=2`` (``-OO``: no docstrings, no asserts) and
``PYTHONNODEBUGRANGES=1`` (Dockerfile): 4-5 MB less resident memory (docs/benchmarks.md). Nothing the bot shows
may therefore come from a docstring. discord.py takes a command's or a group's description, and a parameter's,
from the callback's or class's docstring when none is given, and under ``-OO`` it would become "…" in Discord.

So the same bot, with every feature on (sandbox: shop, orders, Crypto Pay; linking with a fake identity
provider), syncs exactly the same commands, localizations included, under both interpreters; and the command
line's help reads the same.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.harness import REPO_ROOT, BotProcess
from tests.fake_discord import FakeDiscord
from tests.linking.fake_idp import FakeIdP, running_fake_idp

OPTIMIZED = {"PYTHONOPTIMIZE": "2", "PYTHONNODEBUGRANGES": "1"}


@pytest.fixture
async def idp() -> AsyncIterator[FakeIdP]:
    async with running_fake_idp() as fake:
        yield fake


def _without_ids(commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kept = [{k: v for k, v in c.items() if k not in {"id", "version", "application_id"}} for c in commands]
    return sorted(kept, key=lambda c: (str(c.get("guild_id")), c["name"]))


async def _synced(
    make_bot: Callable[..., BotProcess],
    fake: FakeDiscord,
    http: aiohttp.ClientSession,
    idp: FakeIdP,
    port: int,
    **interpreter: str,
) -> list[dict[str, Any]]:
    bot = make_bot(
        with_sim=False,
        MARKET_INTEGRATION_ID="1",
        WEBHOOK_PORT=str(port),
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        OAUTH_CLIENT_ID=idp.client_id,
        OAUTH_ISSUER=idp.url,
        **interpreter,
    )
    await bot.start("sandbox")
    await bot.wait_ready(fake, http)
    commands = _without_ids(fake.commands)
    await bot.terminate()
    return commands


async def test_the_commands_synced_under_OO_are_the_same(
    make_bot: Callable[..., BotProcess],
    fake: FakeDiscord,
    http: aiohttp.ClientSession,
    idp: FakeIdP,
    unused_tcp_port: int,
) -> None:
    plain = await _synced(make_bot, fake, http, idp, unused_tcp_port)
    optimized = await _synced(make_bot, fake, http, idp, unused_tcp_port, **OPTIMIZED)
    names = {c["name"] for c in plain}
    assert {"gift", "stats", "shop", "orders", "link", "setup"} <= names  # every feature's commands are there
    assert optimized == plain
    descriptions = [c["description"] for c in plain]
    assert "…" not in descriptions  # discord.py's stand-in when neither a description nor a docstring is given


@pytest.mark.parametrize(
    ("args", "status", "says"),
    [
        (["--help"], 0, "reseller-bot"),
        (["run", "--help"], 0, "Connect to Discord and serve."),
        (["sandbox", "--help"], 0, "simulator"),
        (["backup", "--help"], 0, "backup API"),
        (["check-config"], 2, "DISCORD_TOKEN: is required but not set"),  # the settings' own error text
    ],
)
def test_the_command_line_says_the_same_under_OO(args: list[str], status: int, says: str, tmp_path: Path) -> None:
    def ran(**interpreter: str) -> tuple[int, str]:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"}
        done = subprocess.run(  # from tmp_path: no .env of the developer's is read
            [sys.executable, "-m", "bot", *args],
            cwd=tmp_path,
            env={**env, **interpreter, "PYTHONPATH": str(REPO_ROOT)},
            capture_output=True,
            text=True,
            check=False,
        )
        return done.returncode, done.stdout + done.stderr

    plain = ran()
    assert plain[0] == status
    assert says in plain[1]
    assert ran(**OPTIMIZED) == plain
