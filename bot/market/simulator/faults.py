"""Fault injection, per method and per count.

Examples::

    state.faults.fail_next("gift-product", times=2, status=503)   # no effect, HTTP 503 twice
    state.faults.drop_next("gift-product")                         # effect applied, connection dropped
    state.faults.rate_limit_next("get-balance", retry_after="1")   # HTTP 429 with Retry-After: 1
    state.faults.malformed_next("get-balance")                     # HTTP 200 with a body that is not JSON
    state.faults.delay_next(None, seconds=0.05, times=10)          # latency for any method

A fault with ``after_effect=True`` lets the request take its effect first and then spoils the answer:
the "response lost after the effect was applied" case. Latency combines with one other fault.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class FaultKind(enum.StrEnum):
    LATENCY = "latency"
    STATUS = "status"
    RATE_LIMIT = "rate_limit"
    DROP = "drop"
    MALFORMED = "malformed"


@dataclass(slots=True)
class Fault:
    kind: FaultKind
    method: str | None
    """The API method it applies to; None = every method."""
    remaining: int
    after_effect: bool = False
    status: int = 503
    delay: float = 0.0
    retry_after: str | None = None
    body: bytes = b"<html><body>502 Bad Gateway</body></html>"

    def matches(self, method: str) -> bool:
        return self.remaining > 0 and (self.method is None or self.method == method)


@dataclass(frozen=True, slots=True)
class FaultDecision:
    """What to do with one request: an optional delay and at most one spoiling fault."""

    delay: float = 0.0
    delay_after_effect: float = 0.0
    fault: Fault | None = None


class FaultPlan:
    """An ordered list of faults; each request consumes one count of the first matching fault."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        if fault.remaining < 1:
            raise ValueError("a fault must apply at least once")
        self._faults.append(fault)
        return fault

    def fail_next(self, method: str | None, *, times: int = 1, status: int = 503, after_effect: bool = False) -> Fault:
        """Answer HTTP ``status`` (5xx) ``times`` times; with ``after_effect`` the effect happens first."""
        return self.add(Fault(FaultKind.STATUS, method, times, after_effect=after_effect, status=status))

    def rate_limit_next(self, method: str | None, *, times: int = 1, retry_after: str | None = "0") -> Fault:
        """Answer HTTP 429 (no effect) with the given ``Retry-After`` header (None: no header)."""
        return self.add(Fault(FaultKind.RATE_LIMIT, method, times, status=429, retry_after=retry_after))

    def drop_next(self, method: str | None, *, times: int = 1, after_effect: bool = True) -> Fault:
        """Close the connection without an answer; by default AFTER the effect was applied."""
        return self.add(Fault(FaultKind.DROP, method, times, after_effect=after_effect))

    def malformed_next(
        self, method: str | None, *, times: int = 1, after_effect: bool = False, body: bytes | None = None
    ) -> Fault:
        """Answer HTTP 200 with a body that is not a valid answer."""
        fault = Fault(FaultKind.MALFORMED, method, times, after_effect=after_effect, status=200)
        if body is not None:
            fault.body = body
        return self.add(fault)

    def delay_next(self, method: str | None, *, seconds: float, times: int = 1, after_effect: bool = False) -> Fault:
        """Wait ``seconds`` before handling, or after the effect and before answering (combines with one
        other fault). Waits end early when the simulator stops."""
        return self.add(Fault(FaultKind.LATENCY, method, times, delay=seconds, after_effect=after_effect))

    def take(self, method: str) -> FaultDecision:
        """Consume the faults that apply to one request of ``method``."""
        if not self._faults:
            return FaultDecision()
        delay = delay_after = 0.0
        chosen: Fault | None = None
        for fault in self._faults:
            if not fault.matches(method):
                continue
            if fault.kind is FaultKind.LATENCY:
                if fault.after_effect:
                    delay_after += fault.delay
                else:
                    delay += fault.delay
                fault.remaining -= 1
            elif chosen is None:
                chosen = fault
                fault.remaining -= 1
        self._faults = [f for f in self._faults if f.remaining > 0]
        return FaultDecision(delay, delay_after, chosen)

    def pending(self) -> list[Fault]:
        return list(self._faults)

    def clear(self) -> None:
        self._faults.clear()
