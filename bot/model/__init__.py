"""The bot's vocabulary and pure rules: events, the price grid, bar sizes, target arithmetic,
and IB's rules each written once (durations, intervals, time strings, error codes, order
prices). Imports nothing of the bot."""
