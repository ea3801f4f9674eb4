"""Reading a JSON document the provider publishes (discovery, JWKS) with the bot's one aiohttp session.

One request shape for both: ``Accept: application/json``, no redirects, a 15 s budget, and a body read no
further than a size limit. The callers decide what a status or a failure means for them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import aiohttp

_TIMEOUT = aiohttp.ClientTimeout(total=15, connect=5)


class Unreachable(Exception):
    """No answer (connection refused or reset, timeout); the message is the error's type name."""


@dataclass(frozen=True, slots=True)
class JsonAnswer:
    """The status and, for a 200, the parsed body; ``problem`` says why there is no document (else ``None``)."""

    status: int
    document: object = None
    problem: str | None = None


async def read_limited(response: aiohttp.ClientResponse, limit: int) -> bytes | None:
    """The whole body, or ``None`` when it is longer than ``limit`` bytes (read no further than that)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def fetch_json(session: aiohttp.ClientSession, url: str, *, limit: int) -> JsonAnswer:
    """GET ``url``; the body is read only for a 200. Raises :class:`Unreachable` when nothing answered."""
    try:
        async with session.get(
            url, headers={"Accept": "application/json"}, timeout=_TIMEOUT, allow_redirects=False
        ) as response:
            status = response.status
            if status != 200:
                return JsonAnswer(status, problem=f"answered status {status}")
            raw = await read_limited(response, limit)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise Unreachable(type(exc).__name__) from None
    if raw is None:
        return JsonAnswer(status, problem="document too large")
    try:
        return JsonAnswer(status, json.loads(raw))
    except ValueError:
        return JsonAnswer(status, problem="document is not JSON")
