"""Orders and checkout: Neverlose's ``nl_purchase`` redirect to a delivered subscription (issue 14)."""
