"""Pool flexibility in PostgreSQL: pool members and exclusions in, computed flex rows out."""
