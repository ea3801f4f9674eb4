"""What ``/shop status`` shows: the integration, visibility, the pushes and the Redirect URL (in the reader's
language; the reason nothing is pushed and the last push error are the English sentences of the service and
the pusher, shown by :mod:`bot.shop.localized` through their catalog messages)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.i18n import DEFAULT_LOCALE, t
from bot.i18n.formats import number
from bot.shop.catalog import PaymentMethod
from bot.shop.localized import nothing_reason, push_error
from bot.shop.state import to_iso


@dataclass(frozen=True, slots=True)
class ShopStatus:
    integration_id: int
    public: bool | None
    """Visibility as last set with ``/shop visibility`` (``None``: never set by the bot)."""
    visibility_set_at: datetime | None
    last_success: datetime | None
    expires_at: datetime | None
    next_push: datetime | None
    entries: int
    pushed_products: int
    nothing_reason: str | None
    last_error: str | None
    last_error_at: datetime | None
    redirect_url: str | None
    checkout_path: str
    methods: list[PaymentMethod]
    alert_active: bool
    now: datetime
    sample_link: str | None = None
    """Sandbox mode only: a checkout link signed like Neverlose's, to click through an order."""

    def lines(self, locale: str = DEFAULT_LOCALE) -> list[tuple[str, str]]:
        """(label, value) rows in ``locale``, in the order shown."""

        def label(name: str, **values: object) -> str:
            return t(locale, f"shop.status.{name}", **values)

        rows = [(label("integration"), f"`{self.integration_id}`")]
        if self.public is None:
            visibility = label("visibility_unset")
        else:
            visibility = label("public") if self.public else label("hidden")
            if self.visibility_set_at is not None:
                visibility = label("set_at", visibility=visibility, when=_when(self.visibility_set_at))
        rows.append((label("visibility"), visibility))
        if self.last_success is None:
            rows.append((label("last_success"), label("none_yet")))
        else:
            rows.append((label("last_success"), _when(self.last_success)))
        if self.expires_at is not None:
            state = "expired" if self.expires_at <= self.now else "expire"
            rows.append((label("pushed_prices"), label(state, when=_when(self.expires_at))))
        rows.append((label("next_push"), label("at_start") if self.next_push is None else _when(self.next_push)))
        rows.append(
            (
                label("entries"),
                label(
                    "entries_value", entries=number(self.entries, locale), products=number(self.pushed_products, locale)
                ),
            )
        )
        if self.nothing_reason is not None:
            rows.append((label("nothing"), nothing_reason(self.nothing_reason, locale)))
        methods = ", ".join(m.value for m in self.methods) or label("no_methods")
        rows.append((label("methods"), methods))
        if self.last_error is not None:
            when = "" if self.last_error_at is None else f" ({_when(self.last_error_at)})"
            rows.append((label("last_error"), f"{push_error(self.last_error, locale)}{when}"))
        if self.alert_active:
            rows.append((label("alert"), label("alert_value")))
        if self.redirect_url is not None:
            rows.append((label("redirect"), label("redirect_value", url=self.redirect_url)))
        else:
            rows.append((label("redirect"), label("redirect_unset", path=self.checkout_path)))
        if self.sample_link is not None:
            rows.append((label("sample"), self.sample_link))
        return rows


def _when(moment: datetime) -> str:
    """Discord timestamp (absolute and relative) with the ISO time for logs and copies."""
    seconds = int(moment.timestamp())
    return f"<t:{seconds}:f> (<t:{seconds}:R>, {to_iso(moment)})"
