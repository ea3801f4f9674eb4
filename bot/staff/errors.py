"""Staff error classes and the one place that turns any error into text for the person who clicked.

Rules (issue #5): a Market refusal shows the API's own text; an unreachable Neverlose says so and, for a
spending operation that was already recorded, that it will be re-checked so nothing is spent twice;
validation and permission problems are explained; anything else gets a short reference code (logged with
the full traceback by the caller) and never the exception's text.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Self

from discord import app_commands

from bot.i18n import DEFAULT_LOCALE, catalogs, t
from bot.i18n.said import Said
from bot.i18n.said import amount as number2
from bot.market.errors import MarketError, MarketProtocolError, MarketUnavailable, MarketValidationError

GENERIC_FAILURE = "Something went wrong on our side. Reference `{reference}`; staff can find it in the bot's log."
UNREACHABLE = "Neverlose is unreachable right now"
UNEXPECTED_ANSWER = "Neverlose answered something unexpected"
TRY_LATER = "; please try again in a few minutes."
RECORDED_NOTE = (
    " The operation{request} is recorded and will be re-checked automatically (see `/operations pending`),"
    " so nothing is spent twice."
)


class StaffError(Exception):
    """A refusal whose ``message`` is written for staff and safe to show as it is."""

    def __init__(self, message: str, said: Callable[[str], str] | None = None) -> None:
        self.message = message
        self.said = said  # the sentence in a reader's language (``message`` is its English, for the audit)
        super().__init__(message)

    @classmethod
    def said_as(cls, said: Callable[[str], str]) -> Self:
        """The error whose English ``message`` is ``said()`` and whose reader gets ``said(locale)``."""
        return cls(said(DEFAULT_LOCALE), said)

    def text_in(self, locale: str) -> str:
        """The sentence in ``locale`` (``message`` when the error carries no catalog sentence)."""
        return self.message if self.said is None else self.said(locale)


class InvalidInput(StaffError):
    """An option value was refused before anything was sent."""


class PrecheckFailed(StaffError):
    """A pre-check (user exists, invited, balance…) failed; the message says which and why."""


class DailyLimitExceeded(StaffError):
    def __init__(self, *, spent: Decimal, amount: Decimal, limit: Decimal) -> None:
        self.spent, self.amount, self.limit = spent, amount, limit
        values = {"spent": number2(spent), "limit": number2(limit), "amount": number2(amount)}
        said = Said("staff.refusal.daily_limit", values)
        super().__init__(said(), said)


class CooldownActive(StaffError):
    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        said = Said("staff.refusal.cooldown", {"seconds": f"{retry_after:.0f}"})
        super().__init__(said(), said)


class ConfirmationClosed(StaffError):
    """The confirmation was already used, cancelled or has expired."""


class ApprovalRefused(StaffError):
    """An approval cannot be granted (self-approval, expired, already decided, unknown)."""


class OutcomeUnknown(StaffError):
    """A spending operation was recorded but Neverlose gave no usable answer."""

    def __init__(self, request_id: str, cause: BaseException | None = None) -> None:
        self.request_id = request_id
        self.cause = cause
        lead = UNEXPECTED_ANSWER if isinstance(cause, MarketProtocolError) else UNREACHABLE
        lead_id = "error.unexpected_answer" if isinstance(cause, MarketProtocolError) else "error.unreachable"
        said = Said("staff.outcome.unknown", {"lead": Said(lead_id), "request_id": request_id})
        super().__init__(lead + "." + RECORDED_NOTE.format(request=f" (request id `{request_id}`)"), said)


class NotStaff(app_commands.CheckFailure):
    """The member is not staff (no staff role and no Manage Server)."""

    def __init__(self, message: str = "Only staff can use this. Ask a server manager for a staff role.") -> None:
        self.message = message
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class RenderedError:
    text: str
    reference: str | None = None
    level: int = logging.INFO

    @property
    def unexpected(self) -> bool:
        return self.reference is not None


def unwrap(error: BaseException) -> BaseException:
    """The error a command or button really raised (``CommandInvokeError`` wraps it)."""
    while isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    return error


def _duration(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds)))


def render_error(error: BaseException, *, spending: bool = False, locale: str = DEFAULT_LOCALE) -> RenderedError:
    """The text for ``error`` in ``locale``; ``spending`` means a spending operation may have been recorded
    already. A :class:`StaffError`'s sentence is shown as its service wrote it (a known English sentence of the
    catalogs, e.g. the not-staff refusal, is translated)."""
    error = unwrap(error)
    if isinstance(error, StaffError):
        return RenderedError(
            error.said(locale)
            if error.said is not None
            else catalogs().localize_english(locale, error.message, "error.", warn=False)
        )
    if isinstance(error, NotStaff):
        return RenderedError(
            catalogs().localize_english(locale, error.message, "error.", warn=False), level=logging.WARNING
        )
    if isinstance(error, MarketValidationError):
        return RenderedError(t(locale, "error.invalid_field", field=error.field, message=error.message_in(locale)))
    if isinstance(error, MarketError):
        return RenderedError(t(locale, "error.market_refused", text=error.text))
    if isinstance(error, MarketUnavailable | MarketProtocolError):
        lead = t(locale, "error.unreachable" if isinstance(error, MarketUnavailable) else "error.unexpected_answer")
        text = t(locale, "error.recorded" if spending else "error.try_later", lead=lead)
        return RenderedError(text, level=logging.WARNING)
    if isinstance(error, app_commands.TransformerError):
        return RenderedError(t(locale, "error.bad_option", value=error.value))
    if isinstance(error, app_commands.NoPrivateMessage):
        return RenderedError(t(locale, "error.guild_only"))
    if isinstance(error, app_commands.CommandOnCooldown):
        return RenderedError(t(locale, "error.cooldown", duration=_duration(error.retry_after)))
    if isinstance(error, app_commands.MissingPermissions | app_commands.MissingAnyRole | app_commands.MissingRole):
        return RenderedError(t(locale, "error.missing_permissions"), level=logging.WARNING)
    if isinstance(error, app_commands.CheckFailure):
        return RenderedError(t(locale, "error.check_failed"), level=logging.WARNING)
    if isinstance(error, app_commands.CommandNotFound | app_commands.CommandSignatureMismatch):
        return RenderedError(t(locale, "error.out_of_date"))
    reference = secrets.token_hex(4)
    return RenderedError(t(locale, "error.generic", reference=reference), reference=reference, level=logging.ERROR)
