"""The ports: the small interfaces through which strategies, risk and orders reach a venue."""
