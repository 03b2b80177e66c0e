"""Adapters of the ports (bot/ports/venue.py): ``ib`` for IB through ib_insync, ``sim`` and
``sim_feed`` for the simulated world in-process."""
