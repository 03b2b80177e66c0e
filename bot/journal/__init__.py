"""The SQLite journal: its store, the write-ahead file, and every query of it."""
