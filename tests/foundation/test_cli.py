"""The command line as an operator runs it: a separate process, a real environment, exit codes."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import build_parser

SUBCOMMANDS = ["run", "check-config", "sandbox", "backup", "healthcheck"]


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", str(cwd or Path.cwd()))}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={**base, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_config_with_empty_environment_exits_2(tmp_path: Path) -> None:
    result = run_cli("check-config", cwd=tmp_path)
    assert result.returncode == 2
    for name in ("DISCORD_TOKEN", "MARKET_USER_ID", "MARKET_SECRET"):
        assert name in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_bad_settings_are_one_message_without_secrets(tmp_path: Path) -> None:
    env = {"DISCORD_TOKEN": "my-secret-token", "MARKET_USER_ID": "x", "MARKET_SECRET": "hush", "WEBHOOK_PORT": "-3"}
    result = run_cli("run", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "MARKET_USER_ID" in result.stderr
    assert "WEBHOOK_PORT" in result.stderr
    assert "my-secret-token" not in result.stderr + result.stdout
    assert "hush" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command: str) -> None:
    parser = build_parser()
    with pytest.raises(SystemExit) as exited:
        parser.parse_args([command, "--help"])
    assert exited.value.code == 0


def test_top_level_help_lists_subcommands(tmp_path: Path) -> None:
    result = run_cli("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in SUBCOMMANDS:
        assert command in result.stdout


def _make_database(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE t (x INTEGER)")
        conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(100)])


def test_backup_makes_a_consistent_private_copy(tmp_path: Path) -> None:
    source = tmp_path / "data" / "bot.sqlite3"
    source.parent.mkdir()
    _make_database(source)
    live = sqlite3.connect(source)  # an open connection with an uncommitted write must not leak into the copy
    live.execute("BEGIN")
    live.execute("INSERT INTO t VALUES (1000)")
    destination = tmp_path / "backups" / "copy.sqlite3"
    result = run_cli("backup", str(destination), env={"DATABASE_PATH": str(source)}, cwd=tmp_path)
    live.rollback()
    live.close()
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(destination.stat().st_mode) == 0o600
    with sqlite3.connect(destination) as copy:
        assert copy.execute("SELECT count(*), max(x) FROM t").fetchone() == (100, 99)
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_backup_refuses_to_overwrite(tmp_path: Path) -> None:
    source = tmp_path / "bot.sqlite3"
    _make_database(source)
    destination = tmp_path / "exists.sqlite3"
    destination.write_text("keep me")
    result = run_cli("backup", str(destination), env={"DATABASE_PATH": str(source)}, cwd=tmp_path)
    assert result.returncode == 1
    assert "already exists" in result.stderr
    assert destination.read_text() == "keep me"


def test_backup_without_database(tmp_path: Path) -> None:
    result = run_cli("backup", str(tmp_path / "x.sqlite3"), env={"DATABASE_PATH": str(tmp_path / "none.sqlite3")})
    assert result.returncode == 1
    assert "No database" in result.stderr
    assert not (tmp_path / "x.sqlite3").exists()


def test_backup_needs_no_discord_or_market_settings(tmp_path: Path) -> None:
    source = tmp_path / "bot.sqlite3"
    _make_database(source)
    result = run_cli("backup", str(tmp_path / "b.sqlite3"), env={"DATABASE_PATH": str(source)})
    assert result.returncode == 0, result.stderr


def test_healthcheck_without_server_is_unhealthy(tmp_path: Path) -> None:
    result = run_cli("healthcheck", env={"WEBHOOK_PORT": "9"}, cwd=tmp_path)
    assert result.returncode == 1
    assert "unhealthy" in result.stderr
