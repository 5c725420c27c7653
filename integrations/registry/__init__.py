"""Registry files from the landing zone into PostgreSQL."""
