"""Risk-approved intents to orders at the broker, followed to their end: build, place, track,
reconcile."""
