"""neverlose-reseller-bot: the core (everything that is not Discord glue)."""

__version__ = "0.1.0"
