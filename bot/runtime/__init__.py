"""Process-level helpers every layer may use: deadlines, logging set-up, crash points, text
tables."""
