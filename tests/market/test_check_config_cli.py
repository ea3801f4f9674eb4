"""``reseller-bot check-config`` as an operator runs it: a separate process against the simulator."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from bot.market.simulator.runner import RunningSimulator


async def check_config(env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "check-config",
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(cwd), **env},
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def market_env(sim: RunningSimulator, **overrides: str) -> dict[str, str]:
    return {
        "DISCORD_TOKEN": "not-used-by-check-config",
        "MARKET_BASE_URL": sim.base_url,
        "MARKET_USER_ID": str(sim.user_id),
        "MARKET_SECRET": sim.secret,
        **overrides,
    }


async def test_reports_the_balance(market_sim: RunningSimulator, tmp_path: Path) -> None:
    code, out, err = await check_config(market_env(market_sim), tmp_path)
    assert code == 0, err
    assert "Settings OK." in out
    assert f"Market API OK: balance {market_sim.state.balance:.2f} NLE." in out


async def test_wrong_secret_is_exit_1_with_the_api_text(market_sim: RunningSimulator, tmp_path: Path) -> None:
    code, out, err = await check_config(market_env(market_sim, MARKET_SECRET="wrong-secret"), tmp_path)
    assert code == 1
    assert "Market API refused the request:" in err
    assert "MARKET_SECRET" in err
    assert "wrong-secret" not in out + err
    assert "Traceback" not in err


async def test_unreachable_is_exit_1(market_sim: RunningSimulator, tmp_path: Path) -> None:
    env = market_env(market_sim, MARKET_BASE_URL="http://127.0.0.1:9/api/market")
    code, _out, err = await check_config(env, tmp_path)
    assert code == 1
    assert "Market API unreachable at http://127.0.0.1:9/api/market" in err
    assert "Traceback" not in err
