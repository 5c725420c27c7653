"""Settlement in PostgreSQL and on disk: prices in, a day's inputs, the ledger, the exports."""
