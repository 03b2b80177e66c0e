"""The bot's vocabulary and pure rules: events, the price grid, bar sizes, target arithmetic.
Imports nothing of the bot."""
