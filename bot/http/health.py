"""``GET /healthz``: 200 with a small JSON status when everything answers, 503 with the reasons otherwise."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

Probe = Callable[[], Awaitable[str | None]]
"""A probe returns ``None`` when healthy, or a short reason."""


@dataclass
class HealthCheck:
    probes: dict[str, Probe] = field(default_factory=dict)

    def add(self, name: str, probe: Probe) -> None:
        self.probes[name] = probe

    async def run(self) -> dict[str, str]:
        """Problems by probe name; empty when healthy. A failing probe counts as a problem."""
        problems: dict[str, str] = {}
        for name, probe in self.probes.items():
            try:
                reason = await probe()
            except Exception as exc:  # a broken probe must not break the health endpoint
                reason = f"probe failed ({type(exc).__name__})"
            if reason is not None:
                problems[name] = reason
        return problems


def health_routes(health: HealthCheck) -> list[web.RouteDef]:
    async def healthz(request: web.Request) -> web.Response:
        problems = await health.run()
        checks = {name: problems.get(name, "ok") for name in health.probes}
        if problems:
            return web.json_response({"status": "unavailable", "checks": checks}, status=503)
        return web.json_response({"status": "ok", "checks": checks})

    return [web.get("/healthz", healthz)]
