"""Bids in PostgreSQL and their way to the TSO."""
