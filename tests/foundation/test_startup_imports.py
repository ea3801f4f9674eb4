"""What the bot imports to start: the CLI and every cog extension, without the libraries only one command needs.

matplotlib (with numpy under it) is about 40 MB of the process and 0.4 s of start-up; it is imported by the
first chart drawn (``bot.stats.chart``), not by starting the bot. Checked in a fresh interpreter, where
nothing else has imported it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOADED = """
import json, pkgutil, importlib, sys
import bot.cli, bot.core, cogs
for module in pkgutil.iter_modules(cogs.__path__):
    importlib.import_module(f"cogs.{module.name}")
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in {"matplotlib", "numpy", "PIL"})))
"""


def test_starting_the_bot_does_not_import_the_chart_libraries() -> None:
    done = subprocess.run([sys.executable, "-c", LOADED], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []
