"""App factory and runner for the embedded aiohttp server.

Features add their routes to :attr:`WebServer.app` before :meth:`WebServer.start`; the server runs with
``AppRunner`` + ``TCPSite`` inside the bot's event loop. An error middleware turns any unexpected exception
into a short JSON 500 with a reference code (logged with its traceback), never the exception text.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from bot.http.forwarded import forwarded_middleware
from bot.http.health import HealthCheck, health_routes
from bot.http.listen import listen
from bot.i18n.web import language_routes
from bot.settings import ServerSettings

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception:
        reference = secrets.token_hex(4)
        log.exception("http handler failed ref=%s method=%s path=%s", reference, request.method, request.path)
        return web.json_response({"error": "internal error", "reference": reference}, status=500)


class CannotListen(Exception):
    """The embedded server cannot take its address: the port is in use, the host is not this machine's, or
    binding is not permitted. A configuration problem, said in one line (see ``bot.cli``)."""

    def __init__(self, host: str, port: int, error: OSError) -> None:
        super().__init__(f"cannot listen on {host}:{port}: {error.strerror or error}")


class WebServer:
    """Owns the aiohttp application and its runner."""

    def __init__(self, settings: ServerSettings, health: HealthCheck) -> None:
        self.settings = settings
        middlewares: list[Middleware] = [error_middleware]
        if settings.trusted_proxies:
            middlewares.append(forwarded_middleware(settings.trusted_proxies))
        self.app = web.Application(middlewares=middlewares)
        self.app.add_routes(health_routes(health))
        self.app.add_routes(language_routes())
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> None:
        options = {"access_log": None, "handle_signals": False, "shutdown_timeout": 5.0}
        try:
            self._runner, self.port = await listen(self.app, self.settings.host, self.settings.port, **options)
        except OSError as exc:
            raise CannotListen(self.settings.host, self.settings.port, exc) from exc
        log.info("http server listening host=%s port=%s", self.settings.host, self.port)

    async def stop(self) -> None:
        """Stop accepting connections and finish in-flight requests."""
        if self._runner is None:
            return
        runner, self._runner = self._runner, None
        await runner.cleanup()
        log.info("http server stopped")

    @property
    def local_url(self) -> str:
        host = "127.0.0.1" if self.settings.host in {"0.0.0.0", "::", ""} else self.settings.host  # noqa: S104
        return f"http://{host}:{self.port}"
