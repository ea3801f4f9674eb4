"""The Market simulator as a process of its own (``python -m tests.orders.sim_process SECRET``), for the kill -9
test: a bot killed mid-request must find Neverlose exactly as it left it when it starts again.

It prints ``simulator listening port=N`` once ready. Test-only control routes beside the API:

- ``GET /_control/effects?method=gift-product`` → ``{"count": n}`` (requests whose effect was applied);
- ``POST /_control/delay?method=...&seconds=...&after_effect=0|1`` → delay the next request of ``method``.
"""

from __future__ import annotations

import asyncio
import sys

from aiohttp import web

from bot.market.simulator.app import create_app
from bot.market.simulator.state import SimulatorState


def control_app(state: SimulatorState) -> web.Application:
    app = create_app(state)

    async def effects(request: web.Request) -> web.Response:
        return web.json_response({"count": len(state.effects(request.query.get("method")))})

    async def delay(request: web.Request) -> web.Response:
        state.faults.delay_next(
            request.query["method"],
            seconds=float(request.query["seconds"]),
            after_effect=request.query.get("after_effect") == "1",
        )
        return web.json_response({"ok": True})

    app.router.add_get("/_control/effects", effects)
    app.router.add_post("/_control/delay", delay)
    return app


async def main(secret: str) -> None:
    state = SimulatorState.demo(secret=secret)
    state.stopping = asyncio.Event()
    runner = web.AppRunner(control_app(state), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    sys.stdout.write(f"simulator listening port={port}\n")
    sys.stdout.flush()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
