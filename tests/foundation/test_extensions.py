"""Extension discovery: public modules load, _private ones are skipped, a cog may decline."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import discord
import pytest
from discord.ext import commands

from bot.extensions import discover_extensions, load_extensions

GOOD = """
from discord.ext import commands

class Good(commands.Cog):
    pass

async def setup(bot):
    await bot.add_cog(Good())
"""
DECLINED = """
from bot.extensions import FeatureDisabled

async def setup(bot):
    raise FeatureDisabled("OAUTH_CLIENT_ID is not set")
"""
BROKEN = """
async def setup(bot):
    raise RuntimeError("bug")
"""


@pytest.fixture
def fake_package(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "fakecogs"
    (root / "sub").mkdir(parents=True)
    (root / "plain").mkdir()
    (root / "__init__.py").write_text("")
    (root / "good.py").write_text(textwrap.dedent(GOOD))
    (root / "_helpers.py").write_text("raise RuntimeError('private modules are never imported')\n")
    (root / "declined.py").write_text(textwrap.dedent(DECLINED))
    (root / "broken.py").write_text(textwrap.dedent(BROKEN))
    (root / "sub" / "__init__.py").write_text(textwrap.dedent(GOOD).replace("Good", "SubGood"))
    (root / "plain" / "__init__.py").write_text("")
    sys.path.insert(0, str(tmp_path))
    yield "fakecogs"
    sys.path.remove(str(tmp_path))
    for name in [n for n in sys.modules if n == "fakecogs" or n.startswith("fakecogs.")]:
        del sys.modules[name]


def test_discovery_skips_private_modules_and_plain_packages(fake_package: str) -> None:
    assert discover_extensions(fake_package) == [
        "fakecogs.broken",
        "fakecogs.declined",
        "fakecogs.good",
        "fakecogs.sub",
    ]


async def test_load_reports_loaded_declined_and_failed(fake_package: str) -> None:
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.none())
    try:
        report = await load_extensions(bot, fake_package)
        assert report.loaded == ["fakecogs.good", "fakecogs.sub"]
        assert report.declined == {"fakecogs.declined": "OAUTH_CLIENT_ID is not set"}
        assert report.failed == {"fakecogs.broken": "RuntimeError"}
        assert set(bot.cogs) == {"Good", "SubGood"}
    finally:
        await bot.close()


def test_project_cogs_are_discovered() -> None:
    names = discover_extensions("cogs")
    assert all(not part.startswith("_") for name in names for part in name.split("."))
