"""The simulator's HTTP layer: ``POST /api/market/<method>``.

Order of checks for each request: faults that act before the effect, content type (exactly
``application/json`` when ``state.strict_content_type``), JSON object body, then the business rules of
:meth:`SimulatorState.process` (``user_id``, signature, reseller-only, request id, fields). Faults marked
``after_effect`` spoil the answer only after the effect was applied. Every request is appended to
``state.request_log``.

HTTP statuses (the real ones are undocumented): business refusals answer 200 with ``success: false``;
malformed requests 400/415; bad ``user_id`` or signature 403; unknown method 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from aiohttp import web

from bot.market.simulator.faults import Fault, FaultKind
from bot.market.simulator.state import LoggedRequest, Refusal, SimulatorState

log = logging.getLogger(__name__)

API_PREFIX = "/api/market"
STATE_KEY = web.AppKey("market_simulator_state", SimulatorState)


def create_app(state: SimulatorState) -> web.Application:
    """The simulator application; ``state`` is shared, so tests can inspect and change it."""
    app = web.Application()
    app[STATE_KEY] = state
    app.router.add_post(API_PREFIX + "/{method}", handle_method)
    return app


async def _spoil(request: web.Request, fault: Fault, entry: LoggedRequest) -> web.StreamResponse:
    """Answer as the fault says: an HTTP error, a 429, garbage, or no answer at all."""
    entry.fault = fault.kind.value + (" after effect" if fault.after_effect else "")
    if fault.kind is FaultKind.DROP:
        entry.status = None
        transport = request.transport
        if transport is not None:
            transport.abort()
        raise asyncio.CancelledError  # nothing more can be sent on an aborted connection
    if fault.kind is FaultKind.MALFORMED:
        entry.status = fault.status
        return web.Response(body=fault.body, status=fault.status, content_type="application/json")
    entry.status = fault.status
    headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
    return web.Response(text=f"HTTP {fault.status} (simulated)", status=fault.status, headers=headers)


async def handle_method(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    method = request.match_info["method"]
    raw = await request.read()
    entry = LoggedRequest(method=method, content_type=request.headers.get("Content-Type"), raw=raw)
    state.request_log.append(entry)
    decision = state.faults.take(method)
    if decision.delay > 0:
        await _pause(state, decision.delay)
    fault = decision.fault
    if fault is not None and not fault.after_effect:
        return await _spoil(request, fault, entry)

    answer, status, applied = _answer(state, method, entry)
    entry.effect_applied = applied
    if decision.delay_after_effect > 0:
        await _pause(state, decision.delay_after_effect)
    if fault is not None:
        return await _spoil(request, fault, entry)
    entry.status = status
    entry.answer = answer
    return web.json_response(answer, status=status)


async def _pause(state: SimulatorState, seconds: float) -> None:
    """Injected latency; ends early when the simulator stops so shutdown never waits for it."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(state.stopping.wait(), timeout=seconds)


def _answer(state: SimulatorState, method: str, entry: LoggedRequest) -> tuple[dict[str, Any], int, bool]:
    content_type = (entry.content_type or "").strip()
    expected_ok = content_type == "application/json" or (
        not state.strict_content_type and content_type.split(";")[0].strip() == "application/json"
    )
    try:
        if not expected_ok:
            raise Refusal("Content-Type must be application/json", status=415)
        try:
            body = json.loads(entry.raw)
        except (ValueError, UnicodeDecodeError):
            raise Refusal("Invalid JSON body", status=400) from None
        if not isinstance(body, dict):
            raise Refusal("Body must be a JSON object", status=400)
        entry.body = body
        fields, applied = state.process(method, body)
    except Refusal as refusal:
        log.debug("simulator refused method=%s error=%r", method, refusal.text)
        return {"succ": False, "success": False, "error": refusal.text}, refusal.status, False
    return {"succ": True, "success": True, **fields}, 200, applied
