"""What the bot imports to start: the CLI and every cog extension, without the libraries only one feature needs.

Each is imported on first use, in a fresh interpreter checked here (where nothing else has imported them):

- matplotlib (with numpy under it): about 40 MB of the process and 0.4 s of start-up; the first chart drawn
  (``bot.stats.chart``);
- PyJWT with cryptography under it (about 10 MB): the first checkout link verified (``bot.orders.token``), the
  first sign-in verified (``bot.linking.id_token``), the sandbox's sample link;
- jinja2 and aiohttp-jinja2 (about 2 MB): when the checkout pages are set up (only with the shop on);
- the Market API simulator and the fake Crypto Pay: ``reseller-bot sandbox`` only;
- the ``/stats`` answer's modules (the chart, the embed, the CSV export; about 0.2 MB): the first ``/stats`` or
  weekly digest;
- the features the configuration leaves off (about 2 MB): orders and checkout, the shop's service, Crypto Pay,
  account linking, and their commands (``cogs._orders``, ``cogs._shop``, ``cogs._linking``,
  ``cogs._roles_setup``): ``bot.core`` and the extensions import them only when they are configured.

The fresh interpreter imports what ``reseller-bot run`` imports with the default settings (no shop, no linking):
the CLI, the bot and every extension module the bot loads (``cogs/*.py`` without a leading underscore).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOADED = """
import json, importlib, sys
import bot.cli, bot.core
from bot.extensions import discover_extensions
for name in discover_extensions("cogs"):
    importlib.import_module(name)
print(json.dumps(sorted(sys.modules)))
"""
FIRST_USE = {
    "chart libraries": ("matplotlib", "numpy", "PIL"),
    "PyJWT and cryptography": ("jwt", "cryptography"),
    "templates": ("jinja2", "aiohttp_jinja2", "markupsafe"),
    "simulators": ("bot.market.simulator", "bot.payments.cryptopay.simulator"),
    "the /stats answer": ("bot.stats.chart", "bot.stats.summary", "bot.stats.export"),
    "features left off": (
        "bot.orders",
        "bot.payments.cryptopay",
        "bot.shop.service",
        "bot.linking.service",
        "cogs._orders",
        "cogs._order_views",
        "cogs._shop",
        "cogs._linking",
        "cogs._roles_setup",
    ),
}


@pytest.fixture(scope="module")
def started() -> list[str]:
    done = subprocess.run([sys.executable, "-c", LOADED], cwd=ROOT, capture_output=True, text=True, check=True)
    modules: list[str] = json.loads(done.stdout)
    return modules


def _under(modules: list[str], packages: tuple[str, ...]) -> list[str]:
    return [name for name in modules if any(name == p or name.startswith(p + ".") for p in packages)]


@pytest.mark.parametrize("what", sorted(FIRST_USE))
def test_starting_the_bot_does_not_import_what_only_some_features_use(started: list[str], what: str) -> None:
    assert _under(started, FIRST_USE[what]) == []


def test_the_check_sees_what_start_up_imports(started: list[str]) -> None:
    """The check itself: what every start-up needs is there (else an empty list would pass any test above)."""
    assert _under(started, ("discord", "aiohttp", "pydantic", "bot.core", "cogs.stats")) != []
    assert {"cogs.orders", "cogs.shop", "cogs.linking", "cogs.roles_setup"} <= set(started)  # their entry modules


CATALOGS_FIRST = """
import json, sys
import bot.cli
from bot.i18n.catalog import catalogs

read_when_imported = []


class Watch:  # notes, when bot.core is about to be imported, whether the catalogs were read already
    def find_spec(self, name, path=None, target=None):
        if name == "bot.core":
            read_when_imported.append(catalogs.cache_info().currsize)


sys.meta_path.insert(0, Watch())
before = "bot.core" in sys.modules
cls = bot.cli.bot_class()
print(json.dumps({"imported_before": before, "read_when_imported": read_when_imported, "class": cls.__name__}))
"""


def test_start_up_reads_the_catalogs_before_it_imports_the_bot() -> None:
    """``bot.cli.bot_class`` (what ``run`` and ``sandbox`` start) reads the message catalogs, then imports
    ``bot.core`` and everything under it: the imports reuse the memory the catalogs' parse freed (0.7-0.9 MB less
    resident at idle, docs/benchmarks.md)."""
    done = subprocess.run([sys.executable, "-c", CATALOGS_FIRST], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == {"imported_before": False, "read_when_imported": [1], "class": "ResellerBot"}
