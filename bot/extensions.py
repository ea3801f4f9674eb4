"""Discovery and loading of the Discord extensions in ``cogs/``.

Every public module of the package is an extension (``_private`` modules are helpers and skipped). A cog's
``setup()`` may raise :class:`FeatureDisabled` when its feature is not configured; that is logged and the
bot goes on. Any other failure is logged with its traceback and reported by ``/healthz``.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from dataclasses import dataclass, field

from discord.ext import commands

log = logging.getLogger(__name__)


class FeatureDisabled(Exception):
    """Raised by a cog's ``setup()`` to decline loading; the message says what to configure."""


def discover_extensions(package: str = "cogs") -> list[str]:
    """Dotted names of every public module below ``package``, sorted."""
    root = importlib.import_module(package)
    names: list[str] = []
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        if info.ispkg:
            # a package is an extension only when it defines setup()
            module = importlib.import_module(info.name)
            if not hasattr(module, "setup"):
                continue
        names.append(info.name)
    return sorted(names)


@dataclass
class LoadReport:
    loaded: list[str] = field(default_factory=list)
    declined: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


async def load_extensions(bot: commands.Bot, package: str = "cogs") -> LoadReport:
    report = LoadReport()
    for name in discover_extensions(package):
        try:
            await bot.load_extension(name)
        except commands.ExtensionFailed as exc:
            if isinstance(exc.original, FeatureDisabled):
                report.declined[name] = str(exc.original)
                log.info("extension declined name=%s reason=%s", name, exc.original)
                continue
            report.failed[name] = type(exc.original).__name__
            log.error("extension failed name=%s", name, exc_info=exc.original)
        except commands.ExtensionError as exc:
            report.failed[name] = type(exc).__name__
            log.error("extension failed name=%s", name, exc_info=exc)
        else:
            report.loaded.append(name)
            log.info("extension loaded name=%s", name)
    return report
