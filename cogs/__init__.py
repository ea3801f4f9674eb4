"""Discord-facing command groups. Each module is an extension with ``async def setup(bot)``."""
