"""Crypto Pay (the @CryptoBot app on Telegram) as a payment method.

- :mod:`.client` — a thin typed aiohttp client of the four API methods the shop uses;
- :mod:`.errors` — its typed failures; :mod:`.models` — the invoice and the app as the API returns them;
- :mod:`.signature` — the webhook signature (HMAC-SHA-256 of the raw body, key = SHA-256 of the token);
- :mod:`.simulator` — a fake Crypto Pay for tests and ``reseller-bot sandbox``.
"""
