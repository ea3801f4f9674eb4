"""What ``/shop status`` shows: the integration, visibility, the pushes and the Redirect URL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.shop.catalog import PaymentMethod
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

    def lines(self) -> list[tuple[str, str]]:
        """(label, value) rows, in the order shown."""
        rows = [("Integration id", f"`{self.integration_id}`")]
        if self.public is None:
            visibility = "not set by the bot yet (Neverlose's default: hidden, only you see it)"
        else:
            visibility = "public" if self.public else "hidden (only you see it on Neverlose)"
            if self.visibility_set_at is not None:
                visibility += f", set {_when(self.visibility_set_at)}"
        rows.append(("Visibility", visibility))
        if self.last_success is None:
            rows.append(("Last successful push", "none yet"))
        else:
            rows.append(("Last successful push", _when(self.last_success)))
        if self.expires_at is not None:
            state = "expired" if self.expires_at <= self.now else "expire"
            rows.append(("Pushed prices", f"{state} {_when(self.expires_at)}"))
        rows.append(("Next push", "at start" if self.next_push is None else _when(self.next_push)))
        rows.append(("Entries", f"{self.entries} in the table; {self.pushed_products} product(s) in the next push"))
        if self.nothing_reason is not None:
            rows.append(("Nothing to push", self.nothing_reason))
        methods = ", ".join(m.value for m in self.methods) or "none"
        rows.append(("Enabled payment methods", methods))
        if self.last_error is not None:
            when = "" if self.last_error_at is None else f" ({_when(self.last_error_at)})"
            rows.append(("Last error", f"{self.last_error}{when}"))
        if self.alert_active:
            rows.append(("Alert", "prices at risk; see the audit channel"))
        if self.redirect_url is not None:
            rows.append(("Redirect URL", f"`{self.redirect_url}` (paste it into Neverlose's API settings)"))
        else:
            rows.append(
                (
                    "Redirect URL",
                    f"set PUBLIC_BASE_URL first; the Redirect URL is then PUBLIC_BASE_URL + `{self.checkout_path}`",
                )
            )
        if self.sample_link is not None:
            rows.append(("Sandbox sample checkout link", self.sample_link))
        return rows


def _when(moment: datetime) -> str:
    """Discord timestamp (absolute and relative) with the ISO time for logs and copies."""
    seconds = int(moment.timestamp())
    return f"<t:{seconds}:f> (<t:{seconds}:R>, {to_iso(moment)})"
