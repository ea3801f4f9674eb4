"""The README's local demo: ``python -m tests.fake_discord`` + ``reseller-bot --env-file demo.env sandbox`` + curl."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.harness import REPO_ROOT, BotProcess

pytestmark = pytest.mark.e2e


@pytest.fixture
async def standalone_fake(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    """The standalone fake Discord on a free port; yields its base URL and the env file it wrote."""
    env_file = tmp_path / "demo.env"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.fake_discord", "--port", "0", "--env-file", str(env_file),
        cwd=tmp_path, env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO_ROOT)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        first = await asyncio.wait_for(proc.stdout.readline(), timeout=10)
        assert first.startswith(b"Fake Discord listening on http://127.0.0.1:"), first
        base_url = first.split()[4].decode()
        await asyncio.wait_for(proc.stdout.readuntil(b"sandbox)\n"), timeout=10)
        yield base_url, env_file
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), timeout=10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await proc.stdout.read()


async def test_readme_demo(
    standalone_fake: tuple[str, Path], tmp_path: Path, bots: list[BotProcess], http: aiohttp.ClientSession
) -> None:
    base_url, env_file = standalone_fake
    assert "DISCORD_API_BASE=" in env_file.read_text()
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "WEBHOOK_HOST": "127.0.0.1", "WEBHOOK_PORT": "0"}
    bot = BotProcess(env=env, cwd=tmp_path, args=("--env-file", str(env_file)))
    bots.append(bot)
    await bot.start("sandbox")
    await bot.wait_health(http, 200)

    gift = {"command": "gift", "user": "staff", "options": {"product": "cs2", "plan": 30, "username": "darth"}}
    async with http.post(base_url + "/_control/invoke", json=gift) as resp:
        asked = await resp.json()
    assert asked["message"]["buttons"] == ["confirm", "cancel"]
    click = {"interaction": asked["interaction"], "custom_id": "confirm", "user": "staff"}
    async with http.post(base_url + "/_control/click", json=click) as resp:
        done = await resp.json()
    assert done["message"]["embeds"][0]["title"] == "Gift a subscription: succeeded"
    titles: list[str] = []
    async with asyncio.timeout(10):  # the audit entries reach the channel through the outbox
        while "gift: succeeded" not in titles:
            async with http.get(base_url + "/_control/messages/audit") as resp:
                titles = [e["title"] for m in await resp.json() for e in m["embeds"]]
            await asyncio.sleep(0.05)
    assert titles == ["gift: requested", "gift: succeeded"]
    await bot.terminate()
    bot.assert_clean_log()
