"""The one book of positions and P&L per strategy and account, and its check against the
broker's."""
