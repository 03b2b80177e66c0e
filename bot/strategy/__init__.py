"""What a strategy is and sees: the API, the registry, the context, the indicators."""
