"""Start an aiohttp application on a TCP address and learn the port it got.

One place for what the embedded server and the in-process fakes (the Market API simulator, the fake Crypto
Pay) all do: set the runner up, start the site, clean the runner up again when the address cannot be taken
(so a port already in use leaks nothing), and read the bound port back (``port=0`` picks a free one).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web


async def listen(app: web.Application, host: str, port: int, **runner_options: Any) -> tuple[web.AppRunner, int]:
    """``(runner, bound port)`` once ``app`` accepts connections on ``host:port``; ``runner.cleanup()`` stops it."""
    runner = web.AppRunner(app, **runner_options)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, reuse_address=True).start()
    except BaseException:
        await runner.cleanup()
        raise
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return runner, int(address[1])
    return runner, port
