"""Durable delivery of everything the bot posts outside interaction responses.

- :mod:`bot.notifications.outbox` — :class:`~bot.notifications.outbox.Outbox`: rows enqueued inside the
  transaction that decided them, claimed into messages with a deterministic nonce, marked sent with the
  Discord message id;
- :mod:`bot.notifications.dispatcher` — :class:`~bot.notifications.dispatcher.NotificationDispatcher`:
  drains the outbox (batching, backoff, blocked and unconfigured targets);
- :mod:`bot.notifications.discord_sink` — the thin adapter onto discord.py's HTTP client (its rate limiter);
- :mod:`bot.notifications.embeds` — pure functions building embed dicts, and Discord's embed limits;
- :mod:`bot.notifications.webhook_events` — the hooks that turn webhook events into outbox rows.
"""
