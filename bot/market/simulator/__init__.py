"""A local Market API: an aiohttp application faithful to the docs, for tests, benchmarks and sandbox.

- :mod:`.state` — the account, users, products, catalogue, used request ids and the business rules;
- :mod:`.faults` — fault injection per method and per count (5xx, 429, latency, lost answers, garbage);
- :mod:`.app` — the HTTP layer: content type, JSON, signature, faults, request log;
- :mod:`.events` — signed ``purchase`` / ``transfer`` webhook events sent to a URL;
- :mod:`.runner` — start it on a port (``running_simulator``) and get its base URL.
"""
