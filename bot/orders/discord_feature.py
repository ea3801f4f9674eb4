"""Wiring of the orders feature's Discord side: the card and receipt hook, and the staff actions.

Built by ``ResellerBot.setup_features`` right after :class:`~bot.orders.feature.OrdersFeature` (so only when
the shop is enabled); the cogs in ``cogs/orders.py`` use it as ``bot.order_discord``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.i18n import DEFAULT_LOCALE
from bot.orders.discord_cards import OrderCards
from bot.orders.service import OrderService
from bot.orders.staff_actions import OrderStaffActions, StaffConfig
from bot.orders.staff_spending import OrderSpending
from bot.staff.audit import AuditLog
from bot.staff.limits import Clock, utc_now
from bot.storage import Database


@dataclass(frozen=True, slots=True)
class OrdersDiscord:
    service: OrderService
    cards: OrderCards
    staff: OrderStaffActions

    @classmethod
    def attach(
        cls,
        service: OrderService,
        *,
        db: Database,
        wake: Callable[[], None],
        audit: AuditLog,
        config: StaffConfig,
        clock: Clock = utc_now,
        channel_locale: Callable[[], str] = lambda: DEFAULT_LOCALE,
    ) -> OrdersDiscord:
        cards = OrderCards(order_url=service.order_url, wake=wake, channel_locale=channel_locale)
        # A new order (awaiting payment, nothing claimed) has no card and no receipt: ``rendering.wants_card``.
        service.add_transition_hook(cards.on_transition, creations=False)
        staff = OrderStaffActions(service, audit=audit, config=config, spent=OrderSpending(db), clock=clock)
        return cls(service, cards, staff)
