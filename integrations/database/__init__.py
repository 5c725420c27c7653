"""PostgreSQL: the embedded server, connection URLs and the platform's base schema."""
