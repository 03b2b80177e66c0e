"""Bars and ticks on their way to the strategies: streams, the bar builder, the IB feed, pacing,
recording."""
