"""Orders: Neverlose's ``nl_purchase`` checkout redirect to a delivered subscription, exactly once."""
