"""The one embedded HTTP server: webhooks, OAuth callback and health."""
