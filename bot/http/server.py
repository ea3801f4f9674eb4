"""App factory and runner for the embedded aiohttp server.

Features add their routes to :attr:`WebServer.app` before :meth:`WebServer.start`; the server runs with
``AppRunner`` + ``TCPSite`` inside the bot's event loop. An error middleware turns any unexpected exception
into a short JSON 500 with a reference code (logged with its traceback), never the exception text; a fault
of the database (a full disk) into a 503 with ``Retry-After`` and one WARNING line. A body
aiohttp cannot read (a broken chunk or compressed body) is the client's error, a 400; a client that hangs up
before its body arrived gets nothing, and neither is logged with a traceback.

aiohttp itself answers a request its parser refuses (a bad method, a request line or header over 8 KiB, a bad
header) with a 400 and logs it at ERROR with a traceback that quotes the start of the request line, which may
hold a checkout link's token or an OAuth code. :class:`ServerLog` makes that one WARNING line without either.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.log import server_logger
from aiohttp.typedefs import Middleware

from bot.http.forwarded import forwarded_middleware
from bot.http.health import HealthCheck, health_routes
from bot.http.listen import listen
from bot.i18n.web import language_routes
from bot.settings import ServerSettings
from bot.storage.write_health import RETRY_AFTER, database_fault

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except (web.RequestPayloadError, HttpProcessingError) as exc:  # the body: a broken chunk, bad gzip or deflate
        log.warning("http request body malformed method=%s path=%s error=%s", request.method, request.path, _name(exc))
        return web.json_response({"error": "malformed request body"}, status=400)
    except ConnectionResetError:  # the client hung up before its whole body arrived: nobody reads an answer
        log.info("http client went away method=%s path=%s", request.method, request.path)
        return web.json_response({"error": "incomplete request body"}, status=400)
    except Exception as exc:
        fault = database_fault(exc)
        if fault is not None:  # a full disk...: nothing was done, try again later (/healthz says why)
            log.warning("http handler unavailable method=%s path=%s fault=%r", request.method, request.path, fault)
            answer = {"error": "temporarily unavailable; retry later"}
            return web.json_response(answer, status=503, headers={"Retry-After": RETRY_AFTER})
        reference = secrets.token_hex(4)
        log.exception("http handler failed ref=%s method=%s path=%s", reference, request.method, request.path)
        return web.json_response({"error": "internal error", "reference": reference}, status=500)


def _name(exc: BaseException) -> str:
    return type(exc).__name__


_MALFORMED = (HttpProcessingError, web.RequestPayloadError)


class ServerLog(logging.LoggerAdapter[logging.Logger]):
    """aiohttp's request-handler logger for the embedded server (``AppRunner(logger=...)``).

    A request aiohttp's parser refused (an :class:`HttpProcessingError`, answered 400 by aiohttp), or whose body
    it could not read after the handler answered (a :class:`web.RequestPayloadError`), is logged as one line
    naming the error's type and the peer: WARNING where aiohttp would log an ERROR with a traceback,
    DEBUG where aiohttp logs at DEBUG. Never the error's text: it quotes the request line. Everything else
    goes to aiohttp's own logger unchanged."""

    def __init__(self) -> None:
        super().__init__(server_logger, {})

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        if isinstance(exc_info, _MALFORMED):
            self._malformed(logging.WARNING, exc_info, args)
        else:
            super().exception(msg, *args, exc_info=exc_info, **kwargs)

    def debug(self, msg: object, *args: object, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info")
        if isinstance(exc, _MALFORMED):
            self._malformed(logging.DEBUG, exc, args)
        else:
            super().debug(msg, *args, **kwargs)

    @staticmethod
    def _malformed(level: int, exc: BaseException, args: tuple[object, ...]) -> None:
        peer = args[0] if args else None  # aiohttp: "Error handling request from %s", request.remote
        log.log(level, "http request malformed error=%s remote=%s", _name(exc), peer)


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
        options = {"access_log": None, "handle_signals": False, "shutdown_timeout": 5.0, "logger": ServerLog()}
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
