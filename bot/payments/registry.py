"""The payment providers the bot has, by method; the order service asks here and never names a provider.

Adding a method = one provider module plus ``registry.add(provider)`` where the feature is wired. Whether a
registered method is *offered* also depends on :class:`~bot.payments.enabled.EnabledMethods`.
"""

from __future__ import annotations

from bot.payments.provider import PaymentProvider
from bot.shop.catalog import PaymentMethod


class UnknownPaymentMethod(LookupError):
    pass


class PaymentRegistry:
    def __init__(self) -> None:
        self._providers: dict[PaymentMethod, PaymentProvider] = {}

    def add(self, provider: PaymentProvider) -> None:
        """Register ``provider`` for its method (replacing an earlier one)."""
        self._providers[provider.method] = provider

    def get(self, method: PaymentMethod) -> PaymentProvider:
        try:
            return self._providers[method]
        except KeyError:
            raise UnknownPaymentMethod(method.value) from None

    def __contains__(self, method: object) -> bool:
        return method in self._providers

    @property
    def methods(self) -> list[PaymentMethod]:
        """Registered methods in :class:`PaymentMethod` order."""
        return [method for method in PaymentMethod if method in self._providers]
