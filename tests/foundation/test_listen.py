"""bot.http.listen: the embedded server's and the in-process fakes' way to start listening."""

from __future__ import annotations

import socket

import aiohttp
import pytest
from aiohttp import web

from bot.http.listen import listen


def _app(cleaned: list[str]) -> web.Application:
    async def hello(_: web.Request) -> web.Response:
        return web.Response(text="hello")

    async def on_cleanup(_: web.Application) -> None:
        cleaned.append("cleaned")

    app = web.Application()
    app.router.add_get("/", hello)
    app.on_cleanup.append(on_cleanup)
    return app


async def test_port_zero_gets_a_free_port_that_answers() -> None:
    cleaned: list[str] = []
    runner, port = await listen(_app(cleaned), "127.0.0.1", 0, access_log=None)
    try:
        assert port > 0
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/") as resp:
            assert (resp.status, await resp.text()) == (200, "hello")
    finally:
        await runner.cleanup()
    assert cleaned == ["cleaned"]


async def test_an_address_in_use_raises_and_cleans_the_runner_up() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cleaned: list[str] = []
        with pytest.raises(OSError, match="in use"):
            await listen(_app(cleaned), "127.0.0.1", port)
        assert cleaned == ["cleaned"]  # the runner was cleaned up, nothing left half-started
