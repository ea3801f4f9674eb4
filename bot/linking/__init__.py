"""Linking a Discord account to a Neverlose account (OAuth 2.0 + OpenID Connect with PKCE).

The flow: ``/link`` hands the member a one-time start URL (:mod:`bot.linking.sessions`); the start route
creates ``state`` and a PKCE verifier bound to the browser and redirects to Neverlose; the callback checks
the state, exchanges the code (:mod:`bot.linking.oidc_client`), stores the link (:mod:`bot.linking.links`)
and renders a small page (:mod:`bot.linking.pages`). :mod:`bot.linking.flow` holds the steps,
:mod:`bot.linking.routes` the HTTP glue. Links are then used for receipts and role grants
(:mod:`bot.linking.receipts`, :mod:`bot.linking.roles`).
"""
