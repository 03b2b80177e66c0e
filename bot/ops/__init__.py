"""Operating the daemon for weeks: metrics, health, the status page, the control channel,
notifications and the systemd watchdog. ``OpsServer`` (bot/ops/server.py) wires them; the
daemon reads its state through ``StateSource`` (bot/ops/state.py)."""
