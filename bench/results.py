"""Where the benchmarks record their figures: one ``## `` section each in ``docs/benchmarks.md``."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
INTRO = "# Benchmarks\n\nFigures recorded by the scripts in `bench/`; re-run them to refresh.\n\n"


def write_section(section: str, text: str) -> Path:
    """Replace the ``section`` heading's section of the document with ``text`` (append it if missing); the
    other sections are kept. Returns the document's path."""
    if DOC.exists():
        current = DOC.read_text(encoding="utf-8")
        pattern = re.compile(rf"^{re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M)
        if pattern.search(current):
            updated = pattern.sub(lambda _: text.rstrip("\n") + "\n\n", current, count=1)
        else:
            updated = current.rstrip("\n") + "\n\n" + text
    else:
        updated = INTRO + text
    DOC.write_text(updated.rstrip("\n") + "\n", encoding="utf-8")
    return DOC
