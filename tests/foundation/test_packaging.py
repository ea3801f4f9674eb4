"""The image installs the package, not the work tree: every file the bot reads must be package data.

This installs the project the way the Dockerfile does (``pip install .``, not editable) into a fresh virtual
environment and runs it from another folder, so nothing can be found through the work tree by accident.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CHECK = """
import json, sys
from importlib import resources
from pathlib import Path
import bot
from bot.storage.migrations import load_migrations
from bot.i18n import LOCALES, t
expected = json.loads(sys.argv[1])
root = Path(sys.argv[2])
installed = Path(bot.__file__).resolve().parent
assert root not in installed.parents, f"bot imported from the work tree: {installed}"
missing = [rel for rel in expected if not resources.files("bot").joinpath(rel).is_file()]
assert not missing, f"not installed as package data: {missing}"
print(json.dumps({"migrations": len(load_migrations()), "files": len(expected),
                  "catalog": [t(code, "order.state.paid") for code in LOCALES]}))
"""


def _package_data_files() -> list[str]:
    """Every file of the work tree that a ``[tool.setuptools.package-data]`` pattern of ``bot`` names."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns: list[str] = config["tool"]["setuptools"]["package-data"]["bot"]
    found = {path for pattern in patterns for path in (ROOT / "bot").glob(pattern) if path.is_file()}
    return sorted(str(path.relative_to(ROOT / "bot")) for path in found)


def test_every_file_beside_the_code_is_named_as_package_data() -> None:
    """A template, stylesheet or migration added under ``bot/`` without a package-data pattern would be
    missing from the image: every non-Python file there must be matched."""
    tree = sorted(
        str(path.relative_to(ROOT / "bot"))
        for path in (ROOT / "bot").rglob("*")
        if path.is_file() and path.suffix not in {".py", ".pyc"} and "__pycache__" not in path.parts
    )
    assert tree == _package_data_files()


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the project installed non-editable (``pip install .``, as the Dockerfile does).

    Its dependencies are the ones this test run already has (a ``.pth`` file names our site-packages; such a
    path is searched after the venv's own, and the editable install's hooks in it are not run), so the test
    needs no download but the build backend's.
    """
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    ours = sysconfig.get_paths()["purelib"]
    theirs = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(theirs, "_test_dependencies.pth").write_text(ours + "\n", encoding="utf-8")
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q", "--no-deps", ROOT],
        check=True,
        env=env,
        cwd=tmp_path_factory.mktemp("x"),
    )
    return venv


def test_every_data_file_is_installed_and_read_from_the_package(installed: Path, tmp_path: Path) -> None:
    import json

    expected = _package_data_files()
    sql = [name for name in expected if name.endswith(".sql")]
    assert sql, "the migrations must be listed as package data"
    catalogs = [name for name in expected if name.endswith(".po")]
    assert sorted(catalogs) == ["i18n/locales/en/LC_MESSAGES/messages.po", "i18n/locales/ru/LC_MESSAGES/messages.po"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run(
        [str(installed / "bin" / "python"), "-c", CHECK, json.dumps(expected), str(ROOT)],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report == {"migrations": len(sql), "files": len(expected), "catalog": ["Paid", "Оплачен"]}


def test_installed_command_starts_from_another_folder(installed: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [str(installed / "bin" / "reseller-bot"), "check-config"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)},
        timeout=60,
        check=False,
    )
    # No .env here: the settings are refused with the one clear message and exit status 2.
    assert result.returncode == 2, result.stderr
    assert "DISCORD_TOKEN: is required but not set" in result.stderr + result.stdout
