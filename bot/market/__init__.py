"""Neverlose Market API: signing, typed client, spending journal and a faithful local simulator.

Modules, one concept each:

- :mod:`bot.market.signing` — signatures exactly as the server makes them, constant-time verification;
- :mod:`bot.market.errors` — the typed failures every caller handles;
- :mod:`bot.market.models` — products, plans, prices and money conversion at the JSON edge;
- :mod:`bot.market.validation` — rules checked before anything is sent;
- :mod:`bot.market.retry` — capped, jittered backoff honouring ``Retry-After``;
- :mod:`bot.market.client` — :class:`~bot.market.client.MarketClient`, one method per API method;
- :mod:`bot.market.request_ids` — request ids unique forever;
- :mod:`bot.market.journal` — the operations journal that commits before it spends;
- :mod:`bot.market.health_check` — the balance check ``check-config`` runs;
- :mod:`bot.market.simulator` — an aiohttp application that behaves like the API, for tests and sandbox.
"""
