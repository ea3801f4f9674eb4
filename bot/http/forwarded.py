"""The client's address behind a reverse proxy (``TRUSTED_PROXIES``).

Behind Caddy or nginx every request comes from the proxy's address, so the checkout forms' per-address rate
limit (and every ``client=`` in the logs) would put all buyers in one bucket. When the direct peer is one of
the trusted proxies, the client is the right-most ``X-Forwarded-For`` address that is not itself a trusted
proxy (a client can prepend anything to the header; only what the trusted proxies appended counts). A peer
that is not trusted is the client whatever it sends; a malformed entry stops the walk at the proxy's address.
With no trusted proxies configured (the default) the header is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from aiohttp.typedefs import Middleware

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_address(remote: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str | None:
    """The client's address given the direct peer ``remote`` and the ``X-Forwarded-For`` header values."""
    peer = _address(remote) if remote else None
    if peer is None or not any(peer in network for network in trusted):
        return remote
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    client = remote
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return client
        client = str(address)
        if not any(address in network for network in trusted):
            return client
    return client


def forwarded_middleware(trusted: Sequence[Network]) -> Middleware:
    """A middleware giving handlers the client's address as ``request.remote``."""
    networks = tuple(trusted)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        client = client_address(request.remote, request.headers.getall("X-Forwarded-For", ()), networks)
        if client is not None and client != request.remote:
            request = request.clone(remote=client)
        return await handler(request)

    return middleware
