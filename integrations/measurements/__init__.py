"""Device measurements from files and device clouds into PostgreSQL."""
