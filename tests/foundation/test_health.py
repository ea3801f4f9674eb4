"""/healthz on a real server bound to an ephemeral port, both ways."""

from __future__ import annotations

import logging

import aiohttp
import pytest

from bot.http.health import HealthCheck
from bot.http.server import WebServer
from bot.settings import ServerSettings


class Switch:
    def __init__(self) -> None:
        self.reason: str | None = None

    async def probe(self) -> str | None:
        return self.reason


async def test_healthz_200_then_503_with_reasons() -> None:
    database, gateway = Switch(), Switch()
    health = HealthCheck()
    health.add("database", database.probe)
    health.add("discord", gateway.probe)
    server = WebServer(ServerSettings(WEBHOOK_HOST="127.0.0.1", WEBHOOK_PORT=0), health)  # type: ignore[call-arg]
    await server.start()
    try:
        assert server.port
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{server.local_url}/healthz") as response:
                assert response.status == 200
                assert await response.json() == {"status": "ok", "checks": {"database": "ok", "discord": "ok"}}
            gateway.reason = "gateway not connected"
            async with session.get(f"{server.local_url}/healthz") as response:
                assert response.status == 503
                body = await response.json()
                assert body["status"] == "unavailable"
                assert body["checks"] == {"database": "ok", "discord": "gateway not connected"}
    finally:
        await server.stop()


async def test_a_crashing_probe_is_a_503_not_a_500() -> None:
    async def broken() -> str | None:
        raise RuntimeError("secret detail")

    health = HealthCheck()
    health.add("broken", broken)
    server = WebServer(ServerSettings(WEBHOOK_HOST="127.0.0.1", WEBHOOK_PORT=0), health)  # type: ignore[call-arg]
    await server.start()
    try:
        async with aiohttp.ClientSession() as session, session.get(f"{server.local_url}/healthz") as response:
            assert response.status == 503
            text = await response.text()
            assert "secret detail" not in text
            assert "RuntimeError" in text
    finally:
        await server.stop()


async def test_unexpected_handler_error_is_a_short_json_500() -> None:
    from aiohttp import web

    async def explode(request: web.Request) -> web.Response:
        raise ValueError("do not show this")

    server = WebServer(ServerSettings(WEBHOOK_HOST="127.0.0.1", WEBHOOK_PORT=0), HealthCheck())  # type: ignore[call-arg]
    server.app.router.add_get("/explode", explode)
    await server.start()
    try:
        async with aiohttp.ClientSession() as session, session.get(f"{server.local_url}/explode") as response:
            assert response.status == 500
            body = await response.json()
            assert body["error"] == "internal error"
            assert len(body["reference"]) == 8
            assert "do not show" not in str(body)
    finally:
        await server.stop()


async def test_a_fault_of_the_database_is_a_503_to_retry_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    """A route without a guard of its own, on a full disk: 503 with Retry-After (a client may try again; the
    disk is the operator's to free), one WARNING line without a traceback, not a 500 with one."""
    import sqlite3

    from aiohttp import web

    async def full(request: web.Request) -> web.Response:
        raise sqlite3.OperationalError("database or disk is full")

    server = WebServer(ServerSettings(WEBHOOK_HOST="127.0.0.1", WEBHOOK_PORT=0), HealthCheck())  # type: ignore[call-arg]
    server.app.router.add_get("/full", full)
    await server.start()
    try:
        async with aiohttp.ClientSession() as session, session.get(f"{server.local_url}/full") as response:
            assert (response.status, response.headers["Retry-After"]) == (503, "60")
            assert await response.json() == {"error": "temporarily unavailable; retry later"}
    finally:
        await server.stop()
    [line] = [r for r in caplog.records if r.name == "bot.http.server"]
    assert (line.levelno, line.exc_info) == (logging.WARNING, None)
    assert line.getMessage() == (
        "http handler unavailable method=GET path=/full fault='OperationalError: database or disk is full'"
    )
