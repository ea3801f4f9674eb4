"""What operators read and what the container runs must tell the truth about the code."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import sys
import tomllib
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from bot.cli import build_parser
from bot.http.health import HealthCheck
from bot.http.server import WebServer
from bot.settings import ServerSettings, format_duration, iter_variables, load_settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def _readme_table() -> dict[str, str]:
    rows = re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \| ([^|]+) \|", README, flags=re.MULTILINE)
    return {name: default.strip() for name, default in rows}


def _render_default(default: object) -> str:
    if default is None or default == []:
        return "—"
    if isinstance(default, timedelta):
        return f"`{format_duration(default)}`"
    if isinstance(default, list):
        return f"`{','.join(str(item) for item in default)}`"
    if isinstance(default, Decimal | int | Path | str):
        return f"`{default}`"
    raise AssertionError(f"no README rendering for {default!r}")


def test_readme_configuration_table_matches_settings() -> None:
    table = _readme_table()
    variables = iter_variables()
    assert list(table) == [name for name, *_ in variables], "README table must list every variable, in order"
    for name, _section, default, required in variables:
        expected = "required" if required else _render_default(default)
        assert table[name] == expected, name


def test_env_example_lists_every_variable_and_works_once_filled(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    assigned = re.findall(r"^([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE)
    assert sorted(assigned) == sorted(name for name, *_ in iter_variables())
    filled = text.replace("DISCORD_TOKEN=\n", "DISCORD_TOKEN=t\n").replace("MARKET_USER_ID=\n", "MARKET_USER_ID=5\n")
    filled = filled.replace("MARKET_SECRET=\n", "MARKET_SECRET=s\n")
    env_file = Path(".env")
    env_file.write_text(filled, encoding="utf-8")
    settings = load_settings(env_file)
    assert settings.market.user_id == 5
    assert settings.staff.staff_role_ids == []
    assert settings.oauth.enabled is False


def _readme_commands() -> list[str]:
    return re.findall(r"^```sh\n(.+?)\n```", README, flags=re.MULTILINE | re.DOTALL)


def test_readme_test_command_is_what_ci_runs() -> None:
    commands = _readme_commands()
    test_command = next(c for c in commands if "pytest" in c)
    assert "\n" not in test_command
    assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    run_command = next(c for c in commands if c.endswith("reseller-bot run"))
    assert "pip install" in run_command


def _instruction(name: str) -> list[str]:
    return re.findall(rf"^{name} (.+)$", DOCKERFILE, flags=re.MULTILINE)


def test_dockerfile_is_conventional() -> None:
    froms = _instruction("FROM")
    assert len(froms) >= 2, "multi-stage"
    assert all("-slim" in f for f in froms)
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert all(f"python:{requires.removeprefix('>=')}" in f for f in froms)
    users = _instruction("USER")
    assert users
    assert users[-1] not in {"root", "0"}
    assert "PYTHONUNBUFFERED=1" in DOCKERFILE
    assert any("/app/data" in v for v in _instruction("VOLUME"))
    # dependencies before source
    assert DOCKERFILE.index("COPY pyproject.toml") < DOCKERFILE.index("COPY bot ")
    # the bytecode pip compiled stays in the image (the bot's user cannot write it at run time)
    assert "PYTHONDONTWRITEBYTECODE=1" in DOCKERFILE
    assert not any("__pycache__" in run for run in _instruction("RUN"))


def _env_of(stage: str) -> dict[str, str]:
    """The ``ENV`` variables a stage sets (``ENV A=1 \\`` continued over several lines)."""
    found: dict[str, str] = {}
    for block in re.findall(r"^ENV ((?:.*\\\n)*.*)$", stage, flags=re.MULTILINE):
        for word in shlex.split(block.replace("\\\n", " ")):
            name, _, value = word.partition("=")
            found[name] = value
    return found


def test_the_image_runs_optimized_bytecode_compiled_when_it_is_built() -> None:
    """``-OO`` without docstrings and asserts, no column tables, from bytecode compiled for exactly that
    interpreter at build time (else every start would compile the modules again, and keep them resident)."""
    build, runtime = DOCKERFILE.split("\nFROM ", 2)[1:]
    env = _env_of(runtime)
    assert {k: env.get(k) for k in ("PYTHONOPTIMIZE", "PYTHONNODEBUGRANGES", "PYTHONDONTWRITEBYTECODE")} == {
        "PYTHONOPTIMIZE": "2",
        "PYTHONNODEBUGRANGES": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    assert _env_of(build).get("PYTHONNODEBUGRANGES") == "1"
    installs = re.findall(r"pip install[^\n]*", build)
    assert installs
    assert all("--no-compile" in line for line in installs)  # pip's own bytecode would be for plain `python`
    assert build.rstrip().endswith("python -OO -m compileall -q -j 0 /opt/venv/lib")  # after the bot's install
    # the base image's standard library, compiled in the runtime stage (where PYTHONOPTIMIZE=2 is already set)
    assert runtime.index("PYTHONOPTIMIZE=2") < runtime.index("compileall") < runtime.index("/usr/local/lib/python3.11")


def test_the_benchmarks_run_the_bot_as_the_image_does() -> None:
    """bench/bench_process.py (and bench_idle.py) start the bot with the runtime stage's interpreter settings."""
    from bench.bench_process import RUNTIME_ENV, TLS_ENV

    env = _env_of(DOCKERFILE.split("\nFROM ", 2)[2])
    assert {k: v for k, v in env.items() if k.startswith("PYTHON") and k != "PYTHONUNBUFFERED"} == RUNTIME_ENV
    assert {k: v for k, v in env.items() if k.startswith("SSL_")} == TLS_ENV  # tests/foundation/test_tls_trust.py


def test_container_commands_exist() -> None:
    """ENTRYPOINT + CMD and the HEALTHCHECK call subcommands the CLI really has."""
    entry = _instruction("ENTRYPOINT")[-1]
    cmd = _instruction("CMD")[-1]
    health = _instruction("HEALTHCHECK")[-1]
    assert entry == '["reseller-bot"]'
    parser = build_parser()
    assert parser.parse_args([*eval_json(cmd)]).command == "run"
    health_cmd = eval_json(health.split("CMD ", 1)[1])
    assert health_cmd[0] == "reseller-bot"
    assert parser.parse_args(health_cmd[1:]).command == "healthcheck"
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["reseller-bot"] == "bot.cli:main"


def eval_json(text: str) -> list[str]:
    import json

    value = json.loads(text)
    assert isinstance(value, list)
    return [str(v) for v in value]


def test_compose_uses_env_file_volume_port_and_restart() -> None:
    compose = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    for needle in ("env_file: .env", "./data:/app/data", '"8080:8080"', "restart: unless-stopped"):
        assert needle in compose


async def _healthcheck_process(port: int) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "healthcheck",
        env={"PATH": os.environ.get("PATH", ""), "WEBHOOK_PORT": str(port)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, (out + err).decode()


async def test_healthcheck_command_follows_healthz() -> None:
    state: dict[str, str | None] = {"reason": None}

    async def probe() -> str | None:
        return state["reason"]

    health = HealthCheck()
    health.add("discord", probe)
    server = WebServer(ServerSettings(WEBHOOK_HOST="127.0.0.1", WEBHOOK_PORT=0), health)  # type: ignore[call-arg]
    await server.start()
    try:
        assert server.port is not None
        code, output = await _healthcheck_process(server.port)
        assert code == 0, output
        state["reason"] = "gateway not connected"
        code, output = await _healthcheck_process(server.port)
        assert code == 1
        assert "gateway not connected" in output
    finally:
        await server.stop()


def test_shlex_safe_readme_commands() -> None:
    for command in _readme_commands():
        for line in command.splitlines():
            shlex.split(line)
