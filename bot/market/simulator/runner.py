"""Run the simulator on a real port (tests, benchmark, ``reseller-bot sandbox``).

::

    async with running_simulator(SimulatorState.demo()) as sim:
        client = MarketClient(session, base_url=sim.base_url, user_id=sim.user_id, secret=sim.secret)

``run_simulator_app`` starts it inside the current loop and returns the handle; call ``close()`` later.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

import aiohttp
from aiohttp import web

from bot.http.listen import listen
from bot.market.simulator.app import API_PREFIX, create_app
from bot.market.simulator.events import EventDelivery, SignatureForm, send_event
from bot.market.simulator.state import SimulatorState

log = logging.getLogger(__name__)


class RunningSimulator:
    """A started simulator: where it listens, its state, and a way to send it webhook events."""

    def __init__(self, runner: web.AppRunner, state: SimulatorState, host: str, port: int) -> None:
        self._runner = runner
        self._events_session: aiohttp.ClientSession | None = None
        self.state = state
        self.host = host
        self.port = port
        self.base_url = f"http://{host}:{port}{API_PREFIX}"

    @property
    def user_id(self) -> int:
        return self.state.user_id

    @property
    def secret(self) -> str:
        return self.state.secret

    def url(self, method: str) -> str:
        return f"{self.base_url}/{method}"

    async def send_event(
        self, url: str, kind: str, *, form: SignatureForm = "documented", **fields: object
    ) -> EventDelivery:
        """POST a correctly signed ``purchase``/``transfer`` event to ``url``.

        ``unique_id`` is taken from the simulator's per-kind counter when not given.
        """
        if "unique_id" not in fields:
            fields["unique_id"] = self.state.take_unique_id(kind)
        if self._events_session is None:
            self._events_session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return await send_event(self._events_session, url, self.secret, kind, form=form, **fields)

    async def purchase(self, url: str, username: str, item_id: str) -> EventDelivery:
        """A user buys one of the reseller's items: credit the balance and send the ``purchase`` event."""
        item = self.state.catalogue[item_id]
        self.state.balance += item.price
        return await self.send_event(url, "purchase", amount=item.price, username=username, item_id=item_id)

    async def receive_transfer(self, url: str, username: str, amount: Decimal) -> EventDelivery:
        """A user transfers NLE to the reseller: credit the balance and send the ``transfer`` event."""
        self.state.balance += amount
        return await self.send_event(url, "transfer", amount=amount, username=username)

    async def close(self) -> None:
        self.state.stopping.set()
        if self._events_session is not None:
            await self._events_session.close()
        await self._runner.cleanup()
        log.info("market simulator stopped url=%s", self.base_url)


async def run_simulator_app(
    state: SimulatorState | None = None, *, host: str = "127.0.0.1", port: int = 0, access_log: bool = False
) -> RunningSimulator:
    """Start the simulator in the running loop; the caller must ``await sim.close()``."""
    state = state or SimulatorState.demo()
    state.stopping = asyncio.Event()
    access = logging.getLogger("aiohttp.access") if access_log else None
    runner, bound_port = await listen(create_app(state), host, port, access_log=access)
    sim = RunningSimulator(runner, state, host, bound_port)
    log.info("market simulator started url=%s reseller=%s", sim.base_url, state.reseller)
    return sim


@asynccontextmanager
async def running_simulator(
    state: SimulatorState | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningSimulator]:
    """Run the simulator for the duration of the block (``port=0``: a free port is chosen)."""
    sim = await run_simulator_app(state, host=host, port=port)
    try:
        yield sim
    finally:
        await sim.close()
