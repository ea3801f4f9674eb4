"""Neverlose market webhooks: receive, verify, validate strictly and store durably.

Modules, one job each:

- :mod:`bot.webhooks.models` — :class:`~bot.webhooks.models.WebhookEvent`, the one shape acted upon;
- :mod:`bot.webhooks.validation` — strict per-kind schemas; anything else is quarantined, not acted on;
- :mod:`bot.webhooks.store` — :class:`~bot.webhooks.store.WebhookStore`: events, quarantine, gaps and
  rejected-signature counts, written through one group-commit writer (durable before the answer);
- :mod:`bot.webhooks.processor` — :class:`~bot.webhooks.processor.EventProcessor`: the background fan-out
  (notification outbox, receipts, role grants) of committed events, exactly once, restart-safe;
- :mod:`bot.webhooks.receiver` — the aiohttp route (content type, size, JSON, signature, validation);
- :mod:`bot.webhooks.status` — the report behind ``/webhook status``.
"""
