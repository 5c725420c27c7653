"""Data-quality checks run in PostgreSQL through Great Expectations 1.x (no dagster-ge)."""
