"""Privacy: the erasure of a prosumer's personal data and the register of erasures."""
