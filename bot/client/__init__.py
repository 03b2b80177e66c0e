"""The IB client library in one place (ib_insync or ib_async): which one, its classes, order-first
sending."""
