"""The daemon: life cycle, connection supervisor, watchdog, IB's P&L, status lines."""
