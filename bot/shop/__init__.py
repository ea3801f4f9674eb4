"""The shop: the reseller's price table, its push to Neverlose's checkout, and the catalogue it sells."""
