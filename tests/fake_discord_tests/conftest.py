"""Makes the fake Discord fixtures available to these tests even before ``tests/conftest.py`` loads the
plugin (``pytest_plugins = ["tests.plugins.fake_discord"]``)."""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # `tests` is importable when pytest runs with the repository root on sys.path
    sys.path.insert(0, _ROOT)

from tests.plugins.fake_discord import discord_py_at_fake, fake_bot, fake_discord  # noqa: E402

__all__ = ["discord_py_at_fake", "fake_bot", "fake_discord"]
